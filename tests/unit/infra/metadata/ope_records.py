"""A PolicyEvaluator's blessing as it lands on disk, for the lineage's and the report's
unit tests (not a test module itself): ``ope.json`` from ``gate.evaluate`` on small
synthetic logs (3 actions logged uniformly, the last one pays most), and the custom
properties ``executor.record`` sets from it (``gate.headline``)."""
import json
import os

import numpy as np

from tfxkit.components.policy_evaluator import gate

ACTIONS = ["a", "b", "c"]
MEANS = np.array([0.1, 0.3, 0.6])  # each action's click rate
BANDIT = {"action": "action", "actions": ACTIONS, "propensity": "propensity"}
BOOT = {"resamples": 100, "level": 0.9, "seed": 0}
THRESHOLDS = [{"name": "policy_value_dr", "lower_bound": 0.2, "absolute_change": 0.0},
              {"name": "rmse", "upper_bound": 1.0}]


def _policy(action: int, n: int, scores: np.ndarray) -> gate.PolicyOutputs:
    return gate.PolicyOutputs(np.eye(len(ACTIONS))[np.full(n, action)], scores)


def result(baseline: bool = True, n: int = 400, seed: int = 1, good: bool = True) -> dict:
    """gate.evaluate's dict (ope.json's content): the candidate always picks the best
    action (``good``) or the worst one; the baseline (if any) always the middle one."""
    rng = np.random.default_rng(seed)
    action = rng.integers(0, len(ACTIONS), n)
    reward = (rng.random(n) < MEANS[action]).astype(float)
    logged = gate.Logged([ACTIONS[a] for a in action], reward.tolist(),
                         [1 / len(ACTIONS)] * n)
    scores = np.tile(MEANS, (n, 1))
    cand = _policy(2 if good else 0, n, scores)
    base = _policy(1, n, scores * 0.9) if baseline else None
    out = gate.evaluate(logged, cand, base, BANDIT, "reward", THRESHOLDS, BOOT)
    out["model"] = "/pipeline/Trainer/model/7"
    out["baseline_model"] = "/pipeline/Trainer/model/3" if baseline else None
    return out


def write(folder, res: dict) -> str:
    """``ope.json`` in ``folder`` (the blessing's URI), as the executor writes it."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "ope.json"), "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
    return str(folder)


def blessing_properties(res: dict, model_id: int = 7, baseline_id=None) -> dict:
    """The blessing's custom properties as ``executor.record`` sets them."""
    props = {"blessed": int(res["blessed"]), "reason": res["reason"],
             "current_model": res["model"], "current_model_id": model_id}
    if baseline_id is not None:
        props["baseline_model_id"] = baseline_id
    if res["baseline_model"]:
        props["baseline_model"] = res["baseline_model"]
    props.update({k: float(v) for k, v in gate.headline(res).items()})
    return props
