"""The choice log (infra/serving/choice_log.py): a served bandit policy's choices and the
rewards fed back for them, appended by a writer thread, one file per kind and UTC day; and
the online service writing it from POST /predict and POST /feedback."""
import asyncio
import json
import os

import numpy as np
import pytest

from tfxkit.infra.serving.arm import Arm
from tfxkit.infra.serving.choice_log import ChoiceLog, example_of, read
from tfxkit.infra.serving.online_service import OnlineService

DAY1, DAY2 = 1767225600.0, 1767312000.0  # 2026-01-01 and 2026-01-02, 00:00 UTC


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def test_choices_and_rewards_go_to_one_file_per_kind_and_day(tmp_path):
    clock = Clock(DAY1 + 5)
    log = ChoiceLog(str(tmp_path / "log"), clock)
    log.choices("r1", "3", [{"action": "deals", "propensity": 0.8},
                            {"action": "trending", "propensity": 0.05}],
                ["u1", None], [b"ex-1", b"ex-2"])
    clock.t = DAY2 + 5
    log.choices("r2", "3", [{"action": "deals", "propensity": 0.8}], None, [b"ex-3"])
    log.rewards([("r1", 0, 1.0), ("r2", 0, -1)])
    log.flush()
    assert sorted(os.listdir(tmp_path / "log")) == [
        "choices-2026-01-01.jsonl", "choices-2026-01-02.jsonl", "rewards-2026-01-02.jsonl"]
    day1, torn = read(str(tmp_path / "log"), "choices", until="2026-01-01")
    assert torn == 0
    assert [(c["request_id"], c["index"], c["key"], c["action"], c["propensity"],
             c["model_version"]) for c in day1] == [
        ("r1", 0, "u1", "deals", 0.8, "3"), ("r1", 1, None, "trending", 0.05, "3")]
    assert [example_of(c) for c in day1] == [b"ex-1", b"ex-2"]
    day2, _ = read(str(tmp_path / "log"), "choices", since="2026-01-02")
    assert [c["request_id"] for c in day2] == ["r2"]
    rewards, _ = read(str(tmp_path / "log"), "rewards")
    assert [(r["request_id"], r["index"], r["reward"]) for r in rewards] == [
        ("r1", 0, 1.0), ("r2", 0, -1)]
    assert log.stats()["choices"] == 3 and log.stats()["rewards"] == 2
    log.close()


def test_a_torn_last_line_is_skipped_and_counted(tmp_path):
    log = ChoiceLog(str(tmp_path), Clock(DAY1))
    log.rewards([("r1", 0, 1)])
    log.flush()
    log.close()
    with open(tmp_path / "rewards-2026-01-01.jsonl", "a") as f:
        f.write('{"t": 1, "request_id": "r2", "ind')  # a crash while appending
    lines, torn = read(str(tmp_path), "rewards")
    assert [r["request_id"] for r in lines] == ["r1"] and torn == 1
    with pytest.raises(ValueError, match="kind is one of"):
        read(str(tmp_path), "answers")


def test_nothing_logged_creates_nothing(tmp_path):
    log = ChoiceLog(str(tmp_path / "log"))
    log.rewards([])
    log.close()
    assert not (tmp_path / "log").exists()


def test_a_write_failure_is_recorded_and_the_log_goes_on(tmp_path):
    (tmp_path / "log").mkdir()
    log = ChoiceLog(str(tmp_path / "log"), Clock(DAY1))
    (tmp_path / "log" / "rewards-2026-01-01.jsonl").mkdir()  # cannot be appended to
    log.rewards([("r1", 0, 1)])
    log.flush()
    assert "rewards-2026-01-01.jsonl" in log.stats()["error"]
    log.choices("r2", "1", [{"action": "a", "propensity": 1.0}], None, [b"x"])
    log.flush()
    assert log.stats()["choices"] == 1
    log.close()


# -- the online service writes it ---------------------------------------------------------

ACTIONS = [b"deals", b"trending", b"editorial"]
SPEC = {"age": "int", "country": "bytes"}


def bandit_loader(version, path, max_batch_size, max_wait_ms, metric):
    """A policy choosing ``deals`` with probability 0.8 for anyone from ch, else trending."""
    def fn(items):
        ch = [b"ch" in x for x in items]
        n = len(items)
        ids = np.array([[0] if c else [1] for c in ch])
        return {"action": np.array([[ACTIONS[i[0]]] for i in ids]), "action_id": ids,
                "propensity": np.array([[0.8] if c else [0.6] for c in ch]),
                "ranked_actions": np.array([ACTIONS] * n),
                "scores": np.zeros((n, 3)), "action_probabilities": np.full((n, 3), 1 / 3)}
    return Arm(version, path, fn, SPEC, ["action", "action_id", "action_probabilities",
                                         "propensity", "ranked_actions", "scores"],
               max_batch_size, max_wait_ms, metric or "reward")


def test_the_service_logs_each_choice_and_reward_of_a_bandit_policy(tmp_path):
    model = tmp_path / "7"
    model.mkdir()
    log = ChoiceLog(str(tmp_path / "choices"), Clock(DAY1))

    async def go():
        svc = OnlineService("news", model_dir=str(model), loader=bandit_loader,
                            key_field="user_id", max_wait_ms=1, choices=log)
        await svc.start(wait=True)
        try:
            r = await svc.predict({"instances": [{"user_id": "u1", "age": 31, "country": "ch"},
                                                 {"user_id": "u2", "age": 45,
                                                  "country": "de"}]})
            fb = svc.feedback([{"key": "u2", "label": 1},
                               {"request_id": r["request_id"], "index": 0,
                                "label": "not a number"}])
            status = svc.status()
        finally:
            await svc.stop()  # writes what is queued
        return r, fb, status

    r, fb, status = asyncio.run(go())
    assert [(p["action"], p["propensity"]) for p in r["predictions"]] == [
        ("deals", 0.8), ("trending", 0.6)]
    assert fb["accepted"] == 1 and fb["errors"]  # the text label is refused, not logged
    assert status["choice_log"]["folder"] == str(tmp_path / "choices")
    choices, _ = read(str(tmp_path / "choices"), "choices")
    assert [(c["key"], c["action"], c["propensity"], c["model_version"]) for c in choices] \
        == [("u1", "deals", 0.8, "7"), ("u2", "trending", 0.6, "7")]
    assert all(c["request_id"] == r["request_id"] for c in choices)
    from tensorflow.core.example import example_pb2

    ex = example_pb2.Example.FromString(example_of(choices[1])).features.feature
    assert ex["age"].int64_list.value == [45] and ex["country"].bytes_list.value == [b"de"]
    rewards, _ = read(str(tmp_path / "choices"), "rewards")
    assert [(x["request_id"], x["index"], x["reward"]) for x in rewards] == [
        (r["request_id"], 1, 1)]


def test_a_classifier_is_not_logged_even_with_a_log(tmp_path):
    from tests.unit.infra.serving.test_online_service import SPEC as PENGUIN
    model = tmp_path / "3"
    model.mkdir()

    def loader(version, path, max_batch_size, max_wait_ms, metric):
        return Arm(version, path, lambda items: {"class": np.array([[b"A"]] * len(items)),
                                                 "class_id": np.zeros((len(items), 1))},
                   PENGUIN, ["class", "class_id"], max_batch_size, max_wait_ms, "accuracy")
    log = ChoiceLog(str(tmp_path / "choices"))

    async def go():
        svc = OnlineService("p", model_dir=str(model), loader=loader, max_wait_ms=1,
                            choices=log)
        await svc.start(wait=True)
        try:
            await svc.predict({"instances": [{"island": "Biscoe"}]})
        finally:
            await svc.stop()
    asyncio.run(go())
    assert not (tmp_path / "choices").exists()
    assert json.dumps(log.stats())  # JSON-able for /canary
