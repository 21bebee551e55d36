"""Hand-written stock TFX module file for the scale benchmark (what a TFX user writes
without tfxkit), doing the same work as tfxkit's regression template
(templates/regression/config.yaml through tfxkit's pipelines/transform.py, run_fn.py and
models.py), written out by hand:

- features: distance_km (median-imputed) z-scored; road_type (missing: "unknown") as a
  vocabulary with one OOV bucket; city (missing: the most frequent value) as a top-10
  vocabulary with one OOV bucket; hour and weekday (missing: the rounded mean) as integer
  categories (top 24 / top 7 as strings, one OOV bucket); duration_min the float label;
- model: every transformed feature in name order, integer ids through embeddings of
  max(2, min(32, round(6 * size ** 0.25))) dimensions, floats as one column; dense 32, 16
  (relu); one linear output; Adam 0.01; MSE with MAE and RMSE metrics; training rows
  cached and reshuffled every epoch (buffer 10,000, seed 42); Keras seeds 42;
- epochs and batch size come from the Trainer's ``custom_config`` (``epochs``,
  ``batch_size``): the benchmark sets the same values on tfxkit's side with
  ``--set model.epochs=... --set model.batch_size=... --set model.early_stopping=null``;
- export: ``serving_default`` (raw serialized examples -> prediction) and
  ``transform_features`` (for the Evaluator); the per-epoch history in ``history.json``.
"""
import json
import os

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx_bsl.public import tfxio

LABEL = "duration_min"


def _first(x, default):
    """A [batch, <=1] sparse (or dense) feature as (values [batch], present [batch])."""
    if not isinstance(x, tf.SparseTensor):
        x = tf.reshape(x, [-1])
        return x, tf.ones_like(x, tf.bool)
    shape = tf.stack([x.dense_shape[0], 1])
    values = tf.sparse.to_dense(tf.SparseTensor(x.indices, x.values, shape),
                                default_value=default)
    present = tf.sparse.to_dense(tf.SparseTensor(x.indices, tf.ones_like(x.values, tf.bool),
                                                 shape), default_value=False)
    return tf.reshape(values, [-1]), tf.reshape(present, [-1])


def _fill_number(x, median=False):
    values, present = _first(x, tf.zeros([], x.dtype))
    known = tf.cast(tf.boolean_mask(values, present), tf.float32)
    if median:
        fill = tf.reshape(tft.quantiles(known, num_buckets=2, epsilon=0.001), [-1])[0]
    else:
        fill = tft.mean(known)
    if values.dtype.is_integer:
        fill = tf.round(fill)
    return tf.where(present, values, tf.cast(fill, values.dtype))


def _fill_text(x, name):
    values, present = _first(x, "")
    path = tft.vocabulary(tf.boolean_mask(values, present), top_k=1,
                          vocab_filename=f"most_frequent_{name}")
    first_line = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        path, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER,
        tf.string, tf.lookup.TextFileIndex.WHOLE_LINE), default_value="")
    return tf.where(present, values, first_line.lookup(tf.constant(0, tf.int64)))


def preprocessing_fn(inputs):
    out = {"distance_km_xf": tft.scale_to_z_score(
        tf.cast(_fill_number(inputs["distance_km"], median=True), tf.float32))}
    road, _ = _first(inputs["road_type"], "unknown")
    out["road_type_xf"] = tft.compute_and_apply_vocabulary(
        road, num_oov_buckets=1, vocab_filename="road_type")
    out["city_xf"] = tft.compute_and_apply_vocabulary(
        _fill_text(inputs["city"], "city"), top_k=10, num_oov_buckets=1,
        vocab_filename="city")
    for name, k in (("hour", 24), ("weekday", 7)):
        ids = tf.strings.as_string(tf.cast(_fill_number(inputs[name]), tf.int64))
        out[name + "_xf"] = tft.compute_and_apply_vocabulary(
            ids, top_k=k, num_oov_buckets=1, vocab_filename=name)
    if LABEL in inputs:
        out[LABEL + "_xf"] = tf.cast(_first(inputs[LABEL], 0.0)[0], tf.float32)
    return out


def _dataset(files, accessor, tft_out, batch):
    return accessor.tf_dataset_factory(
        files, tfxio.TensorFlowDatasetOptions(batch_size=batch, label_key=LABEL + "_xf",
                                              num_epochs=1),
        tft_out.transformed_metadata.schema).prefetch(tf.data.AUTOTUNE)


def _build(tft_out):
    keras.utils.set_random_seed(42)
    schema = tft_out.transformed_metadata.schema
    inputs, parts = {}, []
    for f in sorted(schema.feature, key=lambda f: f.name):
        if f.name == LABEL + "_xf":
            continue
        if f.HasField("int_domain"):
            size = int(f.int_domain.max) + 1
            inputs[f.name] = keras.Input(shape=(), name=f.name, dtype="int64")
            dim = max(2, min(32, int(round(6 * size ** 0.25))))
            parts.append(keras.layers.Embedding(size, dim)(inputs[f.name]))
        else:
            inputs[f.name] = keras.Input(shape=(), name=f.name, dtype="float32")
            parts.append(keras.layers.Reshape((1,))(inputs[f.name]))
    x = keras.layers.Concatenate()(parts)
    for units in (32, 16):
        x = keras.layers.Dense(units, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(keras.optimizers.Adam(0.01), "mse",
                  ["mae", keras.metrics.RootMeanSquaredError(name="rmse")])
    return model


def run_fn(fn_args):
    conf = fn_args.custom_config or {}
    epochs, batch = int(conf.get("epochs", 40)), int(conf.get("batch_size", 64))
    tft_out = tft.TFTransformOutput(fn_args.transform_output)
    model = _build(tft_out)
    train = _dataset(fn_args.train_files, fn_args.data_accessor, tft_out, batch)
    train = train.unbatch().cache().shuffle(10_000, seed=42,
                                            reshuffle_each_iteration=True).batch(batch)
    evals = _dataset(fn_args.eval_files, fn_args.data_accessor, tft_out, batch).cache()
    history = model.fit(train, epochs=epochs, validation_data=evals, verbose=0)
    os.makedirs(fn_args.model_run_dir, exist_ok=True)
    with open(os.path.join(fn_args.model_run_dir, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, f)

    model.tft_layer = tft_out.transform_features_layer()
    raw_spec = tft_out.raw_feature_spec()
    serving_spec = {k: v for k, v in raw_spec.items() if k != LABEL}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        feats = model.tft_layer(tf.io.parse_example(serialized, serving_spec))
        return {"prediction": model({k: feats[k] for k in model.input_names})}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(serialized):
        return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

    model.save(fn_args.serving_model_dir, save_format="tf", signatures={
        "serving_default": serve.get_concrete_function(),
        "transform_features": transform_features.get_concrete_function()})
