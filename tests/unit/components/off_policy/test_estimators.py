"""Off-policy estimators against closed-form values, against a row-by-row reference written
from the papers' formulas, and against the newsletter generator's known true values:
unbiased on average, doubly robust with a wrong reward model, DR's bootstrap interval covering
the true value, and validation errors that name the column and row.

(obp, the Open Bandit Pipeline, is not the cross-check here: 0.5.5, its latest, would
downgrade numpy, pandas, scipy, scikit-learn and pyyaml in the lock and bring torch 1.13,
which obp.utils imports at module level; see components/off_policy/README.md.)"""
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from tfxkit.components import off_policy as op
from tfxkit.components.off_policy import estimators as est
from tfxkit.pipelines.datasets import newsletter as nl

K = len(nl.ACTIONS)

# a log small enough to work out by hand: 4 rows, 2 actions
ACTION = [0, 1, 1, 0]
REWARD = [1, 0, 1, -1]
PROPENSITY = [0.5, 0.25, 0.8, 0.4]
TARGET = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.2, 0.8]])
Q_HAT = np.array([[0.5, 0.0], [0.2, 0.4], [0.1, 0.6], [0.0, 0.3]])


def click_greedy(ctx, epsilon=0.1):
    """A target policy unlike the logging one: epsilon-greedy on the click model alone."""
    return (1 - epsilon) * np.eye(K)[nl.click_probability(ctx).argmax(axis=1)] + epsilon / K


def logged(n, seed, week=dt.date(2026, 1, 5)):
    ctx = nl.users(n, seed=seed)
    log = nl.log_week(ctx, week, seed=seed)
    return ctx, nl.action_index(log["action"]), log["reward"], log["propensity"]


def test_closed_form_by_hand():
    # w = pi(a_i | x_i) / p_i = [1/0.5, 0.5/0.25, 1/0.8, 0.2/0.4] = [2, 2, 1.25, 0.5]
    # w r = [2, 0, 1.25, -0.5]: IPS = 2.75 / 4, SNIPS = 2.75 / 5.75
    assert op.ips(ACTION, REWARD, PROPENSITY, TARGET) == pytest.approx(0.6875, abs=1e-15)
    assert op.snips(ACTION, REWARD, PROPENSITY, TARGET) == pytest.approx(11 / 23, abs=1e-15)
    # sum_a pi q = [0.5, 0.3, 0.6, 0.24]; w (r - q(a_i)) = [1.0, -0.8, 0.5, -0.5]
    # DR = (1.64 + 0.2) / 4
    assert op.doubly_robust(ACTION, REWARD, PROPENSITY, TARGET, Q_HAT) == pytest.approx(
        0.46, abs=1e-15)


def reference(action, reward, propensity, target, q_hat):
    """IPS, SNIPS and DR row by row in plain Python, from Dudik et al. (2011) and
    Swaminathan & Joachims (2015): no numpy, no shared code."""
    num_ips = num_dr = den = 0.0
    for i, a in enumerate(action):
        w = float(target[i][a]) / float(propensity[i])
        num_ips += w * float(reward[i])
        den += w
        direct = sum(float(p) * float(q) for p, q in zip(target[i], q_hat[i]))
        num_dr += direct + w * (float(reward[i]) - float(q_hat[i][a]))
    n = len(action)
    return num_ips / n, num_ips / den, num_dr / n


def test_against_a_row_by_row_reference():
    ctx, a, r, p = logged(3000, seed=11)
    target = click_greedy(ctx, 0.2)
    q_hat = nl.expected_rewards(ctx) * 0.8 + 0.01  # any reward model
    ref = reference(a.tolist(), r.tolist(), p.tolist(), target.tolist(), q_hat.tolist())
    got = (op.ips(a, r, p, target), op.snips(a, r, p, target),
           op.doubly_robust(a, r, p, target, q_hat))
    assert got == pytest.approx(ref, rel=1e-12, abs=1e-14)


def test_the_logging_policy_itself_scores_the_mean_reward_exactly():
    ctx, a, r, p = logged(5000, seed=3)
    probs = nl.logging_probabilities(ctx)
    assert np.array_equal(probs[np.arange(len(a)), a], p)  # every weight exactly 1
    assert op.ips(a, r, p, probs) == np.mean(r)
    assert op.snips(a, r, p, probs) == pytest.approx(np.mean(r), abs=1e-15)
    report = op.ope_report(a, r, p, probs, n_resamples=200)
    assert report["ips"].value == np.mean(r)
    assert op.effective_sample_size(a, p, probs) == pytest.approx(len(a))


def test_closed_form_identities():
    ctx, a, r, p = logged(2000, seed=8)
    target = click_greedy(ctx)
    ips = op.ips(a, r, p, target)
    w = target[np.arange(len(a)), a] / p
    # DR with a reward model of zeros is IPS
    assert op.doubly_robust(a, r, p, target, np.zeros(target.shape)) == pytest.approx(ips)
    # with a constant reward model c: DR = c + mean(w (r - c)) = IPS + c (1 - mean w)
    assert op.doubly_robust(a, r, p, target, np.full(target.shape, 0.3)) == pytest.approx(
        ips + 0.3 * (1 - w.mean()))
    # halving every propensity doubles IPS and leaves SNIPS as it was
    assert op.ips(a, r, p / 2, target) == pytest.approx(2 * ips)
    assert op.snips(a, r, p / 2, target) == pytest.approx(op.snips(a, r, p, target))
    # a deterministic target counts only the rows where it agrees with the log
    greedy = np.eye(K)[nl.optimal_actions(ctx)]
    agree = nl.optimal_actions(ctx) == a
    assert op.ips(a, r, p, greedy) == pytest.approx(np.sum(r[agree] / p[agree]) / len(a))
    assert op.snips(a, r, p, greedy) == pytest.approx(
        np.sum(r[agree] / p[agree]) / np.sum(1 / p[agree]))


def test_unbiased_on_average_and_doubly_robust():
    """Over 200 logs of 1,000 users, each estimate minus the true value of the target on the
    same users averages to zero within 4 standard errors; DR stays unbiased with a wrong
    reward model, while that model's direct estimate is far off."""
    errors = {"ips": [], "snips": [], "dr": [], "dr_wrong_model": [], "direct_wrong_model": []}
    for seed in range(200):
        ctx, a, r, p = logged(1000, seed=100 + seed)
        target = click_greedy(ctx)
        q = nl.expected_rewards(ctx)
        wrong = 0.5 * q + 0.05
        truth = nl.policy_value(ctx, target)
        errors["ips"].append(op.ips(a, r, p, target) - truth)
        errors["snips"].append(op.snips(a, r, p, target) - truth)
        errors["dr"].append(op.doubly_robust(a, r, p, target, q) - truth)
        errors["dr_wrong_model"].append(op.doubly_robust(a, r, p, target, wrong) - truth)
        errors["direct_wrong_model"].append(np.mean(np.sum(target * wrong, axis=1)) - truth)
    for name in ("ips", "dr", "dr_wrong_model"):
        e = np.array(errors[name])
        assert abs(e.mean()) < 4 * e.std() / np.sqrt(len(e)), (name, e.mean(), e.std())
    # SNIPS: biased, but O(1/n): small next to its spread
    snips = np.array(errors["snips"])
    assert abs(snips.mean()) < 0.25 * snips.std()
    assert np.mean(errors["direct_wrong_model"]) < -0.02  # the wrong model alone: biased
    # an exact reward model leaves only the reward noise: DR varies less than IPS
    assert np.std(errors["dr"]) < np.std(errors["ips"])


def test_dr_interval_covers_the_true_value():
    """DR with the true reward model, 95% bootstrap interval (300 resamples) on 100 logs of
    2,000 users: it covers the target's true population value (100,000 users) in >= 90
    (94 when written)."""
    population = nl.users(100_000, seed=777)
    truth = nl.policy_value(population, click_greedy(population))
    assert 0.15 < truth < nl.optimal_policy_value(population)  # a good policy, not the best
    covered, widths = 0, []
    for seed in range(100):
        ctx, a, r, p = logged(2000, seed=1000 + seed)
        dr = op.ope_report(a, r, p, click_greedy(ctx), nl.expected_rewards(ctx),
                           estimators=["dr"], level=0.95, n_resamples=300, seed=seed)["dr"]
        assert dr.lower <= dr.value <= dr.upper and dr.n == 2000
        covered += dr.lower <= truth <= dr.upper
        widths.append(dr.upper - dr.lower)
    assert covered >= 90, covered
    assert 0.05 < np.mean(widths) < 0.15  # informative: 0.10 wide when written


def test_bootstrap_is_seeded_and_chunked_like_one_draw(monkeypatch):
    rng = np.random.default_rng(0)
    num = rng.normal(size=500)
    den = rng.random(500)
    a = op.bootstrap_interval(num, level=0.9, n_resamples=400, seed=7)
    assert a == op.bootstrap_interval(num, level=0.9, n_resamples=400, seed=7)
    assert a != op.bootstrap_interval(num, level=0.9, n_resamples=400, seed=8)
    # the reference: every resample drawn at once, in a plain loop
    idx = np.random.default_rng(7).integers(0, 500, size=(400, 500))
    ref = np.quantile([num[i].mean() for i in idx], [0.05, 0.95])
    assert a == pytest.approx(tuple(ref), abs=1e-12)
    ratio = np.quantile([num[i].sum() / den[i].sum() for i in idx], [0.05, 0.95])
    assert op.bootstrap_interval(num, den, 0.9, 400, seed=7) == pytest.approx(tuple(ratio))
    # chunks of 3 resamples draw the same rows as one draw of all of them
    monkeypatch.setattr(est, "_CHUNK_ELEMENTS", 3 * 500)
    assert op.bootstrap_interval(num, level=0.9, n_resamples=400, seed=7) == pytest.approx(a)
    assert op.bootstrap_interval(num, den, 0.9, 400, seed=7) == pytest.approx(tuple(ratio))
    # a higher level, a wider interval
    lo80, hi80 = op.bootstrap_interval(num, level=0.8, n_resamples=400)
    lo99, hi99 = op.bootstrap_interval(num, level=0.99, n_resamples=400)
    assert lo99 < lo80 < hi80 < hi99


def test_ope_report():
    report = op.ope_report(ACTION, REWARD, PROPENSITY, TARGET, Q_HAT, n_resamples=500, seed=1)
    assert list(report) == ["ips", "snips", "dr"]
    assert report["ips"].value == pytest.approx(0.6875)
    assert report["snips"].value == pytest.approx(11 / 23)
    assert report["dr"].value == pytest.approx(0.46)
    for name, e in report.items():
        assert e.estimator == name and e.n == 4 and e.level == 0.95
        assert e.lower <= e.value <= e.upper
        assert e.as_dict() == {"estimator": name, "value": e.value, "lower": e.lower,
                               "upper": e.upper, "n": 4, "level": 0.95}
    assert report == op.ope_report(ACTION, REWARD, PROPENSITY, TARGET, Q_HAT,
                                   n_resamples=500, seed=1)
    assert list(op.ope_report(ACTION, REWARD, PROPENSITY, TARGET, n_resamples=10)) == [
        "ips", "snips"]  # no reward model, no DR
    with pytest.raises(ValueError, match="dr estimator needs reward_hat"):
        op.ope_report(ACTION, REWARD, PROPENSITY, TARGET, estimators=["dr"])
    with pytest.raises(ValueError, match="unknown estimators \\['switch'\\]"):
        op.ope_report(ACTION, REWARD, PROPENSITY, TARGET, estimators=["ips", "switch"])
    with pytest.raises(ValueError, match="level"):
        op.ope_report(ACTION, REWARD, PROPENSITY, TARGET, level=95)
    with pytest.raises(ValueError, match="n_resamples"):
        op.ope_report(ACTION, REWARD, PROPENSITY, TARGET, n_resamples=0)


def test_ope_compare_is_paired():
    """The optimal policy against the logging one on one log of 5,000 users: the change
    of each estimator, its interval from the same resampled rows for both."""
    ctx, a, r, p = logged(5000, seed=21)
    q = nl.expected_rewards(ctx)
    best, logging = np.eye(K)[nl.optimal_actions(ctx)], nl.logging_probabilities(ctx)
    truth = nl.optimal_policy_value(ctx) - nl.logging_policy_value(ctx)  # 0.095
    change = op.ope_compare(a, r, p, best, logging, q, n_resamples=500, seed=3)
    alone = [op.ope_report(a, r, p, pi, q, n_resamples=500, seed=3) for pi in (best, logging)]
    for name, e in change.items():
        assert e.value == pytest.approx(alone[0][name].value - alone[1][name].value)
        assert 0.05 < e.lower < truth < e.upper and e.n == 5000
        # narrower than two independent intervals combined
        assert e.upper - e.lower < np.hypot(*(x[name].upper - x[name].lower for x in alone))
    # the candidate against itself: nothing changes, whatever the resample
    same = op.ope_compare(a, r, p, best, best, q, n_resamples=50)
    assert all((e.value, e.lower, e.upper) == (0, 0, 0) for e in same.values())
    # DR scores the baseline with its own reward model when given one
    other = op.ope_compare(a, r, p, best, logging, q, baseline_reward_hat=q * 0.5,
                           estimators=["dr"], n_resamples=50)["dr"]
    assert other.value == pytest.approx(
        op.doubly_robust(a, r, p, best, q) - op.doubly_robust(a, r, p, logging, q * 0.5))
    with pytest.raises(ValueError, match="baseline policy: expected rows x actions"):
        op.ope_compare(a, r, p, best, np.full((5000, 3), 1 / 3), q)


@pytest.mark.parametrize("propensity, message", [
    ([0.5, None, 0.8, 0.4], "column 'propensity': row 1 is missing"),
    ([0.5, 0.25, 0.8, float("nan")], "column 'propensity': row 3 is missing"),
    (pd.Series([0.5, np.nan, np.nan, 0.4]), "column 'propensity': row 1 is missing "
                                            "\\(and 1 more row\\)"),
    ([0.5, 0.25, 0.0, 0.4], "column 'propensity': row 2 is 0.0, outside \\(0, 1\\]"),
    ([0.5, 1.5, 0.8, 0.4], "column 'propensity': row 1 is 1.5, outside \\(0, 1\\]"),
    ([-0.1, 0.25, 2, 0.4], "column 'propensity': row 0 is -0.1 \\(and 1 more row\\), "
                           "outside \\(0, 1\\]"),
    (["0.5", "0.25", "high", "0.4"], "column 'propensity': row 2 is 'high', not a number"),
])
def test_propensity_errors_name_the_column_and_row(propensity, message):
    with pytest.raises(ValueError, match=message):
        op.ips(ACTION, REWARD, propensity, TARGET)
    with pytest.raises(ValueError, match=message.replace("'propensity'", "'logged_p'")):
        op.ope_report(ACTION, REWARD, propensity, TARGET, columns={"propensity": "logged_p"})


def test_other_errors_name_the_column_and_row():
    assert op.ips(ACTION, REWARD, [1.0, 0.25, 0.8, 0.4], TARGET) == pytest.approx(0.4375)
    with pytest.raises(ValueError, match="column 'action': row 2 is 5, not an action in "
                                         "\\[0, 2\\)"):
        op.ips([0, 1, 5, 0], REWARD, PROPENSITY, TARGET)
    with pytest.raises(ValueError, match="column 'chosen': row 0 is -1"):
        op.ope_report([-1, 1, 1, 0], REWARD, PROPENSITY, TARGET, columns={"action": "chosen"})
    with pytest.raises(ValueError, match="column 'action': row 1 is nan, not an action index"):
        op.ips(pd.Series([0, None, 1, 0]), REWARD, PROPENSITY, TARGET)
    with pytest.raises(ValueError, match="actions must be indices"):
        op.ips(["deals", "x", "y", "z"], REWARD, PROPENSITY, TARGET)
    with pytest.raises(ValueError, match="column 'reward': row 3 is nan"):
        op.ips(ACTION, [1, 0, 1, None], PROPENSITY, TARGET)
    with pytest.raises(ValueError, match="target policy: row 1 is not a probability "
                                         "distribution"):
        op.ips(ACTION, REWARD, PROPENSITY, [[1, 0], [0.5, 0.6], [0, 1], [0, 1]])
    with pytest.raises(ValueError, match="target policy: expected 4 rows"):
        op.ips(ACTION, REWARD, PROPENSITY, TARGET[:3])
    with pytest.raises(ValueError, match="reward model: expected rows x actions \\(4, 2\\)"):
        op.doubly_robust(ACTION, REWARD, PROPENSITY, TARGET, Q_HAT[:, :1])
    with pytest.raises(ValueError, match="reward model: row 2 has a prediction that is not"):
        op.doubly_robust(ACTION, REWARD, PROPENSITY, TARGET, np.where(
            np.arange(8).reshape(4, 2) == 5, np.inf, Q_HAT))
    with pytest.raises(ValueError, match="no logged rows"):
        op.ips([], [], [], np.zeros((0, 2)))
    with pytest.raises(ValueError, match="column 'action': row 1 is 'nope', not one of"):
        op.action_indices(["deals", "nope"], nl.ACTIONS)


def test_a_written_week_read_with_pandas(tmp_path):
    """From a generated CSV as the Evaluator will read it: names to indices, one blanked
    propensity named by its column and row."""
    path = nl.write_weeks(str(tmp_path), weeks=1, users_per_week=400, seed=4)[0]
    df = pd.read_csv(path)
    a = op.action_indices(df["action"], nl.ACTIONS)
    target = click_greedy(df)
    report = op.ope_report(a, df["reward"], df["propensity"], target, nl.expected_rewards(df),
                           n_resamples=100)
    assert report["ips"].n == 400
    df.loc[7, "propensity"] = None
    with pytest.raises(ValueError, match="column 'propensity': row 7 is missing"):
        op.ope_report(a, df["reward"], df["propensity"], target)
