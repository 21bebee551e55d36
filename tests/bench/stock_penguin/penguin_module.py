"""Hand-written stock TFX module file for the penguin benchmark (what a TFX user writes
without tfxkit), doing the same work as tfxkit's multiclass template
(templates/multiclass/config.yaml through tfxkit's pipelines/transform.py, run_fn.py and
models.py), written out by hand:

- features: the four measurements z-scored after imputing (bill_length_mm: mean,
  bill_depth_mm: median, the others: mean, rounded for integer columns); body_mass_g also
  in 5 quantile buckets (of the imputed raw value); island and sex (missing values: the
  most frequent value) as vocabularies (top 5 / top 3, one OOV bucket); year (mean-imputed)
  as an integer category (top 3, one OOV); species as a label vocabulary;
- model: every transformed feature in name order, integer ids through embeddings of
  max(2, min(32, round(6 * size ** 0.25))) dimensions, floats as one column; dense 16, 8
  (relu); softmax; Adam 0.01; batch 32; 30 epochs (early stopping off: the benchmark runs
  tfxkit with model.early_stopping=null too); training rows cached and reshuffled every epoch
  (buffer 10,000, seed 42); Keras seeds 42;
- export: ``serving_default`` (raw serialized examples -> probabilities, class_id,
  class) and ``transform_features`` (for the Evaluator); the per-epoch history in
  ``history.json`` beside the model (the benchmark reads how many epochs ran).
"""
import json
import os

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx_bsl.public import tfxio

DENSE = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
MEDIAN = {"bill_depth_mm"}  # the other numbers are imputed with their mean
VOCAB = {"island": 5, "sex": 3}
LABEL = "species"


def _first(x, default):
    """A [batch, <=1] sparse feature as (values [batch], present [batch])."""
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
    out = {}
    for name in DENSE:
        out[name + "_xf"] = tft.scale_to_z_score(
            tf.cast(_fill_number(inputs[name], name in MEDIAN), tf.float32))
    out["body_mass_g_bucket_xf"] = tft.bucketize(
        tf.cast(_fill_number(inputs["body_mass_g"]), tf.float32), 5)
    for name, k in VOCAB.items():
        out[name + "_xf"] = tft.compute_and_apply_vocabulary(
            _fill_text(inputs[name], name), top_k=k, num_oov_buckets=1, vocab_filename=name)
    year = tf.strings.as_string(tf.cast(_fill_number(inputs["year"]), tf.int64))
    out["year_xf"] = tft.compute_and_apply_vocabulary(year, top_k=3, num_oov_buckets=1,
                                                      vocab_filename="year")
    if LABEL in inputs:
        out[LABEL + "_xf"] = tft.compute_and_apply_vocabulary(
            _first(inputs[LABEL], "")[0], num_oov_buckets=0, vocab_filename="label")
    return out


def _dataset(files, accessor, tft_out, batch):
    return accessor.tf_dataset_factory(
        files, tfxio.TensorFlowDatasetOptions(batch_size=batch, label_key=LABEL + "_xf",
                                              num_epochs=1),
        tft_out.transformed_metadata.schema).prefetch(tf.data.AUTOTUNE)


def _build(tft_out, n_classes):
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
    for units in (16, 8):
        x = keras.layers.Dense(units, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  ["sparse_categorical_accuracy"])
    return model


def run_fn(fn_args):
    tft_out = tft.TFTransformOutput(fn_args.transform_output)
    classes = [c.decode() for c in tft_out.vocabulary_by_name("label")]
    model = _build(tft_out, len(classes))
    train = _dataset(fn_args.train_files, fn_args.data_accessor, tft_out, 32)
    train = train.unbatch().cache().shuffle(10_000, seed=42,
                                            reshuffle_each_iteration=True).batch(32)
    evals = _dataset(fn_args.eval_files, fn_args.data_accessor, tft_out, 32).cache()
    # 30 epochs, no early stopping: the benchmark runs tfxkit with
    # model.early_stopping=null too, so both sides do the same training work.
    history = model.fit(train, epochs=30, validation_data=evals, verbose=0)
    os.makedirs(fn_args.model_run_dir, exist_ok=True)
    with open(os.path.join(fn_args.model_run_dir, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in vs] for k, vs in history.history.items()}, f)

    model.tft_layer = tft_out.transform_features_layer()
    raw_spec = tft_out.raw_feature_spec()
    serving_spec = {k: v for k, v in raw_spec.items() if k != LABEL}
    names = tf.constant(classes)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        feats = model.tft_layer(tf.io.parse_example(serialized, serving_spec))
        probabilities = model({k: feats[k] for k in model.input_names})
        class_id = tf.argmax(probabilities, axis=1)
        return {"probabilities": probabilities, "class_id": class_id[:, None],
                "class": tf.gather(names, class_id)[:, None]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(serialized):
        return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

    model.save(fn_args.serving_model_dir, save_format="tf", signatures={
        "serving_default": serve.get_concrete_function(),
        "transform_features": transform_features.get_concrete_function()})
