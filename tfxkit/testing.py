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

Expected values are always compared, never silently skipped:

- ``None`` is refused (``ValueError``) as an expected value. A transformed output is
  dense: a missing input has been imputed by then, so write the value you expect after
  imputation (the mean, the constant, the vocabulary id of the most frequent value...).
- ``ANY`` leaves one row of one output unchecked, on purpose and visibly::

      expected={"city_xf": [0, 0, ANY, 1]}

  In the list-of-dicts form, an output a row's dict does not name is not checked for
  that row.
- A list or tuple expects several values for one row (a multi-valued output), compared
  element by element; ``[]`` expects no value at all (an empty sparse output).
"""
from __future__ import annotations

import functools
import math
import tempfile
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import numpy as np

Rows = Sequence[Mapping[str, Any]]


class _Any:
    """The expected value that matches anything (see ``ANY``)."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()
"""An expected value that leaves this row of this output unchecked."""


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
                      feature_spec: Optional[Dict[str, Any]] = None,
                      tf_compat_v1: bool = False) -> List[Dict[str, Any]]:
    """Analyzes ``rows`` and transforms them with ``preprocessing_fn``; returns one dict
    of numpy values per row. ``tf_compat_v1``: traced in TF1 graph mode, as TFX's Transform
    does with ``force_tf_compat_v1`` (``features.tf_compat_v1``)."""
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    spec = feature_spec or infer_feature_spec(rows)
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tempfile.TemporaryDirectory(prefix="tfxkit-testing-") as tmp:
        with tft_beam.Context(temp_dir=tmp, force_tf_compat_v1=tf_compat_v1):
            (data, _), _ = ((_instances(rows, spec), metadata)
                            | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
    return [dict(d) for d in data]


def serialized_example(row: Mapping[str, Any], feature_spec: Dict[str, Any]) -> bytes:
    """A row as a serialized tf.Example, each value of a column in ``feature_spec`` typed
    as the spec says (``None``, or a column not in the row: absent)."""
    import tensorflow as tf

    feats = {}
    for name, values in _instances([row], feature_spec)[0].items():
        if not values:
            continue
        dtype = feature_spec[name].dtype
        if dtype == tf.string:
            feats[name] = tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[v if isinstance(v, bytes) else str(v).encode() for v in values]))
        elif dtype.is_integer:
            feats[name] = tf.train.Feature(int64_list=tf.train.Int64List(
                value=[int(v) for v in values]))
        else:
            feats[name] = tf.train.Feature(float_list=tf.train.FloatList(
                value=[float(v) for v in values]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def write_transformed(preprocessing_fn: Callable, rows: Rows, out_dir: str,
                      feature_spec: Optional[Dict[str, Any]] = None) -> Tuple[str, str]:
    """What TFX's Transform gives the Trainer, for ``rows``: the transform graph analyzed on
    them (with the raw data's schema beside it) in ``out_dir/transform``, and the rows
    through it as tf.Examples in ``out_dir/transformed.tfrecord``. Returns both paths
    (a ``run_fn``'s ``transform_output`` and its train/eval files)."""
    import os

    import apache_beam as beam
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    spec = feature_spec or infer_feature_spec(rows)
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    out = os.path.join(out_dir, "transform")
    with beam.Pipeline() as p, tft_beam.Context(temp_dir=os.path.join(out_dir, "tft-tmp")):
        transform_fn = ((p | beam.Create(_instances(rows, spec)), metadata)
                        | tft_beam.AnalyzeDataset(preprocessing_fn))
        _ = transform_fn | tft_beam.WriteTransformFn(out)
    metadata_io.write_metadata(metadata, os.path.join(out, tft.TFTransformOutput.RAW_METADATA_DIR))
    tft_out = tft.TFTransformOutput(out)
    parsed = tf.io.parse_example([serialized_example(r, spec) for r in rows],
                                 tft_out.raw_feature_spec())
    xf = {k: v.numpy() for k, v in tft_out.transform_raw_features(parsed).items()}
    path = os.path.join(out_dir, "transformed.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for i in range(len(rows)):
            feats = {}
            for k, v in xf.items():
                value = np.reshape(v[i], [-1])
                if v.dtype.kind == "f":
                    feats[k] = tf.train.Feature(float_list=tf.train.FloatList(value=value))
                else:
                    feats[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=value))
            w.write(tf.train.Example(
                features=tf.train.Features(feature=feats)).SerializeToString())
    return out, path


def _scalar(v):
    arr = np.asarray(v)
    if arr.size == 1:
        v = arr.reshape(-1)[0]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _same(g, w, atol: float, rtol: float) -> bool:
    if isinstance(w, (list, tuple)):
        values = [_scalar(x) for x in np.asarray(g).reshape(-1)]
        return len(values) == len(w) and all(_same(x, y, atol, rtol)
                                             for x, y in zip(values, w))
    g = _scalar(g)
    if isinstance(g, np.ndarray):  # several values where one was expected
        return False
    if isinstance(w, float) or isinstance(g, float):
        return (isinstance(g, (int, float)) and not isinstance(w, (str, bytes, bool))
                and math.isclose(float(g), float(w), rel_tol=rtol, abs_tol=atol))
    return g == w


def _shown(g):
    arr = np.asarray(g)
    if arr.size == 1:
        return repr(_scalar(g))
    return repr([_scalar(x) for x in arr.reshape(-1)])


def _expected_columns(expected) -> Dict[str, List[Any]]:
    if isinstance(expected, Mapping):
        columns = {name: list(want) for name, want in expected.items()}
    else:  # per-row dicts: an output a row does not name is not checked for that row
        columns = {}
        for i, row in enumerate(expected):
            for k, v in row.items():
                columns.setdefault(k, [ANY] * len(expected))[i] = v
    refused = [f"{name}[row {i}]" for name, want in columns.items()
               for i, w in enumerate(want) if w is None]
    if refused:
        raise ValueError(
            f"expected value None for {', '.join(refused)}: transformed outputs are dense "
            "(a missing input is imputed before it reaches them), so write the value you "
            "expect after imputation, or tfxkit.testing.ANY to leave a row unchecked")
    return columns


def assert_transform(preprocessing_fn: Callable, rows: Rows,
                     expected: Union[Mapping[str, Sequence[Any]], Sequence[Mapping[str, Any]]],
                     atol: float = 1e-5, rtol: float = 1e-5,
                     feature_spec: Optional[Dict[str, Any]] = None) -> List[Dict[str, Any]]:
    """Runs the transform and compares named outputs, row by row, within tolerances.

    ``expected`` is either ``{output: [value per row]}`` or a list of per-row dicts;
    only the outputs named are compared. An expected ``None`` is refused with a
    ``ValueError`` (write the imputed value you expect); ``ANY`` skips one row on
    purpose. Returns the transformed rows.
    """
    columns = _expected_columns(expected)
    got = run_preprocessing(preprocessing_fn, rows, feature_spec)
    problems = []
    for name, want in columns.items():
        if len(want) != len(got):
            problems.append(f"{name}: expected {len(want)} values, the transform gave {len(got)} rows")
            continue
        if got and name not in got[0]:
            problems.append(f"{name}: no such output (outputs: {', '.join(sorted(got[0]))})")
            continue
        for i, (w, row) in enumerate(zip(want, got)):
            if w is ANY:
                continue
            if not _same(row[name], w, atol, rtol):
                problems.append(f"{name}[row {i}]: expected {w!r}, got {_shown(row[name])}")
    if problems:
        raise AssertionError("transform differs from expected:\n  " + "\n  ".join(problems))
    return got


def config_preprocessing_fn(config: Any, **load_kwargs) -> Callable:
    """The preprocessing_fn a config builds (a path, or a loaded PipelineConfig)."""
    from tfxkit.pipelines.config import PipelineConfig, load_config
    from tfxkit.pipelines.training_stage import transform_custom_config
    from tfxkit.pipelines.transform import preprocessing_fn

    cfg = config if isinstance(config, PipelineConfig) else load_config(config, **load_kwargs)
    return functools.partial(preprocessing_fn, custom_config=transform_custom_config(cfg))


def spec_preprocessing_fn(task: str, label: str, features: Dict[str, Any],
                          label_classes: Optional[Iterable[str]] = None,
                          bandit: Optional[Mapping[str, Any]] = None) -> Callable:
    """The config-driven preprocessing_fn for a ``features`` section given as a dict (and
    for task ``bandit``, the ``bandit`` section as a dict)."""
    from tfxkit.pipelines.config import Features
    from tfxkit.pipelines.transform import config_preprocessing_fn as build

    spec = {"task": task, "label": label,
            "label_classes": list(label_classes) if label_classes else None,
            "features": Features.model_validate(features).model_dump(mode="json")}
    if bandit is not None:
        spec["bandit"] = dict(bandit)
    return functools.partial(build, spec=spec)


# --------------------------------------------------------------------------- from a config

def _load(config: Any, **load_kwargs):
    from tfxkit.pipelines.config import PipelineConfig, load_config

    return config if isinstance(config, PipelineConfig) else load_config(config, **load_kwargs)


def config_sample_rows(config: Any, n: int = 6, **load_kwargs) -> List[Dict[str, Any]]:
    """``n`` raw rows (at least 4) for every column a config's features read, and its label:
    numbers for numeric features, strings for vocabularies and hashes, small integers for
    ``categorical_int``, labels from ``label_classes`` (else two or three made-up ones).
    Row 2 has every feature missing, so each feature's imputation is exercised. Built
    from the config, so a test using them follows edits of the YAML."""
    cfg = _load(config, **load_kwargs)
    f = cfg.features
    n = max(n, 4)
    strings = set(f.vocab) | set(f.hash)
    rows: List[Dict[str, Any]] = []
    for i in range(n):
        row: Dict[str, Any] = {}
        for name in f.raw_columns():
            if i == 2:
                row[name] = None
            elif name in f.categorical_int:
                row[name] = i % max(f.categorical_int[name], 2)
            elif name in strings:
                row[name] = "abc"[i % 3] if name in f.vocab else f"value-{i}"
            else:
                row[name] = 1.0 + 1.5 * i + (i % 2) * 0.25
        if cfg.task == "regression":
            row[cfg.label] = 10.0 + 2.0 * i
        elif cfg.label_classes:
            row[cfg.label] = cfg.label_classes[i % len(cfg.label_classes)]
        elif cfg.task == "binary":
            row[cfg.label] = i % 2
        else:
            row[cfg.label] = ["first", "second", "third"][i % 3]
        rows.append(row)
    return rows


def config_outputs(config: Any, **load_kwargs) -> Dict[str, Tuple[str, Optional[int]]]:
    """{transformed output: (its kind, its id count or None)} the config's features section
    asks for (kinds: dense, log, min_max, none, bucket, vocab, categorical_int, hash,
    label), the label's included."""
    cfg = _load(config, **load_kwargs)
    f = cfg.features
    out: Dict[str, Tuple[str, Optional[int]]] = {}
    for name in f.dense:
        kind = f.scale_for(name)
        out[name + "_xf"] = ("dense" if kind == "z_score" else kind, None)
    for name, k in f.bucket.items():
        out[name + "_bucket_xf"] = ("bucket", k)
    for name, v in f.vocab.items():
        out[name + "_xf"] = ("vocab", (v.top_k + v.num_oov_buckets) if v.top_k else None)
    for name, k in f.categorical_int.items():
        out[name + "_xf"] = ("categorical_int", k + 1)
    for name, k in f.hash.items():
        out[name + "_xf"] = ("hash", k)
    if isinstance(f.scale, dict):
        for name, kind in f.scale.items():
            out.setdefault(name + "_xf", ("dense" if kind == "z_score" else kind, None))
    classes = len(cfg.label_classes) if cfg.label_classes else (
        2 if cfg.task == "binary" else None)
    out[cfg.label + "_xf"] = ("label", None if cfg.task == "regression" else classes)
    return out


def assert_config_features(config: Any, rows: Optional[Rows] = None,
                           **load_kwargs) -> List[Dict[str, Any]]:
    """Transforms ``rows`` (default: ``config_sample_rows``) with the config's
    preprocessing_fn and checks every output the config's features section asks for (none
    with a preprocessing ``module``, whose outputs are its own): present in every row,
    finite (missing values imputed), z-scores centred (mean 0), ``min_max`` in [0, 1],
    ``log`` at least 0, ids in [0, their count). Returns the transformed rows."""
    cfg = _load(config, **load_kwargs)
    rows = list(rows) if rows is not None else config_sample_rows(cfg)
    got = run_preprocessing(config_preprocessing_fn(cfg), rows)
    problems = []
    wanted = {} if cfg.features.module else config_outputs(cfg)
    for name, (kind, count) in wanted.items():
        if name not in got[0]:
            problems.append(f"{name}: no such output (outputs: {', '.join(sorted(got[0]))})")
            continue
        values = np.array([float(np.asarray(r[name]).reshape(-1)[0]) for r in got])
        if not np.isfinite(values).all():
            problems.append(f"{name}: not finite: {values.tolist()}")
        elif kind == "dense" and abs(values.mean()) > 1e-4:
            problems.append(f"{name}: z-scores average {values.mean():.6f}, not 0")
        elif kind == "min_max" and not ((values >= 0) & (values <= 1)).all():
            problems.append(f"{name}: min_max values outside [0, 1]: {values.tolist()}")
        elif kind == "log" and (values < 0).any():
            problems.append(f"{name}: log1p values below 0: {values.tolist()}")
        elif kind not in ("dense", "min_max", "log", "none") and count is not None \
                and not ((values >= 0) & (values < count)).all():
            problems.append(f"{name}: ids outside [0, {count}): {values.tolist()}")
        elif kind in ("bucket", "vocab", "categorical_int", "hash") and (values < 0).any():
            problems.append(f"{name}: negative ids: {values.tolist()}")
    if len(got) != len(rows):
        problems.append(f"the transform gave {len(got)} rows for {len(rows)}")
    if problems:
        raise AssertionError("config features differ from expected:\n  "
                             + "\n  ".join(problems))
    return got
