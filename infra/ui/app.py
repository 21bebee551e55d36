"""The dashboard's FastAPI app: server-rendered Jinja2 pages over ``data.py``, a little
vanilla JS (``static/ui.js``: run filters, the lineage properties panel, confirmation
dialogs).

Reads only, unless ``allow_writes``: then the models page can roll back the serving
pointer and set or remove aliases, through the same registry calls as ``tfxkit rollback``
and ``tfxkit models alias`` (the registry records each in its history). A write must carry
the page's CSRF token and a ``confirm`` field naming the version (the page's dialog sets
it); without ``allow_writes`` every write answers 403.

``token``: every request must carry it (``Authorization: Bearer <token>``, or the cookie
that opening any page once with ``?token=<token>`` sets), compared in constant time; else
401. The app binds where the command says (127.0.0.1 by default).
"""
from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from typing import Any, Dict, List, Optional, Sequence
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from tfxkit.infra.ui import data
from tfxkit.infra.ui.sources import UseCase

HERE = os.path.dirname(os.path.abspath(__file__))
COOKIE = "tfxkit_ui_token"


def _fmt_time(t: Optional[float]) -> str:
    if not t:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + " UTC"


def _fmt_num(v: Any, digits: int = 4) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _fmt_cfg(v: Any) -> str:
    """A config value as the YAML author wrote it: lists and mappings as JSON."""
    import json

    if v is None:
        return "—"
    if isinstance(v, (list, dict, bool)):
        return json.dumps(v, sort_keys=True)
    return str(v)


def _fmt_duration(s: Optional[float]) -> str:
    if s is None:
        return ""
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


class TokenCheck:
    """ASGI middleware: 401 unless the request carries the token (bearer header, or the
    cookie a first ``?token=`` visit sets; that visit is redirected without it)."""

    def __init__(self, app, token: str):
        if not token:
            raise ValueError("an empty token")
        self.app = app
        self._token = token.encode()

    def _ok(self, value: Optional[bytes]) -> bool:
        return value is not None and hmac.compare_digest(value, self._token)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        auth = headers.get(b"authorization", b"")
        if auth.startswith(b"Bearer ") and self._ok(auth[7:]):
            await self.app(scope, receive, send)
            return
        from http.cookies import SimpleCookie
        from urllib.parse import parse_qs, urlencode

        cookie = SimpleCookie()
        try:
            cookie.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:  # pylint: disable=broad-except
            pass
        if COOKIE in cookie and self._ok(cookie[COOKIE].value.encode()):
            await self.app(scope, receive, send)
            return
        qs = parse_qs(scope.get("query_string", b"").decode())
        given = (qs.pop("token", [None]) or [None])[0]
        if given is not None and self._ok(given.encode()):
            rest = urlencode(qs, doseq=True)
            location = scope.get("path", "/") + (f"?{rest}" if rest else "")
            await send({"type": "http.response.start", "status": 303, "headers": [
                (b"location", location.encode()),
                (b"set-cookie", f"{COOKIE}={given}; HttpOnly; SameSite=Strict; Path=/".encode()),
                (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        body = (b"401: this dashboard needs its token: open it once with ?token=TOKEN "
                b"(the value of the environment variable given to --token-env), or send "
                b"Authorization: Bearer TOKEN")
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"www-authenticate", b"Bearer"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def create_app(use_cases: Sequence[UseCase], allow_writes: bool = False,
               token: Optional[str] = None, warm: bool = False):
    """The dashboard over ``use_cases``. ``warm``: read the metrics the use-case list shows
    in a background thread at start (the first TFMA read imports TFMA)."""
    app = FastAPI(title="tfxkit ui", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=os.path.join(HERE, "templates"))
    env = templates.env
    env.filters.update(time=_fmt_time, num=_fmt_num, duration=_fmt_duration, cfg=_fmt_cfg,
                       q=lambda s: quote(str(s), safe=""))
    by_name: Dict[str, UseCase] = {u.name: u for u in use_cases}
    cache = data.MetricCache()
    csrf = secrets.token_urlsafe(24)
    report_cache: Dict[tuple, str] = {}
    compare_cache: Dict[tuple, str] = {}
    app.state.metric_cache = cache
    app.state.allow_writes = allow_writes

    def use_case(name: str) -> UseCase:
        if name not in by_name:
            raise HTTPException(404, f"no use case {name!r}; this dashboard shows: "
                                     + ", ".join(sorted(by_name)))
        return by_name[name]

    def page(request: Request, name: str, status: int = 200, **ctx):
        ctx.update(request=request, use_cases=sorted(by_name), allow_writes=allow_writes,
                   csrf=csrf)
        return templates.TemplateResponse(request, name, ctx, status_code=status)

    runs_cache: Dict[tuple, tuple] = {}
    timeline_cache: Dict[tuple, Optional[str]] = {}

    def rows_of(uc: UseCase, pipeline: Optional[str] = None) -> List[data.RunRow]:
        """The pipeline's run table; read again only when the SQLite file changed (its
        size and mtime, and its journal's; a MySQL store: every time), and then only the
        runs that are new or were not finished (``data.runs``'s ``previous``)."""
        key = (uc.name, pipeline or uc.name)
        stamp = data.store_stamp(uc.cfg)
        with uc.lock:
            hit = runs_cache.get(key)
            if stamp is not None and hit is not None and hit[0] == stamp:
                return hit[1]
            store = uc.store()
            rows = data.runs(store, pipeline or uc.name,
                             previous=hit[1] if hit is not None else None) \
                if store is not None else []
            runs_cache[key] = (stamp, rows)
            return rows

    def timeline_of(uc: UseCase, row: data.RunRow) -> Optional[str]:
        key = (uc.name, row.pipeline, row.run_id, tuple((c.node_id, c.state, c.end)
                                                       for c in row.components))
        if key not in timeline_cache:
            timeline_cache[key] = data_svg().timeline(row.components)
        return timeline_cache[key]

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        if request.method == "GET":
            return page(request, "error.html", status=exc.status_code, status_code=exc.status_code,
                        detail=exc.detail)
        return PlainTextResponse(f"{exc.status_code}: {exc.detail}", status_code=exc.status_code)

    @app.get("/static/{name}")
    def static(name: str):
        path = os.path.join(HERE, "static", os.path.basename(name))
        if not os.path.isfile(path):
            raise HTTPException(404, f"no static file {name}")
        kind = "text/css" if name.endswith(".css") else "application/javascript"
        with open(path, "rb") as f:
            return Response(f.read(), media_type=kind,
                            headers={"cache-control": "max-age=300"})

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        cases = []
        for uc in use_cases:
            try:
                rows = rows_of(uc)
                # while the start-up thread reads the evaluations (TFMA's first import
                # takes seconds), the list does not wait for them
                s = data.use_case_summary(uc, cache, rows, wait=not warming.is_set())
            except Exception as e:  # pylint: disable=broad-except
                s = {"name": uc.name, "task": uc.cfg.task, "schedule": uc.cfg.schedule,
                     "error": f"{type(e).__name__}: {e}", "series": [], "metric": None,
                     "last_run": None, "runs": 0, "serving": None, "serving_aliases": [],
                     "metrics_complete": True}
            m = s.get("metric") or {}
            s["spark"] = data_svg().sparkline([v for _, v in s["series"]], m.get("lower_bound"),
                                              m.get("upper_bound"),
                                              labels=[r for r, _ in s["series"]])
            cases.append(s)
        return page(request, "home.html", cases=cases)

    @app.get("/u/{name}", response_class=HTMLResponse)
    def runs_page(request: Request, name: str, state: str = "", pushed: str = "",
                  blessed: str = "", q: str = ""):
        uc = use_case(name)
        rows = rows_of(uc)
        yn = {"yes": True, "no": False}
        shown = data.filter_runs(rows, state or None, yn.get(pushed), yn.get(blessed), q or None)
        inference = rows_of(uc, uc.cfg.inference_name) if uc.cfg.inference else []
        return page(request, "runs.html", uc=uc, rows=list(reversed(shown)), total=len(rows),
                    inference=list(reversed(inference)),
                    filters={"state": state, "pushed": pushed, "blessed": blessed, "q": q},
                    states=sorted({r.state for r in rows}))

    @app.get("/u/{name}/runs/{run_id}", response_class=HTMLResponse)
    def run_page(request: Request, name: str, run_id: str):
        uc = use_case(name)
        rows = rows_of(uc)
        pipeline = uc.name
        if run_id not in {r.run_id for r in rows} and uc.cfg.inference:
            rows, pipeline = rows_of(uc, uc.cfg.inference_name), uc.cfg.inference_name
        try:
            row = data.find_run(rows, run_id)
        except data.NotFound as e:
            raise HTTPException(404, str(e)) from None
        ev = cache.of_row(row)
        gated = [m for m in (ev.metrics if ev is not None else []) if m.gated]
        return page(request, "run.html", uc=uc, row=row, pipeline=pipeline,
                    timeline=timeline_of(uc, row), gated=gated, evaluation=ev)

    @app.get("/u/{name}/runs/{run_id}/report", response_class=HTMLResponse)
    def run_report(name: str, run_id: str, pipeline: Optional[str] = None):
        uc = use_case(name)
        from tfxkit.infra.metadata.report.gather import gather
        from tfxkit.infra.metadata.report.model import ReportError
        from tfxkit.infra.metadata.report.render import render_html

        pipeline = pipeline if pipeline in (uc.name, uc.cfg.inference_name) else uc.name
        key = (name, pipeline, run_id)
        if key in report_cache:
            return HTMLResponse(report_cache[key])
        written = data.written_report(uc.cfg, pipeline, rows_of(uc, pipeline), run_id)
        if written is not None:  # the report the run wrote when it ended, as it is
            report_cache[key] = written
            return HTMLResponse(written)
        with uc.lock:
            store = uc.store()
            if store is None:
                raise HTTPException(404, f"{name}: no ML Metadata yet")
            try:
                rep = gather(store, pipeline, run_id)
            except ReportError as e:
                raise HTTPException(404, str(e)) from None
        text = render_html(rep)
        if rep.status in ("succeeded", "failed", "canceled"):
            report_cache[key] = text  # a finished run's report never changes
        return HTMLResponse(text)

    @app.get("/u/{name}/compare", response_class=HTMLResponse)
    def compare_page(request: Request, name: str, run: List[str] = Query(default=[])):
        uc = use_case(name)
        rows = rows_of(uc)
        picked = []
        for rid in run or []:
            try:
                picked.append(data.find_run(rows, rid))
            except data.NotFound as e:
                raise HTTPException(404, str(e)) from None
        if len(picked) < 2:
            raise HTTPException(400, "compare needs two or more runs: ?run=ID&run=ID "
                                     "(tick them on the runs page)")
        picked.sort(key=lambda r: (r.started or 0, r.run_id))
        key = (name, tuple(r.run_id for r in picked))
        final = all(r.state in ("succeeded", "failed", "canceled") for r in picked)
        if final and key in compare_cache:  # finished runs' artifacts never change
            return HTMLResponse(compare_cache[key])
        with uc.lock:
            store = uc.store()
            cmp = data.compare(store, uc.name, picked, cache)
        svg = data_svg()
        ids = [r.run_id for r in picked]
        plots = []
        for metric in sorted({m["metric"] for m in cmp["metrics"] if m["gated"]}):
            ms = [m for m in cmp["metrics"] if m["metric"] == metric]
            values = {(m["slice"], rid): m["values"][i] for m in ms for i, rid in enumerate(ids)}
            bound = next((b for b in uc.cfg.eval.metrics if data.gated_metric_key(uc.cfg, b)
                          == metric), None)
            p = svg.metric_bars(metric, [m["slice"] for m in ms], ids, values,
                                getattr(bound, "lower_bound", None),
                                getattr(bound, "upper_bound", None))
            if p:
                plots.append((metric, p))
        curves = svg.overlaid_curves(ids, cmp["histories"])
        resp = page(request, "compare.html", uc=uc, cmp=cmp, ids=ids, plots=plots,
                    curves=curves)
        if final:
            compare_cache[key] = resp.body.decode()
        return resp

    @app.get("/u/{name}/lineage", response_class=HTMLResponse)
    def lineage_page(request: Request, name: str, version: Optional[str] = None):
        uc = use_case(name)
        from tfxkit.infra.metadata.lineage.model import LineageError

        reg = data.serving_info(uc.registry())
        version = version or reg["serving"]
        with uc.lock:
            store = uc.store()
            if store is None:
                raise HTTPException(404, f"{name}: no ML Metadata yet")
            try:
                g = data.lineage_graph(store, uc.name, version,
                                       uc.cfg.inference_name if uc.cfg.inference else None)
            except LineageError as e:
                raise HTTPException(404, str(e)) from None
        nodes = {n.id: {"id": n.id, "kind": n.kind, "label": n.label, "uri": n.uri,
                        "properties": n.properties} for n in g.nodes}
        return page(request, "lineage.html", uc=uc, graph=g, svg=data.graph_svg(g),
                    nodes=nodes, version=version, versions=reg["versions"],
                    serving=reg["serving"])

    @app.get("/u/{name}/models", response_class=HTMLResponse)
    def models_page(request: Request, name: str, done: str = ""):
        uc = use_case(name)
        info = data.model_versions(uc.registry())
        return page(request, "models.html", uc=uc, info=info, done=done)

    def _check_write(uc: UseCase, token_field: str, confirm: str, expected: str):
        if not allow_writes:
            raise HTTPException(403, "this dashboard was started read-only: restart it with "
                                     "tfxkit ui --allow-writes to change the registry")
        if not hmac.compare_digest(token_field or "", csrf):
            raise HTTPException(403, "the form's csrf token is missing or stale: reload the "
                                     "models page and try again")
        if (confirm or "") != expected:
            raise HTTPException(400, f"not confirmed: the form's confirm field must be "
                                     f"{expected!r} (the page's dialog sets it)")

    async def form_of(request: Request) -> Dict[str, str]:
        """The urlencoded form of a POST (the pages' forms; no multipart needed)."""
        from urllib.parse import parse_qs

        kind = request.headers.get("content-type", "")
        if not kind.startswith("application/x-www-form-urlencoded"):
            raise HTTPException(415, "send the form urlencoded "
                                     "(application/x-www-form-urlencoded)")
        body = (await request.body()).decode("utf-8", "replace")
        return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}

    @app.post("/u/{name}/models/rollback")
    async def rollback(request: Request, name: str):
        from starlette.concurrency import run_in_threadpool

        uc = use_case(name)
        if not allow_writes:
            _check_write(uc, "", "", "")
        f = await form_of(request)
        version = f.get("version", "").strip()
        if not version:
            raise HTTPException(400, "rollback: the form's version field is empty")
        _check_write(uc, f.get("csrf_token", ""), f.get("confirm", ""), version)
        from tfxkit.components.registry.errors import RegistryError, UnknownVersion

        reg = uc.registry()
        try:
            await run_in_threadpool(reg.set_serving, version,
                                    reason=f.get("reason") or "tfxkit ui rollback", verify=True)
        except UnknownVersion as e:
            raise HTTPException(404, f"rollback: {e}") from None
        except RegistryError as e:
            raise HTTPException(409, f"rollback: {e}") from None
        return RedirectResponse(f"/u/{quote(name)}/models?done=serving+{quote(version)}",
                                status_code=303)

    @app.post("/u/{name}/models/alias")
    async def alias(request: Request, name: str):
        from starlette.concurrency import run_in_threadpool

        uc = use_case(name)
        if not allow_writes:
            _check_write(uc, "", "", "")
        f = await form_of(request)
        alias_name, version = f.get("alias_name", "").strip(), f.get("version", "").strip()
        remove = bool(f.get("remove"))
        if not alias_name or not (remove or version):
            raise HTTPException(400, "alias: give alias_name and version (or remove=1)")
        _check_write(uc, f.get("csrf_token", ""), f.get("confirm", ""),
                     alias_name if remove else version)
        from tfxkit.components.registry.errors import (RegistryError, UnknownAlias,
                                                       UnknownVersion)

        reg = uc.registry()
        reason = f.get("reason") or ("tfxkit ui alias --remove" if remove else "tfxkit ui alias")
        try:
            if remove:
                await run_in_threadpool(reg.remove_alias, alias_name, reason=reason)
                msg = f"removed alias {alias_name}"
            else:
                v = await run_in_threadpool(reg.set_alias, alias_name, version, reason=reason)
                msg = f"alias {alias_name} -> {v}"
        except (UnknownAlias, UnknownVersion) as e:
            raise HTTPException(404, f"alias: {e}") from None
        except RegistryError as e:
            raise HTTPException(400, f"alias: {e}") from None
        return RedirectResponse(f"/u/{quote(name)}/models?done={quote(msg)}", status_code=303)

    @app.get("/u/{name}/serving", response_class=HTMLResponse)
    def serving_page(request: Request, name: str):
        uc = use_case(name)
        canary = data.canary_state(uc.cfg)
        windows = []
        with uc.lock:
            store = uc.store()
            if store is not None:
                windows = data.monitoring_windows(store, uc.name)
        from tfxkit.infra.metadata.report.plots import monitoring_plot

        svg = data_svg()
        plots = [p for p in (svg.canary_plot(list(reversed(canary["decisions"]))),
                             monitoring_plot(windows, "skew"),
                             monitoring_plot(windows, "drift")) if p]
        return page(request, "serving.html", uc=uc, canary=canary, windows=windows,
                    reg=data.serving_info(uc.registry()), plots=plots)

    warming = threading.Event()
    app.state.warming = warming  # set while the start-up thread runs
    if warm:
        def _warm():
            try:
                try:  # matplotlib, for the compare and serving pages' plots
                    from tfxkit.infra.metadata.report.plots import _plt  # pylint: disable=protected-access

                    _plt()
                except Exception:  # pylint: disable=broad-except
                    pass
                for uc in use_cases:
                    try:
                        rows = rows_of(uc)
                        m = data.gated_metric(uc.cfg)
                        if m:
                            data.metric_series(rows, cache, m["key"])
                    except Exception:  # pylint: disable=broad-except
                        pass
            finally:
                warming.clear()

        warming.set()
        threading.Thread(target=_warm, name="tfxkit-ui-warm", daemon=True).start()

    if token:
        return TokenCheck(app, token)
    return app


def data_svg():
    from tfxkit.infra.ui import svg

    return svg
