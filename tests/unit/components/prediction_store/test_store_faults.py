"""Prediction-store faults an operator found (issue 13), on every backend: an emptied store
is noticed and stored again (``stored_run_check``); what an older writer left is swept.
A backend's own faults are in its mirrored file (test_sqlite_store.py: a store that cannot
be opened; test_sql_store.py: a SQL connection cut at the switch; test_redis_store.py: two
writers), the CLI's in tests/unit/infra/cli/test_predict.py; they share the helpers here."""
import uuid

import pytest
import redis

from tfxkit.components.prediction_store.store import open_store

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


def rows(n, tag):
    return [(f"k{i}", {"class": tag, "i": i}) for i in range(n)]


def keys_of_run(url, use_case, run_id):
    c = redis.Redis.from_url(url)
    try:
        return [k for k in c.scan_iter(match=f"tfxkit:{use_case}:{run_id}:*", count=5000)]
    finally:
        c.close()


# --------------------------------------------------------------------------- fault 6

@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_stored_run_check_notices_an_emptied_store(kind, tmp_path):
    from tfxkit.pipelines.inference import check_stored_run

    target = str(tmp_path / "p.sqlite") if kind == "sqlite" else REDIS
    uc = "uc-" + uuid.uuid4().hex[:8]
    s = open_store(kind, target)
    try:
        s.write_run(uc, "r1", "v1", rows(10, "a"))
        ok = check_stored_run(s, uc, "r1", "k0")
        assert not ok.store_again and ok.serving == "r1"
        # emptied by hand (FLUSHDB, a Redis restarted without persistence, rows deleted)
        if kind == "redis":
            c = redis.Redis.from_url(REDIS)
            for k in c.scan_iter(match=f"tfxkit:{uc}:*"):
                c.delete(k)
            c.close()
        else:
            con = s._conn()
            for table in ("tfxkit_current", "tfxkit_runs", "tfxkit_predictions"):
                con.execute(f"DELETE FROM {table} WHERE use_case = ?", (uc,))
            con.commit()
        gone = check_stored_run(s, uc, "r1", "k0")
        assert gone.store_again and gone.serving is None
        assert f"{s.description} serves no run of {uc} (it is empty)" in gone.reason
        assert "run r1 was stored" in gone.reason
        # stored again: fine; a rollback to a kept run is left alone
        s.write_run(uc, "r2", "v1", rows(10, "a"))
        s.write_run(uc, "r3", "v1", rows(10, "a"))
        s.rollback(uc)
        back = check_stored_run(s, uc, "r3", "k0")
        assert not back.store_again and back.serving == "r2" and "rolled back" in back.reason
        # the last stored run trimmed or deleted by hand while another one serves
        assert check_stored_run(s, uc, "r1", "k0").store_again
        # the pointer survived but the rows did not
        if kind == "redis":
            c = redis.Redis.from_url(REDIS)
            c.delete(f"tfxkit:{uc}:r2:k0")
            c.close()
        else:
            s._conn().execute("DELETE FROM tfxkit_predictions WHERE run_id = 'r2'")
            s._conn().commit()
        lost = check_stored_run(s, uc, "r2", "k0")
        assert lost.store_again and "'k0' is gone" in lost.reason
    finally:
        s.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "redis"])
def test_sweep_removes_what_an_older_writer_left(kind, tmp_path):
    """Rows or keys of a run that an older tfxkit never recorded (its writer died) go;
    the current run, the kept runs and another use case whose name starts alike stay."""
    import json

    target = {"sqlite": str(tmp_path / "p.sqlite"), "postgres": PG, "redis": REDIS}[kind]
    uc = "uc-" + uuid.uuid4().hex[:8]
    s = open_store(kind, target)
    try:
        s.write_run(uc, "r1", "v1", rows(10, "a"))
        s.write_run(uc, "r2", "v1", rows(10, "b"))
        s.write_run(uc + ":x", "r9", "v1", rows(5, "x"))  # another use case
        if kind == "redis":
            c = redis.Redis.from_url(REDIS)
            for k, pred in rows(300, "lost"):
                c.set(f"tfxkit:{uc}:lost-run:{k}", json.dumps(
                    {"key": k, "prediction": pred, "model_version": "v2",
                     "run_id": "lost-run", "created_at": "2026"}))
            c.close()
        else:
            con = s._conn()
            cur = con.cursor()
            p = s.param
            cur.executemany(f"INSERT INTO tfxkit_predictions VALUES ({p}, {p}, {p}, {p}, {p}, "
                            f"{p})", [(uc, "lost-run", k, json.dumps(v), "v2", "2026")
                                      for k, v in rows(300, "lost")])
            con.commit()
        assert s.sweep(uc) == 300
        assert s.sweep(uc) == 0
        assert [r.run_id for r in s.runs(uc)] == ["r2", "r1"]
        assert s.get(uc, "k3")["run_id"] == "r2" and s.get(uc + ":x", "k3")["run_id"] == "r9"
        s.rollback(uc)
        assert s.get(uc, "k3")["run_id"] == "r1"
        if kind == "redis":
            assert keys_of_run(REDIS, uc, "lost-run") == []
            assert len(keys_of_run(REDIS, uc + ":x", "r9")) == 5
    finally:
        s.close()
