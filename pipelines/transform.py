"""Config-driven tf.Transform feature engineering (the Waze ``features_transform`` idea).

``preprocessing_fn(inputs, custom_config)`` is the entry point the Transform component
calls (by import path, so no module-file wheel is built). It builds every feature from
the config alone, or hands over to a user's ``preprocessing.py`` that may call the
building blocks below (``to_dense``, ``impute``, ``scale``, ``bucketize``, ``vocabulary``,
``categorical_int``, ``hash_bucket``, ``label_ids``, ``sequence``).

List features (``features.sequence``) become dense ``[batch, max_length]`` tensors: the
last ``max_length`` elements as vocabulary ids + 1 (0 pads) or scaled numbers with a
``<name>_mask_xf`` (see ``sequence``). A CSV column holds a delimited string that is
split here, in the transform, so serving the same text (or a JSON list) works alike.

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


def sequence_mask_name(name: str) -> str:
    """A numeric sequence's mask (1.0 for an element, 0.0 for padding): ``<name>_mask_xf``
    (pipelines/models.py pairs it with ``<name>_xf`` by this name)."""
    return name + "_mask" + XF


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


# --------------------------------------------------------------------------- sequences

_NUMBER = r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*|\s*[-+]?(inf|nan)\s*"


def to_ragged(x, delimiter: Optional[str] = "|", dtype: str = "string",
              name: str = "sequence") -> tf.RaggedTensor:
    """A list feature as a ragged [batch, (elements)] tensor of ``dtype`` (string, int64 or
    float32): a list column (sparse or ragged) as it is; text values split on
    ``delimiter`` (a CSV column ``a|b|c``); empty elements dropped; an absent value is an
    empty list. Text that is not a number, where numbers are expected, fails the run
    with an error naming ``features.sequence.<name>``."""
    if isinstance(x, tf.SparseTensor):
        rt = tf.RaggedTensor.from_sparse(x)
    elif isinstance(x, tf.RaggedTensor):
        rt = x
    else:
        x = tf.convert_to_tensor(x)
        rt = tf.RaggedTensor.from_tensor(x if x.shape.rank == 2 else x[:, None])
    if rt.ragged_rank > 1:
        rt = rt.merge_dims(1, -1)
    if rt.dtype == tf.string:
        if delimiter is not None:
            rt = tf.strings.split(rt, sep=delimiter).merge_dims(1, 2)
        rt = tf.ragged.boolean_mask(rt, tf.strings.length(tf.strings.strip(rt)) > 0)
        if dtype != "string":
            ok = tf.strings.regex_full_match(rt.flat_values, _NUMBER)
            check = tf.debugging.Assert(
                tf.reduce_all(ok),
                [f"features.sequence.{name}: an element is not a number (dtype {dtype}):",
                 tf.boolean_mask(rt.flat_values, tf.logical_not(ok))[:3]])
            with tf.control_dependencies([check]):
                values = tf.strings.to_number(tf.strings.strip(rt.flat_values),
                                              tf.float32 if dtype == "float" else tf.int64)
            rt = rt.with_flat_values(values)
        return rt
    if dtype == "string":
        return rt.with_flat_values(tf.strings.as_string(rt.flat_values))
    if dtype == "float":
        return rt.with_flat_values(tf.cast(rt.flat_values, tf.float32))
    return rt.with_flat_values(tf.cast(rt.flat_values, tf.int64))


def last_n(rt: tf.RaggedTensor, n: int) -> tf.RaggedTensor:
    """The last ``n`` elements of every row (all of a shorter row), in order."""
    lengths = rt.row_lengths()
    starts = rt.row_starts() + tf.maximum(lengths - n, 0)
    keep = tf.minimum(lengths, n)
    idx = tf.ragged.range(starts, starts + keep)
    return tf.RaggedTensor.from_row_lengths(tf.gather(rt.flat_values, idx.flat_values),
                                            keep, validate=False)


def sequence(x, max_length: int, vocab: Optional[Dict[str, Any]] = None,
             scale_kind: Optional[str] = None, delimiter: Optional[str] = "|",
             dtype: Optional[str] = None, name: str = "sequence") -> Dict[str, tf.Tensor]:
    """A list feature as a dense ``[batch, max_length]`` tensor (``{name}_xf``), keeping
    the last ``max_length`` elements, padded at the end:

    - ``vocab``: element ids + 1 (int64; 0 is padding, so an Embedding with ``mask_zero``
      masks it), its domain set so the model sizes the embedding;
    - else numbers scaled by ``scale_kind`` (statistics over all elements), padded with 0,
      and ``{name}_mask_xf`` (float 1.0 per element, 0.0 per padding step).
    """
    dtype = dtype or ("string" if vocab is not None else "float")
    rt = last_n(to_ragged(x, delimiter, dtype, name), max_length)
    out: Dict[str, tf.Tensor] = {}
    if vocab is not None:
        flat = rt.flat_values
        if flat.dtype != tf.string:
            flat = tf.strings.as_string(flat)
        ids = tft.compute_and_apply_vocabulary(
            flat, top_k=vocab.get("top_k"), num_oov_buckets=vocab.get("num_oov_buckets", 1),
            frequency_threshold=vocab.get("frequency_threshold"), vocab_filename=name)
        size = tft.get_num_buckets_for_transformed_feature(ids)
        dense = rt.with_flat_values(ids + 1).to_tensor(default_value=0,
                                                        shape=[None, max_length])
        schema_inference.set_tensor_schema_override(
            dense, tf.constant(0, tf.int64), tf.cast(size, tf.int64))
        out[transformed_name(name)] = dense
        return out
    values = scale(rt.flat_values, scale_kind or "z_score")
    out[transformed_name(name)] = rt.with_flat_values(values).to_tensor(
        default_value=0.0, shape=[None, max_length])
    out[sequence_mask_name(name)] = rt.with_flat_values(
        tf.ones_like(values)).to_tensor(default_value=0.0, shape=[None, max_length])
    return out


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
    for name, sq in f.get("sequence", {}).items():
        if name not in inputs:
            raise ValueError(f"features.sequence.{name}: {name!r} is not in the raw data "
                             f"(have: {', '.join(sorted(inputs))})")
        sq = sq or {}
        out.update(sequence(inputs[name], sq.get("max_length", 20), vocab=sq.get("vocab"),
                            scale_kind=sq.get("scale"), delimiter=sq.get("delimiter", "|"),
                            dtype=sq.get("dtype"), name=name))
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
