"""Hand-written stock TFX module file for the penguin benchmark (what a TFX user writes
without tfxkit): the same features and network as tfxkit's multiclass template."""
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from tfx_bsl.public import tfxio

DENSE = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
VOCAB = {"island": 5, "sex": 3}
LABEL = "species"


def _dense(x, default):
    if isinstance(x, tf.SparseTensor):
        x = tf.sparse.to_dense(tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]),
                               default_value=default)
    return tf.reshape(x, [-1])


def preprocessing_fn(inputs):
    out = {}
    for name in DENSE:
        raw = inputs[name]
        raw = tf.SparseTensor(raw.indices, tf.cast(raw.values, tf.float32), raw.dense_shape)
        x = _dense(raw, float("nan"))
        present = tf.logical_not(tf.math.is_nan(x))
        mean = tft.mean(tf.boolean_mask(x, present))
        out[name + "_xf"] = tft.scale_to_z_score(tf.where(present, x, mean))
    out["body_mass_g_bucket_xf"] = tft.bucketize(out["body_mass_g_xf"], 5)
    for name, k in VOCAB.items():
        out[name + "_xf"] = tft.compute_and_apply_vocabulary(
            _dense(inputs[name], ""), top_k=k, num_oov_buckets=1)
    out["year_xf"] = tft.compute_and_apply_vocabulary(
        tf.strings.as_string(_dense(inputs["year"], 0)), top_k=3, num_oov_buckets=1)
    out[LABEL + "_xf"] = tft.compute_and_apply_vocabulary(_dense(inputs[LABEL], ""),
                                                          vocab_filename="label")
    return out


def _input_fn(files, accessor, tft_out, batch):
    return accessor.tf_dataset_factory(
        files, tfxio.TensorFlowDatasetOptions(batch_size=batch, label_key=LABEL + "_xf",
                                              num_epochs=1),
        tft_out.transformed_metadata.schema)


def run_fn(fn_args):
    tft_out = tft.TFTransformOutput(fn_args.transform_output)
    schema = tft_out.transformed_metadata.schema
    inputs, parts = {}, []
    for f in schema.feature:
        if f.name == LABEL + "_xf":
            continue
        if f.HasField("int_domain"):
            inputs[f.name] = keras.Input(shape=(), name=f.name, dtype="int64")
            parts.append(keras.layers.Embedding(f.int_domain.max + 1, 4)(inputs[f.name]))
        else:
            inputs[f.name] = keras.Input(shape=(), name=f.name, dtype="float32")
            parts.append(keras.layers.Reshape((1,))(inputs[f.name]))
    x = keras.layers.Concatenate()(parts)
    for units in (16, 8):
        x = keras.layers.Dense(units, activation="relu")(x)
    n_classes = tft_out.vocabulary_size_by_name("label")
    model = keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  ["sparse_categorical_accuracy"])
    train = _input_fn(fn_args.train_files, fn_args.data_accessor, tft_out, 32)
    evals = _input_fn(fn_args.eval_files, fn_args.data_accessor, tft_out, 32)
    model.fit(train, epochs=30, validation_data=evals, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)])

    model.tft_layer = tft_out.transform_features_layer()
    raw_spec = tft_out.raw_feature_spec()
    serving_spec = {k: v for k, v in raw_spec.items() if k != LABEL}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        feats = model.tft_layer(tf.io.parse_example(serialized, serving_spec))
        return {"probabilities": model({k: feats[k] for k in model.input_names})}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(serialized):
        return model.tft_layer(tf.io.parse_example(serialized, raw_spec))

    model.save(fn_args.serving_model_dir, save_format="tf", signatures={
        "serving_default": serve.get_concrete_function(),
        "transform_features": transform_features.get_concrete_function()})
