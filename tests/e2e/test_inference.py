"""Batch inference end to end: train a template, `tfxkit predict` into each store backend
(SQLite file, PostgreSQL and Redis on loopback), read predictions back over HTTP from
`tfxkit serve`; a second run replaces the first atomically; bad inputs fail clearly."""
import csv
import os
import socket
import subprocess
import threading
import time
import uuid

import httpx
import pytest

from tests.e2e.helpers import BIN, artifacts_of_type, store, tfxkit

pytestmark = pytest.mark.e2e

PG = "postgresql://postgres@127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def trained(trained_multiclass, copy_case):
    """This test's own copy of the shared trained multiclass case (conftest.py: a pushed
    model): predictions, data edits and rollbacks stay in it."""
    return copy_case(trained_multiclass.case, "trained")


def keys_of(path):
    with open(path) as f:
        return [r["penguin_id"] for r in csv.DictReader(f)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, cfg, *sets):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([str(BIN), "serve", str(cfg), "--port", str(self.port),
                                      *sets], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/health", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.proc.kill()
        raise AssertionError("server did not start: " + self.proc.stdout.read().decode()[-2000:])

    def get(self, path):
        return httpx.get(self.url + path, timeout=5)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


STORES = {
    "sqlite": [],
    "postgres": ["--set", f"inference.store={{postgres: '{PG}'}}"],
    "redis": ["--set", f"inference.store={{redis: '{REDIS}'}}"],
}


@pytest.mark.parametrize("backend", sorted(STORES))
def test_predict_then_serve(trained, backend):
    cfg = trained / "config.yaml"
    sets = STORES[backend]
    r = tfxkit("predict", cfg, *sets)
    assert r.returncode == 0, r.stderr
    assert "60 predictions" in r.stdout

    s = store(trained / ".tfxkit" / "metadata.sqlite")
    [pushed] = [a for a in artifacts_of_type(s, "PushedModel")
                if a.custom_properties["pushed"].int_value == 1]
    version = pushed.custom_properties["pushed_version"].string_value
    results = artifacts_of_type(s, "InferenceResult")
    assert results and results[-1].custom_properties["rows"].int_value == 60
    runs = [a for a in artifacts_of_type(s, "tfxkit.PredictionRun")]
    assert runs[-1].custom_properties["rows"].int_value == 60

    server = Server(cfg, *sets)
    try:
        health = server.get("/health")
        for _ in range(120):  # 503 while the online model loads (/health is readiness)
            if health.status_code != 503:
                break
            assert health.json()["status"] == "not ready", health.text
            time.sleep(0.5)
            health = server.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok", health.text
        keys = keys_of(trained / "data" / "inference" / "penguins.csv")
        for key in keys[:10]:
            got = server.get(f"/predictions/{key}")
            assert got.status_code == 200, got.text
            body = got.json()
            assert body["key"] == key and body["model_version"] == version
            pred = body["prediction"]
            assert pred["class"] in {"Adelie", "Chinstrap", "Gentoo"}
            assert abs(sum(pred["probabilities"]) - 1) < 1e-3
            assert pred["probabilities"].index(max(pred["probabilities"])) == pred["class_id"]
        missing = server.get("/predictions/no-such-penguin")
        assert missing.status_code == 404 and "no-such-penguin" in missing.json()["detail"]
        models = server.get("/models").json()
        assert models["penguin-species"]["rows"] == 60
    finally:
        server.stop()


def test_second_run_replaces_the_first_atomically(trained, tmp_path):
    cfg = trained / "config.yaml"
    path = trained / "data" / "inference" / "penguins.csv"
    keys = keys_of(path)
    first = tfxkit("predict", cfg)
    assert first.returncode == 0, first.stderr
    server = Server(cfg)
    seen, errors = [], []
    stop = threading.Event()

    def reader():  # reads while the second run stores: only whole runs, never a gap
        try:
            while not stop.is_set():
                for key in keys[:5]:
                    r = server.get(f"/predictions/{key}")
                    if r.status_code != 200:
                        errors.append((key, r.status_code))
                    else:
                        seen.append(r.json()["run_id"])
        except Exception as e:  # handed to the test, which asserts on it
            errors.append(("reader", repr(e)))

    t = threading.Thread(target=reader)
    try:
        before = server.get(f"/predictions/{keys[0]}").json()["run_id"]
        # new data for the same keys (a changed measurement): a new run
        text = path.read_text().replace(",male,", ",female,", 3)
        path.write_text(text)
        t.start()
        second = tfxkit("predict", cfg)
        assert second.returncode == 0, second.stderr
        time.sleep(0.5)
        stop.set()
        t.join()
        after = server.get(f"/predictions/{keys[0]}").json()["run_id"]
        assert after != before
        assert not errors, errors[:5]
        assert set(seen) <= {before, after}
        # readers move from the previous run to the new one once, never back
        assert seen and seen[0] == before, seen[:3]
        if after in seen:
            assert before not in seen[seen.index(after):]
        runs = server.get("/models").json()["penguin-species"]
        assert runs["current_run"] == after and before in runs["runs_kept"]
        back = tfxkit("predictions", cfg, "--rollback")
        assert back.returncode == 0 and before in back.stdout, back.stderr
        assert server.get(f"/predictions/{keys[0]}").json()["run_id"] == before
    finally:
        stop.set()
        server.stop()


def test_several_models_in_parallel_and_chained(trained):
    """Two models score the same data side by side; a third reads the first's output."""
    case = trained
    cfg = case / "config.yaml"
    text = cfg.read_text().replace(
        "  store: {sqlite: .tfxkit/predictions.sqlite}",
        "  store: {sqlite: .tfxkit/predictions.sqlite}\n"
        "  models:\n"
        "    - {name: species}\n"
        "    - {name: species-again}\n"
        "    - {name: chained, inputs: {upstream_class_id: species.class_id}}\n")
    cfg.write_text(text)
    r = tfxkit("predict", cfg)
    assert r.returncode == 0, r.stderr
    for node in ("BatchInferrer_species", "BatchInferrer_species_again", "BatchInferrer_chained",
                 "PredictionStorer_chained"):
        assert node in r.stdout
    server = Server(cfg)
    try:
        key = keys_of(case / "data" / "inference" / "penguins.csv")[0]
        a = server.get(f"/models/species/predictions/{key}").json()
        b = server.get(f"/models/species-again/predictions/{key}").json()
        c = server.get(f"/models/chained/predictions/{key}").json()
        assert a["prediction"] == b["prediction"] == c["prediction"]
        assert server.get(f"/predictions/{key}").json()["model"] == "species"
    finally:
        server.stop()
    # the chained model's inputs carried the upstream output as a feature
    import tensorflow as tf
    from tfxkit.components.batch_inference.infer import log_example_and_outputs
    from tfxkit.components.common.records import iter_records

    s = store(case / ".tfxkit" / "metadata.sqlite")
    chained = [a for a in artifacts_of_type(s, "InferenceResult")][-1]
    first = next(iter_records(sorted(
        os.path.join(chained.uri, f) for f in os.listdir(chained.uri))[0]))
    example, _ = log_example_and_outputs(first)
    assert "upstream_class_id" in tf.train.Example.FromString(example).features.feature


def test_bad_inputs(trained, template_copy):
    # no pushed model yet
    untrained = template_copy("multiclass")
    r = tfxkit("predict", untrained / "config.yaml")
    assert r.returncode == 1 and "no pushed model yet" in r.stderr

    case = trained
    cfg = case / "config.yaml"
    path = case / "data" / "inference" / "penguins.csv"
    good = path.read_text()
    # a feature column missing from the inference data: named
    rows = list(csv.DictReader(good.splitlines()))
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, [k for k in rows[0] if k != "island"])
        w.writeheader()
        for row in rows:
            row.pop("island")
            w.writerow(row)
    r = tfxkit("predict", cfg)
    assert r.returncode == 2 and "'island'" in r.stderr and "inference.source.csv" in r.stderr
    path.write_text(good)

    # the store is unreachable: nothing runs, the current predictions keep serving
    ok = tfxkit("predict", cfg)
    assert ok.returncode == 0, ok.stderr
    r = tfxkit("predict", cfg, "--set", "inference.store={redis: 'redis://127.0.0.1:1/0'}")
    assert r.returncode == 1 and "prediction store unreachable" in r.stderr
    assert "Run " not in r.stdout  # failed before any component ran

    # duplicate keys: the run fails naming the key (the store keeps the previous run);
    # keep_last makes the last row win
    lines = good.splitlines()
    dup = lines[1].replace("male", "female") if "male" in lines[1] else lines[1]
    path.write_text("\n".join(lines + [dup]) + "\n")
    key = lines[1].split(",")[0]
    r = tfxkit("predict", cfg)
    assert r.returncode == 1 and f"key {key!r} appears more than once" in r.stderr
    r = tfxkit("predict", cfg, "--set", "inference.on_duplicate_key=keep_last")
    assert r.returncode == 0, r.stderr
    assert "60 predictions" in r.stdout
