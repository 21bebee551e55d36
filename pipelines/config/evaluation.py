"""``eval:``: the metrics that gate a push (on the whole eval split and on slices), the
fairness gates, and the metric names each task may gate on."""
from __future__ import annotations

from typing import Dict, List, Optional, Union

from pydantic import Field, field_validator, model_validator

from .bandit import BANDIT_METRICS
from .base import _Strict


class SliceThreshold(_Strict):
    """Thresholds that every value of one feature (each slice) must meet, instead of the
    metric's own thresholds on those slices."""

    lower_bound: Optional[float] = None
    upper_bound: Optional[float] = None
    absolute_change: Optional[float] = None
    relative_change: Optional[float] = None

    @model_validator(mode="after")
    def _some(self):
        if all(v is None for v in (self.lower_bound, self.upper_bound, self.absolute_change,
                                   self.relative_change)):
            raise ValueError("give at least one of lower_bound, upper_bound, "
                             "absolute_change, relative_change")
        return self


class MetricThreshold(_Strict):
    """A gated metric. Its thresholds hold on the whole eval split and on every slice of
    ``eval.slices`` (TFMA checks every computed slice); ``slices: {island: {lower_bound:
    0.7}}`` holds every value of ``island`` to its own thresholds instead."""

    name: str
    lower_bound: Optional[float] = None
    upper_bound: Optional[float] = None
    absolute_change: Optional[float] = None
    relative_change: Optional[float] = None
    slices: Dict[str, SliceThreshold] = {}


FAIRNESS_METRICS = ("false_positive_rate", "false_negative_rate", "true_positive_rate",
                    "true_negative_rate", "positive_rate", "negative_rate",
                    "false_discovery_rate", "false_omission_rate", "precision", "recall")


class FairnessGate(_Strict):
    """On every value of each fairness feature: the rate within ``max_gap`` of the whole
    eval split's, and/or within [lower_bound, upper_bound]."""

    max_gap: Optional[float] = Field(None, ge=0)
    lower_bound: Optional[float] = None
    upper_bound: Optional[float] = None

    @model_validator(mode="after")
    def _some(self):
        if self.max_gap is None and self.lower_bound is None and self.upper_bound is None:
            raise ValueError("give at least one of max_gap, lower_bound, upper_bound")
        return self


class Fairness(_Strict):
    """TFMA's Fairness Indicators (binary confusion-matrix rates at decision
    ``thresholds``) on every value of each sensitive feature. Multiclass tasks are
    binarized one class against the rest for each of ``class_ids`` (default: every class
    of ``label_classes``)."""

    features: List[str] = Field(min_length=1)
    thresholds: List[float] = [0.5]
    class_ids: Optional[List[int]] = None
    gate: Dict[str, FairnessGate] = {}

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v):
        if not v or any(not 0 < t < 1 for t in v) or len(set(v)) != len(v):
            raise ValueError(f"decision thresholds must be distinct numbers in (0, 1), got {v}")
        return v

    @field_validator("class_ids")
    @classmethod
    def _class_ids(cls, v):
        if v is not None and (not v or any(c < 0 for c in v) or len(set(v)) != len(v)):
            raise ValueError(f"class ids must be distinct ids >= 0, got {v}")
        return v

    @field_validator("gate")
    @classmethod
    def _gate(cls, v):
        for name in v:
            if name not in FAIRNESS_METRICS:
                raise ValueError(f"{name}: unknown fairness metric; known: "
                                 f"{', '.join(FAIRNESS_METRICS)}")
        return v


class Eval(_Strict):
    metrics: List[MetricThreshold] = []
    slices: List[Union[str, List[str]]] = []
    fairness: Optional[Fairness] = None


# Metric names a config may gate on, per task (see pipelines/metrics.py).
_METRICS = {
    "binary": ["accuracy", "auc", "precision", "recall", "auc_pr", "binary_crossentropy"],
    "multiclass": ["accuracy", "sparse_categorical_crossentropy"],
    "regression": ["mse", "rmse", "mae", "mape"],
    # off-policy estimates of the policy's value, then the reward model's (config/bandit.py)
    "bandit": list(BANDIT_METRICS),
}


def metric_names(task: str) -> List[str]:
    return _METRICS[task]
