"""Off-policy estimates of a target policy's value from logged bandit feedback (issue 16).

The log has, per row i, the context x_i, the action a_i the logging policy chose with
probability p_i (the propensity), and the reward r_i. The target policy is given as its
per-action probabilities pi(a | x_i) for every row (rows x actions; a greedy policy has one
1 per row), and for doubly robust the reward model's predicted reward q(x_i, a) of every
action (rows x actions). With w_i = pi(a_i | x_i) / p_i:

- IPS:   V = mean_i(w_i r_i)
- SNIPS: V = sum_i(w_i r_i) / sum_i(w_i)
- DR:    V = mean_i(sum_a pi(a | x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)))

Intervals are nonparametric bootstrap percentile intervals: rows resampled with
replacement (the same resamples for every estimator of one call), seeded. Plain numpy, no
TFX: the Evaluator's gate and the tests call these functions. See README.md.
"""
from __future__ import annotations

import dataclasses
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

ESTIMATORS = ("ips", "snips", "dr")
# elements of one (resamples x rows) chunk of the bootstrap: bounds its memory (~32 MB)
_CHUNK_ELEMENTS = 4_000_000


@dataclasses.dataclass(frozen=True)
class Estimate:
    """One estimator's value of a policy with its bootstrap interval over ``n`` rows."""
    estimator: str
    value: float
    lower: float
    upper: float
    n: int
    level: float

    def as_dict(self) -> Dict[str, float]:
        return dataclasses.asdict(self)


def _bad_rows(ok: np.ndarray) -> np.ndarray:
    return np.flatnonzero(~ok)


def _describe(column: str, bad: np.ndarray, values: np.ndarray, what: str) -> str:
    first = int(bad[0])
    value = np.asarray(values)[first].tolist()  # a Python scalar: its repr on numpy 1 and 2
    return f"column '{column}': row {first} is {value!r}{_more(bad)}, {what}"


def _more(bad: np.ndarray) -> str:
    k = len(bad) - 1
    return "" if k == 0 else f" (and {k} more row{'s' if k > 1 else ''})"


def _as_floats(values, column: str, what: str) -> np.ndarray:
    """A column as floats, missing (None, NaN) as NaN; ValueError naming the first row
    that is not a number."""
    try:
        return np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        pass
    raw = np.asarray(values, dtype=object).reshape(-1)
    out = np.full(raw.shape, np.nan)
    for i, v in enumerate(raw.tolist()):
        if v is None or v == "":
            continue
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"column '{column}': row {i} is {v!r}, not a number; "
                             f"{what}") from None
    return out


def check_propensity(propensity, column: str = "propensity") -> np.ndarray:
    """The logged propensities as floats; ValueError naming the column and the first row
    (0-based position) that is missing or outside (0, 1]."""
    values = _as_floats(propensity, column, "a propensity must be in (0, 1]")
    missing = _bad_rows(~np.isnan(values))
    if len(missing):
        raise ValueError(f"column '{column}': row {int(missing[0])} is missing"
                         f"{_more(missing)}; "
                         "every row needs the probability in (0, 1] with which the logging "
                         "policy chose its action")
    outside = _bad_rows((values > 0.0) & (values <= 1.0))
    if len(outside):
        raise ValueError(_describe(column, outside, values,
                                   "outside (0, 1]; a propensity is the probability "
                                   "with which the logging policy chose the action"))
    return values


def check_reward(reward, column: str = "reward") -> np.ndarray:
    """The logged rewards as floats; ValueError naming the first row missing or not
    finite."""
    values = _as_floats(reward, column, "rewards must be numbers")
    bad = _bad_rows(np.isfinite(values))
    if len(bad):
        raise ValueError(_describe(column, bad, values, "not a finite number"))
    return values


def check_action(action, n_actions: int, column: str = "action") -> np.ndarray:
    """Action indices in [0, n_actions)."""
    values = np.asarray(action).reshape(-1)
    if values.dtype.kind == "f":  # a column with a missing value reads as floats
        bad = _bad_rows(np.isfinite(values) & (values == np.round(values)))
        if len(bad):
            raise ValueError(_describe(column, bad, values, "not an action index"))
        values = values.astype(int)
    elif values.dtype.kind not in "iu" and len(values):
        raise ValueError(f"column '{column}': actions must be indices (integers) in "
                         f"[0, {n_actions}); map names with action_indices()")
    bad = _bad_rows((values >= 0) & (values < n_actions))
    if len(bad):
        raise ValueError(_describe(column, bad, values, f"not an action in [0, {n_actions})"))
    return values.astype(int)


def action_indices(actions: Sequence, names: Sequence[str],
                   column: str = "action") -> np.ndarray:
    """Action names as indices into ``names``; ValueError naming the first unknown row."""
    lookup = {str(a): i for i, a in enumerate(names)}
    out = np.empty(len(actions), dtype=int)
    for i, a in enumerate(list(actions)):
        try:
            out[i] = lookup[str(a)]
        except KeyError:
            raise ValueError(f"column '{column}': row {i} is {a!r}, not one of the "
                             f"actions {list(names)}") from None
    return out


def check_policy(probs, n: int, name: str = "target policy") -> np.ndarray:
    """A policy's per-action probabilities: rows x actions, >= 0, each row summing to 1."""
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2 or p.shape[0] != n:
        raise ValueError(f"{name}: expected {n} rows x actions, got shape {p.shape}")
    sums = p.sum(axis=1)
    bad = _bad_rows(np.isfinite(sums) & np.all(p >= 0, axis=1) & np.isclose(sums, 1.0,
                                                                             atol=1e-6))
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"{name}: row {i} is not a probability distribution over the "
                         f"actions (sum {sums[i]:.6g}, min {p[i].min():.6g})")
    return p


def check_reward_model(reward_hat, shape: Tuple[int, int],
                       name: str = "reward model") -> np.ndarray:
    q = np.asarray(reward_hat, dtype=float)
    if q.shape != shape:
        raise ValueError(f"{name}: expected rows x actions {shape}, got shape {q.shape}")
    bad = _bad_rows(np.all(np.isfinite(q), axis=1))
    if len(bad):
        raise ValueError(f"{name}: row {int(bad[0])} has a prediction that is not finite")
    return q


def _inputs(action, reward, propensity, target_probs, columns: Mapping[str, str]):
    reward = check_reward(reward, columns.get("reward", "reward"))
    n = len(reward)
    if n == 0:
        raise ValueError("no logged rows to estimate from")
    propensity = check_propensity(propensity, columns.get("propensity", "propensity"))
    target = check_policy(target_probs, n)
    action = check_action(action, target.shape[1], columns.get("action", "action"))
    if not len(action) == len(propensity) == n:
        raise ValueError(f"action, reward and propensity differ in length: "
                         f"{len(action)}, {n}, {len(propensity)}")
    return action, reward, propensity, target


def _weights(target: np.ndarray, action: np.ndarray, propensity: np.ndarray) -> np.ndarray:
    """w_i = pi(a_i | x_i) / p_i."""
    return target[np.arange(len(action)), action] / propensity


def _terms(estimator: str, action, reward, target, weights,
           reward_hat) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Per-row numerator and (SNIPS only) denominator terms: the estimate is
    sum(num) / sum(den), or mean(num) when den is None."""
    if estimator == "ips":
        return weights * reward, None
    if estimator == "snips":
        return weights * reward, weights
    if estimator == "dr":
        q_logged = reward_hat[np.arange(len(action)), action]
        return np.sum(target * reward_hat, axis=1) + weights * (reward - q_logged), None
    raise ValueError(f"unknown estimator {estimator!r}; choose from {ESTIMATORS}")


def _ratio(num: np.ndarray, den: Optional[np.ndarray]) -> float:
    if den is None:
        return float(np.mean(num))
    total = float(np.sum(den))
    # no row the target policy would choose: SNIPS has nothing to normalise by
    return float(np.sum(num) / total) if total > 0 else 0.0


def _resample_stats(num: np.ndarray, den: Optional[np.ndarray], n_resamples: int,
                    rng: np.random.Generator) -> np.ndarray:
    """The statistic on ``n_resamples`` bootstrap resamples of the rows, in chunks."""
    n = len(num)
    chunk = max(1, _CHUNK_ELEMENTS // n)
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - start)
        idx = rng.integers(0, n, size=(b, n))
        if den is None:
            out[start:start + b] = num[idx].mean(axis=1)
        else:
            total = den[idx].sum(axis=1)
            safe = np.where(total > 0, total, 1.0)
            out[start:start + b] = np.where(total > 0, num[idx].sum(axis=1) / safe, 0.0)
    return out


def _check_level(level: float, n_resamples: int) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples}")


def bootstrap_interval(num: np.ndarray, den: Optional[np.ndarray] = None,
                       level: float = 0.95, n_resamples: int = 1000,
                       seed: int = 0) -> Tuple[float, float]:
    """Percentile bootstrap interval of mean(num) (or sum(num) / sum(den)) at ``level``."""
    _check_level(level, n_resamples)
    return _interval(np.asarray(num, dtype=float),
                     None if den is None else np.asarray(den, dtype=float),
                     level, int(n_resamples), seed)


def _percentiles(stats: np.ndarray, level: float) -> Tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    lower, upper = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(lower), float(upper)


def _interval(num: np.ndarray, den: Optional[np.ndarray], level: float, n_resamples: int,
              seed: int) -> Tuple[float, float]:
    return _percentiles(_resample_stats(num, den, n_resamples, np.random.default_rng(seed)),
                        level)


def _point(estimator: str, action, reward, propensity, target_probs, reward_hat,
           columns: Optional[Mapping[str, str]]) -> float:
    action, reward, propensity, target = _inputs(action, reward, propensity, target_probs,
                                                 columns or {})
    weights = _weights(target, action, propensity)
    if estimator == "dr":
        reward_hat = check_reward_model(reward_hat, target.shape)
    num, den = _terms(estimator, action, reward, target, weights, reward_hat)
    return _ratio(num, den)


def ips(action, reward, propensity, target_probs,
        columns: Optional[Mapping[str, str]] = None) -> float:
    """Inverse propensity scoring: mean(pi(a_i|x_i) / p_i * r_i)."""
    return _point("ips", action, reward, propensity, target_probs, None, columns)


def snips(action, reward, propensity, target_probs,
          columns: Optional[Mapping[str, str]] = None) -> float:
    """Self-normalised IPS: sum(w_i r_i) / sum(w_i), w_i = pi(a_i|x_i) / p_i."""
    return _point("snips", action, reward, propensity, target_probs, None, columns)


def doubly_robust(action, reward, propensity, target_probs, reward_hat,
                  columns: Optional[Mapping[str, str]] = None) -> float:
    """Doubly robust: mean(sum_a pi(a|x_i) q(x_i,a) + w_i (r_i - q(x_i,a_i)))."""
    return _point("dr", action, reward, propensity, target_probs, reward_hat, columns)


def ope_report(action, reward, propensity, target_probs, reward_hat=None,
               estimators: Optional[Sequence[str]] = None, level: float = 0.95,
               n_resamples: int = 1000, seed: int = 0,
               columns: Optional[Mapping[str, str]] = None) -> Dict[str, Estimate]:
    """Every estimator's value and bootstrap interval of the target policy: {name: Estimate}.

    ``estimators`` defaults to IPS and SNIPS, plus DR when ``reward_hat`` is given; every
    estimator sees the same resamples (seeded by ``seed``). ``columns`` names the
    ``action``, ``reward`` and ``propensity`` columns in error messages."""
    _check_level(level, n_resamples)
    action, reward, propensity, target = _inputs(action, reward, propensity, target_probs,
                                                 columns or {})
    weights = _weights(target, action, propensity)
    estimators = _chosen(estimators, reward_hat)
    if "dr" in estimators:
        reward_hat = check_reward_model(reward_hat, target.shape)
    out = {}
    for name in estimators:
        num, den = _terms(name, action, reward, target, weights, reward_hat)
        # a generator per estimator from the same seed: the same resampled rows for each
        lower, upper = _interval(num, den, level, int(n_resamples), seed)
        out[name] = Estimate(name, _ratio(num, den), lower, upper, len(reward), level)
    return out


def _chosen(estimators: Optional[Sequence[str]], reward_hat) -> Sequence[str]:
    if estimators is None:
        return ESTIMATORS if reward_hat is not None else ("ips", "snips")
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown:
        raise ValueError(f"unknown estimators {unknown}; choose from {ESTIMATORS}")
    if "dr" in estimators and reward_hat is None:
        raise ValueError("the dr estimator needs reward_hat (the reward model's "
                         "predicted reward of every action, rows x actions)")
    return estimators


def ope_compare(action, reward, propensity, candidate_probs, baseline_probs,
                reward_hat=None, baseline_reward_hat=None,
                estimators: Optional[Sequence[str]] = None, level: float = 0.95,
                n_resamples: int = 1000, seed: int = 0,
                columns: Optional[Mapping[str, str]] = None) -> Dict[str, Estimate]:
    """The change candidate - baseline of each estimator on the same log, with a paired
    bootstrap interval (both policies scored on the same resampled rows, so what the two
    share cancels): {name: Estimate of the difference}.

    DR scores the candidate with ``reward_hat`` and the baseline with
    ``baseline_reward_hat``, which defaults to ``reward_hat`` (any reward model keeps DR
    unbiased; one shared model makes the difference steadier)."""
    _check_level(level, n_resamples)
    action, reward, propensity, cand = _inputs(action, reward, propensity, candidate_probs,
                                               columns or {})
    base = check_policy(baseline_probs, len(reward), "baseline policy")
    if base.shape != cand.shape:
        raise ValueError(f"baseline policy: expected rows x actions {cand.shape}, got "
                         f"shape {base.shape}")
    w_cand, w_base = _weights(cand, action, propensity), _weights(base, action, propensity)
    estimators = _chosen(estimators, reward_hat)
    q_base = None
    if "dr" in estimators:
        reward_hat = check_reward_model(reward_hat, cand.shape)
        q_base = reward_hat if baseline_reward_hat is None else check_reward_model(
            baseline_reward_hat, cand.shape, "baseline reward model")
    out = {}
    for name in estimators:
        num_c, den_c = _terms(name, action, reward, cand, w_cand, reward_hat)
        num_b, den_b = _terms(name, action, reward, base, w_base, q_base)
        stats = (_resample_stats(num_c, den_c, int(n_resamples), np.random.default_rng(seed))
                 - _resample_stats(num_b, den_b, int(n_resamples),
                                   np.random.default_rng(seed)))
        lower, upper = _percentiles(stats, level)
        out[name] = Estimate(name, _ratio(num_c, den_c) - _ratio(num_b, den_b), lower, upper,
                             len(reward), level)
    return out


def effective_sample_size(action, propensity, target_probs) -> float:
    """(sum w)^2 / sum w^2 of the importance weights: how many rows the estimate is
    really worth (n when the target is the logging policy)."""
    p = check_propensity(propensity)
    target = check_policy(target_probs, len(p))
    w = _weights(target, check_action(action, target.shape[1]), p)
    sq = float(np.sum(w ** 2))
    return float(np.sum(w) ** 2 / sq) if sq > 0 else 0.0
