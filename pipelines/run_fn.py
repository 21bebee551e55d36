"""The Trainer's ``run_fn``: trains a zoo (or user) model on transformed examples and
exports it with the transform graph inside.

Exported signatures (both take serialized *raw* tf.Examples, so training and serving
run the same transform code):

- ``serving_default``: the label need not be present; outputs ``probabilities`` and
  ``class_id`` (+ ``class`` names) for classification, ``prediction`` for regression;
- ``transform_features``: the transformed features including the label, used by the
  Evaluator (TFMA ``preprocessing_function_names``).

With ``push.tflite`` (``custom_config["tflite"]``) one more signature, the one the
InfraValidator converts to TensorFlow Lite (``components/tflite``): ``serving_raw`` (one
dense raw tensor per feature the config's transform reads, the transform inside; the
same outputs) for ``transform: include``, ``serving_transformed`` (the model's transformed
inputs, the Keras model alone) for ``separate``.

For task ``bandit`` the model is the policy's reward model (``pipelines/policy.py``),
trained on the logged action, reward and propensity, and the export is the policy's
(``pipelines/policy_export.py``: ``serving_default``, ``greedy``, ``transform_features``).

The Trainer's ``hyperparameters`` input (HyperparametersGen's or the Tuner's artifact),
when wired, overrides the model section's values (``merge_hyperparameters``).

Per-epoch history goes to ``history.json`` in the model run folder, and the Keras the
model was built with to ``model_info.json`` (``keras``: 2 or 3, and its version).

Warm start (``model.warm_start: latest_blessed``): every run saves its trained weights
layer by layer beside the export (``<Model artifact>/warm_start/``: ``weights.npz`` and
``layers.json``, the (layer, weight, shape) list). When the Trainer is given a
``base_model`` (the pipeline's latest blessed model), the new network starts from that
model's weights if its (layer, weight, shape) list is the same; otherwise, or without a
base model or its weights, it trains cold. Either way ``warm_start.json`` in the model run
folder says what happened and why (``warm_started``, ``from``, ``reason``), and the run
summary, the run report and ``tfxkit lineage`` show it.

A Keras 2 (``tf_keras``) model is saved with ``model.save`` (TFMA 0.47 on TFX 1.16 loads it
as a Keras model). A Keras 3 model (TFX 1.21's default) is saved with
``tf.saved_model.save`` of a module holding the model and the transform layer (Keras 3
models no longer take ``save_format="tf"``, and the transform layer is Keras 2): the same
two signatures, no Keras metadata, so everything downstream loads it with
``tf.saved_model.load`` (TFMA as a generic SavedModel).
"""
from __future__ import annotations

import io
import json
import os
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft

from tfxkit.components.hyperparameters_gen.choose import values_of
from tfxkit.pipelines import compat
from tfxkit.pipelines import models as zoo
from tfxkit.pipelines import policy
from tfxkit.pipelines.transform import LABEL_VOCAB, load_module, transformed_name


def _dataset(files: List[str], data_accessor, tf_transform_output, label_key: str,
             batch_size: int, num_epochs, shuffle: bool = False, seed: int = 42):
    from tfx_bsl.public import tfxio

    return data_accessor.tf_dataset_factory(
        files,
        tfxio.TensorFlowDatasetOptions(batch_size=batch_size, label_key=label_key,
                                       num_epochs=num_epochs, shuffle=shuffle,
                                       shuffle_seed=seed, shuffle_buffer_size=10_000),
        tf_transform_output.transformed_metadata.schema).prefetch(tf.data.AUTOTUNE)


def cached_and_shuffled(batches, batch_size: int, seed: int):
    """One epoch's ``batches`` cached in memory, reshuffled example by example every epoch
    (a 10,000-example buffer) and batched again. The cache holds the batches as read, not
    single examples: the same examples in the same order as ``unbatch().cache()``, without
    a tensor per feature per example (at 2.4M rows that cache grew the Trainer's RSS by
    about 2 GB)."""
    return batches.cache().unbatch().shuffle(
        10_000, seed=seed, reshuffle_each_iteration=True).batch(batch_size)


def _class_names(spec: Dict[str, Any], tf_transform_output, label_key: str) -> List[str]:
    """Class names by id: label_classes, else the label vocabulary, else the label's id
    range in the transformed schema (0/1 labels, or a user preprocessing_fn)."""
    if spec.get("label_classes"):
        return [str(c) for c in spec["label_classes"]]
    try:
        return [v.decode() if isinstance(v, bytes) else str(v)
                for v in tf_transform_output.vocabulary_by_name(LABEL_VOCAB)]
    except (ValueError, tf.errors.NotFoundError, KeyError):
        pass
    for f in tf_transform_output.transformed_metadata.schema.feature:
        if f.name == label_key and f.HasField("int_domain") and f.int_domain.max > 0:
            return [str(i) for i in range(int(f.int_domain.max) + 1)]
    if spec["task"] == "binary":
        return ["0", "1"]
    raise ValueError(f"cannot tell the classes of {label_key!r}: give label_classes, or set "
                     "an int domain on the label (tft.compute_and_apply_vocabulary does)")


def input_names(model) -> List[str]:
    """The names of the model's inputs (Keras 2 or 3)."""
    names = getattr(model, "input_names", None)  # Keras 2
    if names:
        return list(names)
    inputs = model.input  # Keras 3: the structure the model was built from
    if isinstance(inputs, dict):
        return list(inputs)
    return [t.name for t in tf.nest.flatten(inputs)]


def with_transform(model, tf_transform_output):
    """What the exported functions hang on, holding the transform layer: the model itself
    (Keras 2), or a plain module beside it (Keras 3 cannot track a Keras 2 layer)."""
    keras3 = compat.is_keras3(model)
    holder = tf.Module() if keras3 else model
    holder.tft_layer = tf_transform_output.transform_features_layer()
    if keras3:
        holder.model = model
    return holder


def transform_features_fn(holder, tf_transform_output):
    """The ``transform_features`` signature's function: raw examples, label included, to
    the transformed features (the Evaluator's preprocessing function)."""
    raw_spec = tf_transform_output.raw_feature_spec()

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(serialized):
        parsed = tf.io.parse_example(serialized, raw_spec)
        return holder.tft_layer(parsed)

    return transform_features


def save(model, holder, functions: Dict[str, Any], export_dir: str) -> None:
    """Saves ``model`` with ``functions`` (tf.functions of one serialized-examples input)
    as the signatures of those names: by Keras (Keras 2), or ``tf.saved_model.save`` of
    the holder (Keras 3)."""
    signatures = {name: fn.get_concrete_function() for name, fn in functions.items()}
    if compat.is_keras3(model):
        for name, fn in functions.items():
            setattr(holder, name, fn)
        tf.saved_model.save(holder, export_dir, signatures=signatures)
    else:
        model.save(export_dir, save_format="tf", signatures=signatures)


def export(model, tf_transform_output, spec: Dict[str, Any], class_names: List[str],
           export_dir: str) -> None:
    task, label = spec["task"], spec["label"]
    holder = with_transform(model, tf_transform_output)
    raw_spec = tf_transform_output.raw_feature_spec()
    serving_spec = {k: v for k, v in raw_spec.items() if k != label}
    names = input_names(model)
    names_table = tf.constant(class_names) if task != "regression" else None

    def outputs(out):
        if task == "regression":
            return {"prediction": out}
        if task == "binary":
            class_id = tf.cast(out[:, 0] > 0.5, tf.int64)
        else:
            class_id = tf.argmax(out, axis=1)
        # Every output is [batch, k]: tfx-bsl RunInference (BulkInferrer) splits outputs
        # per example and cannot handle a scalar string per example.
        return {"probabilities": out, "class_id": class_id[:, None],
                "class": tf.gather(names_table, class_id)[:, None]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        parsed = tf.io.parse_example(serialized, serving_spec)
        transformed = holder.tft_layer(parsed)
        return outputs(model({k: transformed[k] for k in names}, training=False))

    functions = {"serving_default": serve,
                 "transform_features": transform_features_fn(holder, tf_transform_output)}
    tflite = spec.get("tflite") or {}  # push.tflite: transform (include | separate), features
    if tflite.get("transform") == "include":
        raw = tflite.get("features")  # None: every raw feature of the schema
        functions[RAW_SIGNATURE] = raw_features_fn(
            {k: v for k, v in serving_spec.items() if raw is None or k in raw},
            lambda parsed: outputs(model(
                {k: v for k, v in holder.tft_layer(parsed).items() if k in names},
                training=False)))
    elif tflite.get("transform") == "separate":
        functions[TRANSFORMED_SIGNATURE] = transformed_features_fn(
            tf_transform_output.transformed_feature_spec(), names,
            lambda features: outputs(model(features, training=False)))
    save(model, holder, functions, export_dir)


# push.tflite (components/tflite): the signature the TFLite model is converted from
RAW_SIGNATURE = "serving_raw"                  # raw feature tensors, the transform inside
TRANSFORMED_SIGNATURE = "serving_transformed"  # transformed features, the model alone


def raw_features_fn(serving_spec: Dict[str, Any], body):
    """A tf.function over one dense tensor per raw feature (``[batch]``, or ``[batch, k]``
    for a fixed length k > 1) instead of serialized tf.Examples (ParseExample is no TFLite
    op), calling ``body(parsed)`` on the structure ``tf.io.parse_example`` would give. A
    feature that may be absent (``VarLenFeature``) is absent where its value is NaN
    (floats) or the empty string (strings); an integer one is always present."""
    specs, kinds = {}, {}
    for name, fs in sorted(serving_spec.items()):
        if isinstance(fs, tf.io.FixedLenFeature):
            shape = [int(d) for d in fs.shape]
            specs[name] = tf.TensorSpec([None] + shape, fs.dtype, name=name)
            kinds[name] = "fixed"
        elif isinstance(fs, tf.io.VarLenFeature):
            specs[name] = tf.TensorSpec([None], fs.dtype, name=name)
            kinds[name] = "varlen"
        else:
            raise ValueError(f"push.tflite: raw feature {name!r} is a {type(fs).__name__}, "
                             "which a TFLite signature over raw tensors cannot take; use "
                             "push.tflite.transform: separate")

    def present(x):
        if x.dtype.is_floating:
            return tf.logical_not(tf.math.is_nan(x))
        if x.dtype == tf.string:
            return tf.not_equal(x, "")
        return tf.ones_like(x, dtype=tf.bool)

    @tf.function(input_signature=[specs])
    def serve_raw(features):
        parsed = {}
        for name, x in features.items():
            if kinds[name] == "fixed":
                parsed[name] = x
                continue
            keep = present(x)
            rows = tf.where(keep)  # [n, 1] int64
            parsed[name] = tf.SparseTensor(
                indices=tf.concat([rows, tf.zeros_like(rows)], axis=1),
                values=tf.boolean_mask(x, keep),
                dense_shape=tf.stack([tf.shape(x, out_type=tf.int64)[0],
                                      tf.constant(1, tf.int64)]))
        return body(parsed)

    return serve_raw


def transformed_features_fn(transformed_spec: Dict[str, Any], names: List[str], body):
    """A tf.function over the model's transformed inputs (dense tensors as the transform
    writes them), calling ``body(features)``: the Keras model alone."""
    specs = {}
    for name in names:
        fs = transformed_spec.get(name)
        if not isinstance(fs, tf.io.FixedLenFeature):
            raise ValueError(f"push.tflite: the model input {name!r} is "
                             f"{type(fs).__name__ if fs is not None else 'not a transform output'}"
                             "; a TFLite signature over transformed features needs dense ones")
        specs[name] = tf.TensorSpec([None] + [int(d) for d in fs.shape], fs.dtype, name=name)

    @tf.function(input_signature=[specs])
    def serve_transformed(features):
        return body(features)

    return serve_transformed


WARM_START_DIR = "warm_start"  # in the Model artifact, beside Format-Serving
WEIGHTS_FILE = "weights.npz"
LAYERS_FILE = "layers.json"
WARM_START_INFO = "warm_start.json"  # in the model run folder

Signature = List[Tuple[str, str, Tuple[int, ...]]]


def _weight_name(w) -> str:
    """``kernel`` of ``hidden_0/kernel:0`` (Keras 2) or ``kernel`` (Keras 3)."""
    return w.name.split("/")[-1].split(":")[0]


def weight_signature(model) -> Signature:
    """(layer name, weight name, shape) of every weight of the model, layer by layer."""
    return [(layer.name, _weight_name(w), tuple(int(d) for d in w.shape))
            for layer in model.layers for w in layer.weights]


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def first_mismatch(base: Signature, new: Signature) -> Optional[str]:
    """Why weights of signature ``base`` cannot initialise a model of signature ``new``,
    naming the first differing layer (``layer hidden_0: kernel (20, 16) in the base
    model vs (21, 16) now``); None when they are the same."""
    def by_layer(sig):
        out: Dict[str, List[Tuple[str, Tuple[int, ...]]]] = {}
        for layer, name, shape in sig:
            out.setdefault(layer, []).append((name, tuple(shape)))
        return out
    b, n = by_layer(base), by_layer(new)
    for layer, weights in n.items():
        if layer not in b:
            return f"layer {layer}: not in the base model"
        theirs = b[layer]
        for i, (name, shape) in enumerate(weights):
            if i >= len(theirs):
                return f"layer {layer}: {name} {_shape_text(shape)} not in the base model"
            bname, bshape = theirs[i]
            if bname != name:
                return f"layer {layer}: weight {bname} in the base model vs {name} now"
            if bshape != shape:
                return (f"layer {layer}: {name} {_shape_text(bshape)} in the base model vs "
                        f"{_shape_text(shape)} now")
        if len(theirs) > len(weights):
            return f"layer {layer}: {theirs[len(weights)][0]} only in the base model"
    for layer in b:
        if layer not in n:
            return f"layer {layer}: only in the base model"
    return None


def save_warm_start_weights(model, serving_model_dir: str) -> str:
    """Saves the model's weights layer by layer and their signature in
    ``<Model artifact>/warm_start/`` (beside ``serving_model_dir``) for the next run."""
    import numpy as np

    d = os.path.join(os.path.dirname(serving_model_dir.rstrip("/")), WARM_START_DIR)
    tf.io.gfile.makedirs(d)
    arrays = [w for layer in model.layers for w in layer.get_weights()]
    buf = io.BytesIO()
    np.savez(buf, *arrays)
    with tf.io.gfile.GFile(os.path.join(d, WEIGHTS_FILE), "wb") as f:
        f.write(buf.getvalue())
    with tf.io.gfile.GFile(os.path.join(d, LAYERS_FILE), "w") as f:
        json.dump([[layer, name, list(shape)] for layer, name, shape in weight_signature(model)],
                  f)
    return d


def registry_version(registry: Optional[str], model_uri: str) -> Optional[str]:
    """The registry version pushed from the Model artifact at ``model_uri`` (the index's
    ``model_uri``, components/registry), or None (not pushed, no readable index)."""
    if not registry:
        return None
    try:
        with tf.io.gfile.GFile(os.path.join(registry, "registry.json")) as f:
            index = json.load(f)
    except (tf.errors.OpError, OSError, ValueError):
        return None
    want = os.path.normpath(model_uri)
    found = [v for v, e in (index.get("versions") or {}).items()
             if isinstance(e, dict) and os.path.normpath(str(e.get("model_uri", ""))) == want]
    return max(found, key=lambda v: (len(v), v)) if found else None


def warm_start(model, base_model: Optional[str], mode: str, registry: Optional[str] = None
               ) -> Dict[str, Any]:
    """Initialises ``model`` from the base model's saved weights (``base_model``: the
    base Model artifact's serving dir, TFX's ``fn_args.base_model``) when ``mode`` is
    ``latest_blessed`` and the architectures match. Returns what happened:
    ``{"mode", "warm_started", "from" (the base Model artifact's URI or None),
    "from_version" (its version in the ``registry``, or None), "reason"}``."""
    info: Dict[str, Any] = {"mode": mode, "warm_started": False, "from": None,
                            "from_version": None, "reason": ""}
    if mode != "latest_blessed":
        info["reason"] = "model.warm_start is none: trained cold"
        return info
    if not base_model:
        info["reason"] = "no blessed model of this pipeline yet: trained cold"
        return info
    base_uri = os.path.dirname(base_model.rstrip("/"))
    info["from"] = base_uri
    info["from_version"] = registry_version(registry, base_uri)
    d = os.path.join(base_uri, WARM_START_DIR)
    weights, layers = os.path.join(d, WEIGHTS_FILE), os.path.join(d, LAYERS_FILE)
    if not (tf.io.gfile.exists(weights) and tf.io.gfile.exists(layers)):
        info["reason"] = (f"the base model {base_uri} has no saved weights ({WARM_START_DIR}/"
                          "; it was trained before warm start was supported): trained cold")
        return info
    with tf.io.gfile.GFile(layers) as f:
        base_sig = [(layer, name, tuple(shape)) for layer, name, shape in json.load(f)]
    why = first_mismatch(base_sig, weight_signature(model))
    if why:
        info["reason"] = f"architecture differs from the base model: {why}: trained cold"
        return info
    import numpy as np

    with tf.io.gfile.GFile(weights, "rb") as f:
        npz = np.load(io.BytesIO(f.read()))
        arrays = [npz[f"arr_{i}"] for i in range(len(npz.files))]
    i = 0
    for layer in model.layers:
        k = len(layer.weights)
        if k:
            layer.set_weights(arrays[i:i + k])
            i += k
    info["warm_started"] = True
    version = f"version {info['from_version']} ({base_uri})" if info["from_version"] \
        else base_uri
    info["reason"] = f"initialised from the weights of {version}"
    return info


def merge_hyperparameters(model_cfg: Dict[str, Any], hp: Optional[Dict[str, Any]]
                          ) -> Dict[str, Any]:
    """The model section with the Trainer's ``fn_args.hyperparameters`` (a KerasTuner
    config, as HyperparametersGen and the Tuner write it, or a plain dict) over it: a
    value there (learning_rate, hidden_units, epochs, batch_size, dropout, ...) wins."""
    return {**(model_cfg or {}), **values_of(hp)}


def train(fn_args):
    compat.keras_internals_not_autographed()
    spec = fn_args.custom_config or {}
    task, label = spec["task"], spec["label"]
    mcfg = merge_hyperparameters(spec.get("model", {}), getattr(fn_args, "hyperparameters", None))
    label_key = transformed_name(label)
    tft_out = tft.TFTransformOutput(fn_args.transform_output)
    features = zoo.feature_infos_from_schema(tft_out.transformed_metadata.schema, label_key)
    to_pair = None  # a bandit's batches become (context, logged action/reward/propensity)
    if task == "bandit":
        features = policy.context_features(features, spec)
        model = policy.build_reward_model(features, mcfg, spec["bandit"])
        to_pair = policy.training_pairs(spec, [f.name for f in features])
        class_names: List[str] = []
    else:
        class_names = _class_names(spec, tft_out, label_key) if task != "regression" else []
        builder = zoo.build_model
        if mcfg.get("module"):
            builder = load_module(mcfg["module"], "build_model")
        model = builder(task, features, mcfg, max(len(class_names), 2))
    keras = compat.keras_of(model)
    warm = warm_start(model, getattr(fn_args, "base_model", None),
                      mcfg.get("warm_start", "none"), mcfg.get("registry"))
    print(f"tfxkit warm start: {warm['reason']}", flush=True)

    batch = mcfg.get("batch_size", 64)
    epochs = mcfg.get("epochs", 10)
    steps = mcfg.get("steps") or fn_args.train_steps or None
    seed = mcfg.get("seed", 42)
    if steps:
        # `steps` in all, in up to `epochs` rounds (each followed by evaluation).
        epochs = min(epochs, steps)
        steps_per_epoch = -(-steps // epochs)
        epochs = -(-steps // steps_per_epoch)
        train_ds = _dataset(fn_args.train_files, fn_args.data_accessor, tft_out, label_key,
                            batch, None, shuffle=True, seed=seed)
    else:
        steps_per_epoch = None
        # Cached once, reshuffled every epoch.
        train_ds = cached_and_shuffled(_dataset(
            fn_args.train_files, fn_args.data_accessor, tft_out, label_key, batch, 1),
            batch, seed)
    eval_ds = _dataset(fn_args.eval_files, fn_args.data_accessor, tft_out, label_key,
                       batch, 1)
    if to_pair:
        train_ds, eval_ds = train_ds.map(to_pair), eval_ds.map(to_pair)
    eval_ds = eval_ds.cache()
    callbacks = []
    es = mcfg.get("early_stopping")
    if es:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=es.get("monitor", "val_loss"), patience=es.get("patience", 3),
            restore_best_weights=True))
    history = model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch,
                        validation_data=eval_ds, callbacks=callbacks, verbose=0)
    os.makedirs(fn_args.model_run_dir, exist_ok=True)
    with open(os.path.join(fn_args.model_run_dir, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in vals] for k, vals in history.history.items()}, f)
    with open(os.path.join(fn_args.model_run_dir, "model_info.json"), "w") as f:
        json.dump({"keras": 3 if compat.is_keras3(model) else 2,
                   "keras_version": keras.__version__, "tensorflow": tf.__version__}, f)
    with open(os.path.join(fn_args.model_run_dir, WARM_START_INFO), "w") as f:
        json.dump(warm, f)
    save_warm_start_weights(model, fn_args.serving_model_dir)
    if task == "bandit":
        from tfxkit.pipelines import policy_export  # it builds on this module's export parts

        policy_export.export(model, tft_out, spec, fn_args.serving_model_dir)
    else:
        export(model, tft_out, spec, class_names, fn_args.serving_model_dir)
    return model


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (``tfxkit.pipelines.run_fn.run_fn``)."""
    train(fn_args)
