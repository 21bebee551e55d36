"""What the lineage walk reads beyond MLMD: the schema's feature count, the anomalies of
an ExampleAnomalies artifact, the values of a HyperParameters artifact, and an evaluation's metrics held to the thresholds its run
recorded (TFMA, through ``infra/run/summary.py``)."""
from __future__ import annotations

import glob
import os
from dataclasses import asdict
from typing import Any, Dict, List, Optional


def schema_feature_count(uri: str) -> Optional[int]:
    """How many features the schema at ``uri`` holds (None if unreadable)."""
    path = os.path.join(uri, "schema.pbtxt")
    if not os.path.isfile(path):
        return None
    try:
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import schema_pb2

        schema = text_format.Parse(open(path).read(), schema_pb2.Schema())
        return len(schema.feature)
    except Exception:  # pylint: disable=broad-except
        return None


def anomaly_lines(uri: str) -> Optional[List[str]]:
    """``split: feature: reason`` per anomaly in an ExampleAnomalies artifact (None if
    unreadable)."""
    from tfxkit.components.validation_gate.gate import describe_anomalies

    files = sorted(glob.glob(os.path.join(uri, "Split-*", "*")))
    if not files:
        return None
    try:
        from tensorflow_metadata.proto.v0 import anomalies_pb2

        by_split = {}
        for f in files:
            split = os.path.basename(os.path.dirname(f))[len("Split-"):]
            with open(f, "rb") as fh:
                by_split[split] = anomalies_pb2.Anomalies.FromString(fh.read())
        return describe_anomalies(by_split)
    except Exception:  # pylint: disable=broad-except
        return None


def hyperparameter_values(uri: str, props: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The values of a HyperParameters artifact: its ``hyperparameters`` custom property
    (HyperparametersGen records it), else its ``best_hyperparameters.txt`` (the Tuner's
    artifact has no properties); None if neither is readable."""
    recorded = props.get("hyperparameters")
    if isinstance(recorded, dict):
        return recorded
    try:
        from tfxkit.components.hyperparameters_gen.choose import read

        return read(uri)
    except Exception:  # pylint: disable=broad-except
        return None


def warm_start_record(model_run_uri: Optional[str]) -> Optional[Dict[str, Any]]:
    """The Trainer's ``warm_start.json`` in its ModelRun (pipelines/run_fn.py): whether
    and from which model it warm-started, or why not; None if there is none."""
    import json

    p = os.path.join(model_run_uri, "warm_start.json") if model_run_uri else None
    if not p or not os.path.isfile(p):
        return None
    try:
        with open(p) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _bounds(t) -> Dict[str, Optional[float]]:
    """A TFMA MetricThreshold as ``pipelines.metrics.Metric``'s keyword arguments."""
    vt, ct = t.value_threshold, t.change_threshold
    return dict(
        lower_bound=vt.lower_bound.value if vt.HasField("lower_bound") else None,
        upper_bound=vt.upper_bound.value if vt.HasField("upper_bound") else None,
        absolute_change=ct.absolute.value if ct.HasField("absolute") else None,
        relative_change=ct.relative.value if ct.HasField("relative") else None)


def _per_slice_metric(m, mc, key: str, higher: bool):
    """The Metric of per-slice thresholds: the whole split's (an empty SlicingSpec) and
    one feature's values each (``eval.metrics[].slices``)."""
    metric = m.Metric(mc.class_name, key, higher)
    for pst in mc.per_slice_thresholds:
        if any(not s.feature_keys and not s.feature_values for s in pst.slicing_specs):
            metric = m.Metric(mc.class_name, key, higher, **_bounds(pst.threshold),
                              slices=metric.slices)
        else:
            for s in pst.slicing_specs:
                if len(s.feature_keys) == 1:
                    metric = metric.with_slice(s.feature_keys[0], **_bounds(pst.threshold))
    return metric


def thresholds_from_eval_config(eval_config_json: str) -> Dict[str, Any]:
    """The gated metrics of a recorded EvalConfig, as ``pipelines.metrics.Metric`` by
    result key (what the run was held to, whatever the config says now)."""
    from google.protobuf import json_format

    from tfxkit.pipelines import metrics as m
    from tfxkit.pipelines.compat import tfma_config

    by_class = {cls: (key, higher) for (cls, key, higher) in m._KNOWN.values()}  # pylint: disable=protected-access
    ec = json_format.Parse(eval_config_json, tfma_config().EvalConfig(), ignore_unknown_fields=True)
    table = {}
    for spec in ec.metrics_specs:
        for mc in spec.metrics:
            if mc.class_name not in by_class or not (
                    mc.HasField("threshold") or mc.per_slice_thresholds):
                continue
            key, higher = by_class[mc.class_name]
            if mc.HasField("threshold"):
                table[key] = m.Metric(mc.class_name, key, higher, **_bounds(mc.threshold))
            else:
                table[key] = _per_slice_metric(m, mc, key, higher)
    return table


def read_metrics(evaluation_uri: str, eval_config_json: Optional[str]) -> Dict[str, Any]:
    """Metrics (value, threshold, baseline, diff, ok) and failure reasons of an
    evaluation, through the run summary's reader, held to the recorded thresholds."""
    from tfxkit.infra.run.summary import evaluation_summary

    table = thresholds_from_eval_config(eval_config_json) if eval_config_json else {}
    s = evaluation_summary(evaluation_uri, None, None, table=table)
    return {"metrics": [asdict(m) for m in s.metrics], "reasons": s.reasons,
            "has_baseline": s.has_baseline}
