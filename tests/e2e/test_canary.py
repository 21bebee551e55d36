"""Online serving and canary rollout end to end: the real ``tfxkit serve`` on loopback
over a registry that holds the penguin model of the shared trained run, and a traffic generator
(httpx, asyncio) sending single-instance POST /predict requests and labelled POST /feedback.

- a good candidate (the same model, retrained into a new version) is ramped step by step
  and promoted: the registry serves it;
- a bad candidate (a SavedModel with the same signature that always answers "Adelie") is
  rolled back at its first step: the registry's pointer returns to the stable version;
- p99 of POST /predict for single instances at moderate load is printed.
"""
import asyncio
import csv
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tfxkit.components.registry.registry import Registry
from tfxkit.infra.canary.decision_log import DecisionLog

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "templates" / "multiclass"
BIN = Path(sys.executable).parent / "tfxkit"
STEPS = [0.2, 0.5, 1.0]
INT_COLUMNS = {"flipper_length_mm", "body_mass_g", "year"}


def _rows():
    out = []
    with open(TEMPLATE / "data" / "penguins.csv") as f:
        for row in csv.DictReader(f):
            inst = {}
            for k, v in row.items():
                if k == "species" or v in ("", "NA"):
                    continue
                if k in ("island", "sex"):
                    inst[k] = v
                elif k in INT_COLUMNS:
                    inst[k] = int(float(v))
                else:
                    inst[k] = float(v)
            out.append((inst, row["species"]))
    return out


ROWS = _rows()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _constant_model(path, spec):
    """A SavedModel with the pushed model's signature whose answer is always Adelie."""
    import tensorflow as tf

    features = {k: tf.io.VarLenFeature({"float": tf.float32, "int": tf.int64,
                                        "bytes": tf.string}[t]) for k, t in spec.items()}

    class Constant(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, examples):
            parsed = tf.io.parse_example(examples, features)
            n = tf.shape(examples)[0]
            zero = 0.0 * tf.cast(tf.sparse.reduce_sum(parsed["year"]), tf.float32)
            probs = tf.tile(tf.constant([[1.0, 0.0, 0.0]]), [n, 1]) + zero
            return {"probabilities": probs, "class_id": tf.zeros([n, 1], tf.int64),
                    "class": tf.fill([n, 1], "Adelie")}

    m = Constant()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})


@pytest.fixture(scope="module")
def trained_model(trained_multiclass):
    """The pushed SavedModel of the shared multiclass run (quick profile, conftest.py);
    read-only: the server's registry publishes a copy of it."""
    return Registry(str(trained_multiclass.case / "models")).serving().path


@pytest.fixture(scope="module")
def server(tmp_path_factory, trained_model):
    tmp = tmp_path_factory.mktemp("canary")
    reg = Registry(str(tmp / "models"), name="penguin-species")
    stable, _ = reg.publish(str(trained_model))
    cfg = yaml.safe_load((TEMPLATE / "config.yaml").read_text())
    cfg.pop("profiles", None)
    cfg["data"]["source"] = {"csv": str(TEMPLATE / "data" / "penguins.csv")}
    cfg["inference"]["source"] = {"csv": str(TEMPLATE / "data" / "inference" / "penguins.csv")}
    cfg["push"] = {"registry": str(tmp / "models")}
    cfg["serving"] = {"max_batch_size": 64, "max_wait_ms": 1, "poll_s": 0.3,
                      "canary": {"steps": STEPS, "min_requests": 40, "min_feedback": 30,
                                 "max_error_rate_delta": 0.01, "max_p99_latency_ratio": 3.0,
                                 "p99_slack_ms": 250.0, "max_quality_drop": 0.15,
                                 "interval_s": 0.3}}
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    port = _free_port()
    log = open(tmp / "serve.log", "w")
    proc = subprocess.Popen([str(BIN), "serve", str(config), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, (tmp / "serve.log").read_text()
        try:
            r = httpx.get(url + "/canary", timeout=2)
            if r.status_code == 200 and (r.json().get("stable") or {}).get("version"):
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, (tmp / "serve.log").read_text()
        time.sleep(0.3)
    yield {"url": url, "registry": reg, "config": config, "tmp": tmp, "first": stable,
           "model": Path(trained_model),
           "log": DecisionLog(str(tmp / "models" / "canary.jsonl"))}
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    print((tmp / "serve.log").read_text()[-3000:])


async def _traffic(url, until, seconds=120, workers=8, feedback=True):
    """Single-instance /predict with labelled /feedback from ``workers`` clients until
    ``until()`` is true; returns (answers by version, client latencies in ms)."""
    by_version, lat = {}, []
    done = asyncio.Event()
    rng = random.Random(7)

    async def worker(client):
        while not done.is_set():
            inst, label = rng.choice(ROWS)
            t0 = time.perf_counter()
            r = await client.post("/predict", json={"instances": [inst]})
            lat.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200:
                by_version["error"] = by_version.get("error", 0) + 1
                continue
            body = r.json()
            by_version[body["model_version"]] = by_version.get(body["model_version"], 0) + 1
            if feedback:
                f = await client.post("/feedback", json={"request_id": body["request_id"],
                                                         "label": label})
                assert f.status_code == 200, f.text

    async def watch():
        t0 = time.monotonic()
        while not until() and time.monotonic() - t0 < seconds:
            await asyncio.sleep(0.1)
        done.set()

    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        await asyncio.gather(watch(), *[worker(client) for _ in range(workers)])
    return by_version, lat


def _final(log, version):
    return [r for r in log.records() if r.get("canary") == version
            and r.get("action") in ("promote", "rollback")]


def _p(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(q / 100 * len(v)))]


def test_predict_latency_single_instances(server):
    """p99 of POST /predict (one instance) at moderate load: 8 concurrent clients."""
    r = httpx.post(server["url"] + "/predict", json={"instances": [ROWS[0][0], {}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == server["registry"].serving().version
    assert body["predictions"][0]["class"] == "Adelie"
    assert len(body["predictions"][1]["probabilities"]) == 3
    t0 = time.monotonic()
    by_version, lat = asyncio.run(_traffic(server["url"], lambda: False, seconds=8,
                                           feedback=False))
    elapsed = time.monotonic() - t0
    batching = httpx.get(server["url"] + "/canary").json()["stable"]["batching"]
    print(f"\nPOST /predict, 1 instance, 8 clients, {len(lat)} requests in {elapsed:.1f} s "
          f"({len(lat) / elapsed:.0f}/s): p50 {_p(lat, 50):.1f} ms, p99 {_p(lat, 99):.1f} ms, "
          f"max {max(lat):.1f} ms; server batching {batching}")
    assert len(lat) > 100 and by_version.get("error") is None
    assert _p(lat, 99) < 2000  # reasonable on a busy 2-core machine; no hard target
    # the existing batch-prediction endpoints are still there
    assert httpx.get(server["url"] + "/health").status_code == 200
    assert httpx.get(server["url"] + "/predictions/nobody").status_code in (404, 503)


def test_good_candidate_is_promoted_step_by_step(server):
    reg, log = server["registry"], server["log"]
    stable = reg.serving().version
    good = server["tmp"] / "good"
    shutil.copytree(server["model"], good)
    (good / "assets.extra").mkdir()
    (good / "assets.extra" / "retrained.txt").write_text("same weights, new version")
    candidate, pushed = reg.publish(str(good), meta={"note": "good candidate"})
    assert pushed and candidate != stable
    t0 = time.monotonic()
    by_version, _ = asyncio.run(_traffic(server["url"], lambda: _final(log, candidate)))
    took = time.monotonic() - t0
    decisions = [r for r in log.records() if r.get("canary") == candidate]
    actions = [r["action"] for r in decisions]
    print(f"\ngood candidate {candidate}: {' '.join(a for a in actions if a != 'hold')} "
          f"({actions.count('hold')} holds) in {took:.1f} s; answers {by_version}")
    assert actions[0] == "start" and actions[-1] == "promote", actions
    moves = [r for r in decisions if r["action"] in ("ramp", "promote")]
    assert [(r["share"], r["next_share"]) for r in moves] == [(0.2, 0.5), (0.5, 1.0)]
    assert "rollback" not in actions and len(actions) <= 60  # bounded
    last = decisions[-1]["evidence"]
    assert last["canary"]["requests"] >= 40 and last["canary"]["feedback"] >= 30
    assert last["canary"]["quality"] > 0.85 and last["stable"]["version"] == stable
    assert last["margins"]["max_quality_drop"] == 0.15
    assert reg.serving().version == candidate
    assert reg.history()[-1]["action"] == "promote"
    assert by_version.get(candidate) and by_version.get(stable) and "error" not in by_version
    st = httpx.get(server["url"] + "/canary").json()
    assert st["stable"]["version"] == candidate and st["canary"] is None


def test_bad_candidate_is_rolled_back(server):
    reg, log = server["registry"], server["log"]
    stable = reg.serving().version
    spec = {"bill_depth_mm": "float", "bill_length_mm": "float", "body_mass_g": "int",
            "flipper_length_mm": "int", "island": "bytes", "sex": "bytes", "year": "int"}
    bad = server["tmp"] / "bad"
    _constant_model(bad, spec)
    candidate, pushed = reg.publish(str(bad), meta={"note": "always Adelie"})
    assert pushed
    t0 = time.monotonic()
    by_version, _ = asyncio.run(_traffic(server["url"], lambda: _final(log, candidate)))
    took = time.monotonic() - t0
    decisions = [r for r in log.records() if r.get("canary") == candidate]
    actions = [r["action"] for r in decisions]
    print(f"\nbad candidate {candidate}: {' '.join(a for a in actions if a != 'hold')} "
          f"({actions.count('hold')} holds) in {took:.1f} s; answers {by_version}")
    assert actions[0] == "start" and actions[-1] == "rollback", actions
    assert "ramp" not in actions and "promote" not in actions  # caught at its first step
    rb = decisions[-1]
    assert rb["share"] == 0.2 and rb["next_share"] == 0.0
    assert rb["reasons"][0].startswith("accuracy")
    ev = rb["evidence"]
    assert ev["canary"]["quality"] < 0.7 < ev["stable"]["quality"]
    assert ev["canary"]["feedback"] >= 30 and ev["stable"]["version"] == stable
    assert reg.serving().version == stable
    h = reg.history()[-1]
    assert h["action"] == "rollback" and h["version"] == stable and candidate in h["reason"]
    # the rejected version is not tried again: all traffic stays on the stable version
    by_version, _ = asyncio.run(_traffic(server["url"], lambda: False, seconds=1.5))
    assert set(by_version) == {stable}

    # the CLI shows the decisions with their evidence
    r = subprocess.run([str(BIN), "canary", str(server["config"]), "history"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "rollback" in r.stdout and f"canary {candidate}" in r.stdout
    assert "quality" in r.stdout and "p99" in r.stdout
    r = subprocess.run([str(BIN), "canary", str(server["config"]), "status"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "no canary running" in r.stdout and "rollback" in r.stdout
    r = subprocess.run([str(BIN), "canary", str(server["config"]), "history", "--json",
                        "--last", "1"], capture_output=True, text=True, timeout=60)
    assert json.loads(r.stdout)["action"] == "rollback"
