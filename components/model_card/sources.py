"""What the model card reads from the push's inputs, as plain dicts: TFMA's evaluation
output (every slice's metrics, the recorded EvalConfig's thresholds, TFMA's validation
failures) and TFDV's statistics of the train split. Components import no ``pipelines``
nor ``infra``: the thresholds are read from the ``eval_config.json`` the Evaluator wrote
beside its metrics (what the run was held to)."""
from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Optional, Set, Tuple

OVERALL = "Overall"


def metric_key_name(metric_config) -> str:
    """The result key TFMA gives a MetricConfig: its config's ``name``, else the class
    name in snake case (``SparseCategoricalAccuracy`` -> ``sparse_categorical_accuracy``,
    ``AUC`` -> ``auc``)."""
    if metric_config.config:
        try:
            name = json.loads(metric_config.config).get("name")
            if name:
                return name
        except ValueError:
            pass
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", metric_config.class_name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _bounds(t) -> Dict[str, float]:
    vt, ct = t.value_threshold, t.change_threshold
    out = {}
    if t.HasField("value_threshold"):
        if vt.HasField("lower_bound"):
            out["lower_bound"] = vt.lower_bound.value
        if vt.HasField("upper_bound"):
            out["upper_bound"] = vt.upper_bound.value
    if t.HasField("change_threshold"):
        if ct.HasField("absolute"):
            out["absolute_change"] = ct.absolute.value
        if ct.HasField("relative"):
            out["relative_change"] = ct.relative.value
    return out


def thresholds(eval_config) -> Dict[str, Dict[str, Any]]:
    """{metric key: {"all": bounds on every slice, "per_slice": [(feature, value|None,
    bounds)]}} of an EvalConfig (the gated metrics only)."""
    out: Dict[str, Dict[str, Any]] = {}
    for spec in eval_config.metrics_specs:
        for mc in spec.metrics:
            if not (mc.HasField("threshold") or mc.per_slice_thresholds):
                continue
            t: Dict[str, Any] = {"all": None, "per_slice": []}
            if mc.HasField("threshold"):
                t["all"] = _bounds(mc.threshold)
            for pst in mc.per_slice_thresholds:
                b = _bounds(pst.threshold)
                for s in pst.slicing_specs:
                    if not s.feature_keys and not s.feature_values:
                        t["per_slice"].append((None, None, b))  # the whole split
                    for f in s.feature_keys:
                        t["per_slice"].append((f, None, b))
                    for f, v in s.feature_values.items():
                        t["per_slice"].append((f, v, b))
            out[metric_key_name(mc)] = t
    return out


def threshold_for(t: Optional[Dict[str, Any]], feature: Optional[str],
                  value: Optional[str]) -> Optional[Dict[str, float]]:
    """The bounds a slice (``feature`` None: the overall one) is held to, if any."""
    if not t:
        return None
    for f, v, b in t["per_slice"]:
        if f == feature and (v is None or str(v) == str(value)):
            return b
    return t["all"]


def load_eval_config(evaluation_uri: str):
    """The EvalConfig the Evaluator recorded (``eval_config.json``), or None."""
    from google.protobuf import json_format
    from tensorflow_model_analysis.proto import config_pb2
    from tfx.dsl.io import fileio

    path = os.path.join(evaluation_uri, "eval_config.json")
    if not fileio.exists(path):
        return None
    with fileio.open(path) as f:
        doc = json.loads(f.read())
    return json_format.ParseDict(doc.get("evalConfig", doc), config_pb2.EvalConfig(),
                                 ignore_unknown_fields=True)


def _slice(tfma, slice_key) -> Tuple[str, Optional[str], Optional[str]]:
    """(name, feature, value) of a slice key; ("Overall", None, None) for the whole."""
    key = tfma.slicer.deserialize_slice_key(slice_key)
    name = tfma.slicer.stringify_slice_key(key) or OVERALL
    if len(key) == 1:
        f, v = key[0]
        return name, f, v.decode() if isinstance(v, bytes) else str(v)
    return name, None, None


def slice_metrics(evaluation_uri: str) -> List[Dict[str, Any]]:
    """Every slice's candidate metrics, each with its threshold and whether TFMA passed
    it: ``[{"slice", "feature", "value", "example_count", "metrics": [{"name", "value",
    "threshold"?, "passed"?}]}]``, the overall slice first."""
    import tensorflow_model_analysis as tfma

    config = load_eval_config(evaluation_uri)
    table = thresholds(config) if config is not None else {}
    failed: Set[Tuple[str, str]] = set()
    try:
        validation = tfma.load_validation_result(evaluation_uri)
        for per_slice in validation.metric_validations_per_slice:
            if per_slice.HasField("cross_slice_key"):
                continue
            name = _slice(tfma, per_slice.slice_key)[0]
            failed.update((name, f.metric_key.name) for f in per_slice.failures)
    except Exception:  # pylint: disable=broad-except  # no validations file: none failed
        pass
    out: Dict[str, Dict[str, Any]] = {}
    for mfs in tfma.load_metrics(evaluation_uri):
        if mfs.HasField("cross_slice_key"):
            continue
        name, feature, value = _slice(tfma, mfs.slice_key)
        s = out.setdefault(name, {"slice": name, "feature": feature, "value": value,
                                  "example_count": None, "metrics": {}})
        for kv in mfs.metric_keys_and_values:
            k = kv.key
            if (k.is_diff or k.model_name == "baseline"
                    or not kv.value.HasField("double_value")):
                continue
            v = kv.value.double_value.value
            if k.HasField("sub_key"):
                # a multiclass task's fairness rates are per class (binarized); others skip
                if not (k.name.startswith("fairness_indicators_metrics/")
                        and k.sub_key.HasField("class_id")):
                    continue
                m = {"name": f"{k.name} (class {k.sub_key.class_id.value})", "value": v}
                s["metrics"][m["name"]] = m
                continue
            if k.name == "example_count":
                s["example_count"] = v
                continue
            m: Dict[str, Any] = {"name": k.name, "value": v}
            b = threshold_for(table.get(k.name), feature, value)
            if b:
                m["threshold"] = b
                m["passed"] = (name, k.name) not in failed
            s["metrics"][k.name] = m  # one per name, as the registry's record keeps it
    for s in out.values():
        s["metrics"] = [s["metrics"][n] for n in sorted(s["metrics"])]
    return sorted(out.values(), key=lambda s: (s["slice"] != OVERALL, s["slice"]))


def _feature_stats(f) -> Dict[str, Any]:
    name = f.path.step[-1] if f.path.step else f.name
    if f.HasField("num_stats"):
        n = f.num_stats
        common = n.common_stats
        return {"name": name, "kind": "numeric", "mean": n.mean, "std": n.std_dev,
                "min": n.min, "max": n.max, "missing": common.num_missing,
                "zeros": n.num_zeros}
    if f.HasField("string_stats"):
        s = f.string_stats
        return {"name": name, "kind": "categorical", "unique": s.unique,
                "missing": s.common_stats.num_missing,
                "top_values": [{"value": t.value, "frequency": t.frequency}
                               for t in list(s.top_values)[:5]]}
    return {"name": name, "kind": "other"}


def feature_statistics(statistics_uri: str, split: str = "train",
                       limit: int = 50) -> Dict[str, Any]:
    """The ``split`` statistics StatisticsGen computed: {"split", "num_examples",
    "features": [per feature: numeric mean/std/min/max/missing, categorical unique and top
    values]} (at most ``limit`` features), {} when there are none."""
    from tensorflow_metadata.proto.v0 import statistics_pb2
    from tfx.dsl.io import fileio

    path = os.path.join(statistics_uri, f"Split-{split}", "FeatureStats.pb")
    if not fileio.exists(path):
        return {}
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    with fileio.open(path, "rb") as f:
        stats.ParseFromString(f.read())
    if not stats.datasets:
        return {}
    ds = stats.datasets[0]
    feats = sorted((_feature_stats(f) for f in ds.features), key=lambda d: d["name"])
    return {"split": split, "num_examples": ds.num_examples, "features": feats[:limit]}
