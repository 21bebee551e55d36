"""``PostgresStore``: PostgreSQL through psycopg 3, a run's rows loaded with COPY."""
from __future__ import annotations

from typing import Optional

from tfxkit.components.prediction_store.sql_store import SCHEMA, SqlStore
from tfxkit.components.prediction_store.store import StoreUnavailable, redact


class PostgresStore(SqlStore):
    param = "%s"

    def __init__(self, dsn: str, password: Optional[str] = None, timeout_s: float = 5.0):
        self.dsn, self.password, self.timeout_s, self._con = dsn, password, timeout_s, None
        self.description = f"postgres {redact(dsn)}"

    def _connect(self):
        import psycopg

        try:
            con = psycopg.connect(self.dsn, password=self.password,
                                  connect_timeout=max(1, int(self.timeout_s)))
        except Exception as e:
            raise StoreUnavailable(f"{self.description}: {str(e).strip()}") from None
        with con.cursor() as cur:
            for stmt in SCHEMA:
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
