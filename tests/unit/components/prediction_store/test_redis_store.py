"""``RedisStore`` (``redis_store.py``) against the real server on loopback: two writers of
one use case, a live writer's pending run left alone, a stalled one given up (issue 13,
fault 11)."""
import threading
import time
import uuid

from tfxkit.components.prediction_store.store import RunInfo, StoreError, open_store
from tests.unit.components.prediction_store.test_store_faults import REDIS, keys_of_run, rows


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
