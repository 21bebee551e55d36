"""Prediction stores: a run of batch predictions becomes visible all at once.

Plain functions and classes, no TFX. Three backends behind one interface:

- ``SqliteStore``: a file, the embedded default (WAL, so readers never wait on a writer);
- ``PostgresStore``: psycopg 3, rows loaded with COPY;
- ``RedisStore``: one string per key, written in pipelined batches.

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

import contextlib
import datetime as dt
import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

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


_log = logging.getLogger(__name__)


def _redact(url: str) -> str:
    return re.sub(r"//([^/@:]*):[^/@]*@", r"//\1:***@", url)


def _text(e: BaseException) -> str:
    """An exception as one line: its type when its message is empty or bare."""
    msg = " ".join(str(e).split())
    return msg or type(e).__name__


def _sqlite_hint(path: str, folder: str) -> str:
    if os.path.isdir(path):
        return " (the path is a folder)"
    if not os.access(folder, os.W_OK):
        return f" (the folder {folder} is not writable)"
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return " (the file is not writable)"
    return ""


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


# --------------------------------------------------------------------------- SQL stores

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tfxkit_runs (use_case TEXT NOT NULL, run_id TEXT NOT NULL,
       model_version TEXT, rows BIGINT, created_at TEXT, PRIMARY KEY (use_case, run_id))""",
    """CREATE TABLE IF NOT EXISTS tfxkit_current (use_case TEXT PRIMARY KEY,
       run_id TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tfxkit_predictions (use_case TEXT NOT NULL,
       run_id TEXT NOT NULL, key TEXT NOT NULL, prediction TEXT NOT NULL,
       model_version TEXT, created_at TEXT, PRIMARY KEY (use_case, run_id, key))""",
]
_GET = ("SELECT p.key, p.prediction, p.model_version, p.run_id, p.created_at "
        "FROM tfxkit_current c JOIN tfxkit_predictions p ON p.use_case = c.use_case "
        "AND p.run_id = c.run_id WHERE c.use_case = {p} AND p.key = {p}")


class _SqlStore(PredictionStore):
    param = "?"

    def _connect(self):
        raise NotImplementedError

    def _conn(self):
        if self._con is None:
            try:
                self._con = self._connect()
            except StoreError:
                raise
            except Exception as e:  # the driver's error, without the store's name
                raise StoreUnavailable(f"{self.description}: {_text(e)}") from None
        return self._con

    @contextlib.contextmanager
    def _errors(self, what: str = ""):
        """Turns a driver error into a StoreError naming the store (and resets a
        connection that may be broken)."""
        try:
            yield
        except StoreError:
            raise
        except Exception as e:
            self._reset()
            raise StoreUnavailable(f"{self.description}: {what}{_text(e)}") from None

    def _bulk_insert(self, cur, rows: List[tuple]) -> None:
        cur.executemany(f"INSERT INTO tfxkit_predictions VALUES "
                        f"({', '.join([self.param] * 6)})", rows)

    def write_run(self, use_case, run_id, model_version, rows, keep_runs=2, batch=5000,
                  progress=None) -> RunInfo:
        con = self._conn()
        created = now()
        n = 0
        p = self.param
        try:
            cur = con.cursor()
            # a re-run under the same id (a retried component) starts over
            cur.execute(f"DELETE FROM tfxkit_predictions WHERE use_case = {p} AND run_id = {p}",
                        (use_case, run_id))
            chunk: List[tuple] = []
            for key, pred in rows:
                chunk.append((use_case, run_id, key, json.dumps(pred), model_version, created))
                if len(chunk) >= batch:
                    self._bulk_insert(cur, chunk)
                    n += len(chunk)
                    chunk = []
                    if progress:
                        progress(n)
            if chunk:
                self._bulk_insert(cur, chunk)
                n += len(chunk)
            cur.execute(f"DELETE FROM tfxkit_runs WHERE use_case = {p} AND run_id = {p}",
                        (use_case, run_id))
            cur.execute(f"INSERT INTO tfxkit_runs VALUES ({p}, {p}, {p}, {p}, {p})",
                        (use_case, run_id, model_version, n, created))
            self._point_cursor(cur, use_case, run_id)
            # The rows and the switch are one transaction: readers see the previous run
            # until it commits, and a write that fails (or whose connection dies) anywhere
            # before leaves no row behind.
            con.commit()
        except Exception as e:
            try:
                con.rollback()
            except Exception:  # the connection is gone: the server rolled it back
                self._reset()
            self._forget(use_case, run_id)
            cls = StoreUnavailable if self._con is None else StoreError
            raise cls(f"{self.description}: writing run {run_id} failed: {_text(e)}") from None
        self._trim(use_case, keep_runs)
        return RunInfo(use_case, run_id, model_version, n, created, current=True)

    def _forget(self, use_case: str, run_id: str) -> None:
        """Removes a run's rows left by a failure (never the current run's); a no-op when
        the transaction rolled back, kept for rows an older version committed early."""
        try:
            con, p = self._conn(), self.param
            cur = con.cursor()
            cur.execute(f"SELECT run_id FROM tfxkit_current WHERE use_case = {p}", (use_case,))
            row = cur.fetchone()
            if row is None or row[0] != run_id:
                cur.execute("DELETE FROM tfxkit_predictions WHERE use_case = "
                            f"{p} AND run_id = {p}", (use_case, run_id))
            con.commit()
        except Exception:
            self._reset()

    def _point_cursor(self, cur, use_case, run_id):
        p = self.param
        cur.execute(f"DELETE FROM tfxkit_current WHERE use_case = {p}", (use_case,))
        cur.execute(f"INSERT INTO tfxkit_current VALUES ({p}, {p})", (use_case, run_id))

    def _point(self, use_case, run_id):
        con = self._conn()
        with self._errors(f"pointing {use_case} at run {run_id} failed: "):
            cur = con.cursor()
            self._point_cursor(cur, use_case, run_id)
            con.commit()

    def _trim(self, use_case: str, keep_runs: int) -> None:
        """Drops runs beyond ``keep_runs``; after a successful switch, so a failure here
        is logged, never the write's failure."""
        try:
            runs = self.runs(use_case)
            current = [r for r in runs if r.current]
            old = [r for r in runs if not r.current][max(0, keep_runs - len(current)):]
            if not old:
                return
            con, p = self._conn(), self.param
            cur = con.cursor()
            for r in old:
                cur.execute("DELETE FROM tfxkit_predictions WHERE use_case = "
                            f"{p} AND run_id = {p}", (use_case, r.run_id))
                cur.execute(f"DELETE FROM tfxkit_runs WHERE use_case = {p} AND run_id = {p}",
                            (use_case, r.run_id))
            con.commit()
        except Exception as e:  # pylint: disable=broad-except
            self._reset()
            _log.warning("%s: trimming old runs of %s failed (the new run serves): %s",
                         self.description, use_case, _text(e))

    def sweep(self, use_case):
        con, p = self._conn(), self.param
        with self._errors("sweeping failed: "):
            cur = con.cursor()
            # a write in progress is one uncommitted transaction: its rows are not seen
            cur.execute(f"DELETE FROM tfxkit_predictions WHERE use_case = {p} AND run_id NOT IN "
                        f"(SELECT run_id FROM tfxkit_runs WHERE use_case = {p}) AND run_id NOT IN "
                        f"(SELECT run_id FROM tfxkit_current WHERE use_case = {p})",
                        (use_case, use_case, use_case))
            n = cur.rowcount
            con.commit()
        return max(0, n or 0)

    def runs(self, use_case):
        con, p = self._conn(), self.param
        with self._errors():
            cur = con.cursor()
            cur.execute("SELECT r.use_case, r.run_id, r.model_version, r.rows, r.created_at, "
                        "c.run_id IS NOT NULL FROM tfxkit_runs r LEFT JOIN tfxkit_current c "
                        "ON c.use_case = r.use_case AND c.run_id = r.run_id "
                        f"WHERE r.use_case = {p} ORDER BY r.created_at DESC", (use_case,))
            out = [RunInfo(*row[:5], current=bool(row[5])) for row in cur.fetchall()]
            con.commit()
        return out

    def get(self, use_case, key):
        con = self._conn()
        with self._errors():
            cur = con.cursor()
            cur.execute(_GET.format(p=self.param), (use_case, str(key)))
            row = cur.fetchone()
        if row is None:
            return None
        return {"key": row[0], "prediction": json.loads(row[1]), "model_version": row[2],
                "run_id": row[3], "created_at": row[4]}

    def _reset(self):
        try:
            if self._con is not None:
                self._con.close()
        except Exception:
            pass
        self._con = None

    def close(self):
        self._reset()


class SqliteStore(_SqlStore):
    def __init__(self, path: str, timeout_s: float = 5.0):
        self.path, self.timeout_s, self._con = path, timeout_s, None
        self.description = f"sqlite {os.path.abspath(path)}"

    def _connect(self):
        import sqlite3

        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise StoreUnavailable(f"{self.description}: cannot create its folder {folder}: "
                                   f"{e.strerror or e}") from None
        con = None
        try:
            con = sqlite3.connect(self.path, timeout=self.timeout_s, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            for stmt in _SCHEMA:
                con.execute(stmt)
            con.commit()
        except sqlite3.Error as e:
            if con is not None:
                con.close()
            raise StoreUnavailable(f"{self.description}: cannot open the store: {e}"
                                   f"{_sqlite_hint(self.path, folder)}") from None
        return con

    def ping(self):
        con = self._conn()
        with self._errors():
            con.execute("SELECT 1").fetchone()


class PostgresStore(_SqlStore):
    param = "%s"

    def __init__(self, dsn: str, password: Optional[str] = None, timeout_s: float = 5.0):
        self.dsn, self.password, self.timeout_s, self._con = dsn, password, timeout_s, None
        self.description = f"postgres {_redact(dsn)}"

    def _connect(self):
        import psycopg

        try:
            con = psycopg.connect(self.dsn, password=self.password,
                                  connect_timeout=max(1, int(self.timeout_s)))
        except Exception as e:
            raise StoreUnavailable(f"{self.description}: {str(e).strip()}") from None
        with con.cursor() as cur:
            for stmt in _SCHEMA:
                cur.execute(stmt)
        con.commit()
        return con

    def _bulk_insert(self, cur, rows):
        with cur.copy("COPY tfxkit_predictions (use_case, run_id, key, prediction, "
                      "model_version, created_at) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)

    def ping(self):
        con = self._conn()
        with self._errors():
            cur = con.cursor()
            cur.execute("SELECT 1")
            cur.fetchone()
            con.commit()


# --------------------------------------------------------------------------- Redis

class RedisStore(PredictionStore):
    """Keys: ``tfxkit:{use_case}:current`` (the run id), ``tfxkit:{use_case}:runs`` (a hash
    run_id -> run info JSON) and ``tfxkit:{use_case}:{run_id}:{key}`` (the row JSON).

    A write in progress: ``tfxkit:{use_case}:pending`` (a set of run ids, written before the
    run's first key), ``tfxkit:{use_case}:lease:{run_id}`` (renewed with every batch, expires
    ``lease_s`` after its writer stops) and, once a cleaner has claimed a dead writer's run,
    ``tfxkit:{use_case}:dead:{run_id}`` (that writer can then never make it current)."""

    def __init__(self, url: str, password: Optional[str] = None, timeout_s: float = 5.0,
                 lease_s: float = 120.0):
        import redis

        self.url = url
        self.lease_s = lease_s
        self.description = f"redis {_redact(url)}"
        self.r = redis.Redis.from_url(url, password=password, socket_timeout=timeout_s,
                                      socket_connect_timeout=timeout_s)

    def _k(self, use_case: str, *parts: str) -> str:
        return ":".join(("tfxkit", use_case) + parts)

    def _call(self, fn, *args):
        import redis

        try:
            return fn(*args)
        except redis.exceptions.RedisError as e:
            raise StoreUnavailable(f"{self.description}: {_text(e)}") from None

    def _error(self, e: BaseException, what: str) -> StoreError:
        import redis

        if isinstance(e, StoreError):
            return e
        cls = StoreUnavailable if isinstance(e, (redis.exceptions.ConnectionError,
                                                 redis.exceptions.TimeoutError,
                                                 OSError)) else StoreError
        return cls(f"{self.description}: {what}{_text(e)}")

    def ping(self):
        self._call(self.r.ping)

    def _lease_value(self, run_id: str, token: str) -> str:
        return json.dumps({"run_id": run_id, "writer": token, "pid": os.getpid(),
                           "host": os.uname().nodename, "renewed_at": now()})

    def write_run(self, use_case, run_id, model_version, rows, keep_runs=2, batch=5000,
                  progress=None) -> RunInfo:
        import redis

        created = now()
        n = 0
        prefix = self._k(use_case, run_id) + ":"
        pending, lease = self._k(use_case, "pending"), self._k(use_case, "lease", run_id)
        dead = self._k(use_case, "dead", run_id)
        token = uuid.uuid4().hex
        lease_ms = max(1, int(self.lease_s * 1000))
        recorded = False
        try:
            self._clean_pending(use_case, skip=run_id)
            # recorded before the first key: a writer that dies leaves a pending run that
            # the next write or trim removes once its lease has expired
            pipe = self.r.pipeline(transaction=False)
            pipe.delete(dead)
            pipe.sadd(pending, run_id)
            pipe.set(lease, self._lease_value(run_id, token), px=lease_ms)
            pipe.execute()
            recorded = True
            if self._current(use_case) != run_id:  # a retried run starts over
                self._delete_run_keys(use_case, run_id)
            for key, pred in rows:
                pipe.set(prefix + key, json.dumps(
                    {"key": key, "prediction": pred, "model_version": model_version,
                     "run_id": run_id, "created_at": created}))
                n += 1
                if n % batch == 0:
                    pipe.sadd(pending, run_id)
                    pipe.set(lease, self._lease_value(run_id, token), px=lease_ms)
                    pipe.execute()
                    if progress:
                        progress(n)
            pipe.execute()
            info = RunInfo(use_case, run_id, model_version, n, created)
            # the switch: recording the run and pointing at it is one MULTI/EXEC, and only
            # while this writer's lease holds and no cleaner has claimed the run
            with self.r.pipeline(transaction=True) as tx:
                tx.watch(lease, dead)
                held = tx.get(lease)
                if held is None or json.loads(held).get("writer") != token \
                        or tx.exists(dead):
                    raise StoreError(
                        f"this writer's lease expired (it stalled over {self.lease_s:g} s) "
                        "and the run was given up; nothing was switched")
                tx.multi()
                tx.hset(self._k(use_case, "runs"), run_id, json.dumps(info.__dict__))
                tx.set(self._k(use_case, "current"), run_id)
                tx.srem(pending, run_id)
                tx.delete(lease)
                tx.execute()
        except BaseException as e:  # also KeyboardInterrupt: never leave keys behind
            if recorded:
                self._give_up(use_case, run_id, lease, token)
            if not isinstance(e, Exception):
                raise
            if isinstance(e, redis.exceptions.WatchError):
                e = StoreError("the run was given up by a cleaner while it was switched")
            raise self._error(e, f"writing run {run_id} failed: ") from None
        self._trim(use_case, keep_runs)
        info.current = True
        return info

    def _give_up(self, use_case, run_id, lease, token) -> None:
        """After a failed write: removes this run's keys (unless it became current); if
        the server is gone, the pending record stays for the next write or trim."""
        try:
            if self._current(use_case) == run_id:
                return
            self._delete_run_keys(use_case, run_id)
            held = self.r.get(lease)
            if held is not None and json.loads(held).get("writer") == token:
                self.r.delete(lease)
            self.r.srem(self._k(use_case, "pending"), run_id)
        except Exception as e:  # pylint: disable=broad-except
            _log.warning("%s: could not remove the keys of failed run %s of %s now (the "
                         "next write or trim will): %s", self.description, run_id, use_case,
                         _text(e))

    def _clean_pending(self, use_case: str, skip: Optional[str] = None) -> Dict[str, int]:
        """Removes the keys of pending runs whose writer is gone (lease expired) and that
        never became current; returns {run id: keys removed}."""
        import redis

        pending = self._k(use_case, "pending")
        cleaned: Dict[str, int] = {}
        for raw in self.r.smembers(pending):
            run_id = raw.decode()
            if run_id == skip:
                continue
            lease, dead = self._k(use_case, "lease", run_id), self._k(use_case, "dead", run_id)
            current, runs = self._k(use_case, "current"), self._k(use_case, "runs")
            # claim it atomically: its writer cannot switch to it once ``dead`` is set
            with self.r.pipeline(transaction=True) as tx:
                try:
                    tx.watch(lease, current, runs)
                    if tx.exists(lease):
                        continue  # its writer is alive (or died less than lease_s ago)
                    cur = tx.get(current)
                    if (cur is not None and cur.decode() == run_id) or tx.hexists(runs, run_id):
                        tx.multi()
                        tx.srem(pending, run_id)
                        tx.execute()
                        continue  # it finished
                    tx.multi()
                    tx.set(dead, now(), ex=86400)
                    tx.execute()
                except redis.exceptions.WatchError:
                    continue  # something moved: leave it to the next clean-up
            cleaned[run_id] = self._delete_run_keys(use_case, run_id)
            self.r.srem(pending, run_id)
            _log.warning("%s: removed the %d keys of run %s of %s, whose write never "
                         "finished", self.description, cleaned[run_id], run_id, use_case)
        return cleaned

    def _current(self, use_case):
        v = self.r.get(self._k(use_case, "current"))
        return v.decode() if v is not None else None

    def _delete_run_keys(self, use_case, run_id) -> int:
        keys, n = [], 0
        pattern = _glob_escape(self._k(use_case, run_id) + ":") + "*"
        for k in self.r.scan_iter(match=pattern, count=5000):
            keys.append(k)
            if len(keys) >= 5000:
                n += self.r.unlink(*keys)
                keys = []
        if keys:
            n += self.r.unlink(*keys)
        return n

    def _trim(self, use_case, keep_runs):
        """Drops runs beyond ``keep_runs`` and dead writers' pending runs; after a
        successful switch, so a failure here is logged, never the write's failure."""
        try:
            self._clean_pending(use_case)
            runs = self.runs(use_case)
            old = [r for r in runs if not r.current][max(0, keep_runs - 1):]
            for r in old:
                self._delete_run_keys(use_case, r.run_id)
                self.r.hdel(self._k(use_case, "runs"), r.run_id)
        except Exception as e:  # pylint: disable=broad-except
            _log.warning("%s: trimming old runs of %s failed (the new run serves): %s",
                         self.description, use_case, _text(e))

    def sweep(self, use_case):
        try:
            removed = sum(self._clean_pending(use_case).values())
            known = {v.decode() for v in self.r.hkeys(self._k(use_case, "runs"))}
            known |= {v.decode() for v in self.r.smembers(self._k(use_case, "pending"))}
            current = self._current(use_case)
            if current:
                known.add(current)
            base = self._k(use_case) + ":"
            own = tuple(base + r + ":" for r in known)
            special = {base + "current", base + "runs", base + "pending"}
            candidates = []
            for raw in self.r.scan_iter(match=_glob_escape(base) + "*", count=5000):
                k = raw.decode("utf-8", "replace")
                if k in special or k.startswith(own) or k.startswith(
                        (base + "lease:", base + "dead:")):
                    continue
                candidates.append(raw)
            # a key is a lost row of this use case only if it reads back as one: a row
            # whose run is unknown, stored under exactly tfxkit:{use_case}:{run}:{key}
            # (so keys of another use case named "{use_case}:..." are never touched)
            orphans = []
            for i in range(0, len(candidates), 1000):
                chunk = candidates[i:i + 1000]
                for raw, v in zip(chunk, self.r.mget(chunk)):
                    try:
                        row = json.loads(v)
                        ok = (isinstance(row, dict) and row.get("run_id") not in known
                              and raw.decode() == base + f"{row['run_id']}:{row['key']}")
                    except Exception:  # pylint: disable=broad-except - not a row
                        ok = False
                    if ok:
                        orphans.append(raw)
            for i in range(0, len(orphans), 5000):
                self.r.unlink(*orphans[i:i + 5000])
            return removed + len(orphans)
        except Exception as e:
            raise self._error(e, "sweeping failed: ") from None

    def runs(self, use_case):
        raw = self._call(self.r.hgetall, self._k(use_case, "runs"))
        current = self._call(self._current, use_case)
        out = []
        for v in raw.values():
            d = json.loads(v)
            d["current"] = d["run_id"] == current
            out.append(RunInfo(**d))
        return sorted(out, key=lambda r: r.created_at, reverse=True)

    def _point(self, use_case, run_id):
        self._call(self.r.set, self._k(use_case, "current"), run_id)

    def get(self, use_case, key):
        run = self._call(self._current, use_case)
        if run is None:
            return None
        v = self._call(self.r.get, self._k(use_case, run, str(key)))
        return json.loads(v) if v is not None else None

    def close(self):
        self.r.close()


def _glob_escape(s: str) -> str:
    """``s`` as a literal in a Redis MATCH pattern."""
    return re.sub(r"([\\*?\[\]^-])", r"\\\1", s)


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
        return SqliteStore(target, timeout_s)
    if kind == "postgres":
        return PostgresStore(target, password, timeout_s)
    if kind == "redis":
        return RedisStore(target, password, timeout_s)
    raise StoreError(f"unknown store kind {kind!r} (sqlite, postgres or redis)")
