"""A synthetic newsletter (contextual bandit) generator with a known true model (issue 16).

Each week every subscriber gets one newsletter, filled by one of 12 recommenders (the
actions). The logging policy picks the recommender with known probabilities (a softmax
over a deliberately mediocre score, every action at least ``FLOOR``); the reward is +1
for a click, -1 for a click followed by an unsubscribe, 0 otherwise.

The true model is fixed (the tables below), so for any contexts the expected reward of
every action is known: ``expected_rewards`` (rows x actions), the value of any policy
given its per-action probabilities (``policy_value``), of the best one
(``optimal_policy_value``) and of the logging one (``logging_policy_value``). On 100,000
subscribers (tests/unit/pipelines/datasets/test_newsletter.py): optimal 0.194, logging
0.098, uniformly random 0.087, the best single recommender 0.120, and greedy on clicks
alone (blind to unsubscribes) 0.168.

Files: ``write_weeks`` writes one CSV per week, ``newsletter-YYYY-MM-DD.csv`` (the week's
Monday: a date span), with ``COLUMNS``; ``write_users`` the inference file (user id and
context, no action or reward) for batch prediction by user id.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
from typing import Dict, List, Mapping, Sequence, Union

import numpy as np

ACTIONS = ["bestsellers", "new_arrivals", "deals", "price_drops", "recently_viewed",
           "similar_items", "brand_affinity", "trending", "editorial", "seasonal",
           "local_picks", "gadgets"]
COUNTRIES = {"ch": 0.55, "de": 0.2, "at": 0.1, "fr": 0.1, "it": 0.05}
DEVICES = {"mobile": 0.55, "desktop": 0.35, "tablet": 0.1}
CONTEXT_COLUMNS = ["age", "tenure_weeks", "country", "device", "past_clicks"]
COLUMNS = ["user_id", *CONTEXT_COLUMNS, "action", "reward", "propensity", "week"]
USER_COLUMNS = ["user_id", *CONTEXT_COLUMNS]
FLOOR = 0.02  # the logging policy's least probability of any action

# The true model: logit = base[a] + weights[a] . features(x), features in FEATURES order
# (standardised: ``_features``). One row per action, in ACTIONS order.
FEATURES = ["young", "tenure", "engaged", "mobile", "desktop", "ch", "de_at", "fr_it"]
#                      young tenure engaged mobile desktop   ch  de_at fr_it
_CLICK = np.array([
    [-2.2, 0.0, 0.0, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0],      # bestsellers: broad, modest
    [-2.4, 0.8, -0.3, 0.2, 0.2, 0.0, 0.0, 0.0, 0.0],     # new_arrivals: the young
    [-1.6, 0.2, -0.2, -0.3, 0.3, 0.0, 0.0, 0.2, 0.0],    # deals: many clicks ...
    [-1.9, 0.0, 0.0, 0.3, 0.0, 0.2, 0.0, 0.3, 0.0],      # price_drops: ... and unsubscribes
    [-2.8, 0.0, 0.3, 1.1, 0.0, 0.0, 0.0, 0.0, 0.0],      # recently_viewed: engaged users
    [-2.6, 0.0, 0.4, 0.7, 0.0, 0.3, 0.0, 0.0, 0.0],      # similar_items
    [-2.9, -0.2, 0.9, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0],     # brand_affinity: long tenure
    [-2.5, 0.9, -0.4, 0.0, 0.6, -0.4, 0.0, 0.0, 0.0],    # trending: young, on mobile
    [-2.9, -0.9, 0.3, 0.0, -0.3, 0.6, 0.0, 0.0, 0.0],    # editorial: older, desktop
    [-2.6, 0.0, 0.0, 0.0, 0.0, 0.0, -0.5, 0.8, -0.3],    # seasonal: de/at
    [-2.7, 0.0, 0.2, 0.0, 0.0, 0.0, 0.9, -0.6, -0.6],    # local_picks: ch
    [-2.8, 0.5, 0.0, 0.3, -0.3, 0.7, 0.0, 0.0, 0.5],     # gadgets: young, desktop
])
# P(unsubscribe | click): loyal and engaged users leave less; deals push people away.
_UNSUB = np.array([
    [-2.6, 0.0, -0.4, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-2.4, -0.2, -0.3, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-0.6, 0.0, 0.6, -0.2, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-0.9, 0.0, 0.4, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-2.8, 0.0, -0.4, -0.4, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-2.8, 0.0, -0.4, -0.4, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-2.6, 0.0, -0.5, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-2.2, -0.3, -0.2, -0.3, 0.3, 0.0, 0.0, 0.0, 0.0],
    [-3.0, 0.3, -0.4, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-2.4, 0.0, -0.3, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-2.6, 0.0, -0.3, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
    [-2.3, -0.2, -0.3, -0.3, 0.0, 0.0, 0.0, 0.0, 0.0],
])
# The logging policy's score: popularity (the click base) plus half the true click weights
# and half another recommender's (rows rolled by 5); it knows nothing of unsubscribes.
_LOGGING = np.column_stack([_CLICK[:, 0],
                            0.5 * _CLICK[:, 1:] + 0.5 * np.roll(_CLICK[:, 1:], 5, axis=0)])
_LOGGING_TEMPERATURE = 1.0
Contexts = Mapping[str, Sequence]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _features(contexts: Contexts) -> np.ndarray:
    """The standardised features (rows x len(FEATURES)) the true model reads."""
    age = np.asarray(contexts["age"], dtype=float)
    tenure = np.asarray(contexts["tenure_weeks"], dtype=float)
    clicks = np.asarray(contexts["past_clicks"], dtype=float)
    country = np.asarray(contexts["country"]).astype(str)
    device = np.asarray(contexts["device"]).astype(str)
    return np.column_stack([
        (40.0 - age) / 15.0,
        (np.log1p(tenure) - 4.0) / 1.2,
        (np.log1p(clicks) - 1.0) / 0.7,
        device == "mobile",
        device == "desktop",
        country == "ch",
        np.isin(country, ["de", "at"]),
        np.isin(country, ["fr", "it"]),
    ]).astype(float)


def _logits(table: np.ndarray, contexts: Contexts) -> np.ndarray:
    return table[:, 0] + _features(contexts) @ table[:, 1:].T


def click_probability(contexts: Contexts) -> np.ndarray:
    """P(click | user, action): rows x actions."""
    return _sigmoid(_logits(_CLICK, contexts))


def unsubscribe_probability(contexts: Contexts) -> np.ndarray:
    """P(unsubscribe | click, user, action): rows x actions."""
    return _sigmoid(_logits(_UNSUB, contexts))


def expected_rewards(contexts: Contexts) -> np.ndarray:
    """The true expected reward of every action (rows x actions):
    P(click) * (1 - 2 P(unsubscribe | click))."""
    return click_probability(contexts) * (1.0 - 2.0 * unsubscribe_probability(contexts))


def action_index(actions: Sequence[Union[int, str]]) -> np.ndarray:
    """Action names (or indices) as indices into ACTIONS."""
    arr = np.asarray(actions)
    if arr.dtype.kind in "iu":
        return arr.astype(int)
    lookup = {a: i for i, a in enumerate(ACTIONS)}
    unknown = sorted({str(a) for a in arr.tolist()} - set(lookup))
    if unknown:
        raise ValueError(f"unknown actions {unknown}; known: {ACTIONS}")
    return np.array([lookup[str(a)] for a in arr.tolist()], dtype=int)


def expected_reward(contexts: Contexts, actions: Sequence[Union[int, str]]) -> np.ndarray:
    """The true expected reward of each row's action (names or indices)."""
    q = expected_rewards(contexts)
    return q[np.arange(len(q)), action_index(actions)]


def logging_probabilities(contexts: Contexts, floor: float = FLOOR) -> np.ndarray:
    """The logging policy's probability of every action (rows x actions, rows sum to 1,
    each >= ``floor``)."""
    if not 0.0 <= floor <= 1.0 / len(ACTIONS):
        raise ValueError(f"floor must be in [0, 1/{len(ACTIONS)}], got {floor}")
    score = _logits(_LOGGING, contexts) / _LOGGING_TEMPERATURE
    p = np.exp(score - score.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return floor + (1.0 - floor * len(ACTIONS)) * p


def policy_value(contexts: Contexts, probs: np.ndarray) -> float:
    """The true value (mean expected reward per user) of a policy that picks action a for
    row i with probability ``probs[i, a]``."""
    probs = np.asarray(probs, dtype=float)
    q = expected_rewards(contexts)
    if probs.shape != q.shape:
        raise ValueError(f"probs must be rows x actions {q.shape}, got {probs.shape}")
    return float(np.mean(np.sum(probs * q, axis=1)))


def optimal_actions(contexts: Contexts) -> np.ndarray:
    """The best action (index) for each row."""
    return np.argmax(expected_rewards(contexts), axis=1)


def optimal_policy_value(contexts: Contexts) -> float:
    return float(np.mean(np.max(expected_rewards(contexts), axis=1)))


def logging_policy_value(contexts: Contexts, floor: float = FLOOR) -> float:
    return policy_value(contexts, logging_probabilities(contexts, floor))


def users(n: int, seed: int = 0, first_id: int = 0) -> Dict[str, np.ndarray]:
    """``n`` subscribers: ``USER_COLUMNS`` (numpy arrays), as of the first week."""
    rng = np.random.default_rng([seed, 16])
    age = np.clip(np.round(rng.normal(40, 13, n)), 18, 85).astype(int)
    tenure = np.minimum(rng.exponential(80, n).astype(int), 600)
    clicks = rng.poisson(0.5 + np.log1p(tenure) * 0.8)
    return {"user_id": np.arange(first_id, first_id + n), "age": age, "tenure_weeks": tenure,
            "country": rng.choice(list(COUNTRIES), n, p=list(COUNTRIES.values())),
            "device": rng.choice(list(DEVICES), n, p=list(DEVICES.values())),
            "past_clicks": clicks}


def at_week(population: Dict[str, np.ndarray], weeks: int) -> Dict[str, np.ndarray]:
    """The subscribers ``weeks`` weeks later (tenure grows; the rest stays)."""
    out = dict(population)
    out["tenure_weeks"] = np.asarray(population["tenure_weeks"]) + weeks
    return out


def log_week(contexts: Contexts, week: dt.date, seed: int = 0,
             floor: float = FLOOR) -> Dict[str, np.ndarray]:
    """One week of logged feedback for ``contexts``: the logging policy's action, its
    propensity (exact: a float64 written at full precision) and the reward drawn from
    the true model (``COLUMNS``, numpy arrays)."""
    rng = np.random.default_rng([seed, week.toordinal()])
    contexts = {c: np.asarray(contexts[c]) for c in USER_COLUMNS}
    n = len(contexts["user_id"])
    probs = logging_probabilities(contexts, floor)
    cum = probs.cumsum(axis=1)
    cum[:, -1] = 1.0  # no rounding gap past the last action
    chosen = (cum > rng.random((n, 1))).argmax(axis=1)
    rows = np.arange(n)
    click = rng.random(n) < click_probability(contexts)[rows, chosen]
    unsub = click & (rng.random(n) < unsubscribe_probability(contexts)[rows, chosen])
    out = dict(contexts)
    out.update({"action": np.array(ACTIONS)[chosen],
                "reward": np.where(unsub, -1, np.where(click, 1, 0)),
                "propensity": probs[rows, chosen], "week": np.full(n, week.isoformat())})
    return out


def _write_csv(path: str, columns: List[str], data: Mapping[str, Sequence]) -> str:
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        # tolist(): Python scalars, floats written as their shortest exact repr
        w.writerows(zip(*(np.asarray(data[c]).tolist() for c in columns)))
    os.replace(tmp, path)
    return path


def write_weeks(out_dir: str, weeks: int = 4, users_per_week: int = 10_000,
                start: str = "2026-01-05", seed: int = 0,
                floor: float = FLOOR) -> List[str]:
    """Writes ``weeks`` files ``newsletter-YYYY-MM-DD.csv`` (Mondays from ``start``), one
    row per subscriber per week: the same ``users_per_week`` subscribers every week."""
    if weeks < 1 or users_per_week < 1:
        raise ValueError("weeks and users_per_week must be positive")
    os.makedirs(out_dir, exist_ok=True)
    first = dt.date.fromisoformat(start)
    population = users(users_per_week, seed)
    files = []
    for i in range(weeks):
        week = first + dt.timedelta(weeks=i)
        data = log_week(at_week(population, i), week, seed, floor)
        files.append(_write_csv(os.path.join(out_dir, f"newsletter-{week.isoformat()}.csv"),
                                COLUMNS, data))
    return files


def write_users(path: str, n_users: int = 10_000, seed: int = 0,
                weeks: int = 4) -> str:
    """The inference file: the subscribers of ``write_weeks`` (same ``seed`` and count) as
    of the week after the ``weeks`` logged ones (``USER_COLUMNS``: no action, no reward)."""
    if n_users < 1:
        raise ValueError("n_users must be positive")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return _write_csv(path, USER_COLUMNS, at_week(users(n_users, seed), weeks))


def read_csv(path: str) -> Dict[str, np.ndarray]:
    """A file of ``write_weeks`` or ``write_users`` as columns (numbers as numbers)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    out = {}
    for c in rows[0]:
        vals = [r[c] for r in rows]
        try:
            out[c] = np.array(vals, dtype=float)
        except ValueError:
            out[c] = np.array(vals)
    return out
