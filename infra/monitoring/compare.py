"""Skew and drift by TFDV's own comparators: each monitored feature gets a
``skew_comparator`` and a ``drift_comparator`` in a copy of the schema (L-infinity for a
categorical feature, Jensen-Shannon divergence for a numeric one) and
``tfdv.validate_statistics`` measures them; its ``drift_skew_info`` holds the measured
distance and the threshold of every compared feature, flagged or not."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional


@dataclass
class Distance:
    """One feature's distance against its threshold (``value`` None: not measured, e.g.
    no previous window)."""

    feature: str
    kind: str                 # skew | drift | prediction_drift
    measure: str              # L_INFTY | JENSEN_SHANNON_DIVERGENCE
    threshold: float
    value: Optional[float] = None
    note: str = ""

    @property
    def flagged(self) -> bool:
        return self.value is not None and self.value > self.threshold

    def as_dict(self) -> Dict[str, Any]:
        return {**asdict(self), "flagged": self.flagged}


L_INFTY = "L_INFTY"
JS = "JENSEN_SHANNON_DIVERGENCE"


def is_categorical(feature) -> bool:
    """A BYTES feature, or an INT one the schema marks categorical."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    if feature.type == schema_pb2.BYTES:
        return True
    return feature.type == schema_pb2.INT and feature.int_domain.is_categorical


def with_comparators(schema, thresholds: Dict[str, float], kind: str):
    """A copy of ``schema`` with only ``thresholds``' features compared (``kind``: skew
    or drift); {feature: measure}."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    out = schema_pb2.Schema()
    out.CopyFrom(schema)
    measures = {}
    for f in out.feature:
        f.ClearField("skew_comparator")
        f.ClearField("drift_comparator")
        if f.name not in thresholds:
            continue
        comparator = f.skew_comparator if kind == "skew" else f.drift_comparator
        if is_categorical(f):
            comparator.infinity_norm.threshold = thresholds[f.name]
            measures[f.name] = L_INFTY
        else:
            comparator.jensen_shannon_divergence.threshold = thresholds[f.name]
            measures[f.name] = JS
    return out, measures


def _measured(anomalies, kind: str) -> Dict[str, Dict[str, float]]:
    """{feature: {measure: value}} from ``drift_skew_info``."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    names = anomalies_pb2.DriftSkewInfo.Measurement.Type
    out: Dict[str, Dict[str, float]] = {}
    for info in anomalies.drift_skew_info:
        name = ".".join(info.path.step)
        ms = info.skew_measurements if kind == "skew" else info.drift_measurements
        for m in ms:
            out.setdefault(name, {})[names.Name(m.type)] = m.value
    return out


def compare(statistics, schema, thresholds: Dict[str, float], kind: str,
            against) -> List[Distance]:
    """Distances of ``statistics`` (the window) against ``against``: the training
    statistics (``kind`` skew) or the previous window's (drift); one per feature of
    ``thresholds`` that the schema has."""
    import tensorflow_data_validation as tfdv

    compared, measures = with_comparators(schema, thresholds, kind)
    if kind == "skew":  # TFDV: training statistics, serving statistics
        anomalies = tfdv.validate_statistics(against, compared, serving_statistics=statistics)
    else:
        anomalies = tfdv.validate_statistics(statistics, compared, previous_statistics=against)
    got = _measured(anomalies, kind)
    out = []
    for name in thresholds:
        if name not in measures:
            continue
        value = got.get(name, {}).get(measures[name])
        out.append(Distance(feature=name, kind=kind, measure=measures[name],
                            threshold=thresholds[name], value=value,
                            note="" if value is not None else "not measured (no values)"))
    return out


def output_schema(statistics):
    """A schema inferred from the outputs' statistics (one feature per output)."""
    import tensorflow_data_validation as tfdv

    return tfdv.infer_schema(statistics)
