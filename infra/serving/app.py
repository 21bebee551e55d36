"""``tfxkit serve``: predictions by key over HTTP (FastAPI), from the prediction store.

    GET /health/live                 200 while the process answers (no store, no model)
    GET /health/ready                200 when everything configured can answer: the model
                                     loaded and its folder present, the store reachable;
                                     else 503 naming each problem
    GET /health                      200 {"status": "ok", ...} or 503 when the store is down
                                     (without a store: when no model can answer)
    GET /predictions/{key}           the default model's prediction for key
    GET /models/{model}/predictions/{key}
                                     another model of the inference job
    GET /models                      the models served, with their current run
    GET /docs, /openapi.json         the API (a self-contained page: no external assets)

A prediction is ``{"key", "model", "prediction": {...}, "model_version", "run_id",
"created_at"}``; an unknown key is a 404 naming it, an unreachable store a 503.

Online predictions from the model registry (``infra/serving/online_service.py``), when ``online`` is given:

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
(``Limits``, ``serving:`` in the config): body size (413, from Content-Length before
reading and while streaming), instances per request (413), requests in flight (429),
connections (over the cap: 503 and closed at once), the time to send a request's headers
and the silence allowed inside its body (408, then closed), and idle keep-alive.
"""
# no `from __future__ import annotations`: FastAPI reads the routes' annotations
# (``request: Request``, imported inside the function) at definition time
import asyncio
import collections
import contextlib
import dataclasses
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional

LARGE_BODY = 1 << 20  # a body over 1 MB takes one of max_large_inflight's slots


@dataclasses.dataclass
class Limits:
    """What one request or client may take (``serving:`` in the config; see
    ``pipelines/config/serving.py`` ``Serving`` for each field's meaning)."""

    max_body_mb: float = 32.0
    max_instances: int = 100_000
    max_inflight: int = 64
    max_large_inflight: int = 2
    max_connections: int = 1000
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keep_alive_s: float = 5.0
    store_threads: int = 8
    store_breaker_s: float = 2.0
    store_timeout_s: float = 5.0  # the store's own timeout (inference.store.timeout_s)

    @property
    def max_body(self) -> int:
        return int(self.max_body_mb * (1 << 20))

    @classmethod
    def from_config(cls, cfg) -> "Limits":
        s = cfg.serving
        names = {f.name for f in dataclasses.fields(cls)} - {"store_timeout_s"}
        out = cls(**{n: getattr(s, n) for n in names})
        if cfg.inference is not None:
            out.store_timeout_s = cfg.inference.store.timeout_s
        return out


class StoreUnavailableNow(Exception):
    """A store call refused or abandoned by the gate (a 503 with this message)."""


class _Timeout(Exception):
    pass


class _Tripped(Exception):
    pass


class StoreGate:
    """Prediction-store calls off the event loop: ``threads`` threads, each with its own
    store connection (``open_store()``), at most ``max(256, 16 * threads)`` calls
    waiting for one (more: 503 at once).
    A call waits at most the store's timeout (``timeout_s``, plus a little: the store's
    own error comes first when it has one). A call that timed out, or failed only after
    half of it, opens the breaker: for ``breaker_s`` every call is answered at once (and
    the ones waiting too), then one probe call goes through; the others are answered at
    once until it comes back. A quick failure (connection refused) does not open it: it
    costs nothing to try again."""

    def __init__(self, open_store: Callable, threads: int = 8, timeout_s: float = 5.0,
                 breaker_s: float = 2.0):
        self.open_store, self.threads = open_store, threads
        self.timeout_s, self.breaker_s = timeout_s, breaker_s
        self.max_queue = max(256, 16 * threads)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="tfxkit-store")
        self._local = threading.local()
        self._free = threads
        self._queue: collections.deque = collections.deque()  # futures waiting for a thread
        self._waiters: set = set()  # futures of callers, failed at once when it trips
        self.open_until = 0.0
        self.last_error: Optional[str] = None
        self._probing = False
        self.trips = 0

    # in a pool thread
    def _run(self, method: str, args):
        from tfxkit.components.prediction_store.store import StoreError

        t0 = time.monotonic()
        try:
            s = getattr(self._local, "store", None)
            if s is None:
                s = self._local.store = self.open_store()
            if callable(method):
                return method(s, *args)
            return getattr(s, method)(*args)
        except StoreError as e:
            self._local.store = None
            e.elapsed = time.monotonic() - t0
            raise

    def _check(self, now: float):
        if now < self.open_until:
            raise StoreUnavailableNow(
                f"prediction store unavailable: {self.last_error} (calls are answered at "
                f"once for {self.open_until - now:.1f} s more: serving.store_breaker_s)")
        if self._probing:
            raise StoreUnavailableNow(f"prediction store unavailable: {self.last_error} "
                                      "(a probe call is on its way)")

    def _trip(self, loop, error: str):
        if loop.time() >= self.open_until:  # not already open (calls time out together)
            self.trips += 1
            self.last_error = error
            self.open_until = loop.time() + self.breaker_s
        for w in list(self._waiters) + list(self._queue):
            if not w.done():
                w.set_exception(_Tripped())
        self._queue.clear()

    def _release(self, _fut=None):
        while self._queue:
            w = self._queue.popleft()
            if not w.done():
                w.set_result(None)  # the thread passes to it
                return
        self._free += 1

    async def call(self, method, *args):
        """``store.method(*args)`` (or ``method(store, *args)``) in a pool thread; raises
        StoreUnavailableNow or the store's StoreError."""
        from tfxkit.components.prediction_store.store import StoreError

        loop = asyncio.get_running_loop()
        now = loop.time()
        was_open = self.open_until > 0
        self._check(now)
        probe = was_open and now >= self.open_until
        deadline = now + self.timeout_s + 0.25
        if probe:
            self._probing = True
        try:
            if self._free > 0:
                self._free -= 1
            else:
                if len(self._queue) >= self.max_queue:
                    raise StoreUnavailableNow(
                        f"prediction store busy: {len(self._queue)} calls waiting for its "
                        f"{self.threads} threads (serving.store_threads)")
                slot = loop.create_future()
                self._queue.append(slot)
                await self._wait(loop, slot, deadline, queued=True)
            fut = loop.run_in_executor(self._pool, self._run, method, args)
            fut.add_done_callback(self._release)
            done = loop.create_future()
            fut.add_done_callback(lambda _f: done.done() or done.set_result(None))
            await self._wait(loop, done, deadline, queued=False)
            try:
                out = fut.result()
            except StoreError as e:
                if getattr(e, "elapsed", 0.0) >= self.timeout_s / 2:
                    self._trip(loop, str(e))
                raise
            return out
        finally:
            if probe:
                self._probing = False
                if self.open_until <= loop.time():  # it did not trip again
                    self.open_until = 0.0

    async def _wait(self, loop, fut, deadline: float, queued: bool):
        timer = loop.call_later(max(0.0, deadline - loop.time()),
                                lambda: fut.done() or fut.set_exception(_Timeout()))
        self._waiters.add(fut)
        try:
            await fut
        except _Timeout:
            what = "no free thread" if queued else "no answer"
            self._trip(loop, f"{what} in {self.timeout_s:g} s (the store's timeout)")
            raise StoreUnavailableNow(f"prediction store unavailable: {self.last_error}") \
                from None
        except _Tripped:
            raise StoreUnavailableNow(f"prediction store unavailable: {self.last_error}") \
                from None
        finally:
            timer.cancel()
            self._waiters.discard(fut)

    def close(self):
        self._pool.shutdown(wait=False)


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
               title: str = "tfxkit", online=None, limits: Optional[Limits] = None):
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
        out = {"status": "ok", "store": await call(ping), "models": models}
        if online is not None:
            out["online"] = {"model": online.name, "error": online.error,
                             "problems": online.readiness(),
                             "model_version": online.stable.version if online.stable else None}
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

    from tfxkit.infra.serving.online_service import INLINE_BYTES, InstanceError, ModelError, TooLarge, loads

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
                return json_response(await online.predict_json(body))
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
                    await online._cpu_call(loads, raw)
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


# -- the HTTP protocol: header and body timeouts, a connection cap ----------------------

def protocol_class(limits: Limits, max_connections: Optional[int] = None):
    """uvicorn's httptools protocol, plus what it lacks: a client must send a request's
    line and headers within ``header_timeout_s`` of its first byte (or of connecting),
    and may not stay silent inside a body for ``body_timeout_s`` (408, then closed;
    uvicorn's keep-alive timeout only covers idle connections), a body over the limit is
    refused from its Content-Length or as soon as it passes it (413, closed), and a
    connection over ``max_connections`` is answered 503 and closed at once (a file
    descriptor per half-sent request would otherwise run the process out of them)."""
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

    cap = max_connections or limits.max_connections
    max_body = limits.max_body

    class LimitedHttpToolsProtocol(HttpToolsProtocol):
        refused = 0  # connections over the cap, since start (all instances)

        def connection_made(self, transport):
            super().connection_made(transport)
            self._timer = None
            self._body_bytes = 0
            self._done = False
            if len(self.connections) > cap:
                type(self).refused += 1
                self._reply(503, f"{cap} connections open, the limit "
                                 "(serving.max_connections): retry shortly")
                return
            self._arm(limits.header_timeout_s, "headers")

        # timers
        def _arm(self, seconds, what):
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_later(seconds, self._expired, what)

        def _disarm(self):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _expired(self, what):
            self._timer = None
            if self._done or self.transport.is_closing():
                return
            if what == "body" and self.flow.read_paused:
                self._arm(limits.body_timeout_s, what)  # we are not reading: not its fault
                return
            cycle = self.cycle
            if cycle is not None and cycle.response_started and not cycle.response_complete:
                self.transport.close()
                return
            if what == "headers":
                msg = (f"the request line and headers did not arrive within "
                       f"{limits.header_timeout_s:g} s (serving.header_timeout_s)")
            else:
                msg = (f"nothing of the body arrived for {limits.body_timeout_s:g} s "
                       "(serving.body_timeout_s)")
            self._reply(408, msg)

        def _reply(self, status: int, msg: str):
            """Answers at once, outside any request cycle, and closes."""
            self._done = True
            self._disarm()
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                if cycle.response_started:
                    self.transport.close()
                    return
                cycle.response_started = cycle.response_complete = True  # the app's is dropped
                cycle.disconnected = True
                cycle.message_event.set()
            body = json.dumps({"detail": msg}).encode()
            self.transport.write(b"".join([
                STATUS_LINE[status], b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n", body]))
            self.transport.close()

        def connection_lost(self, exc):
            self._disarm()
            self._done = True
            super().connection_lost(exc)

        def data_received(self, data):
            if self._done:
                return
            super().data_received(data)

        # parser callbacks
        def on_message_begin(self):
            super().on_message_begin()
            self._body_bytes = 0
            if self._timer is None:
                self._arm(limits.header_timeout_s, "headers")

        def on_headers_complete(self):
            if self._done:
                return
            for name, value in self.headers:
                if name == b"content-length":
                    try:
                        size = int(value)
                    except ValueError:
                        continue
                    if size > max_body:
                        self._reply(413, f"the body is {size} bytes, over the limit of "
                                         f"{max_body} (serving.max_body_mb "
                                         f"{limits.max_body_mb:g})")
                        return
            super().on_headers_complete()
            self._arm(limits.body_timeout_s, "body")

        def on_body(self, body: bytes):
            if self._done:
                return
            self._body_bytes += len(body)
            if self._body_bytes > max_body:
                self._reply(413, f"the body is over the limit of {max_body} bytes "
                                 f"(serving.max_body_mb {limits.max_body_mb:g})")
                return
            super().on_body(body)
            self._arm(limits.body_timeout_s, "body")

        def on_message_complete(self):
            if self._done:
                return
            self._disarm()
            super().on_message_complete()

    return LimitedHttpToolsProtocol


def raise_fd_limit(reserve: int = 64) -> int:
    """Raises the soft limit of open files to the hard one; returns how many
    connections fit under it (the limit less ``reserve`` for the process's own)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return max(1, soft - reserve)


def run(app, host: str = "127.0.0.1", port: int = 8080, limits: Optional[Limits] = None,
        log_level: str = "warning", switch_interval_s: float = 0.001) -> None:
    """Runs ``app`` in uvicorn (uvloop, httptools) with ``limits``: the open-files limit
    raised, connections capped below it, header/body/keep-alive timeouts. A short GIL
    switch interval keeps the event loop's turn short while CPU threads work on a big
    request."""
    import logging
    import sys

    import uvicorn

    limits = limits or Limits()
    fit = raise_fd_limit()
    cap = min(limits.max_connections, fit)
    if cap < limits.max_connections:
        logging.getLogger("tfxkit.serve").warning(
            "serving.max_connections %d is over what the open-files limit allows; "
            "capped at %d", limits.max_connections, cap)
    sys.setswitchinterval(switch_interval_s)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False,
                loop="uvloop", http=protocol_class(limits, cap),
                timeout_keep_alive=limits.keep_alive_s)


def serve(cfg, host: str = "127.0.0.1", port: int = 8080, log_level: str = "warning",
          online: bool = True, batch: bool = True, model_dir: Optional[str] = None) -> None:
    """Runs the server: batch predictions by key (when the config has ``inference:``) and
    online predictions from the registry (or ``model_dir``)."""
    app = build_app(cfg, online=online, batch=batch, model_dir=model_dir)
    run(app, host, port, Limits.from_config(cfg), log_level)


def build_app(cfg, online: bool = True, batch: bool = True, model_dir: Optional[str] = None):
    open_store, models = None, []
    if batch and cfg.inference is not None:
        from tfxkit.pipelines.inference import open_configured_store

        models = [m.name for m in cfg.inference_models]

        def open_store():
            return open_configured_store(cfg)
    service = None
    if online:
        from tfxkit.infra.serving.online_service import service_from_config

        service = service_from_config(cfg, model_dir=model_dir)
    return create_app(open_store, models, cfg.name, online=service,
                      limits=Limits.from_config(cfg))
