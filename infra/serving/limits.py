"""What one request or client of ``tfxkit serve`` may take (``serving:`` in the config).

Where each limit is enforced, so that it covers every route, also ones added later (the
TF Serving and KServe protocol routes):

- ``max_body_mb`` (413): in the HTTP protocol (``http_server.py``), before any routing:
  from the Content-Length before the body is read, or as a chunked body passes it; the
  online routes check it again while reading (``app.py``);
- ``max_instances`` (413), the per-request batch size: in ``OnlineService`` (``predict``
  and, for a big body, while its instances are parsed one at a time), whatever route calls
  it; a request within it is scored in model calls of at most ``serving.max_batch_size``
  instances (the micro-batcher), so the model never sees a bigger batch;
- ``max_inflight`` / ``max_large_inflight`` (429): the online routes' admission
  (``app.py``); ``max_connections`` and the header and body timeouts: the protocol.
"""
import dataclasses

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
