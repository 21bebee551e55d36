"""`tfxkit predict` when the storing step is cached (issue 13, fault 6): a prediction store
emptied by hand (a Redis restarted without persistence) is noticed and stored again;
`--force` stores again without the cache."""
import re
import socket
import subprocess
import time

import pytest
import redis

from tests.e2e.helpers import tfxkit
from tfxkit.components.prediction_store.store import open_store

pytestmark = pytest.mark.e2e

USE_CASE = "penguin-species"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VolatileRedis:
    """Our own redis-server without persistence: a restart empties it."""

    def __init__(self, folder):
        self.folder, self.port, self.proc = folder, free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            ["/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        c, deadline = redis.Redis.from_url(self.url), time.monotonic() + 20
        while True:
            try:
                c.ping()
                break
            except redis.exceptions.ConnectionError:
                assert time.monotonic() < deadline and self.proc.poll() is None
                time.sleep(0.05)
        c.close()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def serving(url):
    s = open_store("redis", url)
    try:
        return [r.run_id for r in s.runs(USE_CASE) if r.current], s.get(USE_CASE, "penguin-001")
    finally:
        s.close()


def test_an_emptied_store_is_stored_again_and_force_stores_again(trained_multiclass,
                                                                  copy_case, tmp_path):
    case = copy_case(trained_multiclass.case, "trained")
    cfg = case / "config.yaml"
    srv = VolatileRedis(tmp_path)
    srv.start()
    sets = ["--set", f"inference.store={{redis: '{srv.url}'}}"]
    try:
        first = tfxkit("predict", cfg, *sets)
        assert first.returncode == 0, first.stderr
        [run1], _ = serving(srv.url)

        srv.stop()  # restarted without persistence: the store is empty
        srv.start()
        assert serving(srv.url)[0] == []
        second = tfxkit("predict", cfg, *sets)
        assert second.returncode == 0, second.stderr
        out = second.stdout
        assert re.search(rf"serves no run of {USE_CASE} \(it is empty\), though ML Metadata "
                         rf"says run {re.escape(run1)} was stored: storing again", out), out
        assert "PredictionStorer" in out.split("storing again:")[1], out
        [run2], row = serving(srv.url)
        assert run2 != run1 and row is not None and row["run_id"] == run2
        assert re.search(rf"{USE_CASE}: 60 predictions, model \S+, run {re.escape(run2)} in "
                         rf"redis {re.escape(srv.url)}\n", out), out

        third = tfxkit("predict", cfg, *sets)  # nothing changed, the store holds it
        assert third.returncode == 0, third.stderr
        assert "storing again" not in third.stdout, third.stdout
        assert f"(cached: nothing new stored; redis {srv.url} serves run {run2})" \
            in third.stdout, third.stdout
        assert serving(srv.url)[0] == [run2]

        forced = tfxkit("predict", cfg, *sets, "--force")
        assert forced.returncode == 0, forced.stderr
        assert "(cached; --force: storing again)" in forced.stdout, forced.stdout
        [run3], row = serving(srv.url)
        assert run3 not in (run1, run2) and row["run_id"] == run3
    finally:
        srv.stop()
