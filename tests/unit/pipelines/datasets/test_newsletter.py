"""The newsletter bandit generator: deterministic, one file per week, a logging policy whose
propensities are the ones logged, rewards drawn from the known model, and an optimal
policy that beats the logging one by a stated margin."""
import csv
import datetime as dt

import numpy as np
import pytest

from tfxkit.pipelines.datasets import newsletter as nl

K = len(nl.ACTIONS)


@pytest.fixture(scope="module")
def population():
    """A large sample of subscribers: the population values the tests state."""
    return nl.users(100_000, seed=123)


def test_deterministic_one_file_per_week(tmp_path):
    a = nl.write_weeks(str(tmp_path / "a"), weeks=3, users_per_week=300, seed=5)
    b = nl.write_weeks(str(tmp_path / "b"), weeks=3, users_per_week=300, seed=5)
    c = nl.write_weeks(str(tmp_path / "c"), weeks=3, users_per_week=300, seed=6)
    assert [open(x).read() for x in a] == [open(x).read() for x in b]
    assert [open(x).read() for x in a] != [open(x).read() for x in c]
    assert [x.rsplit("/", 1)[1] for x in a] == [
        "newsletter-2026-01-05.csv", "newsletter-2026-01-12.csv", "newsletter-2026-01-19.csv"]
    weeks = [list(csv.DictReader(open(f))) for f in a]
    assert list(weeks[0][0]) == nl.COLUMNS
    assert [{r["week"] for r in w} for w in weeks] == [
        {"2026-01-05"}, {"2026-01-12"}, {"2026-01-19"}]
    # the same subscribers every week, a week older each week; the rest of the context stays
    assert [[r["user_id"] for r in w] for w in weeks] == [[str(i) for i in range(300)]] * 3
    t0, t2 = (np.array([int(r["tenure_weeks"]) for r in w]) for w in (weeks[0], weeks[2]))
    assert np.all(t2 == t0 + 2)
    assert [r["country"] for r in weeks[0]] == [r["country"] for r in weeks[2]]
    # but the actions are drawn again each week
    assert [r["action"] for r in weeks[0]] != [r["action"] for r in weeks[1]]
    assert {r["action"] for w in weeks for r in w} <= set(nl.ACTIONS)
    assert {r["reward"] for w in weeks for r in w} == {"-1", "0", "1"}


def test_inference_file_is_the_users_after_the_logged_weeks(tmp_path):
    logged = nl.write_weeks(str(tmp_path / "w"), weeks=4, users_per_week=50, seed=2)
    path = nl.write_users(str(tmp_path / "users.csv"), n_users=50, seed=2, weeks=4)
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == nl.USER_COLUMNS  # no action, reward, propensity
    last = list(csv.DictReader(open(logged[-1])))
    assert [r["user_id"] for r in rows] == [r["user_id"] for r in last]
    assert [int(r["tenure_weeks"]) for r in rows] == [int(r["tenure_weeks"]) + 1 for r in last]


def test_logged_propensities_are_the_logging_policys_and_match_the_choices():
    ctx = nl.users(60_000, seed=9)
    log = nl.log_week(ctx, dt.date(2026, 1, 5), seed=9)
    probs = nl.logging_probabilities(ctx)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert probs.min() >= nl.FLOOR - 1e-12
    chosen = nl.action_index(log["action"])
    rows = np.arange(len(chosen))
    assert np.array_equal(log["propensity"], probs[rows, chosen])
    # choice frequencies per action: the mean propensity within 4 standard errors
    n = len(chosen)
    freq = np.bincount(chosen, minlength=K) / n
    mean_p = probs.mean(axis=0)
    assert np.all(np.abs(freq - mean_p) < 4 * np.sqrt(mean_p * (1 - mean_p) / n)), (freq, mean_p)
    # and within a segment (mobile users) too: the propensities depend on the context
    mobile = np.array(ctx["device"]) == "mobile"
    freq_m = np.bincount(chosen[mobile], minlength=K) / mobile.sum()
    assert np.all(np.abs(freq_m - probs[mobile].mean(axis=0))
                  < 4 * np.sqrt(probs[mobile].mean(axis=0) / mobile.sum()))
    assert np.abs(probs[mobile].mean(axis=0) - probs[~mobile].mean(axis=0)).max() > 0.01


def test_rewards_follow_the_true_model():
    ctx = nl.users(60_000, seed=4)
    log = nl.log_week(ctx, dt.date(2026, 2, 2), seed=4)
    a = nl.action_index(log["action"])
    r = np.array(log["reward"])
    rows = np.arange(len(a))
    p_click = nl.click_probability(ctx)[rows, a]
    q = nl.expected_reward(ctx, log["action"])
    assert np.allclose(q, nl.expected_rewards(ctx)[rows, a])
    assert np.allclose(q, p_click * (1 - 2 * nl.unsubscribe_probability(ctx)[rows, a]))
    n = len(r)
    assert abs(np.mean(r != 0) - p_click.mean()) < 4 * np.sqrt(np.mean(p_click) / n)
    assert abs(r.mean() - q.mean()) < 4 * r.std() / np.sqrt(n)
    # unsubscribes hurt: among clicks on deals a large share turns into -1
    deals = a == nl.ACTIONS.index("deals")
    assert np.mean(r[deals & (r != 0)] == -1) > 0.2


def test_optimal_beats_logging_by_the_stated_margin(population):
    """Population values (100,000 subscribers): optimal 0.194, logging 0.098, uniform
    0.087, best single recommender 0.120, greedy on clicks alone 0.168."""
    q = nl.expected_rewards(population)
    optimal = nl.optimal_policy_value(population)
    logging = nl.logging_policy_value(population)
    uniform = nl.policy_value(population, np.full(q.shape, 1 / K))
    click_greedy = np.eye(K)[nl.click_probability(population).argmax(axis=1)]
    assert 0.18 < optimal < 0.21 and 0.09 < logging < 0.11
    assert optimal - logging > 0.08 and optimal > 1.8 * logging
    assert logging > uniform + 0.005  # mediocre, not useless
    assert q.mean(axis=0).max() < optimal - 0.06  # no single recommender comes close
    assert nl.policy_value(population, click_greedy) < optimal - 0.02  # unsubscribes matter
    # personalisation: no recommender is best for more than 30% of the subscribers
    best = np.bincount(nl.optimal_actions(population), minlength=K) / len(q)
    assert best.max() < 0.3 and (best > 0.02).sum() >= 8


def test_policy_value_of_known_policies(population):
    ctx = {c: v[:5_000] for c, v in population.items()}
    q = nl.expected_rewards(ctx)
    greedy = np.eye(K)[nl.optimal_actions(ctx)]
    assert nl.policy_value(ctx, greedy) == pytest.approx(nl.optimal_policy_value(ctx))
    assert nl.policy_value(ctx, nl.logging_probabilities(ctx)) == nl.logging_policy_value(ctx)
    assert nl.policy_value(ctx, np.eye(K)[np.zeros(5_000, int)]) == pytest.approx(q[:, 0].mean())
    with pytest.raises(ValueError, match="rows x actions"):
        nl.policy_value(ctx, np.ones((5_000, K - 1)))


def test_values_from_the_written_csv(tmp_path):
    """The true model reads a written file's columns (numbers parsed back from text)."""
    path = nl.write_weeks(str(tmp_path), weeks=1, users_per_week=200, seed=1)[0]
    data = nl.read_csv(path)
    ctx = nl.users(200, seed=1)
    assert np.allclose(nl.expected_reward(data, data["action"]),
                       nl.expected_reward(ctx, data["action"]))
    assert np.allclose(nl.logging_probabilities(data)[np.arange(200),
                                                      nl.action_index(data["action"])],
                       data["propensity"], rtol=0, atol=0)


def test_errors():
    with pytest.raises(ValueError, match="positive"):
        nl.write_weeks("/nonexistent", weeks=0)
    with pytest.raises(ValueError, match="unknown actions \\['nope'\\]"):
        nl.action_index(["deals", "nope"])
    with pytest.raises(ValueError, match="floor"):
        nl.logging_probabilities(nl.users(3), floor=0.2)
