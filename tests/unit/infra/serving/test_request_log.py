"""The request log (infra/serving/request_log.py): its file format (a contract that
``tfxkit monitor`` reads), hourly rotation with fsync, sampling, the bounded queue that
drops instead of blocking, torn lines, and the OnlineService hook."""
import asyncio
import datetime as dt
import json
import os
import random

import pytest

from tfxkit.components.registry.registry import Registry
from tfxkit.infra.serving import request_log as rl
from tfxkit.infra.serving.online_service import INLINE_BYTES, OnlineService
from tfxkit.infra.serving.request_log import RequestLog, read_request_log
from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG, fake_loader, push

KEYS = {"ts", "request_id", "model", "model_version", "arm", "route", "latency_ms",
        "features", "outputs"}


def at(y, mo, d, h, mi=0, s=0.0):
    return dt.datetime(y, mo, d, h, mi, tzinfo=dt.timezone.utc).timestamp() + s


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def test_format_rotation_and_reading_back(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(rl.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    clock = Clock(at(2026, 12, 1, 3, 59, 59.5))
    log = RequestLog(str(tmp_path / "requests"), clock=clock)
    log.log("r1", "penguins", "17", "stable", "/predict", 2.5,
            [{"island": "Biscoe", "bill_length_mm": 39.1, "id": "k1"},
             {"island": "Dream", "year": 2008}],
            [{"class": "A", "class_id": 0, "probabilities": [0.75, 0.25]},
             {"class": "B", "class_id": 1, "probabilities": [0.25, 0.75]}], ignore=("id",))
    log.flush()
    first = tmp_path / "requests" / "requests-2026-12-01T03.jsonl"
    # flushed once the queue is empty, before any close
    lines = [json.loads(x) for x in first.read_text().splitlines()]
    assert len(lines) == 2 and not synced
    assert set(lines[0]) == KEYS
    assert lines[0] == {"ts": clock.t, "request_id": "r1", "model": "penguins",
                        "model_version": "17", "arm": "stable", "route": "/predict",
                        "latency_ms": 2.5,
                        "features": {"island": "Biscoe", "bill_length_mm": 39.1},
                        "outputs": {"class": "A", "class_id": 0,
                                    "probabilities": [0.75, 0.25]}}
    assert lines[1]["features"] == {"island": "Dream", "year": 2008}
    clock.t = at(2026, 12, 1, 4, 0, 0.25)  # the next UTC hour: a new file
    log.log("r2", "penguins", "18", "canary", "/models/{model}/predict", 1.0,
            [{"x": 1}], [{"class": "B"}])
    log.flush()
    assert len(synced) == 1  # the finished hour's file was fsynced when rotated
    log.close()
    assert len(synced) == 2  # and the last one on close
    assert sorted(os.listdir(tmp_path / "requests")) == [
        "requests-2026-12-01T03.jsonl", "requests-2026-12-01T04.jsonl"]
    folder = str(tmp_path / "requests")
    assert [x["request_id"] for x in read_request_log(folder)] == ["r1", "r1", "r2"]
    only = list(read_request_log(folder, start_ts=at(2026, 12, 1, 4)))
    assert [(x["request_id"], x["arm"], x["model_version"]) for x in only] == \
        [("r2", "canary", "18")]
    assert [x["request_id"] for x in read_request_log(folder, end_ts=at(2026, 12, 1, 4))] \
        == ["r1", "r1"]
    assert list(read_request_log(folder, start_ts=at(2026, 12, 1, 5))) == []
    assert rl.log_files(folder, at(2026, 12, 1, 4, 30), None) == [
        os.path.join(folder, "requests-2026-12-01T04.jsonl")]
    assert log.stats()["written"] == 3 and log.stats()["requests"] == 2


def test_a_torn_last_line_is_skipped_and_the_next_line_starts_fresh(tmp_path):
    folder = tmp_path / "requests"
    folder.mkdir()
    t = at(2026, 12, 1, 3, 10)
    name = folder / "requests-2026-12-01T03.jsonl"
    good = {"ts": t, "request_id": "old", "model": "m", "model_version": "1",
            "arm": "stable", "route": "/predict", "latency_ms": 1.0, "features": {},
            "outputs": {}}
    name.write_text(json.dumps(good) + "\n" + '{"ts": 1795, "request_id": "to')  # a crash
    assert [x["request_id"] for x in read_request_log(str(folder))] == ["old"]
    log = RequestLog(str(folder), clock=Clock(t + 1))
    log.log("new", "m", "1", "stable", "/predict", 1.0, [{"a": 1}], [{"y": 2}])
    log.close()
    assert [x["request_id"] for x in read_request_log(str(folder))] == ["old", "new"]


def test_sampling_is_per_request_and_seeded(tmp_path):
    log = RequestLog(str(tmp_path), sample_rate=0.25, seed=7)
    draws = [log.sampled() for _ in range(2000)]
    rng = random.Random(7)
    assert draws == [rng.random() < 0.25 for _ in range(2000)]
    assert 400 < sum(draws) < 600
    assert all(RequestLog(str(tmp_path), sample_rate=1.0).sampled() for _ in range(100))
    assert not any(RequestLog(str(tmp_path), sample_rate=0.0).sampled() for _ in range(100))
    with pytest.raises(ValueError, match="sample_rate"):
        RequestLog(str(tmp_path), sample_rate=1.5)


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path, monkeypatch):
    log = RequestLog(str(tmp_path / "requests"), max_queue=2)
    monkeypatch.setattr(log, "_start", lambda: None)  # no writer yet: the queue fills
    args = ("m", "1", "stable", "/predict", 1.0)
    assert log.log("a", *args, [{}], [{}]) and log.log("b", *args, [{}], [{}])
    assert not log.log("c", *args, [{}, {}], [{}, {}])  # returns at once
    assert log.dropped == 1 and log.dropped_lines == 2 and log.depth == 2
    monkeypatch.undo()
    log._start()
    log.close()
    assert [x["request_id"] for x in read_request_log(str(tmp_path / "requests"))] == \
        ["a", "b"]
    assert log.stats()["dropped"] == 1


def test_online_service_logs_what_it_answered(tmp_path):
    """Small bodies (parsed on the event loop) and a big one (parsed again in the writer
    thread from its raw bytes): one line per instance, features as sent without the key,
    outputs as answered, the arm and version that answered, the route."""
    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "v1", {"truth": True})
    log = RequestLog(str(tmp_path / "requests"))

    async def main():
        svc = OnlineService("penguins", registry=reg, loader=fake_loader(), poll_s=3600,
                            key_field="id", requests=log)
        await svc.start(wait=True)
        small = await svc.predict({"instances": [{"island": "Torgersen", "id": "k1"},
                                                 {"island": "Biscoe", "year": 2008}]})
        n = 6000
        raw = json.dumps({"instances": [{"island": "Torgersen", "year": i, "id": f"b{i}"}
                                        for i in range(n)]}).encode()
        assert len(raw) > INLINE_BYTES
        big = json.loads(await svc.predict_json(raw, route="/v1/models/{m}:predict"))
        await svc.stop()  # what is queued gets written
        return small, big, n

    small, big, n = asyncio.run(main())
    lines = list(read_request_log(str(tmp_path / "requests")))
    assert len(lines) == 2 + n
    assert all(set(x) == KEYS for x in lines)
    a, b = lines[:2]
    assert a["request_id"] == b["request_id"] == small["request_id"]
    assert (a["model"], a["model_version"], a["arm"], a["route"]) == \
        ("penguins", v1, "stable", "/predict")
    assert a["features"] == {"island": "Torgersen"} and b["features"] == \
        {"island": "Biscoe", "year": 2008}
    assert [a["outputs"], b["outputs"]] == small["predictions"]
    assert a["latency_ms"] > 0
    rest = lines[2:]
    assert {x["request_id"] for x in rest} == {big["request_id"]}
    assert {x["route"] for x in rest} == {"/v1/models/{m}:predict"}
    assert [x["features"]["year"] for x in rest] == list(range(n))
    assert "id" not in rest[0]["features"]
    assert [x["outputs"] for x in rest] == big["predictions"]
    assert log.stats()["requests"] == 2


def test_sampled_out_requests_are_not_logged(tmp_path):
    reg = Registry(str(tmp_path / "models"))
    push(reg, tmp_path, "v1", {"class": "A"})
    log = RequestLog(str(tmp_path / "requests"), sample_rate=0.5, seed=3)
    rng = random.Random(3)
    expected = sum(rng.random() < 0.5 for _ in range(40))

    async def main():
        svc = OnlineService("m", registry=reg, loader=fake_loader(), poll_s=3600,
                            requests=log)
        await svc.start(wait=True)
        for _ in range(40):
            await svc.predict({"instances": [{"island": "Dream"}]})
        await svc.stop()

    asyncio.run(main())
    assert len(list(read_request_log(str(tmp_path / "requests")))) == expected
    assert 5 < expected < 35


def test_the_config_turns_it_on_beside_the_registry(tmp_path):
    from tfxkit.infra.serving.service_config import service_from_config
    from tfxkit.pipelines.config import load_config

    sets = [f"push.registry={tmp_path}/models"]
    assert service_from_config(load_config(TEMPLATE_CONFIG, overrides=sets)).requests is None
    cfg = load_config(TEMPLATE_CONFIG, overrides=sets + [
        "serving.request_log.enabled=true", "serving.request_log.sample_rate=0.1",
        "serving.request_log.max_queue=5"])
    log = service_from_config(cfg).requests
    assert log.folder == os.path.join(f"{tmp_path}/models", "requests")
    assert log.sample_rate == 0.1 and log.max_queue == 5
    cfg = load_config(TEMPLATE_CONFIG, overrides=sets + [
        "serving.request_log.enabled=true", f"serving.request_log.path={tmp_path}/rl"])
    assert service_from_config(cfg).requests.folder == f"{tmp_path}/rl"
    with pytest.raises(Exception, match="sample_rate"):
        load_config(TEMPLATE_CONFIG, overrides=sets + ["serving.request_log.sample_rate=2"])


def test_a_canary_rollout_logs_which_arm_answered_and_metrics_show_both(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    from tfxkit.infra.serving.metrics import ServerMetrics
    from tests.unit.infra.serving.test_online_service import service

    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "v1", {"class": "A"})
    log = RequestLog(str(tmp_path / "requests"))

    async def main():
        svc = service(reg, tmp_path)  # canary steps 0.5, 1.0
        svc.requests = log
        metrics = ServerMetrics(svc)
        await svc.start(wait=True)
        v2 = push(reg, tmp_path, "v2", {"class": "B"})
        assert (await svc.tick())["action"] == "start"
        answers = [await svc.predict({"instances": [{"island": "Dream"}]})
                   for _ in range(60)]
        text = metrics.exposition().decode()
        await svc.stop()
        return v2, answers, text

    v2, answers, text = asyncio.run(main())
    lines = list(read_request_log(str(tmp_path / "requests")))
    assert [(x["request_id"], x["model_version"]) for x in lines] == \
        [(a["request_id"], a["model_version"]) for a in answers]
    arms = {(x["arm"], x["model_version"], x["outputs"]["class"]) for x in lines}
    assert arms == {("stable", v1, "A"), ("canary", v2, "B")}
    fam = {f.name: f for f in text_string_to_metric_families(text)}
    assert {(s.labels["arm"], s.labels["version"])
            for s in fam["tfxkit_model_version_info"].samples} == {("stable", v1),
                                                                  ("canary", v2)}
    batches = {s.name: s.value for s in fam["tfxkit_batch_size"].samples}
    assert batches["tfxkit_batch_size_count"] == 60 and batches["tfxkit_batch_size_sum"] == 60


def test_lines_reach_the_file_within_a_second_without_flush_or_close(tmp_path):
    import time

    log = RequestLog(str(tmp_path))
    log.log("r", "m", "1", "stable", "/predict", 1.0, [{"a": 1}], [{"y": 2}])
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and not list(read_request_log(str(tmp_path))):
        time.sleep(0.02)
    assert [x["request_id"] for x in read_request_log(str(tmp_path))] == ["r"]
    log.close()
