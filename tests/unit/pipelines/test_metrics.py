"""Metric-spec helpers for Python users."""
import pytest
import tensorflow_model_analysis as tfma

from tfxkit.pipelines.metrics import (accuracy_metric, create_eval_config, create_metric_spec,
                                      metric, mse_metric)


def test_create_metric_spec():
    spec = create_metric_spec([mse_metric(upper_bound=25, absolute_change=1), accuracy_metric()])
    by_name = {m.class_name: m for m in spec.metrics}
    assert set(by_name) == {"ExampleCount", "MeanSquaredError", "SparseCategoricalAccuracy"}
    mse = by_name["MeanSquaredError"].threshold
    assert mse.value_threshold.upper_bound.value == 25
    assert mse.change_threshold.absolute.value == 1
    assert mse.change_threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER
    assert not by_name["SparseCategoricalAccuracy"].HasField("threshold")


def test_relative_change_direction():
    m = metric("binary", "auc", relative_change=-0.01).to_tfma()
    assert m.threshold.change_threshold.direction == tfma.MetricDirection.HIGHER_IS_BETTER
    assert m.threshold.change_threshold.relative.value == -0.01
    assert not m.threshold.HasField("value_threshold")


def test_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric 'auc' for task regression"):
        metric("regression", "auc")


def test_eval_config_adds_defaults_and_slices():
    ec = create_eval_config("binary", "y_xf", "probabilities",
                            [metric("binary", "auc", lower_bound=0.7)], slices=["a", ["a", "b"]])
    names = [m.class_name for m in ec.metrics_specs[0].metrics]
    assert names.count("AUC") == 1 and "BinaryAccuracy" in names
    assert [list(s.feature_keys) for s in ec.slicing_specs] == [[], ["a"], ["a", "b"]]
