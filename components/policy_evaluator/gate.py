"""Plain functions behind the PolicyEvaluator (issue 16): the logged columns of raw
tf.Examples, a policy's greedy outputs in batches, the off-policy estimates of the candidate
and the baseline (``components/off_policy/estimators.py``), the reward model's errors and
AUC, and the thresholds applied to them. No TFX; TensorFlow only to parse tf.Examples and
load the SavedModels (the executor passes ``predict`` callables in, the tests pass fakes).

The gate compares **point estimates** with the thresholds (as TFMA compares its metrics):
``lower_bound`` / ``upper_bound`` on the estimate over the whole eval split,
``absolute_change`` / ``relative_change`` on candidate - baseline (for a policy value, higher
and the AUC, higher is better: the change must be >= the threshold; for mse/rmse/mae,
lower is better: <=). An undefined AUC (one kind of reward only) fails its thresholds. The
bootstrap intervals are recorded beside every verdict (``interval`` in ``ope.json``) but do
not decide it. With no baseline, change thresholds are skipped ("no baseline yet").
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np

from tfxkit.components.off_policy import estimators

# eval metric name -> estimator (pipelines/config/bandit.py: OPE_METRICS)
OPE = {"policy_value_ips": "ips", "policy_value_snips": "snips", "policy_value_dr": "dr"}
REWARD_MODEL = ("mse", "rmse", "mae", "auc")
HIGHER_IS_BETTER = (*OPE, "auc")  # the errors mse, rmse, mae: lower is better
BOUNDS = ("lower_bound", "upper_bound", "absolute_change", "relative_change")
NO_BASELINE = "no baseline yet: change thresholds are skipped (the first blessed policy)"

Predict = Callable[[List[bytes]], Mapping[str, np.ndarray]]


@dataclasses.dataclass
class Logged:
    """The logged columns of the eval split: one entry per row, in file order."""
    action: List[Any]       # the action name as logged (text) or None
    reward: List[Any]
    propensity: List[Any]

    def __len__(self) -> int:
        return len(self.reward)


def feature_value(feature) -> Any:
    """A tf.Example feature's single value (bytes as text), None when it has none."""
    kind = feature.WhichOneof("kind")
    values = getattr(feature, kind).value if kind else []
    if not values:
        return None
    v = values[0]
    return v.decode() if isinstance(v, bytes) else v


def logged_columns(serialized: Iterable[bytes], action: str, reward: str,
                   propensity: str) -> Logged:
    """The logged action, reward and propensity of each serialized tf.Example (absent
    feature: None, which the estimators' checks report by row)."""
    from tensorflow.core.example import example_pb2

    out = Logged([], [], [])
    for raw in serialized:
        feats = example_pb2.Example.FromString(raw).features.feature
        for column, values in ((action, out.action), (reward, out.reward),
                               (propensity, out.propensity)):
            values.append(feature_value(feats[column]) if column in feats else None)
    return out


@dataclasses.dataclass
class PolicyOutputs:
    """A policy's greedy outputs on the eval rows: pi(a | x) and the reward model's
    predicted reward of every action (rows x actions, in the config's ``actions`` order)."""
    probabilities: np.ndarray
    scores: np.ndarray


def score(predict: Predict, batches: Iterable[List[bytes]], actions: Sequence[str],
          name: str = "candidate") -> PolicyOutputs:
    """``predict`` (the ``greedy`` signature) on every batch: its ``action_probabilities``
    and ``scores``; ValueError when its actions are not ``actions`` in that order."""
    probs, scores = [], []
    for batch in batches:
        out = predict(batch)
        missing = {"action_probabilities", "scores", "action", "action_id"} - set(out)
        if missing:
            raise ValueError(f"{name} policy: its greedy signature lacks {sorted(missing)}; "
                             "export it with pipelines/policy_export.py")
        p = np.asarray(out["action_probabilities"], dtype=float)
        if p.ndim != 2 or p.shape[1] != len(actions):
            raise ValueError(f"{name} policy: {p.shape[-1]} actions, the config has "
                             f"{len(actions)} ({list(actions)})")
        named = [a.decode() if isinstance(a, bytes) else str(a)
                 for a in np.asarray(out["action"]).reshape(-1)]
        ids = np.asarray(out["action_id"]).reshape(-1)
        wrong = [i for i, (a, k) in enumerate(zip(named, ids)) if a != actions[int(k)]]
        if wrong:
            i = wrong[0]
            raise ValueError(f"{name} policy: action id {int(ids[i])} is {named[i]!r}, the "
                             f"config's actions say {actions[int(ids[i])]!r}; it was "
                             "trained on another action list")
        probs.append(p)
        scores.append(np.asarray(out["scores"], dtype=float))
    if not probs:
        raise ValueError("no eval rows to score")
    return PolicyOutputs(np.concatenate(probs), np.concatenate(scores))


UNDEFINED = {"auc": "the eval split's rewards are all positive or none is (AUC needs "
                   "both)"}


def reward_model_errors(action: np.ndarray, reward: np.ndarray,
                        scores: np.ndarray) -> Dict[str, Optional[float]]:
    """mse, rmse and mae of the reward model's prediction of the logged action's reward,
    and its AUC (scikit-learn's): that prediction ranking the rows with a positive reward
    (a click) above the rest; None when the split has only one of the two."""
    from sklearn.metrics import roc_auc_score

    predicted = scores[np.arange(len(action)), action]
    err = predicted - reward
    mse = float(np.mean(err ** 2))
    positive = np.asarray(reward) > 0
    auc = (float(roc_auc_score(positive, predicted)) if 0 < positive.sum() < len(positive)
           else None)
    return {"mse": mse, "rmse": math.sqrt(mse), "mae": float(np.mean(np.abs(err))),
            "auc": auc}


def _estimates(report: Mapping[str, estimators.Estimate]) -> Dict[str, Dict[str, float]]:
    return {f"policy_value_{k}": v.as_dict() for k, v in report.items()}


def evaluate(logged: Logged, candidate: PolicyOutputs, baseline: Optional[PolicyOutputs],
             bandit: Mapping[str, Any], label: str, thresholds: Sequence[Mapping[str, Any]],
             bootstrap: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Every estimate, interval, change and verdict (``ope.json``'s content): the candidate's
    and the baseline's IPS / SNIPS / DR policy values with bootstrap intervals, their paired
    change, the reward models' errors, and ``blessed`` with each threshold's verdict."""
    boot = {"resamples": 500, "level": 0.95, "seed": 0, **(bootstrap or {})}
    columns = {"action": bandit["action"], "reward": label, "propensity": bandit["propensity"]}
    actions = list(bandit["actions"])
    # the checks name the config's columns and the first bad row
    propensity = estimators.check_propensity(logged.propensity, columns["propensity"])
    reward = estimators.check_reward(_present(logged.reward, columns["reward"]),
                                     columns["reward"])
    action = estimators.action_indices(_present(logged.action, columns["action"]), actions,
                                       columns["action"])
    opts = dict(level=float(boot["level"]), n_resamples=int(boot["resamples"]),
                seed=int(boot["seed"]), columns=columns)
    cand = estimators.ope_report(action, reward, propensity, candidate.probabilities,
                                 candidate.scores, **opts)
    out: Dict[str, Any] = {
        "n": len(reward), "columns": columns, "actions": actions,
        "bootstrap": {"resamples": opts["n_resamples"], "level": opts["level"],
                      "seed": opts["seed"]},
        "logged_reward_mean": float(np.mean(reward)),
        "candidate": {**_estimates(cand),
                      **reward_model_errors(action, reward, candidate.scores)},
        "baseline": None, "change": None,
    }
    if baseline is not None:
        base = estimators.ope_report(action, reward, propensity, baseline.probabilities,
                                     baseline.scores, **opts)
        change = estimators.ope_compare(action, reward, propensity, candidate.probabilities,
                                        baseline.probabilities, candidate.scores,
                                        baseline.scores, **opts)
        out["baseline"] = {**_estimates(base),
                           **reward_model_errors(action, reward, baseline.scores)}
        out["change"] = _estimates(change)
    verdicts = judge(out["candidate"], out["baseline"], out["change"], thresholds)
    failed = [v for v in verdicts if v["passed"] is False]
    out["thresholds"] = verdicts
    # blessed: no threshold failed and at least one was checked (not only skipped ones)
    out["blessed"] = not failed and any(v["passed"] for v in verdicts)
    out["reason"] = reason(verdicts)
    return out


def _present(values: List[Any], column: str) -> List[Any]:
    missing = [i for i, v in enumerate(values) if v is None]
    if missing:
        more = len(missing) - 1
        raise ValueError(f"column '{column}': row {missing[0]} is missing"
                         + (f" (and {more} more row{'s' if more > 1 else ''})" if more else "")
                         + "; every logged row needs its action, reward and propensity")
    return values


def _value_of(entry) -> float:
    return float(entry["value"]) if isinstance(entry, Mapping) else float(entry)


def _interval_of(entry) -> Optional[List[float]]:
    return [entry["lower"], entry["upper"]] if isinstance(entry, Mapping) else None


def check_thresholds(thresholds: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """The thresholds as the component records them (``name`` and the bounds given);
    ValueError for a metric that is not a bandit's, a threshold without a bound, or no
    absolute bound at all (change thresholds alone never bless the first policy)."""
    out = []
    for t in thresholds:
        t = dict(t)  # eval.metrics[] dumped: name, the bounds, slices ({} for a bandit)
        if t.pop("slices", None):
            raise ValueError(f"threshold {t.get('name')}: slices are not gated here; the "
                             "policy's metrics are computed on the whole eval split")
        unknown = sorted(set(t) - {"name", *BOUNDS})
        if unknown:
            raise ValueError(f"threshold {t.get('name')}: unknown settings {unknown}")
        if t.get("name") not in OPE and t.get("name") not in REWARD_MODEL:
            raise ValueError(f"threshold {t.get('name')!r}: not a bandit metric; known: "
                             f"{', '.join([*OPE, *REWARD_MODEL])}")
        if all(t.get(b) is None for b in BOUNDS):
            raise ValueError(f"threshold {t['name']}: give at least one of "
                             f"{', '.join(BOUNDS)}")
        out.append({k: v for k, v in t.items() if v is not None})
    if not any(t.get("lower_bound") is not None or t.get("upper_bound") is not None
               for t in out):
        raise ValueError("thresholds: give at least one lower_bound or upper_bound; change "
                         "thresholds alone never bless the first policy (no baseline yet)")
    return out


def judge(candidate: Mapping[str, Any], baseline: Optional[Mapping[str, Any]],
          change: Optional[Mapping[str, Any]],
          thresholds: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """One verdict per (metric, bound) given: ``passed`` True / False, or None when skipped
    (a change threshold with no baseline), with the value compared, its interval and the
    reason in words. Point estimates decide; intervals are recorded."""
    verdicts = []
    for t in thresholds:
        name = t["name"]
        if name not in OPE and name not in REWARD_MODEL:
            raise ValueError(f"eval.metrics: {name!r} is not a bandit metric; known: "
                             f"{', '.join([*OPE, *REWARD_MODEL])}")
        higher = name in HIGHER_IS_BETTER
        entry = candidate[name]
        for bound in BOUNDS:
            limit = t.get(bound)
            if limit is None:
                continue
            v = {"metric": name, "bound": bound, "threshold": float(limit),
                 "direction": "higher is better" if higher else "lower is better"}
            if entry is None or (baseline is not None and bound not in ("lower_bound",
                                                                         "upper_bound")
                                 and baseline.get(name) is None):
                v.update(value=None, interval=None, passed=False,
                         reason=f"{name} is undefined: {UNDEFINED.get(name, 'no value')}")
            elif bound in ("lower_bound", "upper_bound"):
                value = _value_of(entry)
                ok = value >= limit if bound == "lower_bound" else value <= limit
                v.update(value=value, interval=_interval_of(entry), passed=ok,
                         reason=_bound_reason(name, value, bound, limit, ok))
            elif baseline is None:
                v.update(value=None, interval=None, passed=None, reason=NO_BASELINE)
            else:
                v.update(_change(name, bound, limit, higher, candidate, baseline, change))
            verdicts.append(v)
    return verdicts


def _bound_reason(name: str, value: float, bound: str, limit: float, ok: bool) -> str:
    op = {("lower_bound", True): ">=", ("lower_bound", False): "<",
          ("upper_bound", True): "<=", ("upper_bound", False): ">"}[(bound, ok)]
    return f"{name} {value:.6g} {op} {bound} {limit:g}"


def _change(name: str, bound: str, limit: float, higher: bool, candidate, baseline,
            change) -> Dict[str, Any]:
    base = _value_of(baseline[name])
    if name in OPE:  # the paired estimate of the difference and its interval
        diff, interval = _value_of(change[name]), _interval_of(change[name])
    else:
        diff, interval = _value_of(candidate[name]) - base, None
    if bound == "absolute_change":
        value, what = diff, "change"
    elif base == 0:
        return {"value": None, "interval": None, "baseline": base, "passed": False,
                "reason": f"{name}: the baseline's value is 0, a relative change is "
                          "undefined"}
    else:  # relative to the baseline's magnitude, so its sign keeps its meaning
        value, what = diff / abs(base), "relative change"
        interval = None if interval is None else [x / abs(base) for x in interval]
    ok = value >= limit if higher else value <= limit
    op = (">=" if ok else "<") if higher else ("<=" if ok else ">")
    return {"value": value, "interval": interval, "baseline": base, "passed": ok,
            "reason": f"{name} {what} vs baseline {value:+.6g} {op} {bound} {limit:g}"}


def reason(verdicts: Sequence[Mapping[str, Any]]) -> str:
    """The gate's decision in one line: what failed, else what passed (and was skipped)."""
    if not verdicts:
        return "no thresholds: a policy is blessed only against a threshold"
    failed = [v["reason"] for v in verdicts if v["passed"] is False]
    if failed:
        return "not blessed: " + "; ".join(failed)
    passed = [v["reason"] for v in verdicts if v["passed"]]
    skipped = [v for v in verdicts if v["passed"] is None]
    if not passed:
        return "not blessed: every threshold was skipped (" + NO_BASELINE + ")"
    return "blessed: " + "; ".join(passed) + (
        f" ({len(skipped)} change threshold(s) skipped: no baseline yet)" if skipped else "")


def headline(result: Mapping[str, Any]) -> Dict[str, float]:
    """The numbers recorded as custom properties of the blessing: each policy value with its
    interval, the baseline's and the change's, and the reward model's errors."""
    out: Dict[str, float] = {"n": result["n"]}
    for side, prefix in (("candidate", ""), ("baseline", "baseline_"), ("change", "change_")):
        for name, entry in (result.get(side) or {}).items():
            if isinstance(entry, Mapping):
                out[prefix + name] = entry["value"]
                out[prefix + name + "_lower"] = entry["lower"]
                out[prefix + name + "_upper"] = entry["upper"]
            elif entry is not None:  # an undefined AUC is left out
                out[prefix + name] = entry
    return out
