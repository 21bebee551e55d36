"""Checks that the servers the tests use answer, before any test starts (`make test`).

PostgreSQL (prediction store), MariaDB/MySQL (MLMD) and Redis (prediction store) run at
their standard loopback ports on every machine of this project. A test that needs one
fails when it is down; this check makes that one clear line up front instead of dozens
of failures (and never a silent skip):

    python tests/services.py            # exit 0, or 1 naming each missing service

Addresses can be moved with TFXKIT_TEST_POSTGRES (a URL), TFXKIT_TEST_MYSQL (host:port)
and TFXKIT_TEST_REDIS (a URL).
"""
from __future__ import annotations

import os
import socket
import struct
import sys
from typing import Callable, List, Tuple

POSTGRES = os.environ.get("TFXKIT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL = os.environ.get("TFXKIT_TEST_MYSQL", "127.0.0.1:3306")
REDIS = os.environ.get("TFXKIT_TEST_REDIS", "redis://127.0.0.1:6379/0")
TIMEOUT_S = 3.0


def check_postgres(url: str = POSTGRES) -> None:
    import psycopg

    with psycopg.connect(url, connect_timeout=int(TIMEOUT_S)) as conn:
        conn.execute("SELECT 1").fetchone()


def check_redis(url: str = REDIS) -> None:
    import redis

    r = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
    try:
        if not r.ping():
            raise RuntimeError("PING was not answered with PONG")
    finally:
        r.close()


def check_mysql(address: str = MYSQL) -> None:
    """Reads the server's greeting (the first packet of the MySQL protocol): protocol
    version 10 and the server version, or the error packet it sends instead."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=TIMEOUT_S) as s:
        head = _recv(s, 4)
        length = struct.unpack("<I", head[:3] + b"\0")[0]
        body = _recv(s, length)
    if body[:1] == b"\xff":
        raise RuntimeError(f"it refused the connection: {body[3:].decode(errors='replace')}")
    if body[:1] != b"\x0a":
        raise RuntimeError(f"no MySQL greeting (first byte {body[:1]!r})")


def _recv(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise RuntimeError("it closed the connection before its greeting")
        out += chunk
    return out


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def checks() -> List[Tuple[str, str, Callable[[], None]]]:
    return [("PostgreSQL", _redact(POSTGRES), check_postgres),
            ("MariaDB", MYSQL, check_mysql),
            ("Redis", _redact(REDIS), check_redis)]


def problems() -> List[str]:
    """One line per service that does not answer, naming it, its address and why."""
    out = []
    for name, where, check in checks():
        try:
            check()
        except Exception as e:  # noqa: BLE001 - every failure is reported, by name
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            out.append(f"{name} at {where} does not answer: {reason}")
    return out


def main() -> int:
    bad = problems()
    for line in bad:
        print(f"services: {line} (the tests need it; start it, or point "
              f"TFXKIT_TEST_* at one)", file=sys.stderr)
    if not bad:
        print("services: PostgreSQL, MariaDB and Redis answer")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
