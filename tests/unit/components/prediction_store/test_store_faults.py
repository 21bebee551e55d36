"""Prediction-store faults an operator found (issue 13): a store that cannot be opened is
named with its path; a write that dies mid-way (Redis killed, a SQL connection cut)
leaves no keys or rows behind and keeps the previous run serving; an emptied store is
noticed and stored again (``stored_run_check``)."""
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from tfxkit.components.prediction_store.store import (RunInfo, StoreError, StoreUnavailable,
                                                      open_store)

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent / "tfxkit"


def rows(n, tag):
    return [(f"k{i}", {"class": tag, "i": i}) for i in range(n)]


# --------------------------------------------------------------------------- fault 9

def test_sqlite_store_that_cannot_be_opened_is_named(tmp_path):
    folder = tmp_path / "a-folder.sqlite"
    folder.mkdir()
    s = open_store("sqlite", str(folder))
    for call in (lambda: s.runs("m"), lambda: s.get("m", "k1"), s.ping,
                 lambda: s.write_run("m", "r1", "v1", rows(3, "a"))):
        with pytest.raises(StoreUnavailable) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(f"sqlite {folder}: ") and "unable to open database file" in msg
        assert "(the path is a folder)" in msg


def test_sqlite_store_in_an_unwritable_folder_is_named(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: a folder that cannot be made instead
        (tmp_path / "ro").write_text("a file, not a folder")
        path = tmp_path / "ro" / "predictions.sqlite"
        expect = f"cannot create its folder {tmp_path / 'ro'}"
    else:
        (tmp_path / "ro").mkdir()
        os.chmod(tmp_path / "ro", 0o500)
        path = tmp_path / "ro" / "predictions.sqlite"
        expect = f"(the folder {tmp_path / 'ro'} is not writable)"
    s = open_store("sqlite", str(path))
    with pytest.raises(StoreUnavailable) as e:
        s.write_run("m", "r1", "v1", rows(3, "a"))
    assert str(e.value).startswith(f"sqlite {path}: ") and expect in str(e.value)


def test_predictions_command_names_the_store_without_a_traceback(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    (case / "config.yaml").write_text((ROOT / "templates/multiclass/config.yaml").read_text())
    folder = tmp_path / "store-is-a-folder"
    folder.mkdir()
    r = subprocess.run([str(BIN), "predictions", str(case / "config.yaml"), "--set",
                        f"inference.store={{sqlite: '{folder}'}}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert f"sqlite {folder}" in lines[0] and "unable to open database file" in lines[0]
    # a redis store that is down: one line naming it and its URL, never the password
    r = subprocess.run([str(BIN), "predictions", str(case / "config.yaml"), "--set",
                        "inference.store={redis: 'redis://u@127.0.0.1:1/0', "
                        "password_env: TFXKIT_TEST_STORE_PW}"],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TFXKIT_TEST_STORE_PW": "s3cret"})
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "redis redis://u@127.0.0.1:1/0" in r.stderr and "s3cret" not in r.stderr


# --------------------------------------------------------------------------- fault 11

def keys_of_run(url, use_case, run_id):
    c = redis.Redis.from_url(url)
    try:
        return [k for k in c.scan_iter(match=f"tfxkit:{use_case}:{run_id}:*", count=5000)]
    finally:
        c.close()


def test_a_live_writers_pending_run_is_left_alone_and_a_stalled_one_is_given_up():
    """Two writers of one use case: a write that finishes while another is in progress
    leaves the other's keys; a writer stalled past its lease finds its run given up."""
    uc = "uc-" + uuid.uuid4().hex[:8]
    a, b = open_store("redis", REDIS), open_store("redis", REDIS)
    paused, resume = threading.Event(), threading.Event()
    out = {}

    def slow():
        yield from rows(20, "slow")
        paused.set()
        assert resume.wait(30)
        yield from rows(40, "slow")[20:]

    def write_a():
        try:
            out["a"] = a.write_run(uc, "slow", "v1", slow(), batch=10)
        except Exception as e:  # noqa: BLE001 - handed to the main thread
            out["a"] = e

    try:
        t = threading.Thread(target=write_a)
        t.start()
        assert paused.wait(30)
        b.write_run(uc, "fast", "v2", rows(5, "fast"))
        assert len(keys_of_run(REDIS, uc, "slow")) == 20  # alive: left alone
        resume.set()
        t.join(30)
        assert isinstance(out["a"], RunInfo) and a.get(uc, "k30")["run_id"] == "slow"

        # a writer stalled past its lease: the next write gives its run up
        a.lease_s, paused2, resume2 = 0.3, threading.Event(), threading.Event()

        def stalled():
            yield from rows(20, "stalled")
            paused2.set()
            assert resume2.wait(30)
            yield from rows(40, "stalled")[20:]

        def write_stalled():
            try:
                out["s"] = a.write_run(uc, "stalled", "v3", stalled(), batch=10)
            except Exception as e:  # noqa: BLE001 - handed to the main thread
                out["s"] = e

        t = threading.Thread(target=write_stalled)
        t.start()
        assert paused2.wait(30)
        time.sleep(0.5)
        b.write_run(uc, "fast2", "v4", rows(5, "fast2"))
        assert keys_of_run(REDIS, uc, "stalled") == []
        resume2.set()
        t.join(30)
        assert isinstance(out["s"], StoreError) and "lease expired" in str(out["s"])
        assert keys_of_run(REDIS, uc, "stalled") == []
        assert a.get(uc, "k1")["run_id"] == "fast2"
    finally:
        resume.set()
        a.close()
        b.close()


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
