"""The HTTP app of ``tfxkit serve`` (FastAPI): predictions by key from the prediction store.

    GET /health/live                 200 while the process answers (no store, no model)
    GET /health/ready                200 when everything configured can answer: the model
                                     loaded and its folder present, the store reachable;
                                     else 503 naming each problem
    GET /health                      200 {"status": "ok", ...}, or 503 when the store is down
                                     or the online model is not loaded (= /health/ready)
                                     (without a store: when no model can answer)
    GET /predictions/{key}           the default model's prediction for key
    GET /models/{model}/predictions/{key}
                                     another model of the inference job
    GET /models                      the models served, with their current run
    GET /docs, /openapi.json         the API (a self-contained page: no external assets)
    GET /metrics                     Prometheus text format (metrics.py; always open)

With a bearer token (``serving.auth_token_env``, ``auth.py``), every route but GET/HEAD/
OPTIONS answers 401 without it (also the reads with ``auth_reads``, but /health* and
/metrics).

A prediction is ``{"key", "model", "prediction": {...}, "model_version", "run_id",
"created_at"}``; an unknown key is a 404 naming it, an unreachable store a 503.

Online predictions from the model registry (``online_service.py``), when ``online`` is given:

    POST /predict                    {"instances": [{feature: value, ...}, ...]} ->
                                     {"predictions", "model_version", "request_id", "model"}
    POST /models/{model}/predict     the same, naming the model
    POST /feedback                   {"request_id" | "key", "label"} (or a list of them):
                                     labelled outcomes, scored against what was predicted
    GET  /canary                     the stable and canary versions, their live signals

The event loop only routes: prediction-store calls run in a bounded thread pool
(``StoreGate``: each waits at most the store's timeout, and a call that timed out opens a
short circuit breaker, so a hung store answers 503 at once instead of queueing); big
request bodies are parsed, encoded and answered in CPU threads a piece at a time
(``OnlineService.predict_json``) and scored in chunks of ``max_batch_size``. Limits
(``Limits``, ``serving:`` in the config; the connection cap and the header and body
timeouts are ``http_server.py``'s protocol): body size (413, from Content-Length before
reading and while streaming), instances per request (413), requests in flight (429),
connections (over the cap: 503 and closed at once), the time to send a request's headers
and the silence allowed inside its body (408, then closed), and idle keep-alive.
"""
# no `from __future__ import annotations`: FastAPI reads the routes' annotations
# (``request: Request``, imported inside the function) at definition time
import contextlib
from typing import Callable, List, Optional

from tfxkit.infra.serving.limits import LARGE_BODY, Limits
from tfxkit.infra.serving.metrics import install as metrics_install
from tfxkit.infra.serving.store_gate import StoreGate, StoreUnavailableNow


def _docs_page(app) -> str:
    """A self-contained page of the API (no scripts, styles or fonts from elsewhere)."""
    import html

    spec = app.openapi()
    rows = []
    for path, ops in spec.get("paths", {}).items():
        for method, op in ops.items():
            summary = op.get("summary") or ""
            desc = (op.get("description") or "").strip()
            rows.append(f"<tr><td><code>{html.escape(method.upper())}</code></td>"
                        f"<td><code>{html.escape(path)}</code></td>"
                        f"<td>{html.escape(summary)}<br><small>{html.escape(desc)}</small>"
                        "</td></tr>")
    title = html.escape(spec.get("info", {}).get("title", "API"))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>" + title +
            "</title><style>body{font-family:sans-serif;margin:2em}td{padding:.3em .8em;"
            "vertical-align:top;border-bottom:1px solid #ddd}</style></head><body><h1>" +
            title + "</h1><p>The machine-readable API: <a href='openapi.json'>openapi.json"
            "</a></p><table>" + "".join(rows) + "</table></body></html>")


def create_app(open_store: Optional[Callable] = None, models: List[str] = (),
               title: str = "tfxkit", online=None, limits: Optional[Limits] = None,
               token: Optional[str] = None, auth_reads: bool = False):
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import HTMLResponse, JSONResponse

    from tfxkit.components.prediction_store.store import StoreError

    limits = limits or Limits()
    gate = None
    if open_store is not None:
        gate = StoreGate(open_store, limits.store_threads, limits.store_timeout_s,
                         limits.store_breaker_s)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        if online is not None:
            await online.start()
        try:
            yield
        finally:
            if online is not None:
                await online.stop()
            if gate is not None:
                gate.close()

    # /docs of FastAPI loads Swagger UI from a CDN (not reachable where this runs): a
    # self-contained page instead
    app = FastAPI(title=f"{title} predictions", docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.limits, app.state.gate = limits, gate
    # GET /metrics (Prometheus) and, with ``token``, the bearer-token check of every
    # write route (metrics.py, auth.py): middlewares, so they cover every route
    metrics_install(app, online, token=token, auth_reads=auth_reads)
    models = list(models)

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return HTMLResponse(_docs_page(app))

    @app.get("/health/live")
    async def live():
        """Liveness: answered by the event loop itself, touching neither store nor model."""
        return {"status": "alive"}

    async def store_problem() -> Optional[str]:
        try:
            await gate.call("ping")
        except StoreUnavailableNow as e:
            return str(e)
        except StoreError as e:
            return f"prediction store unavailable: {e}"
        return None

    @app.get("/health/ready")
    async def ready():
        """Readiness: the model loaded and its folder present, the store reachable."""
        problems = []
        out = {"status": "ready"}
        if online is not None:
            problems += online.readiness()
            if online.stable is not None:
                out["model"], out["model_version"] = online.name, online.stable.version
        if gate is not None:
            p = await store_problem()
            if p:
                problems.append(p)
            out["models"] = models
        if problems:
            return JSONResponse({"detail": "; ".join(problems), "problems": problems},
                                status_code=503)
        return out

    if online is not None:
        _online_routes(app, online, limits)
        from tfxkit.infra.serving import protocols

        protocols.add_routes(app, online, limits)  # TF Serving REST and KServe v2
    if gate is None:
        @app.get("/health")
        async def online_health():
            problems = online.readiness() if online is not None else ["no model loaded"]
            if problems:
                raise HTTPException(503, "; ".join(problems))
            return {"status": "ok", "model": online.name,
                    "model_version": online.stable.version}

        return app
    default = models[0]

    async def call(method, *args):
        try:
            return await gate.call(method, *args)
        except StoreUnavailableNow as e:
            raise HTTPException(503, str(e)) from None
        except StoreError as e:
            raise HTTPException(503, f"prediction store unavailable: {e}") from None

    async def lookup(model: str, key: str):
        if model not in models:
            raise HTTPException(404, f"unknown model {model!r} (served: {', '.join(models)})")
        row = await call("get", model, key)
        if row is None:
            raise HTTPException(404, f"no prediction for key {key!r} in model {model!r}")
        row["model"] = model
        return row

    def ping(s):
        s.ping()
        return s.description

    @app.get("/health")
    async def health():
        """The store's description and the online model: 200 only when both answer (as
        /health/ready), 503 naming what does not (the store down, the model loading)."""
        out = {"status": "ok", "store": await call(ping), "models": models}
        if online is not None:
            problems = online.readiness()
            out["online"] = {"model": online.name, "error": online.error,
                             "problems": problems,
                             "model_version": online.stable.version if online.stable else None}
            if problems:
                return JSONResponse({**out, "status": "not ready",
                                     "detail": "; ".join(problems)}, status_code=503)
        return out

    @app.get("/models")
    async def list_models():
        out = {}
        for m in models:
            runs = await call("runs", m)
            cur = next((r for r in runs if r.current), None)
            out[m] = {"current_run": cur.run_id if cur else None,
                      "model_version": cur.model_version if cur else None,
                      "rows": cur.rows if cur else 0,
                      "runs_kept": [r.run_id for r in runs]}
        return out

    @app.get("/predictions/{key}")
    async def prediction(key: str):
        return await lookup(default, key)

    @app.get("/models/{model}/predictions/{key}")
    async def model_prediction(model: str, key: str):
        return await lookup(model, key)

    return app


def _online_routes(app, online, limits: Limits):
    """POST /predict, /models/{model}/predict, /feedback; GET /canary."""
    from fastapi import HTTPException, Request
    from fastapi.responses import Response
    from starlette.requests import ClientDisconnect

    from tfxkit.infra.serving.errors import InstanceError, ModelError, TooLarge
    from tfxkit.infra.serving.json_body import loads
    from tfxkit.infra.serving.online_service import INLINE_BYTES

    state = {"inflight": 0, "large": 0}
    if online.max_instances is None:
        online.max_instances = limits.max_instances

    def json_response(content: bytes):
        return Response(content, media_type="application/json")

    @contextlib.asynccontextmanager
    async def admitted(request: Request):
        """A slot for one request with a body: 413 when its declared size is over the
        limit (before reading it), 429 when too many are in flight."""
        declared = request.headers.get("content-length")
        size = None
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                raise HTTPException(400, f"bad Content-Length {declared!r}") from None
            if size > limits.max_body:
                raise HTTPException(413, f"the body is {size} bytes, over the limit of "
                                         f"{limits.max_body} (serving.max_body_mb "
                                         f"{limits.max_body_mb:g})",
                                    headers={"Connection": "close"})
        if state["inflight"] >= limits.max_inflight:
            raise HTTPException(429, f"{state['inflight']} requests in flight, the limit "
                                     f"(serving.max_inflight): retry shortly",
                                headers={"Retry-After": "1"})
        large = size is None or size > LARGE_BODY
        if large and state["large"] >= limits.max_large_inflight:
            raise HTTPException(429, f"{state['large']} requests over 1 MB in flight, the "
                                     "limit (serving.max_large_inflight): retry shortly",
                                headers={"Retry-After": "1"})
        state["inflight"] += 1
        state["large"] += large
        try:
            yield
        finally:
            state["inflight"] -= 1
            state["large"] -= large

    async def read_body(request: Request) -> bytearray:
        """The body, at most max_body bytes (counted as it arrives: also a chunked one)."""
        buf = bytearray()
        try:
            async for chunk in request.stream():
                buf += chunk
                if len(buf) > limits.max_body:
                    raise HTTPException(413, f"the body is over the limit of "
                                             f"{limits.max_body} bytes (serving.max_body_mb "
                                             f"{limits.max_body_mb:g})",
                                        headers={"Connection": "close"})
        except ClientDisconnect:
            raise HTTPException(400, "the client went away") from None
        return buf

    async def run_predict(request: Request):
        async with admitted(request):
            body = await read_body(request)
            try:
                route = getattr(request.scope.get("route"), "path", "/predict")
                return json_response(await online.predict_json(body, route))
            except TooLarge as e:
                raise HTTPException(413, str(e)) from None
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
        async with admitted(request):
            raw = await read_body(request)
            try:
                body = loads(raw) if len(raw) <= INLINE_BYTES else \
                    await online.cpu.call(loads, raw)
            except InstanceError as e:
                raise HTTPException(400, str(e)) from None
            out = online.feedback(body)
        if out["errors"] and not out["accepted"]:
            raise HTTPException(400, "; ".join(out["errors"]))
        if out["unknown"] and not (out["accepted"] or out["duplicates"]):
            raise HTTPException(404, "unknown " + ", ".join(out["unknown"]) +
                                " (not answered here, or too long ago)")
        return out

    @app.get("/canary")
    async def canary():
        return online.status()


def build_app(cfg, online: bool = True, batch: bool = True, model_dir: Optional[str] = None):
    open_store, models = None, []
    if batch and cfg.inference is not None:
        from tfxkit.pipelines.inference import open_configured_store

        models = [m.name for m in cfg.inference_models]

        def open_store():
            return open_configured_store(cfg)
    service = None
    if online:
        from tfxkit.infra.serving.service_config import service_from_config

        service = service_from_config(cfg, model_dir=model_dir)
    token = None
    if cfg.serving.auth_token_env:  # tfxkit serve checked it is set (auth.TokenMissing)
        from tfxkit.infra.serving.auth import token_from_env

        token = token_from_env(cfg.serving.auth_token_env)
    return create_app(open_store, models, cfg.name, online=service,
                      limits=Limits.from_config(cfg), token=token,
                      auth_reads=cfg.serving.auth_reads)
