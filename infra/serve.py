"""``tfxkit serve``: predictions by key over HTTP (FastAPI), from the prediction store.

    GET /health                      200 {"status": "ok", ...} or 503 when the store is down
    GET /predictions/{key}           the default model's prediction for key
    GET /models/{model}/predictions/{key}
                                     another model of the inference job
    GET /models                      the models served, with their current run

A prediction is ``{"key", "model", "prediction": {...}, "model_version", "run_id",
"created_at"}``; an unknown key is a 404 naming it, an unreachable store a 503.

Online predictions from the model registry (``infra/online.py``), when ``online`` is given:

    POST /predict                    {"instances": [{feature: value, ...}, ...]} -> 
                                     {"predictions", "model_version", "request_id", "model"}
    POST /models/{model}/predict     the same, naming the model
    POST /feedback                   {"request_id" | "key", "label"} (or a list of them):
                                     labelled outcomes, scored against what was predicted
    GET  /canary                     the stable and canary versions, their live signals
"""
# no `from __future__ import annotations`: FastAPI reads the routes' annotations
# (``request: Request``, imported inside the function) at definition time
import contextlib
import threading
from typing import Callable, List, Optional


def create_app(open_store: Optional[Callable] = None, models: List[str] = (),
               title: str = "tfxkit", online=None):
    from fastapi import FastAPI, HTTPException

    from tfxkit.components.prediction_store.store import StoreError

    lifespan = None
    if online is not None:
        @contextlib.asynccontextmanager
        async def lifespan(_app):
            await online.start()
            try:
                yield
            finally:
                await online.stop()

    app = FastAPI(title=f"{title} predictions", docs_url="/docs", redoc_url=None,
                  lifespan=lifespan)
    models = list(models)
    if online is not None:
        _online_routes(app, online)
    if open_store is None:
        @app.get("/health")
        async def online_health():
            if online is None or online.stable is None:
                raise HTTPException(503, (online.error if online else None)
                                    or "no model loaded")
            return {"status": "ok", "model": online.name,
                    "model_version": online.stable.version}

        return app
    # Routes are async and call the store directly: a lookup is a local SQLite read or a
    # loopback Redis GET (bounded by the store's timeout), cheaper than a thread hop.
    local = threading.local()  # one store connection per thread (the event loop's)
    default = models[0]

    def store():
        s = getattr(local, "store", None)
        if s is None:
            try:
                s = local.store = open_store()
            except StoreError as e:
                raise HTTPException(503, f"prediction store unavailable: {e}") from None
        return s

    def lookup(model: str, key: str):
        if model not in models:
            raise HTTPException(404, f"unknown model {model!r} (served: {', '.join(models)})")
        try:
            row = store().get(model, key)
        except StoreError as e:
            local.store = None
            raise HTTPException(503, f"prediction store unavailable: {e}") from None
        if row is None:
            raise HTTPException(404, f"no prediction for key {key!r} in model {model!r}")
        row["model"] = model
        return row

    @app.get("/health")
    async def health():
        try:
            s = store()
            s.ping()
        except (StoreError, HTTPException) as e:
            local.store = None
            detail = e.detail if isinstance(e, HTTPException) else str(e)
            raise HTTPException(503, f"prediction store unavailable: {detail}") from None
        out = {"status": "ok", "store": s.description, "models": models}
        if online is not None:
            out["online"] = {"model": online.name, "error": online.error,
                             "model_version": online.stable.version if online.stable else None}
        return out

    @app.get("/models")
    async def list_models():
        try:
            out = {}
            for m in models:
                runs = store().runs(m)
                cur = next((r for r in runs if r.current), None)
                out[m] = {"current_run": cur.run_id if cur else None,
                          "model_version": cur.model_version if cur else None,
                          "rows": cur.rows if cur else 0,
                          "runs_kept": [r.run_id for r in runs]}
            return out
        except StoreError as e:
            local.store = None
            raise HTTPException(503, f"prediction store unavailable: {e}") from None

    @app.get("/predictions/{key}")
    async def prediction(key: str):
        return lookup(default, key)

    @app.get("/models/{model}/predictions/{key}")
    async def model_prediction(model: str, key: str):
        return lookup(model, key)

    return app


def _json_response():
    """A JSON response class for plain Python values (orjson: several times faster than
    json for lists of probabilities)."""
    from fastapi.responses import JSONResponse, Response

    try:
        import orjson
    except ImportError:  # pragma: no cover
        return JSONResponse

    def response(content):
        return Response(orjson.dumps(content), media_type="application/json")

    return response


def _online_routes(app, online):
    """POST /predict, /models/{model}/predict, /feedback; GET /canary."""
    from fastapi import HTTPException, Request

    from tfxkit.infra.online import InstanceError, ModelError

    response = _json_response()

    async def body_of(request: Request):
        raw = await request.body()
        try:
            import orjson

            return orjson.loads(raw)
        except ImportError:  # pragma: no cover
            import json

            return json.loads(raw)
        except ValueError as e:
            raise HTTPException(400, f"the body is not JSON: {e}") from None

    async def run_predict(request: Request):
        body = await body_of(request)
        try:
            return response(await online.predict(body))
        except InstanceError as e:
            raise HTTPException(400, str(e)) from None
        except ModelError as e:
            raise HTTPException(500, str(e)) from None
        except LookupError as e:
            raise HTTPException(503, str(e.args[0] if e.args else e)) from None

    @app.post("/predict")
    async def predict(request: Request):
        return await run_predict(request)

    @app.post("/models/{model}/predict")
    async def model_predict(model: str, request: Request):
        if model != online.name:
            raise HTTPException(404, f"unknown model {model!r} (online: {online.name})")
        return await run_predict(request)

    @app.post("/feedback")
    async def feedback(request: Request):
        out = online.feedback(await body_of(request))
        if out["errors"] and not out["accepted"]:
            raise HTTPException(400, "; ".join(out["errors"]))
        if out["unknown"] and not (out["accepted"] or out["duplicates"]):
            raise HTTPException(404, "unknown " + ", ".join(out["unknown"]) +
                                " (not answered here, or too long ago)")
        return out

    @app.get("/canary")
    async def canary():
        return online.status()


def serve(cfg, host: str = "127.0.0.1", port: int = 8080, log_level: str = "warning",
          online: bool = True, batch: bool = True, model_dir: Optional[str] = None) -> None:
    """Runs the server: batch predictions by key (when the config has ``inference:``) and
    online predictions from the registry (or ``model_dir``)."""
    import uvicorn

    app = build_app(cfg, online=online, batch=batch, model_dir=model_dir)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                loop="uvloop", http="httptools")


def build_app(cfg, online: bool = True, batch: bool = True, model_dir: Optional[str] = None):
    open_store, models = None, []
    if batch and cfg.inference is not None:
        from tfxkit.pipelines.inference import open_configured_store

        models = [m.name for m in cfg.inference_models]

        def open_store():
            return open_configured_store(cfg)
    service = None
    if online:
        from tfxkit.infra.online import service_from_config

        service = service_from_config(cfg, model_dir=model_dir)
    return create_app(open_store, models, cfg.name, online=service)
