"""The printed run summary (infra/run/summary.py): why a model was or was not pushed."""


def test_summary_lines_name_the_reasons():
    from tfxkit.infra.run.summary import Summary, format_summary

    s = Summary(blessed=True, has_baseline=True, infra_blessed=False,
                infra_reason="p99 latency 3 ms over 100 requests of batch 1 exceeds "
                             "max_latency_ms 1",
                pushed=False, push_reason="infra validation failed: p99 latency 3 ms")
    lines = format_summary(s)
    assert "Infra validation FAILED: p99 latency 3 ms over 100 requests" in lines[-2]
    assert lines[-1] == "Not pushed: infra validation failed: p99 latency 3 ms"


def test_summary_says_why_a_push_restored_the_serving_folder():
    from tfxkit.infra.run.summary import Summary, format_summary

    plain = Summary(pushed=True, pushed_version="7", pushed_path="/r/7",
                    push_reason="pushed as version 7")
    assert format_summary(plain)[-1] == "Pushed version 7 to /r/7"
    why = ("restored the serving version 7: its folder /r/7 was missing; put back from "
           "the model being pushed")
    s = Summary(pushed=True, pushed_version="7", pushed_path="/r/7", push_reason=why)
    assert format_summary(s)[-2:] == ["Pushed version 7 to /r/7", f"  why: {why}"]


def test_a_bandits_summary_shows_the_off_policy_estimates_and_verdicts(tmp_path):
    """policy_summary reads the PolicyEvaluator's ope.json: each gated metric once, with its
    interval, thresholds, baseline and change, ok/FAIL from the verdicts, and why."""
    import json

    from tfxkit.infra.run.summary import format_summary, policy_summary

    est = {"value": 0.12, "lower": 0.1, "upper": 0.15, "level": 0.9, "n": 400}
    (tmp_path / "ope.json").write_text(json.dumps({
        "blessed": False,
        "candidate": {"policy_value_dr": est, "policy_value_ips": dict(est, value=0.2),
                      "mse": 0.3},
        "baseline": {"policy_value_dr": dict(est, value=0.16), "mse": 0.31},
        "change": {"policy_value_dr": dict(est, value=-0.04)},
        "thresholds": [
            {"metric": "policy_value_dr", "bound": "lower_bound", "threshold": 0.0,
             "passed": True, "reason": "policy_value_dr 0.12 >= lower_bound 0"},
            {"metric": "policy_value_dr", "bound": "absolute_change", "threshold": -0.02,
             "passed": False, "reason": "change -0.04 < absolute_change -0.02"},
            {"metric": "mse", "bound": "upper_bound", "threshold": 1.0, "passed": True,
             "reason": "mse 0.3 <= upper_bound 1"}]}))
    s = policy_summary(str(tmp_path))
    assert (s.blessed, s.has_baseline) == (False, True)
    assert [m.name for m in s.metrics] == ["policy_value_dr", "mse"]  # gated ones only
    dr, mse = s.metrics
    assert (dr.value, dr.baseline, dr.diff, dr.ok) == (0.12, 0.16, -0.04, False)
    assert dr.threshold == "lower_bound 0; absolute_change -0.02"
    assert (mse.value, mse.baseline, mse.ok, mse.interval) == (0.3, 0.31, True, None)
    lines = format_summary(s)
    assert lines[0] == "Model NOT blessed"
    assert "90% CI [0.1000, 0.1500]" in lines[1] and lines[1].lstrip().startswith("FAIL")
    assert lines[-1] == "  why: change -0.04 < absolute_change -0.02"


def test_each_metric_once_and_ok_only_where_gated():
    """The regression template's summary listed mae beside mean_absolute_error and loss
    beside mean_squared_error (Keras' compile metrics, TFMA's metrics: the same values), and
    marked the ungated mse "ok"."""
    from tfxkit.infra.run.summary import overall_lines
    from tfxkit.pipelines.metrics import Metric

    table = {"mean_absolute_error": Metric("MeanAbsoluteError", "mean_absolute_error", False,
                                           upper_bound=6.0),
             "mean_squared_error": Metric("MeanSquaredError", "mean_squared_error", False)}
    values = {"mean_absolute_error": 1.9877, "mean_squared_error": 6.5989, "loss": 6.5989,
              "mae": 1.9877, "rmse": 2.5688, "example_count": 300.0}
    lines = overall_lines(table, values, {}, {}, failed=set())
    assert [(m.name, m.ok, m.threshold) for m in lines] == [
        ("mean_absolute_error", True, "<= 6"), ("mean_squared_error", None, "not gated"),
        ("rmse", None, "not gated")]
    # a Keras metric whose value differs from TFMA's is a different metric: listed
    values["mae"] = 2.5
    assert "mae" in [m.name for m in overall_lines(table, values, {}, {}, set())]
    # a failed threshold on the whole split is FAIL
    failed = overall_lines(table, values, {}, {}, {("Overall", "mean_absolute_error")})
    assert failed[0].ok is False
