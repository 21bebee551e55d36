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


def _gate(lower=None, upper=None):
    import types

    return types.SimpleNamespace(lower_bound=lower, upper_bound=upper)


def test_epochs_to_gate_is_the_first_epoch_meeting_the_gated_metrics_on_eval():
    from tfxkit.infra.run.summary import epochs_to_gate

    history = {"loss": [1.0, 0.5, 0.3], "sparse_categorical_accuracy": [0.9, 0.9, 0.9],
               "val_sparse_categorical_accuracy": [0.5, 0.82, 0.9], "val_loss": [1, 2, 3]}
    # the gate names TFMA's metric; Keras's eval-split value of the same metric counts
    assert epochs_to_gate(history, {"accuracy": _gate(0.8)}) == \
        "2 of 3 epochs (val_sparse_categorical_accuracy >= 0.8)"
    assert epochs_to_gate(history, {"sparse_categorical_accuracy": _gate(0.85)}) == \
        "3 of 3 epochs (val_sparse_categorical_accuracy >= 0.85)"
    assert epochs_to_gate(history, {"accuracy": _gate(0.95)}) == \
        "not reached in 3 epochs (val_sparse_categorical_accuracy >= 0.95)"
    assert epochs_to_gate(history, {"auc": _gate(0.8)}) is None  # Keras does not compute it
    assert epochs_to_gate(history, {"accuracy": _gate()}) is None  # only change thresholds
    assert epochs_to_gate({}, {"accuracy": _gate(0.8)}) is None


def test_both_gates_must_hold_in_the_same_epoch():
    from tfxkit.infra.run.summary import epochs_to_gate

    history = {"val_sparse_categorical_accuracy": [0.85, 0.85, 0.9], "val_loss": [2, 1.6, 1.0]}
    assert epochs_to_gate(history, {"accuracy": _gate(0.8), "loss": _gate(upper=1.5)}) == \
        "3 of 3 epochs (val_sparse_categorical_accuracy >= 0.8, val_loss <= 1.5)"


def test_the_summary_says_whether_and_from_which_version_the_trainer_warm_started(tmp_path):
    import json

    from tfxkit.infra.run.summary import Summary, format_summary, registry_version_of

    (tmp_path / "registry.json").write_text(json.dumps({"serving": "12", "versions": {
        "11": {"model_uri": "/root/Trainer/model/5"},
        "12": {"model_uri": "/root/Trainer/model/7"}}}))
    assert registry_version_of(str(tmp_path), "/root/Trainer/model/7/") == "12"
    assert registry_version_of(str(tmp_path), "/root/Trainer/model/9") is None
    assert registry_version_of(str(tmp_path / "none"), "/root/Trainer/model/7") is None

    warm = {"mode": "latest_blessed", "warm_started": True, "from": "/root/Trainer/model/7",
            "reason": "initialised from the weights of /root/Trainer/model/7"}
    lines = format_summary(Summary(warm_start=warm, warm_start_version="12",
                                   epochs_to_gate="1 of 5 epochs (val_x >= 0.8)"))
    assert lines == ["Trainer warm-started from version 12 (/root/Trainer/model/7)",
                     "Epochs to reach the gate: 1 of 5 epochs (val_x >= 0.8)"]
    cold = dict(warm, warm_started=False, reason="architecture differs from the base "
                "model: layer hidden_0: kernel (20, 16) in the base model vs (20, 32) now: "
                "trained cold")
    assert format_summary(Summary(warm_start=cold)) == [
        "Trainer cold: architecture differs from the base model: layer hidden_0: kernel "
        "(20, 16) in the base model vs (20, 32) now: trained cold"]
    # warm start off: nothing to say about it
    off = {"mode": "none", "warm_started": False, "from": None, "reason": "x"}
    assert format_summary(Summary(warm_start=off)) == []
