"""Metric-spec helpers: gated metrics become a TFMA EvalConfig.

For Python users, in the spirit of::

    create_metric_spec([mse_metric(upper_bound=25, absolute_change=1), accuracy_metric()])

``lower_bound`` / ``upper_bound`` are absolute thresholds; ``absolute_change`` /
``relative_change`` compare with the latest blessed model (the baseline) and are
read as TFMA reads them: for a higher-is-better metric the candidate must beat
``baseline + change`` (so ``-0.01`` allows a drop of at most 0.01); for a
lower-is-better metric it must stay under ``baseline + change``. With no baseline
(the first model), only the absolute thresholds apply.

TFMA checks a metric's threshold on every slice it computes. A metric with ``slices``
(``{island: Metric thresholds}``) holds every value of that feature to its own thresholds
instead, so its own thresholds become per-slice thresholds on the whole split and the
other ``eval.slices``. Fairness (``create_fairness_spec``) is TFMA's Fairness Indicators
metric in its own MetricsSpec (binarized per class for multiclass), gated on each value of
the sensitive features by bounds and by the gap to the whole split (cross-slice).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

from tfxkit.pipelines.compat import tfma_config

# TFMA's config protos (EvalConfig, MetricsSpec, SlicingSpec, ...; see compat) are imported
# by the functions that build them (``config_pb2 = tfma_config()``), not at import time:
# importing this module (the CLI's summary, the report) imports no TFMA.

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
    # feature -> thresholds (a Metric) that every value of the feature must meet instead
    slices: Dict[str, "Metric"] = field(default_factory=dict, compare=False)

    @property
    def own_gated(self) -> bool:
        return any(v is not None for v in (self.lower_bound, self.upper_bound,
                                           self.absolute_change, self.relative_change))

    @property
    def gated(self) -> bool:
        return self.own_gated or any(t.own_gated for t in self.slices.values())

    def with_slice(self, feature: str, **thresholds) -> "Metric":
        """This metric with thresholds for every value of ``feature``."""
        sub = Metric(self.class_name, self.key, self.higher_is_better, **thresholds)
        return Metric(self.class_name, self.key, self.higher_is_better, self.lower_bound,
                      self.upper_bound, self.absolute_change, self.relative_change,
                      dict(self.slices, **{feature: sub}))

    def to_tfma(self, slices: Optional[Sequence[Sequence[str]]] = None) -> config_pb2.MetricConfig:
        """``slices``: the slices (feature key lists) besides the whole split that this
        metric's own thresholds hold on; None: every slice (TFMA's plain threshold)."""
        config_pb2 = tfma_config()
        mc = config_pb2.MetricConfig(class_name=self.class_name)
        if not self.gated:
            return mc
        if slices is None and not self.slices:
            mc.threshold.CopyFrom(self.threshold())
            return mc
        if self.own_gated:
            specs = [config_pb2.SlicingSpec()] + [
                config_pb2.SlicingSpec(feature_keys=list(k)) for k in (slices or ())
                if not (len(k) == 1 and k[0] in self.slices)]
            mc.per_slice_thresholds.add(slicing_specs=specs, threshold=self.threshold())
        for feature, t in sorted(self.slices.items()):
            mc.per_slice_thresholds.add(slicing_specs=[config_pb2.SlicingSpec(feature_keys=[feature])],
                                        threshold=t.threshold())
        return mc

    def threshold(self) -> config_pb2.MetricThreshold:
        config_pb2 = tfma_config()
        threshold = config_pb2.MetricThreshold()
        if self.lower_bound is not None or self.upper_bound is not None:
            vt = config_pb2.GenericValueThreshold()
            if self.lower_bound is not None:
                vt.lower_bound.value = self.lower_bound
            if self.upper_bound is not None:
                vt.upper_bound.value = self.upper_bound
            threshold.value_threshold.CopyFrom(vt)
        if self.absolute_change is not None or self.relative_change is not None:
            ct = config_pb2.GenericChangeThreshold(
                direction=(config_pb2.MetricDirection.HIGHER_IS_BETTER if self.higher_is_better
                           else config_pb2.MetricDirection.LOWER_IS_BETTER))
            if self.absolute_change is not None:
                ct.absolute.value = self.absolute_change
            if self.relative_change is not None:
                ct.relative.value = self.relative_change
            threshold.change_threshold.CopyFrom(ct)
        return threshold


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


def create_metric_spec(metrics: Sequence[Metric],
                       slices: Optional[Sequence[Sequence[str]]] = None) -> config_pb2.MetricsSpec:
    """One TFMA MetricsSpec with an example count and every metric (gated or not).
    ``slices``: see ``Metric.to_tfma``."""
    config_pb2 = tfma_config()
    spec = config_pb2.MetricsSpec(metrics=[config_pb2.MetricConfig(class_name="ExampleCount")])
    for m in metrics:
        spec.metrics.append(m.to_tfma(slices))
    return spec


@dataclass(frozen=True)
class FairnessGate:
    """On every value of each feature: within ``max_gap`` of the whole split's value
    and/or in [lower_bound, upper_bound]."""

    max_gap: Optional[float] = None
    lower_bound: Optional[float] = None
    upper_bound: Optional[float] = None


@dataclass(frozen=True)
class Fairness:
    """TFMA's Fairness Indicators on every value of ``features``; ``class_ids`` binarize a
    multiclass model (one class against the rest); ``gate``: sub-metric (e.g.
    ``false_positive_rate``) -> FairnessGate, checked at every decision threshold."""

    features: Tuple[str, ...]
    thresholds: Tuple[float, ...] = (0.5,)
    class_ids: Optional[Tuple[int, ...]] = None
    gate: Tuple[Tuple[str, FairnessGate], ...] = ()

    def gated_names(self) -> List[Tuple[str, str, float]]:
        """(metric key name, sub-metric, decision threshold) of every gated rate."""
        from tfxkit.pipelines import fairness as fi

        return [(fi.metric_name(m, t, self.thresholds), m, t)
                for m, _ in self.gate for t in self.thresholds]

    def cross_slicing_specs(self) -> List[config_pb2.CrossSlicingSpec]:
        """Each feature's values against the whole split (what ``max_gap`` compares)."""
        config_pb2 = tfma_config()
        return [config_pb2.CrossSlicingSpec(baseline_spec=config_pb2.SlicingSpec(),
                                      slicing_specs=[config_pb2.SlicingSpec(feature_keys=[f])])
                for f in self.features]


def _value_threshold(lower: Optional[float], upper: Optional[float]) -> config_pb2.MetricThreshold:
    config_pb2 = tfma_config()
    vt = config_pb2.GenericValueThreshold()
    if lower is not None:
        vt.lower_bound.value = lower
    if upper is not None:
        vt.upper_bound.value = upper
    return config_pb2.MetricThreshold(value_threshold=vt)


def create_fairness_spec(f: Fairness) -> config_pb2.MetricsSpec:
    """A MetricsSpec with TFMA's FairnessIndicators metric and its gate. Each gated rate at
    each decision threshold is a FairnessRate metric of its own (same key name), with its
    bounds as per-slice thresholds on the features' slices and ``max_gap`` as cross-slice
    thresholds (the whole split's value minus the slice's, in [-max_gap, max_gap])."""
    config_pb2 = tfma_config()
    from tfxkit.pipelines import fairness as fi

    gated = f.gated_names()
    spec = config_pb2.MetricsSpec(metrics=[config_pb2.MetricConfig(
        class_name=fi.CLASS_NAME, module=fi.MODULE,
        config=json.dumps({"thresholds": list(f.thresholds),
                           "exclude": [name for name, _, _ in gated]}))])
    if f.class_ids:
        spec.binarize.class_ids.values.extend(f.class_ids)
    gates = dict(f.gate)
    feature_specs = [config_pb2.SlicingSpec(feature_keys=[x]) for x in f.features]
    for name, sub, t in gated:
        g = gates[sub]
        mc = spec.metrics.add(class_name="FairnessRate", module=fi.MODULE, config=json.dumps(
            {"rate": sub, "threshold": t, "name": name}))
        if g.lower_bound is not None or g.upper_bound is not None:
            mc.per_slice_thresholds.add(
                slicing_specs=feature_specs,
                threshold=_value_threshold(g.lower_bound, g.upper_bound))
        if g.max_gap is not None:
            mc.cross_slice_thresholds.add(
                cross_slicing_specs=f.cross_slicing_specs(),
                threshold=_value_threshold(-g.max_gap, g.max_gap))
    return spec


def _keys(s: Union[str, Sequence[str]]) -> List[str]:
    return [s] if isinstance(s, str) else list(s)


def slicing_specs(slices: Sequence[Union[str, Sequence[str]]]) -> List[config_pb2.SlicingSpec]:
    config_pb2 = tfma_config()
    specs = [config_pb2.SlicingSpec()]
    seen = []
    for s in slices:
        if _keys(s) not in seen:
            seen.append(_keys(s))
            specs.append(config_pb2.SlicingSpec(feature_keys=_keys(s)))
    return specs


def default_metrics(task: str) -> List[str]:
    return {"binary": ["accuracy", "auc"], "multiclass": ["accuracy"],
            "regression": ["mse", "mae"]}[task]


def create_eval_config(task: str, label_key: str, prediction_key: str,
                       metrics: Sequence[Metric],
                       slices: Sequence[Union[str, Sequence[str]]] = (),
                       fairness: Optional[Fairness] = None) -> config_pb2.EvalConfig:
    """An EvalConfig over the model's ``serving_default`` signature, with labels taken
    from its ``transform_features`` signature (so string labels become class ids).
    Slices are ``slices`` plus the features of per-slice thresholds and of fairness."""
    config_pb2 = tfma_config()
    names = {m.key for m in metrics}
    extra = [metric(task, n) for n in default_metrics(task) if metric(task, n).key not in names]
    if fairness is not None and task == "regression":
        raise ValueError("fairness indicators need a binary or multiclass task")
    given = [_keys(s) for s in slices]
    added = [[f] for m in metrics for f in sorted(m.slices)]
    added += [[f] for f in (fairness.features if fairness else ())]
    added = [k for k in added if k not in given]
    # A plain TFMA threshold holds on every computed slice: only when no slice was added
    # (and no metric has its own slice thresholds) does that mean "the eval.slices".
    plain = not added and not any(m.slices for m in metrics)
    ec = config_pb2.EvalConfig(
        model_specs=[config_pb2.ModelSpec(signature_name="serving_default", label_key=label_key,
                                    prediction_key=prediction_key,
                                    preprocessing_function_names=["transform_features"])],
        slicing_specs=slicing_specs(given + added),
        metrics_specs=[create_metric_spec(list(metrics) + extra, None if plain else given)])
    if fairness is not None:
        ec.metrics_specs.append(create_fairness_spec(fairness))
        if any(g.max_gap is not None for _, g in fairness.gate):
            ec.cross_slicing_specs.extend(fairness.cross_slicing_specs())
    return ec


def eval_config_from(cfg) -> config_pb2.EvalConfig:
    """The EvalConfig of a PipelineConfig."""
    from tfxkit.pipelines.models import prediction_key
    from tfxkit.pipelines.transform import transformed_name

    return create_eval_config(cfg.task, transformed_name(cfg.label), prediction_key(cfg.task),
                              _config_metrics(cfg), cfg.eval.slices, fairness_from(cfg))


def _config_metrics(cfg) -> List[Metric]:
    out = []
    for c in cfg.eval.metrics:
        m = metric(cfg.task, c.name, lower_bound=c.lower_bound, upper_bound=c.upper_bound,
                   absolute_change=c.absolute_change, relative_change=c.relative_change)
        for feature, t in c.slices.items():
            m = m.with_slice(feature, lower_bound=t.lower_bound, upper_bound=t.upper_bound,
                             absolute_change=t.absolute_change,
                             relative_change=t.relative_change)
        out.append(m)
    return out


def fairness_from(cfg) -> Optional[Fairness]:
    """The Fairness of a PipelineConfig (None without ``eval.fairness``)."""
    f = cfg.eval.fairness
    if f is None:
        return None
    class_ids = f.class_ids
    if cfg.task == "multiclass" and class_ids is None:
        class_ids = list(range(len(cfg.label_classes)))
    return Fairness(
        features=tuple(f.features), thresholds=tuple(f.thresholds),
        class_ids=tuple(class_ids) if cfg.task == "multiclass" else None,
        gate=tuple((name, FairnessGate(g.max_gap, g.lower_bound, g.upper_bound))
                   for name, g in f.gate.items()))


def threshold_table(cfg) -> Dict[str, Metric]:
    """Gated metrics by result key, for summaries."""
    return {m.key: m for m in _config_metrics(cfg)}
