"""The optional bearer-token check of ``tfxkit serve`` (issue 19).

The token comes from an environment variable whose NAME the config gives
(``serving.auth_token_env``) or ``tfxkit serve --token-env NAME``: never the token itself
in the YAML. When configured, every request that is not a read (any method but GET, HEAD
and OPTIONS: ``POST /predict``, ``/feedback``, every write route, also routes added later
such as ``/v1/models/M:predict``) must carry ``Authorization: Bearer <token>``, compared
in constant time; without it, or with another token: 401 with ``WWW-Authenticate:
Bearer``. Reads stay open unless ``auth_reads``; the health probes and ``/metrics`` stay
open always (a probe or a scraper has no token to send).

A pure ASGI middleware, so it covers whatever routes the app has, and costs one header
look-up per checked request.
"""
from __future__ import annotations

import hmac
import json
import os
from typing import Iterable, Optional

READS = frozenset({"GET", "HEAD", "OPTIONS"})
ALWAYS_OPEN = ("/health", "/metrics")  # and what is below /health/


class TokenMissing(ValueError):
    """The configured variable is unset or empty."""


def token_from_env(name: str, environ=None) -> str:
    """The token in the environment variable ``name``; TokenMissing when it is unset or
    empty (``tfxkit serve`` then exits 2)."""
    environ = os.environ if environ is None else environ
    value = (environ.get(name) or "").strip()
    if not value:
        raise TokenMissing(f"the bearer token's environment variable {name} "
                           f"(serving.auth_token_env / --token-env) is "
                           f"{'empty' if name in environ else 'not set'}: set it to the "
                           "token clients must send, or leave auth_token_env out")
    return value


def is_open(path: str, open_paths: Iterable[str] = ALWAYS_OPEN) -> bool:
    return any(path == p or path.startswith(p + "/") for p in open_paths)


class BearerAuth:
    """ASGI middleware: 401 for a checked request without ``Authorization: Bearer
    <token>``. ``reads``: also check GET/HEAD/OPTIONS (health and /metrics stay open)."""

    def __init__(self, app, token: str, reads: bool = False):
        if not token:
            raise ValueError("an empty token")
        self.app, self.reads = app, reads
        self._expected = b"Bearer " + token.encode("utf-8")
        self.refused = 0

    def _checked(self, scope) -> bool:
        if is_open(scope.get("path", "")):
            return False
        return self.reads or scope.get("method", "GET") not in READS

    def _authorized(self, scope) -> bool:
        got: Optional[bytes] = None
        for k, v in scope.get("headers") or ():
            if k == b"authorization":
                got = v
                break
        return got is not None and hmac.compare_digest(got, self._expected)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not self._checked(scope) or self._authorized(scope):
            await self.app(scope, receive, send)
            return
        self.refused += 1
        body = json.dumps({"detail": "a bearer token is required (Authorization: Bearer "
                                     "<token>), and this one is missing or wrong"}).encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"www-authenticate", b'Bearer realm="tfxkit"')]})
        await send({"type": "http.response.body", "body": body})
