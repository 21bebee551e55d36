"""Prediction stores against the real servers on loopback (and SQLite): a run becomes
visible all at once, earlier runs stay for rollback, an unreachable store says so."""
import threading
import uuid

import pytest

from tfxkit.components.prediction_store.store import (StoreError, StoreUnavailable,
                                                      open_store)

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def store(request, tmp_path):
    target = {"sqlite": str(tmp_path / "p.sqlite"), "postgres": PG, "redis": REDIS}[request.param]
    s = open_store(request.param, target)
    yield s
    s.close()


def rows(n, tag):
    return [(f"k{i}", {"class": tag, "probabilities": [0.25, 0.75], "i": i}) for i in range(n)]


def test_write_get_rollback_and_trim(store):
    uc = "uc-" + uuid.uuid4().hex[:8]
    assert store.get(uc, "k1") is None
    a = store.write_run(uc, "run-a", "v1", rows(50, "a"), keep_runs=2, batch=7)
    assert a.rows == 50
    got = store.get(uc, "k1")
    assert got["prediction"] == {"class": "a", "probabilities": [0.25, 0.75], "i": 1}
    assert got["model_version"] == "v1" and got["run_id"] == "run-a" and got["key"] == "k1"
    store.write_run(uc, "run-b", "v2", rows(30, "b"), keep_runs=2)
    assert store.get(uc, "k1")["run_id"] == "run-b"
    assert store.get(uc, "k40") is None  # not in the current run
    runs = store.runs(uc)
    assert [r.run_id for r in runs] == ["run-b", "run-a"] and runs[0].current
    back = store.rollback(uc)
    assert back.run_id == "run-a" and store.get(uc, "k40")["run_id"] == "run-a"
    store.rollback(uc, "run-b")
    store.write_run(uc, "run-c", "v3", rows(5, "c"), keep_runs=2)
    assert [r.run_id for r in store.runs(uc)] == ["run-c", "run-b"]  # run-a trimmed
    with pytest.raises(StoreError, match="no stored run 'run-a'"):
        store.rollback(uc, "run-a")


def test_failed_write_keeps_the_current_run(store):
    uc = "uc-" + uuid.uuid4().hex[:8]
    store.write_run(uc, "good", "v1", rows(10, "good"))

    def broken():
        yield from rows(5, "bad")
        raise ValueError("key column 'id' is missing in example 5")

    with pytest.raises((StoreError, ValueError), match="missing in example 5"):
        store.write_run(uc, "bad", "v2", broken(), batch=2)
    assert store.get(uc, "k1")["run_id"] == "good"
    assert [r.run_id for r in store.runs(uc)] == ["good"]


def test_readers_see_one_whole_run_while_a_new_one_loads(store):
    """A reader polling two keys while a run loads: every row it gets belongs to the
    run its run id names, and once it has seen the new run it never sees the old one
    again (the switch is one step, not key by key)."""
    uc = "uc-" + uuid.uuid4().hex[:8]
    store.write_run(uc, "old", "v1", rows(2000, "old"))
    reader = open_store(*_same(store))
    versions = {"old": "v1", "new": "v2"}
    seen, errors = [], []  # the run ids read, in order; what went wrong in the thread
    first_read, stop = threading.Event(), threading.Event()

    def check(key, got):
        assert got is not None, f"{key} vanished while a run loaded"
        run = got["run_id"]
        assert run in versions, f"{key}: unknown run {run!r}"
        assert got["key"] == key and got["model_version"] == versions[run], got
        assert got["prediction"]["class"] == run, f"{key}: a row of another run: {got}"
        assert not (run == "old" and seen[-1:] == ["new"]), f"{key}: old again after new"
        seen.append(run)

    def read():
        try:
            while True:
                last = stop.is_set()  # set once write_run has returned
                for key in ("k0", "k1999"):
                    check(key, reader.get(uc, key))
                first_read.set()
                if last:
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            errors.append(e)
        finally:
            first_read.set()

    t = threading.Thread(target=read, name="prediction-store-reader")
    t.start()
    try:
        assert first_read.wait(30), "the reader never read"
        store.write_run(uc, "new", "v2", rows(2000, "new"), batch=100)
    finally:
        stop.set()
        t.join(60)
    try:
        assert not t.is_alive(), "the reader did not stop"
        assert not errors, "the reader failed: " + "; ".join(map(repr, errors))
        # its first pass ran before write_run began, its last after write_run returned
        assert seen[:2] == ["old", "old"] and seen[-2:] == ["new", "new"], (seen[:4], seen[-4:])
        assert store.get(uc, "k1999")["run_id"] == "new"
    finally:
        reader.close()


def _same(store):
    kind = type(store).__name__.replace("Store", "").lower()
    return kind, getattr(store, "path", None) or getattr(store, "dsn", None) or store.url


@pytest.mark.parametrize("kind,target", [("postgres", "postgresql://postgres@127.0.0.1:1/test"),
                                         ("redis", "redis://127.0.0.1:1/0")])
def test_unreachable_store_is_named(kind, target):
    s = open_store(kind, target, timeout_s=1)
    with pytest.raises(StoreUnavailable, match=f"{kind} .*127.0.0.1:1"):
        s.ping()


def test_password_comes_from_the_environment(monkeypatch):
    with pytest.raises(StoreError, match="TFXKIT_TEST_PW"):
        open_store("redis", REDIS, password_env="TFXKIT_TEST_PW")
