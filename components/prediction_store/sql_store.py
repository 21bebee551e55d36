"""What the SQL stores share (``SqliteStore``, ``PostgresStore``): the tables, and a run's
rows loaded and the pointer moved in one transaction, so a reader sees the whole previous
run or the whole new one, and a write that fails (or whose connection dies) leaves no row
behind."""
from __future__ import annotations

import contextlib
import json
import logging
from typing import List

from tfxkit.components.prediction_store.store import (PredictionStore, RunInfo, StoreError,
                                                      StoreUnavailable, error_text, now)

_log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tfxkit_runs (use_case TEXT NOT NULL, run_id TEXT NOT NULL,
       model_version TEXT, rows BIGINT, created_at TEXT, PRIMARY KEY (use_case, run_id))""",
    """CREATE TABLE IF NOT EXISTS tfxkit_current (use_case TEXT PRIMARY KEY,
       run_id TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tfxkit_predictions (use_case TEXT NOT NULL,
       run_id TEXT NOT NULL, key TEXT NOT NULL, prediction TEXT NOT NULL,
       model_version TEXT, created_at TEXT, PRIMARY KEY (use_case, run_id, key))""",
]
GET = ("SELECT p.key, p.prediction, p.model_version, p.run_id, p.created_at "
        "FROM tfxkit_current c JOIN tfxkit_predictions p ON p.use_case = c.use_case "
        "AND p.run_id = c.run_id WHERE c.use_case = {p} AND p.key = {p}")


class SqlStore(PredictionStore):
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
                raise StoreUnavailable(f"{self.description}: {error_text(e)}") from None
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
            raise StoreUnavailable(f"{self.description}: {what}{error_text(e)}") from None

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
            raise cls(f"{self.description}: writing run {run_id} failed: {error_text(e)}") from None
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
                         self.description, use_case, error_text(e))

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
            cur.execute(GET.format(p=self.param), (use_case, str(key)))
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
