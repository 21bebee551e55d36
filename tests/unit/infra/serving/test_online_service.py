"""The online service (infra/serving/online_service.py): the canary controller over a real
registry with fake models, the HTTP contract, draining, config and CLI. Its parts have
their own tests: test_examples, test_json_body, test_arm, test_batcher, test_feedback."""
import asyncio
import json
import os

import numpy as np
import pytest

from tfxkit.components.registry.registry import Registry
from tfxkit.infra.canary import policy as c
from tfxkit.infra.canary.decision_log import DecisionLog
from tfxkit.infra.serving.arm import Arm
from tfxkit.infra.serving.batcher import MicroBatcher
from tfxkit.infra.serving.errors import InstanceError, ModelError
from tfxkit.infra.serving.online_service import OnlineService

SPEC = {"bill_length_mm": "float", "body_mass_g": "int", "island": "bytes", "year": "int"}


# -- the service and controller, with fake models over a real registry ------------------

def fake_loader(calls=None, before=None):
    """Models whose behaviour is a file in their folder: {"class": "A"} or {"error": true}.
    ``before(version)`` runs first, in the loading thread (a hook to hold a load)."""
    def load(version, path, max_batch_size, max_wait_ms, metric):
        if before is not None:
            before(version)
        with open(os.path.join(path, "behaviour.json")) as f:
            beh = json.load(f)
        if calls is not None:
            calls.append(version)

        def fn(items):
            if beh.get("error"):
                raise RuntimeError("the model is broken")
            if "truth" in beh:  # the class is the island's first letter
                names = [b"A" if b"Torgersen" in x else b"B" for x in items]
            else:
                names = [beh["class"].encode()] * len(items)
            return {"class": np.array(names)[:, None],
                    "class_id": np.array([[0 if n == b"A" else 1] for n in names])}

        return Arm(version, path, fn, SPEC, ["class", "class_id"], max_batch_size,
                   max_wait_ms, metric or "accuracy")
    return load


def push(reg, tmp_path, name, behaviour):
    d = tmp_path / "src" / name
    d.mkdir(parents=True)
    (d / "behaviour.json").write_text(json.dumps(behaviour))
    return reg.publish(str(d))[0]


# The controller tests call tick() themselves: the background controller waits an hour
# (poll_s, interval_s) so that it never ticks in between on a slow machine. And they are
# about errors and quality: the p99 rule (exact numbers in infra/canary/test_policy.py)
# gets a margin no scheduling hiccup reaches, as the fake models' latencies here are the
# machine's noise.
NO_LATENCY_RULE = 1e9


def service(reg, tmp_path, loader=None, **policy):
    p = c.Policy(**{"steps": (0.5, 1.0), "min_requests": 20, "min_feedback": 10,
                    "p99_slack_ms": NO_LATENCY_RULE, "interval_s": 3600, **policy})
    return OnlineService("penguins", registry=reg, policy=p,
                         log=DecisionLog(str(tmp_path / "canary.jsonl")), key_field="id",
                         max_wait_ms=1, poll_s=3600, loader=loader or fake_loader(), seed=1)


async def traffic(svc, n, label_of=lambda inst: "A" if inst["island"] == "Torgersen" else "B"):
    for i in range(n):
        inst = {"island": "Torgersen" if i % 2 else "Biscoe", "id": f"k{i}"}
        r = await svc.predict({"instances": [inst]})
        svc.feedback({"request_id": r["request_id"], "label": label_of(inst)})


def test_good_canary_is_promoted_and_the_registry_serves_it(tmp_path):
    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "v1", {"truth": True})

    async def main():
        svc = service(reg, tmp_path)
        await svc.start(wait=True)
        assert svc.stable.version == v1 and svc.rollout is None
        await traffic(svc, 10)
        v2 = push(reg, tmp_path, "v2", {"truth": True, "retrained": 1})
        assert reg.serving().version == v2  # the push moved the pointer ...
        rec = await svc.tick()
        assert rec["action"] == "start" and rec["canary"] == v2 and rec["share"] == 0.5
        assert reg.serving().version == v1  # ... the canary puts it back until promotion
        assert reg.history()[-1]["action"] == "canary"
        assert (await svc.tick())["action"] == "hold"
        await traffic(svc, 80)
        rec = await svc.tick()
        assert rec["action"] == "promote", rec["reasons"]
        assert rec["evidence"]["canary"]["quality"] == 1.0
        assert rec["evidence"]["stable"]["requests"] > 20
        assert svc.stable.version == v2 and svc.rollout is None
        assert reg.serving().version == v2 and reg.history()[-1]["action"] == "promote"
        assert "canary " + v2 in reg.history()[-1]["reason"]
        await traffic(svc, 5)
        assert svc.status()["stable"]["version"] == v2
        await svc.stop()
        return v2

    v2 = asyncio.run(main())
    log = DecisionLog(str(tmp_path / "canary.jsonl")).records()
    assert [r["action"] for r in log] == ["start", "hold", "promote"]
    assert log[-1]["stable"] == v1 and log[-1]["canary"] == v2


def test_bad_canary_is_rolled_back_and_not_tried_again(tmp_path):
    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "v1", {"truth": True})

    async def main():
        svc = service(reg, tmp_path)
        await svc.start(wait=True)
        v2 = push(reg, tmp_path, "v2", {"class": "A"})  # always the same class
        assert (await svc.tick())["action"] == "start"
        await traffic(svc, 100)
        rec = await svc.tick()
        assert rec["action"] == "rollback" and rec["canary"] == v2
        assert rec["reasons"][0].startswith("accuracy")
        assert rec["evidence"]["canary"]["quality"] < 0.7
        assert rec["evidence"]["stable"]["quality"] == 1.0
        assert reg.serving().version == v1 and reg.history()[-1]["action"] == "rollback"
        assert svc.rollout is None and svc.stable.version == v1
        assert await svc.tick() is None  # a rejected version is not canaried again
        v3 = push(reg, tmp_path, "v3", {"truth": True, "n": 3})
        rec = await svc.tick()
        assert rec["action"] == "start" and rec["canary"] == v3
        await svc.stop()

    asyncio.run(main())


def test_erroring_canary_is_rolled_back_before_min_requests(tmp_path):
    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "v1", {"truth": True})

    async def main():
        svc = service(reg, tmp_path, min_requests=200)
        await svc.start(wait=True)
        push(reg, tmp_path, "v2", {"error": True})
        await svc.tick()
        errors = 0
        for i in range(40):
            try:
                await svc.predict({"instances": [{"island": "Biscoe"}]})
            except ModelError:
                errors += 1
        assert errors > 5
        rec = await svc.tick()
        assert rec["action"] == "rollback" and "already exceed" in rec["reasons"][0]
        assert reg.serving().version == v1
        await svc.stop()

    asyncio.run(main())


def test_restart_after_a_push_still_canaries(tmp_path):
    """A version pushed while the server was down is not served directly: the server
    starts from the stable version its log names."""
    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "v1", {"truth": True})

    async def main():
        svc = service(reg, tmp_path)
        await svc.start(wait=True)
        await svc.stop()
        DecisionLog(str(tmp_path / "canary.jsonl")).append({"action": "follow", "stable": v1})
        v2 = push(reg, tmp_path, "v2", {"truth": True, "n": 2})
        svc = service(reg, tmp_path)
        await svc.start(wait=True)
        assert svc.stable.version == v1 and svc.rollout.canary.version == v2
        assert svc.status()["ready"] is True and svc.status()["canary"]["version"] == v2
        await svc.stop()

    asyncio.run(main())


def test_start_wait_returns_only_once_the_canary_is_up(tmp_path):
    """``start(wait=True)`` means the models are loaded and the rollout decided: it does
    not return between the stable version's load and the canary's (the canary's load is
    held here until the test lets it go, whatever the machine's speed)."""
    import threading

    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "v1", {"truth": True})
    DecisionLog(str(tmp_path / "canary.jsonl")).append({"action": "follow", "stable": v1})
    v2 = push(reg, tmp_path, "v2", {"truth": True, "n": 2})
    loading, go = threading.Event(), threading.Event()

    def hold_the_canary(version):
        if version == v2:
            loading.set()
            assert go.wait(60), "the test never let the canary's load go on"

    async def main():
        svc = service(reg, tmp_path, loader=fake_loader(before=hold_the_canary))
        started = asyncio.ensure_future(svc.start(wait=True))
        try:
            assert await asyncio.to_thread(loading.wait, 60)
            # the stable version is loaded, the canary is loading: start is still waiting
            # (a poll of start's would have run in this loop-time sleep, whatever the load)
            await asyncio.sleep(0.05)
            assert svc.stable is not None and svc.stable.version == v1
            assert not started.done(), "start(wait=True) returned before the canary was up"
            assert svc.rollout is None
        finally:
            go.set()
        await started
        assert svc.stable.version == v1 and svc.rollout.canary.version == v2
        await svc.stop()

    asyncio.run(main())


def test_a_service_stopped_during_start_up_is_ready_not_stuck(tmp_path):
    reg = Registry(str(tmp_path / "models"))
    push(reg, tmp_path, "v1", {"truth": True})

    async def main():
        svc = service(reg, tmp_path)
        await svc.start()
        await svc.stop()  # before the controller's first step
        await asyncio.wait_for(svc.wait_ready(), 60)
        assert svc.ready and svc.stable is None

    asyncio.run(main())


def test_without_canary_the_server_follows_the_pointer(tmp_path):
    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "v1", {"class": "A"})
    v2 = push(reg, tmp_path, "v2", {"class": "B"})

    async def main():
        svc = OnlineService("m", registry=reg, loader=fake_loader(), poll_s=3600)
        await svc.start(wait=True)
        r = await svc.predict({"instances": [{"island": "Biscoe"}]})
        assert r["model_version"] == v2 and r["predictions"][0]["class"] == "B"
        reg.set_serving(v1, "test")
        rec = await svc.tick()
        assert rec["action"] == "follow" and rec["stable"] == v1
        r = await svc.predict({"instances": [{"island": "Biscoe"}]})
        assert r["model_version"] == v1 and r["predictions"][0]["class"] == "A"
        await svc.stop()

    asyncio.run(main())


def wait_loaded(cl, svc):
    """The server answers at once; the model loads in the background: wait for its
    start-up in the app's event loop."""
    cl.portal.call(svc.wait_ready)
    assert svc.ready


def test_http_contract(tmp_path):
    """POST /predict, /models/{name}/predict, /feedback, GET /canary, /health through
    FastAPI (no prediction store: online only)."""
    from fastapi.testclient import TestClient

    from tfxkit.infra.serving.app import create_app

    reg = Registry(str(tmp_path / "models"))
    empty = OnlineService("penguins", registry=reg, loader=fake_loader(), poll_s=3600)
    with TestClient(create_app(online=empty)) as cl:
        wait_loaded(cl, empty)
        r = cl.post("/predict", json={"instances": [{"island": "Biscoe"}]})
        assert r.status_code == 503 and "no serving version" in r.json()["detail"]
        assert cl.get("/health").status_code == 503
    v1 = push(reg, tmp_path, "v1", {"truth": True})
    svc = service(reg, tmp_path)
    with TestClient(create_app(online=svc)) as cl:
        wait_loaded(cl, svc)
        r = cl.post("/predict", json={"instances": [{"island": "Torgersen", "id": "p1"},
                                                    {"island": "Biscoe", "year": 2008}]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model_version"] == v1 and body["model"] == "penguins"
        assert [p["class"] for p in body["predictions"]] == ["A", "B"]
        rid = body["request_id"]
        r = cl.post("/feedback", json={"request_id": rid, "labels": ["A", "A"]})
        assert r.json()["accepted"] == 2
        r = cl.post("/feedback", json={"request_id": rid, "labels": ["A", "A"]})
        assert r.status_code == 200 and r.json()["duplicates"] == 1
        assert cl.post("/feedback", json={"request_id": "zz", "label": "A"}).status_code == 404
        r = cl.post("/models/penguins/predict", json={"instances": [{"id": "p2"}]})
        assert r.status_code == 200
        r = cl.post("/feedback", json={"feedback": [{"key": "p2", "label": "B"}]})
        assert r.json()["accepted"] == 1
        assert cl.post("/models/other/predict", json={"instances": [{}]}).status_code == 404
        r = cl.post("/predict", json={"instances": [{"island": 3.5}]})
        assert r.status_code == 400 and "instances[0]" in r.json()["detail"]
        assert cl.post("/predict", json={"rows": []}).status_code == 400
        assert cl.post("/predict", content=b"{nope").status_code == 400
        st = cl.get("/canary").json()
        assert st["stable"]["version"] == v1 and st["stable"]["feedback"] == 3
        assert st["stable"]["quality"] == pytest.approx(2 / 3)
        assert st["canary"] is None and st["policy"]["steps"] == [0.5, 1.0]
        assert cl.get("/health").json()["model_version"] == v1


def test_a_big_request_is_scored_in_chunks_in_order(tmp_path):
    """Issue 13, fault 2: a request of more than max_batch_size instances goes through the
    model in chunks of at most max_batch_size (other requests' batches run in between),
    and its answer, built in a thread, is the same as the small path's."""
    import orjson

    reg = Registry(str(tmp_path / "models"))
    push(reg, tmp_path, "v1", {"truth": True})
    sizes = []

    def loader(version, path, max_batch_size, max_wait_ms, metric):
        arm = fake_loader()(version, path, max_batch_size, max_wait_ms, metric)
        fn = arm.batcher.fn

        def counted(items):
            sizes.append(len(items))
            return fn(items)
        arm.batcher.fn = counted
        return arm

    async def main():
        svc = OnlineService("m", registry=reg, loader=loader, poll_s=3600, max_batch_size=64,
                            key_field="id")
        await svc.start(wait=True)
        inst = [{"island": "Torgersen" if i % 3 else "Biscoe", "id": f"k{i}"}
                for i in range(1000)]
        raw = orjson.dumps({"instances": inst})
        big, small, both = await asyncio.gather(
            svc.predict_json(raw + b" " * (300 * 1024)),  # over INLINE_BYTES: the thread path
            svc.predict({"instances": inst[:5]}),
            svc.predict({"instances": inst}))
        big = orjson.loads(big)
        await svc.stop()
        return big, small, both, svc

    big, small, both, svc = asyncio.run(main())
    assert [p["class"] for p in big["predictions"]] == \
        ["A" if i % 3 else "B" for i in range(1000)]
    assert big["predictions"] == both["predictions"]
    assert max(sizes) <= 64 and sum(sizes) == 2005
    assert svc.book.take({"key": "k999", "label": "A"})  # remembered, by key too


def test_close_drains_queued_and_running_requests():
    """Unloading a version (promotion, rollback) answers what it already took."""
    import time as _time

    def fn(items):
        _time.sleep(0.05)
        return {"x": np.array(items)}

    async def main():
        b = MicroBatcher(fn, 4, max_wait_ms=0)
        futs = [asyncio.ensure_future(b.submit([i])) for i in range(12)]
        await asyncio.sleep(0.01)  # the first batch is running, the rest queued
        await b.close()
        return [f.result()["x"].tolist() for f in futs], b.calls

    outs, calls = asyncio.run(main())
    assert outs == [[i] for i in range(12)] and calls == 3


# -- config and CLI ------------------------------------------------------------------------

TEMPLATE_CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "templates",
                               "multiclass", "config.yaml")


def test_readiness_names_a_failing_or_missing_model(tmp_path):
    """Issue 13, fault 1 (the server's part), in-process: three failed calls in a row or
    the model's folder gone make the service not ready, naming why; /predict on a gone
    folder is a LookupError (503), not a model error (500)."""
    import shutil

    reg = Registry(str(tmp_path / "models"))
    push(reg, tmp_path, "v1", {"error": True})

    async def main():
        svc = OnlineService("m", registry=reg, loader=fake_loader(), poll_s=3600)
        await svc.start(wait=True)
        assert svc.readiness() == []
        for _ in range(3):
            with pytest.raises(ModelError):
                await svc.predict({"instances": [{"island": "Biscoe"}]})
        assert "last 3 calls failed" in svc.readiness()[0]
        shutil.rmtree(svc.stable.path)
        assert "is gone" in svc.readiness()[0]
        with pytest.raises(LookupError, match="is gone"):
            await svc.predict({"instances": [{"island": "Biscoe"}]})
        await svc.stop()

    asyncio.run(main())


def test_the_configs_raw_columns_take_one_value_each(tmp_path):
    """The config-driven transform reads each raw column as one value (a list's first
    value would be used silently), while the template models parse them as variable-length:
    the server refuses a list for them (issue 13, fault 12a)."""
    reg = Registry(str(tmp_path / "models"))
    push(reg, tmp_path, "v1", {"class": "A"})

    async def main():
        svc = OnlineService("m", registry=reg, loader=fake_loader(), poll_s=3600,
                            scalar_features=["island", "not_in_the_model"])
        await svc.start(wait=True)
        r = await svc.predict({"instances": [{"island": "Biscoe"}]})
        assert r["predictions"][0]["class"] == "A"
        with pytest.raises(InstanceError, match="'island' is a scalar .*a list of 2"):
            await svc.predict({"instances": [{"island": ["Biscoe", "Dream"]}]})
        await svc.stop()

    asyncio.run(main())
    from tfxkit.infra.serving.service_config import service_from_config
    from tfxkit.pipelines.config import load_config

    cfg = load_config(TEMPLATE_CONFIG, overrides=[f"push.registry={tmp_path}/models"])
    svc = service_from_config(cfg)
    assert set(svc.scalar_features) == set(cfg.features.raw_columns()) and svc.scalar_features
