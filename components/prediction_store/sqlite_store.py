"""``SqliteStore``: the embedded default, one file (WAL, so readers never wait on a
writer)."""
from __future__ import annotations

import os

from tfxkit.components.prediction_store.sql_store import SCHEMA, SqlStore
from tfxkit.components.prediction_store.store import StoreUnavailable


def _sqlite_hint(path: str, folder: str) -> str:
    if os.path.isdir(path):
        return " (the path is a folder)"
    if not os.access(folder, os.W_OK):
        return f" (the folder {folder} is not writable)"
    if os.path.exists(path) and not os.access(path, os.W_OK):
        return " (the file is not writable)"
    return ""


class SqliteStore(SqlStore):
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
            for stmt in SCHEMA:
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
