"""Testing kit for feature engineering.

Runs a ``preprocessing_fn`` (the config-driven one or a user's) on a few in-memory
rows through real tf.Transform analyze-and-transform (in-memory Beam), in seconds,
and compares the result with expected values::

    from tfxkit.testing import assert_transform, config_preprocessing_fn

    fn = config_preprocessing_fn("config.yaml")
    assert_transform(fn, rows=[{"x": 1.0}, {"x": 3.0}, {"x": None}],
                     expected={"x_xf": [-1.0, 1.0, 0.0]}, atol=1e-4)

``None`` in a row is a missing value (the feature is absent from that example),
exactly as in a tf.Example read from CSV with an empty field.
"""
from __future__ import annotations

import functools
import math
import tempfile
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

Rows = Sequence[Mapping[str, Any]]


def infer_feature_spec(rows: Rows) -> Dict[str, Any]:
    """A VarLen feature spec per column (as tfxkit's inferred schema has), typed by value."""
    import tensorflow as tf

    kinds: Dict[str, Any] = {}
    for row in rows:
        for name, value in row.items():
            if value is None:
                kinds.setdefault(name, None)
                continue
            v = value[0] if isinstance(value, (list, tuple)) and value else value
            if isinstance(v, (bytes, str)):
                dtype = tf.string
            elif isinstance(v, (bool, int, np.integer)):
                dtype = tf.int64
            else:
                dtype = tf.float32
            prev = kinds.get(name)
            if prev is None or (prev == tf.int64 and dtype == tf.float32):
                kinds[name] = dtype
    for name, dtype in kinds.items():
        if dtype is None:
            raise ValueError(f"column {name!r} has only missing values: give feature_spec")
    return {name: tf.io.VarLenFeature(dtype) for name, dtype in kinds.items()}


def _instances(rows: Rows, spec: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    for row in rows:
        inst = {}
        for name in spec:
            v = row.get(name)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                inst[name] = []
            elif isinstance(v, (list, tuple)):
                inst[name] = list(v)
            else:
                inst[name] = [v]
        out.append(inst)
    return out


def run_preprocessing(preprocessing_fn: Callable, rows: Rows,
                      feature_spec: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Analyzes ``rows`` and transforms them with ``preprocessing_fn``; returns one dict
    of numpy values per row."""
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    spec = feature_spec or infer_feature_spec(rows)
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tempfile.TemporaryDirectory(prefix="tfxkit-testing-") as tmp:
        with tft_beam.Context(temp_dir=tmp):
            (data, _), _ = ((_instances(rows, spec), metadata)
                            | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
    return [dict(d) for d in data]


def _scalar(v):
    arr = np.asarray(v)
    if arr.size == 1:
        v = arr.reshape(-1)[0]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def assert_transform(preprocessing_fn: Callable, rows: Rows,
                     expected: Union[Mapping[str, Sequence[Any]], Sequence[Mapping[str, Any]]],
                     atol: float = 1e-5, rtol: float = 1e-5,
                     feature_spec: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Runs the transform and compares named outputs, row by row, within tolerances.

    ``expected`` is either ``{output: [value per row]}`` or a list of per-row dicts;
    only the outputs named are compared. Returns the transformed rows.
    """
    got = run_preprocessing(preprocessing_fn, rows, feature_spec)
    if isinstance(expected, Mapping):
        columns = dict(expected)
    else:
        columns = {}
        for i, row in enumerate(expected):
            for k, v in row.items():
                columns.setdefault(k, [None] * len(expected))[i] = v
    problems = []
    for name, want in columns.items():
        if len(want) != len(got):
            problems.append(f"{name}: expected {len(want)} values, the transform gave {len(got)} rows")
            continue
        if got and name not in got[0]:
            problems.append(f"{name}: no such output (outputs: {', '.join(sorted(got[0]))})")
            continue
        for i, (w, row) in enumerate(zip(want, got)):
            if w is None:
                continue
            g = _scalar(row[name])
            if isinstance(w, float) or isinstance(g, float):
                ok = isinstance(g, (int, float)) and math.isclose(float(g), float(w),
                                                                  rel_tol=rtol, abs_tol=atol)
            else:
                ok = g == w
            if not ok:
                problems.append(f"{name}[row {i}]: expected {w!r}, got {g!r}")
    if problems:
        raise AssertionError("transform differs from expected:\n  " + "\n  ".join(problems))
    return got


def config_preprocessing_fn(config: Any, **load_kwargs) -> Callable:
    """The preprocessing_fn a config builds (a path, or a loaded PipelineConfig)."""
    from tfxkit.pipelines.config import PipelineConfig, load_config
    from tfxkit.pipelines.factory import transform_custom_config
    from tfxkit.pipelines.transform import preprocessing_fn

    cfg = config if isinstance(config, PipelineConfig) else load_config(config, **load_kwargs)
    return functools.partial(preprocessing_fn, custom_config=transform_custom_config(cfg))


def spec_preprocessing_fn(task: str, label: str, features: Dict[str, Any],
                          label_classes: Optional[Iterable[str]] = None) -> Callable:
    """The config-driven preprocessing_fn for a ``features`` section given as a dict."""
    from tfxkit.pipelines.config import Features
    from tfxkit.pipelines.transform import config_preprocessing_fn as build

    spec = {"task": task, "label": label,
            "label_classes": list(label_classes) if label_classes else None,
            "features": Features.model_validate(features).model_dump(mode="json")}
    return functools.partial(build, spec=spec)
