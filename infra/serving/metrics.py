"""Prometheus metrics of ``tfxkit serve`` (issue 19): ``GET /metrics`` in the text format,
from ``prometheus_client`` with a registry of the app's own (not the process-wide
default: two apps in one process, as in the tests, do not share or collide).

    tfxkit_http_requests_total{route, method, status}     requests answered
    tfxkit_http_request_duration_seconds{route, method}   latency histogram (until the
                                                          answer's last byte is handed on)
    tfxkit_http_requests_in_flight                        requests being answered now
    tfxkit_model_version_info{arm, version}               1 for the stable and canary
                                                          versions served
    tfxkit_batch_size                                     instances per model call
                                                          (histogram, MicroBatcher)
    tfxkit_batcher_queue_items{arm}                       instances waiting for a model call
    tfxkit_request_log_written_total / _dropped_total     request-log lines written,
                                                          requests dropped (queue full)
    tfxkit_request_log_queue_depth                        requests waiting for the writer

``route`` is the route's template (``/models/{model}/predict``), never the raw path
(``<unmatched>`` for a path no route has), so the label's values stay few. The request
metrics are kept by a pure ASGI middleware around every route, also ones added later and
401s of the token check; the state of the model, batcher and request log is read when
``/metrics`` is scraped, nothing on the request path.
"""
from __future__ import annotations

import time
from typing import Any, Dict, Optional, Tuple

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
UNMATCHED = "<unmatched>"


class ServerMetrics:
    """The metrics of one app: its registry, the request counters and histograms, and a
    collector of the online service's state (``online``: an OnlineService or None)."""

    def __init__(self, online=None):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.online = online
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("tfxkit_http_requests", "HTTP requests answered, by route "
                                "template, method and status code",
                                ("route", "method", "status"), registry=self.registry)
        self.latency = Histogram("tfxkit_http_request_duration_seconds",
                                 "Time to answer an HTTP request, by route template",
                                 ("route", "method"), buckets=LATENCY_BUCKETS,
                                 registry=self.registry)
        self.batch_sizes = Histogram("tfxkit_batch_size", "Instances per model call "
                                     "(micro-batches)", buckets=BATCH_BUCKETS,
                                     registry=self.registry)
        self.inflight = 0
        self._children: Dict[Tuple[str, str, int], Any] = {}
        self._latency_children: Dict[Tuple[str, str], Any] = {}
        self.registry.register(_StateCollector(self))
        if online is not None:
            online.on_batch = self.batch_sizes.observe

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        c = self._children.get(key)
        if c is None:
            c = self._children[key] = self.requests.labels(route, method, str(status))
        c.inc()
        h = self._latency_children.get(key[:2])
        if h is None:
            h = self._latency_children[key[:2]] = self.latency.labels(route, method)
        h.observe(seconds)

    def exposition(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class _StateCollector:
    """What is read at scrape time: the versions served, the batchers' queues, the
    request log's counters, the requests in flight."""

    def __init__(self, metrics: ServerMetrics):
        self.m = metrics

    def describe(self):
        return []  # collected only on scrape (no names to check against at register time)

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        g = GaugeMetricFamily("tfxkit_http_requests_in_flight",
                              "HTTP requests being answered now")
        g.add_metric([], self.m.inflight)
        yield g
        online = self.m.online
        if online is None:
            return
        versions = GaugeMetricFamily("tfxkit_model_version_info", "The model versions "
                                     "served: 1 per arm (stable, canary) and version",
                                     labels=("model", "arm", "version"))
        queued = GaugeMetricFamily("tfxkit_batcher_queue_items", "Instances waiting for "
                                   "a model call, per arm", labels=("arm",))
        stable = online.stable
        canary = online.rollout.canary if online.rollout is not None else None
        for arm_name, arm in (("stable", stable), ("canary", canary)):
            if arm is None:
                continue
            versions.add_metric([online.name, arm_name, str(arm.version)], 1)
            queued.add_metric([arm_name], getattr(arm.batcher, "queued", 0))
        yield versions
        yield queued
        log = getattr(online, "requests", None)
        if log is not None:
            w = CounterMetricFamily("tfxkit_request_log_written", "Request-log lines "
                                    "(instances) written")
            w.add_metric([], log.written)
            yield w
            d = CounterMetricFamily("tfxkit_request_log_dropped", "Requests left out of "
                                    "the request log because its queue was full")
            d.add_metric([], log.dropped)
            yield d
            q = GaugeMetricFamily("tfxkit_request_log_queue_depth", "Requests waiting for "
                                  "the request log's writer")
            q.add_metric([], log.depth)
            yield q


class MetricsMiddleware:
    """ASGI middleware: counts and times every HTTP request by route template, method and
    status (a request that raises counts as 500)."""

    def __init__(self, app, metrics: ServerMetrics, router=None):
        self.app, self.m, self.router = app, metrics, router

    def _template(self, scope) -> str:
        """The route template that answered, or for a request answered before routing
        (a 401 of the token check), the one that would have."""
        route = scope.get("route")
        if route is None and self.router is not None:
            from starlette.routing import Match

            for r in self.router.routes:
                try:
                    match, _ = r.matches(scope)
                except Exception:  # pylint: disable=broad-except
                    continue
                if match != Match.NONE:
                    route = r
                    break
        return getattr(route, "path", None) or UNMATCHED

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def send_status(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        self.m.inflight += 1
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.m.inflight -= 1
            self.m.observe(self._template(scope), scope.get("method", "GET"), status[0],
                           time.perf_counter() - t0)


def install(app, online=None, token: Optional[str] = None,
            auth_reads: bool = False) -> ServerMetrics:
    """Adds ``GET /metrics``, the metrics middleware and, with ``token``, the bearer-token
    check (``auth.py``) to ``app``: the metrics outermost, so that 401s are counted."""
    from fastapi.responses import Response
    from prometheus_client import CONTENT_TYPE_LATEST

    from tfxkit.infra.serving.auth import BearerAuth

    metrics = ServerMetrics(online)
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics():
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    if token:
        app.add_middleware(BearerAuth, token=token, reads=auth_reads)
    app.add_middleware(MetricsMiddleware, metrics=metrics, router=app.router)  # the last added is outermost
    return metrics
