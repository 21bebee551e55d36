"""Config-driven tf.Transform feature engineering (the Waze ``features_transform`` idea).

``preprocessing_fn(inputs, custom_config)`` is the entry point the Transform component
calls (by import path, so no module-file wheel is built). It builds every feature from
the config alone, or hands over to a user's ``preprocessing.py`` that may call the
building blocks below (``to_dense``, ``impute``, ``scale``, ``bucketize``, ``vocabulary``,
``categorical_int``, ``hash_bucket``, ``label_ids``).

Raw features may be sparse (absent values) or dense; every block accepts both, and a
missing value never reaches the model: it is imputed first.

Transformed names are the raw name plus ``_xf`` (``_bucket_xf`` for quantile buckets),
so raw features stay available for slicing in evaluation.
"""
from __future__ import annotations

import importlib.util
import inspect
import os
from typing import Any, Dict, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import schema_inference

XF = "_xf"
LABEL_VOCAB = "label"


def transformed_name(name: str) -> str:
    return name + XF


def bucket_name(name: str) -> str:
    return name + "_bucket" + XF


# --------------------------------------------------------------------------- blocks

def to_dense(x, default_value) -> Tuple[tf.Tensor, tf.Tensor]:
    """Returns (values [batch], present [batch] bool) for a sparse or dense feature.

    Takes the first value of each row; an absent value becomes ``default_value``.
    """
    if isinstance(x, tf.SparseTensor):
        default = tf.constant(default_value, dtype=x.dtype)
        dense = tf.sparse.to_dense(x, default_value=default)
        batch = tf.shape(dense)[0]
        dense = tf.concat([dense, tf.fill([batch, 1], default)], axis=1)[:, 0]
        ones = tf.SparseTensor(x.indices, tf.ones_like(x.indices[:, 0]), x.dense_shape)
        present = tf.sparse.to_dense(ones)
        present = tf.concat([present, tf.zeros([batch, 1], tf.int64)], axis=1)[:, 0] > 0
        return dense, present
    if isinstance(x, tf.RaggedTensor):
        return to_dense(x.to_sparse(), default_value)
    x = tf.convert_to_tensor(x)
    if x.shape.rank == 2:
        x = x[:, 0]
    if x.dtype.is_floating:
        return x, tf.logical_not(tf.math.is_nan(x))
    return x, tf.ones_like(x, dtype=tf.bool)


def _to_float(x):
    if x.dtype == tf.string:
        return tf.strings.to_number(x, tf.float32)
    return tf.cast(x, tf.float32)


def _first_vocab_entry(vocab_path, dtype):
    table = tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(
            vocab_path, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
            tf.string, tf.lookup.TextFileIndex.WHOLE_LINE),
        default_value="")
    top = table.lookup(tf.constant(0, tf.int64))
    if dtype == tf.string:
        return top
    return tf.cast(tf.strings.to_number(top, tf.float64), dtype)


def impute(x, strategy: Any = "mean", name: Optional[str] = None) -> tf.Tensor:
    """Fills absent values: ``mean``, ``median``, ``most_frequent`` or ``{'constant': v}``.

    Statistics are computed over the present values only, by tf.Transform analyzers.
    """
    if isinstance(strategy, dict):
        const = strategy["constant"]
        if x.dtype == tf.string:
            const = str(const)
        elif x.dtype.is_integer:
            const = int(const)
        else:
            const = float(const)
        dense, _ = to_dense(x, const)
        return dense
    default = "" if x.dtype == tf.string else 0
    dense, present = to_dense(x, default)
    values = tf.boolean_mask(dense, present)
    if strategy == "mean":
        fill = _cast_fill(tft.mean(_to_float(values)), dense.dtype)
    elif strategy == "median":
        bounds = tft.quantiles(_to_float(values), num_buckets=2, epsilon=0.001)
        fill = _cast_fill(tf.reshape(bounds, [-1])[0], dense.dtype)
    elif strategy == "most_frequent":
        if values.dtype == tf.string:
            as_str = values
        elif values.dtype.is_integer:
            as_str = tf.strings.as_string(values)
        else:  # enough digits that distinct floats stay distinct
            as_str = tf.strings.as_string(values, scientific=True, precision=9)
        path = tft.vocabulary(as_str, top_k=1,
                              vocab_filename=f"most_frequent_{name}" if name else None)
        fill = _first_vocab_entry(path, dense.dtype)
    else:
        raise ValueError(f"unknown impute strategy {strategy!r}")
    return tf.where(present, dense, fill)


def _cast_fill(value, dtype):
    """A statistic as the feature's dtype (rounded, not truncated, for integers)."""
    if dtype.is_integer:
        value = tf.round(value)
    return tf.cast(value, dtype)


def scale(x: tf.Tensor, kind: str = "z_score") -> tf.Tensor:
    """Scales a dense numeric tensor: ``z_score``, ``min_max``, ``log`` (log1p) or ``none``."""
    x = _to_float(x)
    if kind == "z_score":
        return tft.scale_to_z_score(x)
    if kind == "min_max":
        return tft.scale_to_0_1(x)
    if kind == "log":
        return tf.math.log1p(tf.maximum(x, 0.0))
    if kind == "none":
        return x
    raise ValueError(f"unknown scaling {kind!r}")


def bucketize(x: tf.Tensor, num_buckets: int) -> tf.Tensor:
    """Quantile buckets: int64 ids in [0, num_buckets)."""
    return tft.bucketize(_to_float(x), num_buckets)


def vocabulary(x: tf.Tensor, top_k: Optional[int] = None, num_oov_buckets: int = 1,
               frequency_threshold: Optional[int] = None,
               name: Optional[str] = None) -> tf.Tensor:
    """String (or any) values to int64 ids by a frequency vocabulary with OOV buckets."""
    if x.dtype != tf.string:
        x = tf.strings.as_string(x)
    return tft.compute_and_apply_vocabulary(
        x, top_k=top_k, num_oov_buckets=num_oov_buckets,
        frequency_threshold=frequency_threshold, vocab_filename=name)


def categorical_int(x: tf.Tensor, num_values: int, name: Optional[str] = None) -> tf.Tensor:
    """Integer categories (hour, year, ...): the ``num_values`` most frequent get ids,
    anything else one OOV id."""
    return vocabulary(tf.strings.as_string(tf.cast(x, tf.int64)), top_k=num_values,
                      num_oov_buckets=1, name=name)


def hash_bucket(x: tf.Tensor, num_buckets: int) -> tf.Tensor:
    """Hashes values into ``num_buckets`` int64 ids (no vocabulary to compute)."""
    if x.dtype != tf.string:
        x = tf.strings.as_string(x)
    ids = tft.hash_strings(x, num_buckets)
    schema_inference.set_tensor_schema_override(
        ids, tf.constant(0, tf.int64), tf.constant(num_buckets - 1, tf.int64))
    return ids


def label_ids(x, classes=None) -> tf.Tensor:
    """Class labels to int64 ids: given ``classes`` in that order, else a vocabulary
    (most frequent first) saved as ``label`` so serving can name classes."""
    if isinstance(x, tf.SparseTensor) or x.dtype == tf.string:
        x, _ = to_dense(x, "" if x.dtype == tf.string else 0)
    else:
        x, _ = to_dense(x, 0)
    if x.dtype != tf.string:
        x = tf.strings.as_string(tf.cast(x, tf.int64))
    if classes:
        keys = tf.constant([str(c) for c in classes])
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, tf.range(len(classes), dtype=tf.int64)),
            default_value=-1)
        ids = table.lookup(x)
        schema_inference.set_tensor_schema_override(
            ids, tf.constant(0, tf.int64), tf.constant(len(classes) - 1, tf.int64))
        return ids
    return tft.compute_and_apply_vocabulary(x, num_oov_buckets=0, vocab_filename=LABEL_VOCAB)


# --------------------------------------------------------------------------- config-driven

def _default_impute(x):
    return "mean" if x.dtype.is_floating or x.dtype.is_integer else "most_frequent"


def config_preprocessing_fn(inputs: Dict[str, Any], spec: Dict[str, Any]) -> Dict[str, Any]:
    """Builds every transformed feature from the ``features`` section of a config.

    ``spec`` is the JSON form of the config (``task``, ``label``, ``label_classes``,
    ``features``).
    """
    f = spec["features"]
    scale_cfg = f.get("scale", "z_score")
    imputes = f.get("impute", {})
    out: Dict[str, Any] = {}

    def filled(name):
        if name not in inputs:
            raise ValueError(f"feature {name!r} is not in the raw data "
                             f"(have: {', '.join(sorted(inputs))})")
        x = inputs[name]
        return impute(x, imputes.get(name, _default_impute(x)), name=name)

    for name in f.get("dense", []):
        kind = scale_cfg if isinstance(scale_cfg, str) else scale_cfg.get(name, "z_score")
        out[transformed_name(name)] = scale(filled(name), kind)
    for name, n in f.get("bucket", {}).items():
        out[bucket_name(name)] = bucketize(filled(name), n)
    for name, v in f.get("vocab", {}).items():
        v = v or {}
        out[transformed_name(name)] = vocabulary(
            filled(name), top_k=v.get("top_k"), num_oov_buckets=v.get("num_oov_buckets", 1),
            frequency_threshold=v.get("frequency_threshold"), name=name)
    for name, n in f.get("categorical_int", {}).items():
        out[transformed_name(name)] = categorical_int(filled(name), n, name=name)
    for name, n in f.get("hash", {}).items():
        out[transformed_name(name)] = hash_bucket(filled(name), n)
    if isinstance(scale_cfg, dict):
        for name, kind in scale_cfg.items():
            if transformed_name(name) not in out:
                out[transformed_name(name)] = scale(filled(name), kind)
    out.update(transform_label(inputs, spec))
    bandit = transform_bandit(inputs, spec)
    both = sorted(set(bandit) & set(out))
    if both:
        raise ValueError(f"bandit columns are not context features: {', '.join(both)} "
                         "come from the bandit section, take them out of features")
    out.update(bandit)
    return out


def transform_label(inputs: Dict[str, Any], spec: Dict[str, Any]) -> Dict[str, Any]:
    """The label's transformed feature (absent at serving time: returns nothing)."""
    label = spec["label"]
    if label not in inputs:
        return {}
    x = inputs[label]
    if spec["task"] in ("regression", "bandit"):  # a bandit's label is the reward
        y, _ = to_dense(x, 0.0 if x.dtype.is_floating else 0)
        return {transformed_name(label): tf.cast(y, tf.float32)}
    if spec["task"] == "binary" and x.dtype.is_integer and not spec.get("label_classes"):
        y, _ = to_dense(x, 0)
        return {transformed_name(label): tf.cast(y, tf.int64)}
    return {transformed_name(label): label_ids(x, spec.get("label_classes"))}


def transform_bandit(inputs: Dict[str, Any], spec: Dict[str, Any]) -> Dict[str, Any]:
    """A bandit's logged columns (task ``bandit``; nothing for other tasks): the action as
    its index in ``bandit.actions`` (int64, -1 for any other value) and the propensity as
    float32, each under its transformed name and each absent at serving time. The reward
    is the label (``transform_label``). The Trainer reads them apart from the context
    features (``pipelines/policy.py``); a user's ``preprocessing_fn`` calls this too."""
    if spec.get("task") != "bandit":
        return {}
    bandit = spec["bandit"]
    out: Dict[str, Any] = {}
    action, propensity = bandit["action"], bandit["propensity"]
    if action in inputs:
        out[transformed_name(action)] = label_ids(inputs[action], bandit["actions"])
    if propensity in inputs:
        x = inputs[propensity]
        p, _ = to_dense(x, "" if x.dtype == tf.string else 0)
        out[transformed_name(propensity)] = _to_float(p)
    return out


def load_module(path: str, attr: str):
    """Imports ``attr`` from a user's Python file (preprocessing.py, model.py)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such module file {path}")
    mod_name = "tfxkit_user_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, attr):
        raise AttributeError(f"{path} defines no {attr}()")
    return getattr(module, attr)


def preprocessing_fn(inputs: Dict[str, Any], custom_config: Dict[str, Any]) -> Dict[str, Any]:
    """The Transform component's entry point (``tfxkit.pipelines.transform.preprocessing_fn``)."""
    spec = custom_config or {}
    module = spec.get("features", {}).get("module")
    if module:
        user_fn = load_module(module, "preprocessing_fn")
        if len(inspect.signature(user_fn).parameters) >= 2:
            return user_fn(inputs, spec)
        return user_fn(inputs)
    return config_preprocessing_fn(inputs, spec)
