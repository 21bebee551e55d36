"""The ``eval:`` section (``config/evaluation.py``, and the checks across sections that
concern it): the metrics each task may gate on, slice and fairness thresholds."""
from tests.unit.pipelines.config.test_loader import BASE, load_err, write
from tests.unit.pipelines.test_fairness import err


def test_unknown_metric(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("name: accuracy", "name: mse")))
    assert e.field == "" or "eval.metrics" in str(e)
    assert "unknown metric 'mse'" in str(e)


def test_no_bounded_metric(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("[{name: accuracy, lower_bound: 0.5}]",
                                              "[{name: accuracy}]")))
    assert "eval.metrics" in str(e) and "never blesses" in str(e)


def test_slice_threshold_needs_a_bound(tmp_path):
    e = err(tmp_path, "eval.metrics=[{name: accuracy, lower_bound: 0.8, slices: {island: {}}}]")
    assert e.field == "eval.metrics[0].slices.island" and "at least one of" in e.reason
    e = err(tmp_path, "eval.metrics=[{name: accuracy, lower_bound: 0.8, "
            "slices: {island: {min: 0.7}}}]")
    assert e.field == "eval.metrics[0].slices.island.min" and "unknown key" in e.reason


def test_unknown_fairness_metric(tmp_path):
    e = err(tmp_path, "eval.fairness={features: [sex], class_ids: [0], "
            "gate: {false_alarm_rate: {max_gap: 0.1}}}")
    assert e.field == "eval.fairness.gate" and "false_alarm_rate: unknown fairness metric" in e.reason
    assert "false_positive_rate" in e.reason


def test_fairness_gate_needs_a_bound_and_thresholds_in_range(tmp_path):
    e = err(tmp_path, "eval.fairness={features: [sex], class_ids: [0], "
            "gate: {recall: {}}}")
    assert e.field == "eval.fairness.gate.recall" and "max_gap" in e.reason
    e = err(tmp_path, "eval.fairness={features: [sex], class_ids: [0], thresholds: [1.5]}")
    assert e.field == "eval.fairness.thresholds" and "(0, 1)" in e.reason
