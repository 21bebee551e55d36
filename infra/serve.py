"""``tfxkit serve``: predictions by key over HTTP (FastAPI), from the prediction store.

    GET /health                      200 {"status": "ok", ...} or 503 when the store is down
    GET /predictions/{key}           the default model's prediction for key
    GET /models/{model}/predictions/{key}
                                     another model of the inference job
    GET /models                      the models served, with their current run

A prediction is ``{"key", "model", "prediction": {...}, "model_version", "run_id",
"created_at"}``; an unknown key is a 404 naming it, an unreachable store a 503.
"""
from __future__ import annotations

import threading
from typing import Callable, List


def create_app(open_store: Callable, models: List[str], title: str = "tfxkit"):
    from fastapi import FastAPI, HTTPException

    from tfxkit.components.prediction_store.store import StoreError

    app = FastAPI(title=f"{title} predictions", docs_url="/docs", redoc_url=None)
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
        return {"status": "ok", "store": s.description, "models": models}

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


def serve(cfg, host: str = "127.0.0.1", port: int = 8080, log_level: str = "warning") -> None:
    import uvicorn

    from tfxkit.pipelines.inference import open_configured_store

    models = [m.name for m in cfg.inference_models]
    app = create_app(lambda: open_configured_store(cfg), models, cfg.name)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                loop="uvloop", http="httptools")
