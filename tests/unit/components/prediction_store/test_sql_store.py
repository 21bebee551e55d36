"""``SqlStore`` (``sql_store.py``, what SQLite and PostgreSQL share): a connection that dies
as a run is switched leaves no rows and keeps the previous run serving."""
import uuid

import pytest

from tfxkit.components.prediction_store.store import StoreError, open_store
from tests.unit.components.prediction_store.test_store_faults import PG, rows


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_sql_connection_dying_at_the_switch_leaves_no_rows(kind, tmp_path, monkeypatch):
    """The connection dies after every row is loaded, as the run is switched: the rows
    were never committed, the previous run keeps serving, the error names the store."""
    target = str(tmp_path / "p.sqlite") if kind == "sqlite" else PG
    uc = "uc-" + uuid.uuid4().hex[:8]
    s = open_store(kind, target)
    s.write_run(uc, "good", "v1", rows(10, "good"))
    original = type(s)._point_cursor

    def die_then_point(self, cur, use_case, run_id):
        if kind == "postgres":
            import psycopg

            with psycopg.connect(PG, autocommit=True) as killer:
                killer.execute("SELECT pg_terminate_backend(%s)",
                               (self._con.info.backend_pid,))
        else:
            self._con.close()
        return original(self, cur, use_case, run_id)

    monkeypatch.setattr(type(s), "_point_cursor", die_then_point)
    with pytest.raises(StoreError) as e:
        s.write_run(uc, "bad", "v2", rows(500, "bad"), batch=100)
    assert str(e.value).startswith(f"{s.description}: writing run bad failed: ")
    monkeypatch.undo()
    fresh = open_store(kind, target)
    try:
        assert fresh.get(uc, "k1")["run_id"] == "good"
        assert [r.run_id for r in fresh.runs(uc)] == ["good"]
        cur = fresh._conn().cursor()
        p = fresh.param
        cur.execute(f"SELECT count(*) FROM tfxkit_predictions WHERE use_case = {p} AND "
                    f"run_id = {p}", (uc, "bad"))
        assert cur.fetchone()[0] == 0
        fresh._conn().commit()
    finally:
        fresh.close()
        s.close()
