"""Runs the app of ``tfxkit serve`` in uvicorn with the config's limits: uvicorn's
httptools protocol with header and body timeouts and a connection cap, the open-files
limit raised."""
import json
from typing import Optional

from tfxkit.infra.serving.app import build_app
from tfxkit.infra.serving.limits import Limits


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
