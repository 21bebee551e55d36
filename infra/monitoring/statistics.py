"""TFDV statistics of a window's traffic: the raw features, typed as the serving model's
schema types them (SchemaGen's output of its run), and the model's outputs.

The rows become an Arrow RecordBatch of list columns, the form TFDV computes statistics
on (TFX's StatisticsGen computes the training statistics from the same form), and
``stats_impl.generate_statistics_in_memory`` computes them without Beam."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence


@dataclass
class Typed:
    """A window's columns as TFDV statistics, and the values that did not fit the type."""

    statistics: Any                                  # DatasetFeatureStatisticsList
    rows: int
    unparsable: Dict[str, int] = field(default_factory=dict)   # feature -> values dropped


def feature_types(schema, names: Sequence[str]) -> Dict[str, str]:
    """{feature: "int" | "float" | "bytes"} for each of ``names`` the schema has."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    kinds = {schema_pb2.INT: "int", schema_pb2.FLOAT: "float", schema_pb2.BYTES: "bytes"}
    out = {}
    for f in schema.feature:
        if f.name in names and f.type in kinds:
            out[f.name] = kinds[f.type]
    return out


def _cast(value: Any, kind: str):
    if kind == "bytes":
        if isinstance(value, bytes):
            return value
        if isinstance(value, (dict, list)):
            raise ValueError("not a scalar")
        return str(value).encode()
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise ValueError("not a number")
    if kind == "int":
        f = float(value)
        if f != int(f):
            raise ValueError("not an integer")
        return int(f)
    f = float(value)
    if f != f:  # NaN: missing
        return None
    return f


def record_batch(rows: Sequence[Dict[str, Any]], types: Dict[str, str]):
    """(RecordBatch with one list column per feature in ``types``, {feature: values that
    did not fit its type}). A missing or null value is a null list (TFDV counts it
    missing); a list value keeps its elements."""
    import pyarrow as pa

    arrow = {"int": pa.int64(), "float": pa.float32(), "bytes": pa.binary()}
    columns, names, unparsable = [], [], {}
    for name, kind in types.items():
        values: List[Optional[list]] = []
        bad = 0
        for row in rows:
            v = row.get(name)
            if v is None:
                values.append(None)
                continue
            items = v if isinstance(v, list) else [v]
            try:
                cast = [_cast(x, kind) for x in items]
            except (TypeError, ValueError, OverflowError):
                bad += 1
                values.append(None)
                continue
            cast = [c for c in cast if c is not None]
            values.append(cast or None)
        if bad:
            unparsable[name] = bad
        columns.append(pa.array(values, type=pa.list_(arrow[kind])))
        names.append(name)
    return pa.RecordBatch.from_arrays(columns, names), unparsable


def statistics_of(rows: Sequence[Dict[str, Any]], types: Dict[str, str]) -> Typed:
    """TFDV statistics of ``rows`` (dicts of raw values) typed by ``types``."""
    from tensorflow_data_validation.statistics import stats_impl, stats_options

    batch, unparsable = record_batch(rows, types)
    stats = stats_impl.generate_statistics_in_memory(batch, stats_options.StatsOptions())
    return Typed(statistics=stats, rows=len(rows), unparsable=unparsable)


def load_statistics(uri: str, split: str = "train"):
    """StatisticsGen's statistics of ``split`` (``Split-train/FeatureStats.pb``)."""
    import os

    import tensorflow_data_validation as tfdv

    path = os.path.join(uri, f"Split-{split}", "FeatureStats.pb")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no statistics of split {split!r} at {path}")
    return tfdv.load_stats_binary(path)


def load_schema(uri: str):
    """SchemaGen's (or the curated schema Importer's) ``schema.pbtxt`` in ``uri``."""
    import os

    import tensorflow_data_validation as tfdv

    path = uri if uri.endswith(".pbtxt") else os.path.join(uri, "schema.pbtxt")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no schema at {path}")
    return tfdv.load_schema_text(path)
