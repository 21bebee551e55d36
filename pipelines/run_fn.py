"""The Trainer's ``run_fn``: trains a zoo (or user) model on transformed examples and
exports it with the transform graph inside.

Exported signatures (both take serialized *raw* tf.Examples, so training and serving
run the same transform code):

- ``serving_default``: the label need not be present; outputs ``probabilities`` and
  ``class_id`` (+ ``class`` names) for classification, ``prediction`` for regression;
- ``transform_features``: the transformed features including the label, used by the
  Evaluator (TFMA ``preprocessing_function_names``).

For task ``bandit`` the model is the policy's reward model (``pipelines/policy.py``),
trained on the logged action, reward and propensity, and the export is the policy's
(``pipelines/policy_export.py``: ``serving_default``, ``greedy``, ``transform_features``).

The Trainer's ``hyperparameters`` input (HyperparametersGen's or the Tuner's artifact),
when wired, overrides the model section's values (``merge_hyperparameters``).

Per-epoch history goes to ``history.json`` in the model run folder, and the Keras the
model was built with to ``model_info.json`` (``keras``: 2 or 3, and its version).

A Keras 2 (``tf_keras``) model is saved with ``model.save`` (TFMA 0.47 on TFX 1.16 loads it
as a Keras model). A Keras 3 model (TFX 1.21's default) is saved with
``tf.saved_model.save`` of a module holding the model and the transform layer (Keras 3
models no longer take ``save_format="tf"``, and the transform layer is Keras 2): the same
two signatures, no Keras metadata, so everything downstream loads it with
``tf.saved_model.load`` (TFMA as a generic SavedModel).
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

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

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        parsed = tf.io.parse_example(serialized, serving_spec)
        transformed = holder.tft_layer(parsed)
        out = model({k: transformed[k] for k in names}, training=False)
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

    save(model, holder, {"serving_default": serve,
                         "transform_features": transform_features_fn(holder, tf_transform_output)},
         export_dir)


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
        train_ds = _dataset(fn_args.train_files, fn_args.data_accessor, tft_out, label_key,
                            batch, 1).unbatch().cache().shuffle(
                                10_000, seed=seed, reshuffle_each_iteration=True).batch(batch)
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
    if task == "bandit":
        from tfxkit.pipelines import policy_export  # it builds on this module's export parts

        policy_export.export(model, tft_out, spec, fn_args.serving_model_dir)
    else:
        export(model, tft_out, spec, class_names, fn_args.serving_model_dir)
    return model


def run_fn(fn_args) -> None:
    """TFX Trainer entry point (``tfxkit.pipelines.run_fn.run_fn``)."""
    train(fn_args)
