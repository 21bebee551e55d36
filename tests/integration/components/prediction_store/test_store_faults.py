"""Prediction-store faults on a redis-server of the test's own (issue 13): killed with -9
mid-write (its append-only file keeps the half run's keys) and stopped under a writer.
The faults on the machine's running services are in
tests/unit/components/prediction_store/test_store_faults.py."""
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from tests.unit.components.prediction_store.test_store_faults import keys_of_run, rows
from tfxkit.components.prediction_store.store import StoreUnavailable, open_store


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """Our own redis-server with an append-only file, so keys survive a kill -9."""

    def __init__(self, folder: Path):
        self.folder, self.port = folder, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes", "--appendfsync", "always",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                c.ping()
                break
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError("redis-server did not start")
                time.sleep(0.05)
        while c.info("persistence").get("loading"):
            time.sleep(0.05)
        c.close()

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def own_redis(tmp_path):
    srv = RedisServer(tmp_path)
    srv.start()
    yield srv
    srv.stop()


def test_redis_killed_mid_write_leaves_no_keys_and_readers_keep_the_previous_run(own_redis):
    uc = "uc-" + uuid.uuid4().hex[:8]
    writer = open_store("redis", own_redis.url, timeout_s=2)
    writer.lease_s = 1.0
    writer.write_run(uc, "old", "v1", rows(1000, "old"))
    reader = open_store("redis", own_redis.url, timeout_s=1)
    seen, errors = [], []
    stop = threading.Event()

    def read():  # the previous run, or the store is down: never a row of the half run
        while not stop.is_set():
            try:
                got = reader.get(uc, "k1")
            except StoreUnavailable:
                time.sleep(0.01)
                continue
            except Exception as e:  # noqa: BLE001 - handed to the main thread
                errors.append(repr(e))
                return
            seen.append(got["run_id"] if got else None)

    t = threading.Thread(target=read, name="store-fault-reader")
    t.start()
    try:
        def kill_at(n):
            if n >= 10000 and own_redis.proc.poll() is None:
                own_redis.kill()  # kill -9 while the write is in progress

        with pytest.raises(StoreUnavailable) as e:
            writer.write_run(uc, "half", "v2", rows(50000, "half"), batch=1000,
                             progress=kill_at)
        assert own_redis.proc.poll() is not None, "the server was not killed mid-write"
        assert str(e.value).startswith(f"redis {own_redis.url}: writing run half failed: ")
        own_redis.start()
        # the half run's keys survived the restart (the append-only file): orphans, unless
        # the next write removes them
        assert len(keys_of_run(own_redis.url, uc, "half")) >= 10000
        assert reader.get(uc, "k1")["run_id"] == "old"
        time.sleep(writer.lease_s + 0.2)  # the dead writer's lease expires
        done = writer.write_run(uc, "new", "v3", rows(100, "new"))
        assert done.current
        assert keys_of_run(own_redis.url, uc, "half") == []
        c = redis.Redis.from_url(own_redis.url)
        assert c.smembers(f"tfxkit:{uc}:pending") == set()
        assert c.exists(f"tfxkit:{uc}:lease:half") == 0
        c.close()
        assert [r.run_id for r in writer.runs(uc)] == ["new", "old"]
    finally:
        stop.set()
        t.join(30)
        reader.close()
        writer.close()
    assert not errors, errors
    assert seen and set(seen) <= {"old", "new"}, set(seen)
    assert "old" not in seen[seen.index("new"):] if "new" in seen else True


def test_redis_error_names_the_store_and_hides_the_password(own_redis):
    s = open_store("redis", f"redis://:pw-secret@127.0.0.1:{own_redis.port}/0", timeout_s=1)
    own_redis.stop()
    with pytest.raises(StoreUnavailable) as e:
        s.write_run("m", "r1", "v1", rows(10, "a"))
    assert str(e.value).startswith(f"redis redis://:***@127.0.0.1:{own_redis.port}/0: ")
    assert "pw-secret" not in str(e.value)
    s.close()
