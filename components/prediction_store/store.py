"""Prediction stores: a run of batch predictions becomes visible all at once.

Plain functions and classes, no TFX. Three backends behind one interface:

- ``SqliteStore`` (``sqlite_store.py``): a file, the embedded default (WAL, so readers
  never wait on a writer);
- ``PostgresStore`` (``postgres_store.py``): psycopg 3, rows loaded with COPY;
- ``RedisStore`` (``redis_store.py``): one string per key, written in pipelined batches.

The two SQL stores share ``SqlStore`` (``sql_store.py``). This module holds the interface
(``PredictionStore``), what every backend returns and raises, and ``open_store``, which
picks the backend from the config.

Every backend keeps each run apart (``run_id``) and a pointer to the current run per use
case. ``write_run`` loads all rows of a new run first, then moves the pointer in one step
(a transaction, or a single SET), so a reader sees the whole previous run or the whole
new one, never a mix. The last ``keep_runs`` runs stay for ``rollback``.

A failed write leaves nothing behind, also when the connection dies mid-way: the SQL
stores load the rows and move the pointer in one transaction (a dead connection rolls it
back); Redis records the run as pending (with a lease its writer renews) before its first
key, and the next write or trim deletes the keys of any pending run whose writer is gone
and that never became current. Every error names the store (kind and path or URL, never a
password).

A stored row is ``{"key", "prediction": {...}, "model_version", "run_id", "created_at"}``.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

Row = Tuple[str, Dict[str, Any]]  # (key, prediction fields)


class StoreError(RuntimeError):
    """The store cannot be reached or refused a write; names the store (never a password)."""


class StoreUnavailable(StoreError):
    pass


@dataclass
class RunInfo:
    use_case: str
    run_id: str
    model_version: str
    rows: int
    created_at: str
    current: bool = False


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")


def redact(url: str) -> str:
    return re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:***@", url)


def error_text(e: BaseException) -> str:
    """An exception as one line: its type when its message is empty or bare."""
    msg = " ".join(str(e).split())
    return msg or type(e).__name__


class PredictionStore:
    """The interface; see the module docstring."""

    description = "store"

    def ping(self) -> None:
        raise NotImplementedError

    def write_run(self, use_case: str, run_id: str, model_version: str,
                  rows: Iterable[Row], keep_runs: int = 2, batch: int = 5000,
                  progress=None) -> RunInfo:
        raise NotImplementedError

    def get(self, use_case: str, key: str) -> Optional[Dict[str, Any]]:
        raise NotImplementedError

    def runs(self, use_case: str) -> List[RunInfo]:
        raise NotImplementedError

    def rollback(self, use_case: str, run_id: Optional[str] = None) -> RunInfo:
        """Points ``use_case`` at ``run_id`` (default: the run before the current one)."""
        runs = self.runs(use_case)
        current = next((r for r in runs if r.current), None)
        if run_id is None:
            older = [r for r in runs if current and r.created_at < current.created_at]
            if not older:
                raise StoreError(f"{use_case}: no earlier run to roll back to")
            target = older[0]
        else:
            target = next((r for r in runs if r.run_id == run_id), None)
            if target is None:
                raise StoreError(f"{use_case}: no stored run {run_id!r} "
                                 f"(kept: {', '.join(r.run_id for r in runs) or 'none'})")
        self._point(use_case, target.run_id)
        target.current = True
        return target

    def _point(self, use_case: str, run_id: str) -> None:
        raise NotImplementedError

    def sweep(self, use_case: str) -> int:
        """Removes the rows or keys of ``use_case``'s runs that never finished and are not
        recorded anywhere (left by writes of an older tfxkit that died mid-way); returns
        how many. The current run, the kept runs and writes in progress stay."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def open_store(kind: str, target: str, password_env: Optional[str] = None,
               timeout_s: float = 5.0) -> PredictionStore:
    """A store from its config: ``kind`` sqlite|postgres|redis and its path or URL. The
    password, if any, is read from the environment variable ``password_env``."""
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise StoreError(f"environment variable {password_env} (store password) is not set")
    if kind == "sqlite":
        from tfxkit.components.prediction_store.sqlite_store import SqliteStore

        return SqliteStore(target, timeout_s)
    if kind == "postgres":
        from tfxkit.components.prediction_store.postgres_store import PostgresStore

        return PostgresStore(target, password, timeout_s)
    if kind == "redis":
        from tfxkit.components.prediction_store.redis_store import RedisStore

        return RedisStore(target, password, timeout_s)
    raise StoreError(f"unknown store kind {kind!r} (sqlite, postgres or redis)")
