"""TFMA's Fairness Indicators metric, for the evaluation gate.

TFMA 0.47 (the release TFX 1.16 pins) no longer ships ``FairnessIndicators``: it moved
to the ``fairness-indicators`` package, which also pulls in witwidget, Jupyter and
TensorFlow Hub. This module is that metric (``fairness_indicators_metrics.py`` of
fairness-indicators 0.47, Apache 2.0), built on TFMA's binary confusion matrices, with the
same class name and the same metric keys (``fairness_indicators_metrics/
false_positive_rate@0.50``), so TFMA's Fairness Indicators views read its results.
The EvalConfig names it with ``module: tfxkit.pipelines.fairness``.

A gated rate is its own metric, ``FairnessRate`` (one key, named as FairnessIndicators
names it), left out of FairnessIndicators with ``exclude``: TFMA matches a MetricConfig's
thresholds by the metric's name, and the thresholds maps of a MetricsSpec by keys that never
match computed ones (their ``example_weighted`` is None, TFMA's keys say False).
"""
from __future__ import annotations

import collections
import contextlib
from typing import Any, Dict, List, Optional, Sequence

from tensorflow_model_analysis.metrics import binary_confusion_matrices, metric_types, metric_util
from tensorflow_model_analysis.proto import config_pb2

MODULE = __name__
CLASS_NAME = "FairnessIndicators"
NAME = "fairness_indicators_metrics"
SUB_METRICS = (
    "false_positive_rate", "false_negative_rate", "true_positive_rate", "true_negative_rate",
    "positive_rate", "negative_rate", "false_discovery_rate", "false_omission_rate",
    "precision", "recall",
)
DEFAULT_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _digits(thresholds: Sequence[float]) -> int:
    return max(max(len(str(t)) - 2 for t in thresholds), 1)


def metric_name(sub_metric: str, threshold: float, thresholds: Sequence[float],
                name: str = NAME) -> str:
    """The metric key name of a sub-metric at one threshold, e.g.
    ``fairness_indicators_metrics/false_positive_rate@0.50`` (digits as for all
    ``thresholds`` together, as TFMA writes them)."""
    return "%s/%s@%.*f" % (name, sub_metric, _digits(thresholds), threshold)


def _at_thresholds(thresholds: List[float], name: str = NAME, exclude: Sequence[str] = (),
                   rate: Optional[str] = None,
                   eval_config: Optional[config_pb2.EvalConfig] = None,
                   model_name: str = "", output_name: str = "",
                   aggregation_type: Optional[metric_types.AggregationType] = None,
                   sub_key: Optional[metric_types.SubKey] = None,
                   class_weights: Optional[Dict[int, float]] = None,
                   example_weighted: bool = False) -> metric_types.MetricComputations:
    """Every rate at every threshold (less ``exclude``d key names); with ``rate``, that
    rate at the one threshold, keyed ``name``."""
    keys_by = collections.defaultdict(dict)
    keys = []
    for t in thresholds:
        for m in ((rate,) if rate else SUB_METRICS):
            key_name = name if rate else metric_name(m, t, thresholds, name)
            if key_name in exclude:
                continue
            key = metric_types.MetricKey(
                name=key_name, model_name=model_name,
                output_name=output_name, sub_key=sub_key, example_weighted=example_weighted)
            keys.append(key)
            keys_by[t][m] = key
    computations = binary_confusion_matrices.binary_confusion_matrices(
        eval_config=eval_config, model_name=model_name, output_name=output_name,
        sub_key=sub_key, aggregation_type=aggregation_type, class_weights=class_weights,
        example_weighted=example_weighted, thresholds=thresholds)
    matrices_key = computations[-1].keys[-1]
    nan = float("nan")
    # a gated gap (cross-slice thresholds) is validated where these results are: in a Beam
    # worker process the Evaluator's executor never ran in, the fix is made here
    gap_gated = eval_config is not None and len(eval_config.cross_slicing_specs) > 0

    def result(metrics: Dict[metric_types.MetricKey, Any]) -> Dict[metric_types.MetricKey, Any]:
        if gap_gated:
            fix_cross_slice_validation()
        cm = metrics[matrices_key]
        out = {}
        for i, t in enumerate(thresholds):
            tp, fp, tn, fn = cm.tp[i], cm.fp[i], cm.tn[i], cm.fn[i]
            pos, neg = tp + fn, tn + fp
            values = {
                "true_positive_rate": tp / (pos or nan),
                "true_negative_rate": tn / (neg or nan),
                "false_positive_rate": fp / (neg or nan),
                "false_negative_rate": fn / (pos or nan),
                "positive_rate": (tp + fp) / ((pos + neg) or nan),
                "negative_rate": (tn + fn) / ((pos + neg) or nan),
                "precision": tp / ((tp + fp) or nan),
                "recall": tp / ((tp + fn) or nan),
                "false_discovery_rate": fp / ((fp + tp) or nan),
                "false_omission_rate": fn / ((fn + tn) or nan),
            }
            for m, v in values.items():
                if m in keys_by[t]:
                    out[keys_by[t][m]] = v
        return out

    computations.append(metric_types.DerivedMetricComputation(keys=keys, result=result))
    return computations


class FairnessIndicators(metric_types.Metric):
    """Rates from the binary confusion matrix at each threshold (per slice, per class
    with binarization): FPR, FNR, TPR, TNR, positive/negative rate, FDR, FOR, precision,
    recall."""

    def __init__(self, thresholds: Sequence[float] = DEFAULT_THRESHOLDS, name: str = NAME,
                 exclude: Sequence[str] = ()):
        super().__init__(metric_util.merge_per_key_computations(_at_thresholds),
                         thresholds=list(thresholds), name=name, exclude=list(exclude))


class FairnessRate(metric_types.Metric):
    """One rate of FairnessIndicators at one decision threshold, as a metric of its own
    named like its FairnessIndicators key (so that thresholds can gate it)."""

    def __init__(self, rate: str = "false_positive_rate", threshold: float = 0.5,
                 name: Optional[str] = None):
        if rate not in SUB_METRICS:
            raise ValueError(f"unknown fairness rate {rate!r}; known: {', '.join(SUB_METRICS)}")
        super().__init__(metric_util.merge_per_key_computations(_rate_at_threshold),
                         rate=rate, threshold=threshold,
                         name=name or metric_name(rate, threshold, [threshold]))


def _rate_at_threshold(rate: str, threshold: float, name: str,
                       eval_config: Optional[config_pb2.EvalConfig] = None,
                       model_name: str = "", output_name: str = "",
                       aggregation_type: Optional[metric_types.AggregationType] = None,
                       sub_key: Optional[metric_types.SubKey] = None,
                       class_weights: Optional[Dict[int, float]] = None,
                       example_weighted: bool = False) -> metric_types.MetricComputations:
    return _at_thresholds([threshold], name=name, rate=rate, eval_config=eval_config,
                          model_name=model_name, output_name=output_name,
                          aggregation_type=aggregation_type, sub_key=sub_key,
                          class_weights=class_weights, example_weighted=example_weighted)


def _hashed_slicing_details(slicing_details):
    """TFMA 0.47's own reads ``details.slicing_spec`` even where the details are of a
    cross-slice spec, so every cross-slice threshold is reported missing
    (``missing_cross_slices``) and the model is never blessed. This keys each by the spec
    it holds."""
    from tensorflow_model_analysis.slicer import slicer_lib

    hashed = {}
    for details in slicing_details:
        spec = (details.cross_slicing_spec if details.HasField("cross_slicing_spec")
                else details.slicing_spec)
        hashed.setdefault(slicer_lib.deserialize_slice_spec(spec), details)
    return hashed


def fix_cross_slice_validation() -> None:
    """Replaces TFMA's ``metrics_validator._hashed_slicing_details`` with
    ``_hashed_slicing_details`` in this process (idempotent). Nothing does this at import:
    the Evaluator's executor (``tfxkit.pipelines.evaluator``, chosen by the factory where
    a fairness gap is gated) does it for its run (``fixed_cross_slice_validation``), and
    the FairnessRate computations do it where they run (a Beam worker process)."""
    from tensorflow_model_analysis.evaluators import metrics_validator

    metrics_validator._hashed_slicing_details = _hashed_slicing_details  # pylint: disable=protected-access


@contextlib.contextmanager
def fixed_cross_slice_validation():
    """``fix_cross_slice_validation`` for the duration of the block; TFMA's own function
    is back afterwards."""
    from tensorflow_model_analysis.evaluators import metrics_validator

    original = metrics_validator._hashed_slicing_details  # pylint: disable=protected-access
    fix_cross_slice_validation()
    try:
        yield
    finally:
        metrics_validator._hashed_slicing_details = original  # pylint: disable=protected-access


metric_types.register_metric(FairnessIndicators)
metric_types.register_metric(FairnessRate)
