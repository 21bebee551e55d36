"""The canary policy (infra/canary/policy.py): plain functions, no server, no TensorFlow.
(Its decision log: test_decision_log.py.)"""
import json
import os
import sys

import pytest

from tfxkit.infra.canary import policy as c

P = c.Policy(steps=(0.1, 0.25, 0.5, 1.0), min_requests=100, min_feedback=50,
             max_error_rate_delta=0.01, max_p99_latency_ratio=1.5, p99_slack_ms=0.0,
             max_quality_drop=0.02, quality_metric="accuracy", interval_s=1)


def arm(v="1", requests=1000, errors=0, p50=5.0, p99=10.0, feedback=500, quality=0.9):
    return c.ArmStats(v, requests, errors, p50, p99, feedback, quality)


def test_healthy_canary_ramps_step_by_step_then_promotes():
    s = arm("1")
    assert [c.decide(s, arm("2", requests=200), k, P).action for k in range(3)] == \
        ["ramp", "ramp", "promote"]
    d = c.decide(s, arm("2", requests=200), 0, P)
    assert (d.step, d.share, d.next_step, d.next_share) == (0, 0.1, 1, 0.25)
    d = c.decide(s, arm("2", requests=200), 2, P)
    assert (d.action, d.next_share, d.next_step) == ("promote", 1.0, 3)
    assert "no worse within every margin" in d.reasons[0]


def test_steps_without_1_still_end_in_promotion():
    p = c.Policy(steps=(0.2, 0.6), min_requests=1, min_feedback=1)
    assert p.final_steps == [0.2, 0.6, 1.0]
    assert c.decide(arm(), arm("2"), 0, p).action == "ramp"
    assert c.decide(arm(), arm("2"), 1, p).action == "promote"


@pytest.mark.parametrize("kw, reason", [
    ({"errors": 30}, "error rate"),                 # 30/200 = 0.15 > 0 + 0.01
    ({"p99": 16.0}, "p99"),                          # > 10 * 1.5
    ({"quality": 0.87}, "accuracy"),                 # drop 0.03 > 0.02
])
def test_worse_canary_is_rolled_back_naming_the_signal(kw, reason):
    d = c.decide(arm("1"), arm("2", requests=200, **kw), 1, P)
    assert d.action == "rollback" and d.next_share == 0.0
    assert len(d.reasons) == 1 and d.reasons[0].startswith(reason)


def test_within_margins_is_no_worse():
    s = arm("1", errors=10)  # stable error rate 0.01
    d = c.decide(s, arm("2", requests=200, errors=4, p99=15.0, quality=0.881), 0, P)
    assert d.action == "ramp", d.reasons  # 0.02 - 0.01 = 0.01; p99 == 15; drop 0.019


def test_several_signals_worse_all_named():
    d = c.decide(arm(), arm("2", requests=200, errors=100, p99=50, quality=0.1), 0, P)
    assert d.action == "rollback" and len(d.reasons) == 3


def test_hold_until_enough_requests_and_feedback():
    d = c.decide(arm(), arm("2", requests=50), 0, P)
    assert d.action == "hold" and "50/100 canary requests" in d.reasons[0]
    assert d.next_share == d.share == 0.1 and d.next_step == 0
    d = c.decide(arm(), arm("2", requests=200, feedback=10), 0, P)
    assert d.action == "hold" and "feedback 10/50 canary, 500/50 stable" in d.reasons[0]
    d = c.decide(arm(feedback=3), arm("2", requests=200), 0, P)
    assert d.action == "hold"
    d = c.decide(arm(p99=None, p50=None, requests=0, feedback=0), arm("2", requests=200), 0, P)
    assert d.action == "hold"


def test_early_rollback_when_errors_cannot_fit_the_margin():
    # 5 errors in 20 requests: even 80 more good ones leave 5/100 = 0.05 > 0.01
    d = c.decide(arm(), arm("2", requests=20, errors=5, feedback=0, quality=None), 0, P)
    assert d.action == "rollback" and "already exceed" in d.reasons[0]
    # 1 error in 20: 1/100 = 0.01 is within the margin: wait
    d = c.decide(arm(), arm("2", requests=20, errors=1, feedback=0, quality=None), 0, P)
    assert d.action == "hold"


def test_all_canary_requests_fail():
    d = c.decide(arm(), arm("2", requests=200, errors=200, p50=None, p99=None), 0, P)
    assert d.action == "rollback" and d.reasons[0].startswith("error rate 1.0000")


def test_bad_quality_waits_for_min_feedback_but_errors_do_not():
    d = c.decide(arm(), arm("2", requests=200, feedback=49, quality=0.0), 0, P)
    assert d.action == "hold"
    d = c.decide(arm(), arm("2", requests=200, feedback=50, quality=0.0), 0, P)
    assert d.action == "rollback"


@pytest.mark.parametrize("metric, stable, canary, action", [
    ("mae", 1.0, 1.02, "ramp"),      # +2% relative: at the margin
    ("mae", 1.0, 1.05, "rollback"),  # +5%
    ("mse", 4.0, 3.0, "ramp"),       # better
    ("mse", 0.0, 0.03, "rollback"),  # a perfect stable arm: absolute
    ("accuracy", 0.8, 0.95, "ramp"),
    ("reward", 0.15, 0.14, "ramp"),      # a bandit's mean reward: -0.01, within 0.02
    ("reward", 0.15, 0.10, "rollback"),  # -0.05
])
def test_quality_metrics(metric, stable, canary, action):
    p = c.Policy(min_requests=1, min_feedback=1, quality_metric=metric, p99_slack_ms=0)
    assert c.decide(arm(quality=stable), arm("2", quality=canary), 0, p).action == action


def test_latency_slack_absorbs_sub_ms_noise():
    p = c.Policy(min_requests=1, min_feedback=1, p99_slack_ms=2.0)
    assert c.decide(arm(p99=0.5), arm("2", p99=2.5), 0, p).action == "ramp"  # <= 0.75 + 2
    assert c.decide(arm(p99=0.5), arm("2", p99=2.9), 0, p).action == "rollback"


def test_decision_carries_the_evidence():
    d = c.decide(arm("1", requests=900, errors=9), arm("2", requests=100, errors=1), 0, P)
    out = d.to_dict()
    assert out["stable"]["version"] == "1" and out["stable"]["error_rate"] == 0.01
    assert out["canary"]["requests"] == 100 and out["canary"]["p99_ms"] == 10.0
    assert out["margins"]["max_quality_drop"] == 0.02
    assert out["margins"]["quality_metric"] == "accuracy"
    json.dumps(out)


@pytest.mark.parametrize("kw", [{"steps": ()}, {"steps": (0.5, 0.2)}, {"steps": (1.0,)},
                                {"steps": (0.0, 1.0)}, {"quality_metric": "f1"},
                                {"max_p99_latency_ratio": 0.9}, {"min_requests": -1}])
def test_bad_policy(kw):
    with pytest.raises(ValueError):
        c.Policy(**kw)


def test_step_out_of_range():
    with pytest.raises(ValueError, match="out of range"):
        c.decide(arm(), arm("2"), 3, P)


def test_window_counts_and_percentiles():
    w = c.Window("2", "accuracy")
    for i in range(1, 101):
        w.record(float(i))
    w.record(500.0, ok=False)  # errors do not count in latency
    w.add_feedback(("Adelie", 0), "Adelie")
    w.add_feedback(("Adelie", 0), 0)  # a class id label
    w.add_feedback(("Adelie", 0), "Gentoo")
    s = w.stats()
    assert (s.requests, s.errors, s.p50_ms, s.p99_ms) == (101, 1, 50.0, 99.0)
    assert s.feedback == 3 and abs(s.quality - 2 / 3) < 1e-9
    r = c.Window("3", "mae")
    r.add_feedback(2.0, 3.0)
    r.add_feedback(2.0, "1.0")
    assert r.stats().quality == 1.0
    m = c.Window("3", "mse")
    m.add_feedback(2.0, 4.0)
    assert m.stats().quality == 4.0
    assert c.Window("4").stats().quality is None and c.percentile([], 99) is None


def test_window_samples_latencies_when_full():
    w = c.Window("2", max_latencies=10)
    for i in range(1000):
        w.record(1.0)
    assert len(w.latencies) == 10 and w.requests == 1000


def test_policy_module_imports_no_tensorflow():
    import subprocess

    code = ("import sys, tfxkit.infra.canary.policy, tfxkit.infra.canary.decision_log; "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


def test_a_reward_scores_as_itself():
    assert c.score_one("reward", ("deals", 0.8), -1) == -1.0
    w = c.Window("1", "reward")
    for r in (1, 0, 0, -1, 1):
        w.add_feedback(("deals", 0.8), r)
    assert w.stats().quality == pytest.approx(0.2)
