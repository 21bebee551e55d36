"""The run's artifacts read into the report's dataclasses: StatisticsGen's
``Split-*/FeatureStats.pb``, ExampleValidator's ``Split-*/SchemaDiff.pb``, the schema, the
Trainer's ``history.json`` and the BatchInferrer's PredictionLogs."""
from __future__ import annotations

import glob
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from tfxkit.infra.metadata.report.model import (Anomaly, FeatureSummary, SchemaFeature,
                                                SplitStats)

_TYPES = {0: "INT", 1: "FLOAT", 2: "STRING", 3: "BYTES", 4: "STRUCT"}


def _feature_summary(f) -> FeatureSummary:
    name = ".".join(f.path.step) if f.path.step else f.name
    which = f.WhichOneof("stats")
    fs = FeatureSummary(name=name, kind="other", type=_TYPES.get(f.type, str(f.type)))
    if which == "num_stats":
        n = f.num_stats
        c = n.common_stats
        fs.kind = "numeric"
        fs.present, fs.missing = int(c.num_non_missing), int(c.num_missing)
        fs.mean, fs.std, fs.min, fs.median, fs.max = n.mean, n.std_dev, n.min, n.median, n.max
        fs.zeros = int(n.num_zeros)
        for h in n.histograms:
            if h.type == h.STANDARD:
                fs.histogram = [(b.low_value, b.high_value, b.sample_count) for b in h.buckets]
                break
    elif which in ("string_stats", "bytes_stats"):
        s = getattr(f, which)
        c = s.common_stats
        fs.kind = "categorical" if which == "string_stats" else "other"
        fs.present, fs.missing = int(c.num_non_missing), int(c.num_missing)
        fs.unique = int(s.unique)
        if which == "string_stats":
            if s.rank_histogram.buckets:
                fs.top = [(b.label, b.sample_count) for b in s.rank_histogram.buckets]
            else:
                fs.top = [(t.value, t.frequency) for t in s.top_values]
    elif which == "struct_stats":
        c = f.struct_stats.common_stats
        fs.present, fs.missing = int(c.num_non_missing), int(c.num_missing)
    return fs


def read_statistics(uri: str) -> List[SplitStats]:
    """StatisticsGen's output (``Split-*/FeatureStats.pb``), one SplitStats per split,
    ``train`` first."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    out = []
    for d in sorted(glob.glob(os.path.join(uri, "Split-*"))):
        split = os.path.basename(d)[len("Split-"):]
        path = os.path.join(d, "FeatureStats.pb")
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            lst = statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())
        if not lst.datasets:
            continue
        ds = lst.datasets[0]
        out.append(SplitStats(split, int(ds.num_examples),
                              sorted((_feature_summary(x) for x in ds.features),
                                     key=lambda x: x.name)))
    return sorted(out, key=lambda s: (s.split != "train", s.split))


def read_anomalies(uri: str) -> List[Anomaly]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    out = []
    for path in sorted(glob.glob(os.path.join(uri, "Split-*", "SchemaDiff.pb"))):
        split = os.path.basename(os.path.dirname(path))[len("Split-"):]
        with open(path, "rb") as f:
            a = anomalies_pb2.Anomalies.FromString(f.read())
        for feat in sorted(a.anomaly_info):
            info = a.anomaly_info[feat]
            out.append(Anomaly(split, feat, anomalies_pb2.AnomalyInfo.Severity.Name(info.severity),
                               info.short_description or info.description,
                               info.description))
        if a.HasField("dataset_anomaly_info"):
            info = a.dataset_anomaly_info
            out.append(Anomaly(split, "<dataset>",
                               anomalies_pb2.AnomalyInfo.Severity.Name(info.severity),
                               info.short_description or info.description, info.description))
    return out


def read_schema(uri: str) -> Tuple[Optional[str], List[SchemaFeature]]:
    path = os.path.join(uri, "schema.pbtxt")
    if not os.path.isfile(path):
        return None, []
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    text = open(path).read()
    schema = text_format.Parse(text, schema_pb2.Schema())
    domains = {d.name: list(d.value) for d in schema.string_domain}
    rows = []
    for f in schema.feature:
        presence = ""
        if f.HasField("presence"):
            presence = f"min fraction {f.presence.min_fraction:g}"
            if f.presence.min_count:
                presence += f", min count {f.presence.min_count}"
        valency = ""
        if f.HasField("value_count"):
            vc = f.value_count
            valency = f"{vc.min}" if vc.min == vc.max else f"{vc.min}..{vc.max or 'any'}"
        elif f.HasField("shape"):
            valency = "shape [" + ", ".join(str(d.size) for d in f.shape.dim) + "]"
        domain = ""
        which = f.WhichOneof("domain_info")
        if which == "domain":
            vals = domains.get(f.domain, [])
            domain = ", ".join(vals[:12]) + (f" (+{len(vals) - 12})" if len(vals) > 12 else "")
        elif which == "string_domain":
            vals = list(f.string_domain.value)
            domain = ", ".join(vals[:12])
        elif which == "int_domain":
            domain = f"[{f.int_domain.min}, {f.int_domain.max}]"
        elif which == "float_domain":
            domain = f"[{f.float_domain.min:g}, {f.float_domain.max:g}]"
        elif which:
            domain = which
        rows.append(SchemaFeature(f.name, schema_pb2.FeatureType.Name(f.type), presence,
                                  valency, domain))
    return text, rows


def read_history(model_run_uri: Optional[str], model_uri: Optional[str] = None
                 ) -> Dict[str, List[float]]:
    """The Keras History per epoch that the Trainer's run_fn wrote (history.json)."""
    for d in (model_run_uri, model_uri):
        if d and os.path.isfile(os.path.join(d, "history.json")):
            with open(os.path.join(d, "history.json")) as f:
                return {k: [float(x) for x in v] for k, v in json.load(f).items()}
    return {}


def read_warm_start(model_run_uri: Optional[str]) -> Optional[Dict[str, Any]]:
    """Whether and from which model the Trainer warm-started (warm_start.json), or None."""
    p = os.path.join(model_run_uri, "warm_start.json") if model_run_uri else None
    if not p or not os.path.isfile(p):
        return None
    try:
        with open(p) as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def prediction_values(uri: str) -> Dict[str, List[Any]]:
    """{output name: one value per example} of an InferenceResult's PredictionLogs
    (single-value outputs as scalars, ``probabilities`` as its maximum)."""
    from tensorflow_serving.apis import prediction_log_pb2

    from tfxkit.components.common.records import iter_records
    from tfxkit.components.prediction_store.rows import tensor_values

    out: Dict[str, List[Any]] = {}
    for path in sorted(glob.glob(os.path.join(uri, "prediction_logs-*"))):
        for raw in iter_records(path):
            pl = prediction_log_pb2.PredictionLog.FromString(raw).predict_log
            for name, t in pl.response.outputs.items():
                vals = tensor_values(t)
                if not vals:
                    continue
                if len(vals) == 1:
                    out.setdefault(name, []).append(vals[0])
                else:
                    out.setdefault(name + " (max)", []).append(max(vals))
    return out
