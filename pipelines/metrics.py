"""Metric-spec helpers: gated metrics become a TFMA EvalConfig.

For Python users, in the spirit of::

    create_metric_spec([mse_metric(upper_bound=25, absolute_change=1), accuracy_metric()])

``lower_bound`` / ``upper_bound`` are absolute thresholds; ``absolute_change`` /
``relative_change`` compare with the latest blessed model (the baseline) and are
read as TFMA reads them: for a higher-is-better metric the candidate must beat
``baseline + change`` (so ``-0.01`` allows a drop of at most 0.01); for a
lower-is-better metric it must stay under ``baseline + change``. With no baseline
(the first model), only the absolute thresholds apply.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Union

import tensorflow_model_analysis as tfma

# config name -> (TFMA/Keras class name, metric key name in results, higher is better)
_KNOWN = {
    ("binary", "accuracy"): ("BinaryAccuracy", "binary_accuracy", True),
    ("multiclass", "accuracy"): ("SparseCategoricalAccuracy", "sparse_categorical_accuracy", True),
    ("binary", "auc"): ("AUC", "auc", True),
    ("binary", "auc_pr"): ("AUCPrecisionRecall", "auc_precision_recall", True),
    ("binary", "precision"): ("Precision", "precision", True),
    ("binary", "recall"): ("Recall", "recall", True),
    ("binary", "binary_crossentropy"): ("BinaryCrossentropy", "binary_crossentropy", False),
    ("multiclass", "sparse_categorical_crossentropy"):
        ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy", False),
    ("regression", "mse"): ("MeanSquaredError", "mean_squared_error", False),
    ("regression", "rmse"): ("RootMeanSquaredError", "root_mean_squared_error", False),
    ("regression", "mae"): ("MeanAbsoluteError", "mean_absolute_error", False),
    ("regression", "mape"): ("MeanAbsolutePercentageError", "mean_absolute_percentage_error", False),
}


@dataclass(frozen=True)
class Metric:
    """A metric to compute, optionally gated."""

    class_name: str
    key: str
    higher_is_better: bool
    lower_bound: Optional[float] = None
    upper_bound: Optional[float] = None
    absolute_change: Optional[float] = None
    relative_change: Optional[float] = None

    @property
    def gated(self) -> bool:
        return any(v is not None for v in (self.lower_bound, self.upper_bound,
                                           self.absolute_change, self.relative_change))

    def to_tfma(self) -> tfma.MetricConfig:
        threshold = tfma.MetricThreshold()
        if self.lower_bound is not None or self.upper_bound is not None:
            vt = tfma.GenericValueThreshold()
            if self.lower_bound is not None:
                vt.lower_bound.value = self.lower_bound
            if self.upper_bound is not None:
                vt.upper_bound.value = self.upper_bound
            threshold.value_threshold.CopyFrom(vt)
        if self.absolute_change is not None or self.relative_change is not None:
            ct = tfma.GenericChangeThreshold(
                direction=(tfma.MetricDirection.HIGHER_IS_BETTER if self.higher_is_better
                           else tfma.MetricDirection.LOWER_IS_BETTER))
            if self.absolute_change is not None:
                ct.absolute.value = self.absolute_change
            if self.relative_change is not None:
                ct.relative.value = self.relative_change
            threshold.change_threshold.CopyFrom(ct)
        mc = tfma.MetricConfig(class_name=self.class_name)
        if self.gated:
            mc.threshold.CopyFrom(threshold)
        return mc


def metric(task: str, name: str, **thresholds) -> Metric:
    """A config metric name (``accuracy``, ``auc``, ``mse``, ...) for a task."""
    try:
        class_name, key, higher = _KNOWN[(task, name)]
    except KeyError:
        known = sorted(n for (t, n) in _KNOWN if t == task)
        raise ValueError(f"unknown metric {name!r} for task {task}; known: {', '.join(known)}")
    return Metric(class_name, key, higher, **thresholds)


def accuracy_metric(task: str = "multiclass", **thresholds) -> Metric:
    return metric(task, "accuracy", **thresholds)


def auc_metric(**thresholds) -> Metric:
    return metric("binary", "auc", **thresholds)


def mse_metric(**thresholds) -> Metric:
    return metric("regression", "mse", **thresholds)


def rmse_metric(**thresholds) -> Metric:
    return metric("regression", "rmse", **thresholds)


def mae_metric(**thresholds) -> Metric:
    return metric("regression", "mae", **thresholds)


def create_metric_spec(metrics: Sequence[Metric]) -> tfma.MetricsSpec:
    """One TFMA MetricsSpec with an example count and every metric (gated or not)."""
    spec = tfma.MetricsSpec(metrics=[tfma.MetricConfig(class_name="ExampleCount")])
    for m in metrics:
        spec.metrics.append(m.to_tfma())
    return spec


def slicing_specs(slices: Sequence[Union[str, Sequence[str]]]) -> List[tfma.SlicingSpec]:
    specs = [tfma.SlicingSpec()]
    for s in slices:
        specs.append(tfma.SlicingSpec(feature_keys=[s] if isinstance(s, str) else list(s)))
    return specs


def default_metrics(task: str) -> List[str]:
    return {"binary": ["accuracy", "auc"], "multiclass": ["accuracy"],
            "regression": ["mse", "mae"]}[task]


def create_eval_config(task: str, label_key: str, prediction_key: str,
                       metrics: Sequence[Metric],
                       slices: Sequence[Union[str, Sequence[str]]] = ()) -> tfma.EvalConfig:
    """An EvalConfig over the model's ``serving_default`` signature, with labels taken
    from its ``transform_features`` signature (so string labels become class ids)."""
    names = {m.key for m in metrics}
    extra = [metric(task, n) for n in default_metrics(task) if metric(task, n).key not in names]
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key=label_key,
                                    prediction_key=prediction_key,
                                    preprocessing_function_names=["transform_features"])],
        slicing_specs=slicing_specs(slices),
        metrics_specs=[create_metric_spec(list(metrics) + extra)])


def eval_config_from(cfg) -> tfma.EvalConfig:
    """The EvalConfig of a PipelineConfig."""
    from tfxkit.pipelines.models import prediction_key
    from tfxkit.pipelines.transform import transformed_name

    gated = [metric(cfg.task, m.name, lower_bound=m.lower_bound, upper_bound=m.upper_bound,
                    absolute_change=m.absolute_change, relative_change=m.relative_change)
             for m in cfg.eval.metrics]
    return create_eval_config(cfg.task, transformed_name(cfg.label), prediction_key(cfg.task),
                              gated, cfg.eval.slices)


def threshold_table(cfg) -> Dict[str, Metric]:
    """Gated metrics by result key, for summaries."""
    return {m.key: m for m in (metric(cfg.task, c.name, lower_bound=c.lower_bound,
                                      upper_bound=c.upper_bound,
                                      absolute_change=c.absolute_change,
                                      relative_change=c.relative_change)
                               for c in cfg.eval.metrics)}
