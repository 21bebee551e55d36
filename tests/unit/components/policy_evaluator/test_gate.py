"""components/policy_evaluator/gate.py: on logs of the newsletter generator (known true
model), a known good policy (the optimal one, with the true reward model) is estimated above
a bad one (each user's worst recommender), and the paired change is clearly positive; the
threshold logic (bounds, changes, no baseline, relative change, lower-is-better reward-model
metrics); the logged columns of tf.Examples with errors naming column and row; the
policy's outputs checked against the config's actions; the JSON shape."""
import datetime as dt
import json

import numpy as np
import pytest

from tfxkit.components.policy_evaluator import gate
from tfxkit.pipelines.datasets import newsletter

ACTIONS = newsletter.ACTIONS
K = len(ACTIONS)
BANDIT = {"action": "action", "actions": ACTIONS, "propensity": "propensity"}
BOOT = {"resamples": 200, "level": 0.95, "seed": 1}


@pytest.fixture(scope="module")
def log():
    users = newsletter.users(4000, seed=5)
    week = newsletter.log_week(users, dt.date(2026, 1, 5), seed=5)
    q = newsletter.expected_rewards(users)
    logged = gate.Logged(week["action"].tolist(), week["reward"].tolist(),
                         week["propensity"].tolist())
    good = gate.PolicyOutputs(np.eye(K)[q.argmax(axis=1)], q)
    bad = gate.PolicyOutputs(np.eye(K)[q.argmin(axis=1)], np.zeros_like(q))
    truth = {"good": newsletter.optimal_policy_value(users),
             "bad": newsletter.policy_value(users, bad.probabilities)}
    return logged, good, bad, truth


def test_a_good_policy_beats_a_bad_one_and_the_json_has_every_number(log):
    logged, good, bad, truth = log
    thresholds = [{"name": "policy_value_dr", "lower_bound": 0.1, "absolute_change": 0.02},
                  {"name": "policy_value_ips", "relative_change": 0.1},
                  {"name": "rmse", "upper_bound": 1.0}]
    out = gate.evaluate(logged, good, bad, BANDIT, "reward", thresholds, BOOT)
    cand, base, change = out["candidate"], out["baseline"], out["change"]
    print({k: round(v["value"], 4) for k, v in cand.items() if isinstance(v, dict)},
          {k: round(v["value"], 4) for k, v in base.items() if isinstance(v, dict)},
          {k: [round(v["lower"], 4), round(v["upper"], 4)] for k, v in change.items()},
          truth)
    # seen: dr 0.192 (true 0.193) vs bad 0.021 (true 0.019); change dr [0.131, 0.213]
    for name in gate.OPE:
        c, b, d = cand[name], base[name], change[name]
        assert c["lower"] <= c["value"] <= c["upper"] and c["n"] == 4000
        assert d["value"] == pytest.approx(c["value"] - b["value"], abs=1e-12)
        assert d["lower"] > 0.1  # the paired interval lies well above 0
    assert cand["policy_value_dr"]["lower"] <= truth["good"] <= cand["policy_value_dr"]["upper"]
    assert base["policy_value_dr"]["lower"] <= truth["bad"] <= base["policy_value_dr"]["upper"]
    assert out["blessed"] and out["reason"].startswith("blessed: policy_value_dr ")
    assert [(v["metric"], v["bound"], v["passed"]) for v in out["thresholds"]] == [
        ("policy_value_dr", "lower_bound", True), ("policy_value_dr", "absolute_change", True),
        ("policy_value_ips", "relative_change", True), ("rmse", "upper_bound", True)]
    # swapped: the bad policy fails both its bound and its change against the good one
    worse = gate.evaluate(logged, bad, good, BANDIT, "reward", thresholds, BOOT)
    assert not worse["blessed"]
    assert [v["passed"] for v in worse["thresholds"]] == [False, False, False, True]
    assert worse["reason"].startswith("not blessed: policy_value_dr 0.0")
    assert "< lower_bound 0.1; policy_value_dr change vs baseline -0.1" in worse["reason"]

    # the JSON: every estimate, interval, n, baseline, change and verdict
    text = json.loads(json.dumps(out))
    assert set(text) == {"n", "columns", "actions", "bootstrap", "logged_reward_mean",
                         "candidate", "baseline", "change", "thresholds", "blessed", "reason"}
    assert set(text["candidate"]) == set(text["baseline"]) == {*gate.OPE, "mse", "rmse", "mae",
                                                                "auc"}
    assert set(text["change"]) == set(gate.OPE)
    assert set(text["candidate"]["policy_value_snips"]) == {"estimator", "value", "lower",
                                                          "upper", "n", "level"}
    assert text["bootstrap"] == {"resamples": 200, "level": 0.95, "seed": 1}
    v = text["thresholds"][1]
    assert set(v) == {"metric", "bound", "threshold", "direction", "value", "interval",
                      "baseline", "passed", "reason"}
    assert v["interval"][0] < v["value"] < v["interval"][1]
    assert v["baseline"] == base["policy_value_dr"]["value"]
    numbers = gate.headline(out)
    assert numbers["policy_value_dr"] == cand["policy_value_dr"]["value"]
    assert numbers["change_policy_value_dr_lower"] == change["policy_value_dr"]["lower"]
    assert numbers["baseline_mse"] == base["mse"] and numbers["n"] == 4000
    # the same seed gives the same numbers
    assert gate.evaluate(logged, good, bad, BANDIT, "reward", thresholds, BOOT) == out


def test_without_a_baseline_change_thresholds_are_skipped(log):
    logged, good, bad, _ = log
    thresholds = [{"name": "policy_value_snips", "lower_bound": 0.1, "absolute_change": 0}]
    out = gate.evaluate(logged, good, None, BANDIT, "reward", thresholds, BOOT)
    assert out["baseline"] is None and out["change"] is None
    skipped = out["thresholds"][1]
    assert skipped["passed"] is None and skipped["reason"] == gate.NO_BASELINE
    assert out["blessed"]
    assert out["reason"].endswith("(1 change threshold(s) skipped: no baseline yet)")
    # only change thresholds and no baseline: nothing was checked, nothing is blessed
    only = gate.evaluate(logged, good, None, BANDIT, "reward",
                         [{"name": "policy_value_dr", "absolute_change": 0}], BOOT)
    assert not only["blessed"] and "every threshold was skipped" in only["reason"]
    assert gate.reason([]).startswith("no thresholds")
    # a bound fails on the bad policy even without a baseline
    bad_out = gate.evaluate(logged, bad, None, BANDIT, "reward", thresholds, BOOT)
    assert not bad_out["blessed"]
    assert bad_out["reason"].startswith("not blessed: policy_value_snips ")


def test_judge_directions_relative_change_and_zero_baseline():
    est = lambda v: {"value": v, "lower": v - 0.1, "upper": v + 0.1}  # noqa: E731
    cand = {"policy_value_dr": est(0.11), "mse": 0.5}
    base = {"policy_value_dr": est(0.10), "mse": 0.4}
    change = {"policy_value_dr": est(0.01)}
    v = gate.judge(cand, base, change, [
        {"name": "policy_value_dr", "relative_change": 0.05, "absolute_change": 0.02},
        {"name": "mse", "upper_bound": 0.6, "absolute_change": 0.05, "relative_change": 0.3}])
    got = {(x["metric"], x["bound"]): (x["passed"], x["value"]) for x in v}
    assert got[("policy_value_dr", "relative_change")] == (True, pytest.approx(0.1))
    assert got[("policy_value_dr", "absolute_change")] == (False, 0.01)
    assert got[("mse", "upper_bound")] == (True, 0.5)
    assert got[("mse", "absolute_change")] == (False, pytest.approx(0.1))  # lower is better
    assert got[("mse", "relative_change")] == (True, pytest.approx(0.25))
    rel = next(x for x in v if x["bound"] == "relative_change")
    assert rel["interval"] == [pytest.approx(-0.9), pytest.approx(1.1)]
    assert "change vs baseline +0.01 < absolute_change 0.02" in v[0]["reason"]
    # a negative baseline: relative to its magnitude, so an improvement stays positive
    neg = gate.judge({"policy_value_ips": est(-0.05)}, {"policy_value_ips": est(-0.1)},
                     {"policy_value_ips": est(0.05)},
                     [{"name": "policy_value_ips", "relative_change": 0.4}])
    assert neg[0]["passed"] and neg[0]["value"] == pytest.approx(0.5)
    zero = gate.judge({"policy_value_ips": est(0.1)}, {"policy_value_ips": est(0.0)},
                      {"policy_value_ips": est(0.1)},
                      [{"name": "policy_value_ips", "relative_change": 0.1}])
    assert zero[0]["passed"] is False and "undefined" in zero[0]["reason"]
    with pytest.raises(ValueError, match="'accuracy' is not a bandit metric"):
        gate.judge(cand, None, None, [{"name": "accuracy", "lower_bound": 0.5}])


def _example(**columns) -> bytes:
    import tensorflow as tf

    feats = {}
    for k, v in columns.items():
        if isinstance(v, str):
            feats[k] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))
        elif isinstance(v, float):
            feats[k] = tf.train.Feature(float_list=tf.train.FloatList(value=[v]))
        else:
            feats[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def test_logged_columns_and_errors_that_name_column_and_row():
    rows = [_example(arm="deals", clicked=1, p=0.25, age=30),
            _example(arm="gadgets", clicked=-1, p=0.5),
            _example(arm="deals", clicked=0, p=1.5),
            _example(arm="deals", p=0.5)]
    logged = gate.logged_columns(rows, "arm", "clicked", "p")
    assert logged.action == ["deals", "gadgets", "deals", "deals"]
    assert logged.reward == [1, -1, 0, None] and len(logged) == 4
    assert logged.propensity[:2] == [0.25, 0.5]
    bandit = {"action": "arm", "actions": ACTIONS, "propensity": "p"}
    q = np.zeros((4, K))
    outputs = gate.PolicyOutputs(np.eye(K)[[0, 0, 0, 0]], q)
    with pytest.raises(ValueError, match=r"column 'p': row 2 is 1.5.*outside \(0, 1\]"):
        gate.evaluate(logged, outputs, None, bandit, "clicked",
                      [{"name": "policy_value_ips", "lower_bound": 0}], BOOT)
    logged.propensity[2] = 0.5
    with pytest.raises(ValueError, match="column 'clicked': row 3 is missing"):
        gate.evaluate(logged, outputs, None, bandit, "clicked",
                      [{"name": "policy_value_ips", "lower_bound": 0}], BOOT)
    logged.reward[3] = 0
    logged.action[1] = "radio"
    with pytest.raises(ValueError, match="column 'arm': row 1 is 'radio', not one of"):
        gate.evaluate(logged, outputs, None, bandit, "clicked",
                      [{"name": "policy_value_ips", "lower_bound": 0}], BOOT)
    logged.action[1] = None
    with pytest.raises(ValueError, match="column 'arm': row 1 is missing"):
        gate.evaluate(logged, outputs, None, bandit, "clicked",
                      [{"name": "policy_value_ips", "lower_bound": 0}], BOOT)


def test_score_checks_the_policy_outputs_against_the_actions():
    actions = ["a", "b", "c"]

    def predict(ids, names=None):
        def f(batch):
            n = len(batch)
            i = np.asarray(ids[:n])
            return {"action_probabilities": np.eye(3)[i].astype(np.float32),
                    "scores": np.full((n, 3), 0.5, np.float32), "action_id": i[:, None],
                    "action": np.array([[(names or actions)[k].encode()] for k in i])}
        return f

    out = gate.score(predict([0, 2, 1]), [[b"x", b"y"], [b"z"]], actions)
    assert out.probabilities.shape == (3, 3) and out.scores.shape == (3, 3)
    np.testing.assert_array_equal(out.probabilities.argmax(axis=1), [0, 2, 0])  # per batch
    with pytest.raises(ValueError, match="baseline policy: action id 1 is 'c', the config's "
                                         "actions say 'b'"):
        gate.score(predict([1], ["a", "c", "b"]), [[b"x"]], actions, "baseline")
    with pytest.raises(ValueError, match="candidate policy: 3 actions, the config has 2"):
        gate.score(predict([0]), [[b"x"]], ["a", "b"])
    with pytest.raises(ValueError, match="lacks \\['scores'\\]"):
        gate.score(lambda b: {k: v for k, v in predict([0])(b).items() if k != "scores"},
                   [[b"x"]], actions)
    with pytest.raises(ValueError, match="no eval rows"):
        gate.score(predict([0]), [], actions)


def test_check_thresholds_keeps_the_bounds_given_and_refuses_what_cannot_gate():
    dumped = {"name": "policy_value_dr", "lower_bound": 0.05, "upper_bound": None,
              "absolute_change": -0.01, "relative_change": None, "slices": {}}
    assert gate.check_thresholds([dumped, {"name": "mse", "upper_bound": 1}]) == [
        {"name": "policy_value_dr", "lower_bound": 0.05, "absolute_change": -0.01},
        {"name": "mse", "upper_bound": 1}]
    with pytest.raises(ValueError, match="'accuracy': not a bandit metric"):
        gate.check_thresholds([{"name": "accuracy", "lower_bound": 0.5}])
    with pytest.raises(ValueError, match="give at least one lower_bound or upper_bound"):
        gate.check_thresholds([{"name": "policy_value_dr", "absolute_change": 0}])
    with pytest.raises(ValueError, match="policy_value_ips: give at least one of"):
        gate.check_thresholds([{"name": "policy_value_ips"},
                               {"name": "mse", "upper_bound": 1}])
    with pytest.raises(ValueError, match="mse: slices are not gated here"):
        gate.check_thresholds([{"name": "mse", "upper_bound": 1,
                                "slices": {"country": {"upper_bound": 2}}}])
    with pytest.raises(ValueError, match=r"unknown settings \['upper'\]"):
        gate.check_thresholds([{"name": "mse", "upper": 1}])


def mann_whitney_auc(positive, predicted):
    """P(a positive row's prediction > a negative row's), ties counting half: by pairs."""
    pos, neg = predicted[positive], predicted[~positive]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_the_reward_models_auc_ranks_clicks_and_gates_higher_is_better(log):
    logged, good, bad, _ = log
    idx = np.array([ACTIONS.index(a) for a in logged.action])
    reward = np.asarray(logged.reward, dtype=float)
    got = gate.reward_model_errors(idx, reward, good.scores)["auc"]
    # the true expected reward ranks the clicked rows above the rest; an all-zero model: 0.5
    assert got == pytest.approx(mann_whitney_auc(reward > 0, good.scores[np.arange(len(idx)),
                                                                         idx]), abs=1e-9)
    assert got > 0.6
    assert gate.reward_model_errors(idx, reward, bad.scores)["auc"] == 0.5
    t = [{"name": "auc", "lower_bound": 0.55, "absolute_change": 0.0}]
    out = gate.evaluate(logged, good, bad, BANDIT, "reward", t, BOOT)
    assert [v["passed"] for v in out["thresholds"]] == [True, True] and out["blessed"]
    worse = gate.evaluate(logged, bad, good, BANDIT, "reward", t, BOOT)
    assert [v["passed"] for v in worse["thresholds"]] == [False, False]
    assert "auc 0.5 < lower_bound 0.55" in worse["reason"]


def test_an_undefined_auc_fails_its_threshold_naming_why():
    logged = gate.Logged(["a", "b"], [0, 0], [0.5, 0.5])
    pol = gate.PolicyOutputs(np.array([[1.0, 0.0], [1.0, 0.0]]), np.zeros((2, 2)))
    bandit = {"action": "action", "actions": ["a", "b"], "propensity": "propensity"}
    out = gate.evaluate(logged, pol, None, bandit, "reward",
                        [{"name": "auc", "lower_bound": 0.5},
                         {"name": "mse", "upper_bound": 1.0}], BOOT)
    assert out["candidate"]["auc"] is None and not out["blessed"]
    assert "auc is undefined: the eval split's rewards are all positive or none is" \
        in out["reason"]
    assert "auc" not in gate.headline(out)
