"""components/tflite/check.py (and the TFLite signatures of pipelines/run_fn.py) on a tiny
SavedModel laid out like the Trainer's: ``serving_default`` over serialized tf.Examples,
``transform_features``, and ``serving_raw`` / ``serving_transformed`` built by run_fn's
``raw_features_fn`` / ``transformed_features_fn``. The check converts, runs the TFLite
interpreter and the SavedModel on the same examples and compares; a model whose TFLite
signature computes something else fails, naming the output and the difference."""
import json
import os

import numpy as np
import pytest

from tfxkit.components.tflite import check as tcheck

RAW_SPEC = None  # built lazily (TensorFlow imported inside the tests)
NAMES = ["c_xf", "n_xf", "x_xf"]


def _raw_spec():
    import tensorflow as tf

    return {"x": tf.io.VarLenFeature(tf.float32),
            "n": tf.io.FixedLenFeature([], tf.int64, default_value=0),
            "c": tf.io.FixedLenFeature([], tf.string, default_value="")}


def _save(path, raw_offset=0.0):
    """The tiny model: a 'transform' (x absent -> 0, n as float, c == 'a' as 1.0), a
    linear 'model' on it, the template's outputs; ``raw_offset`` is added to the logits
    of serving_raw only (a TFLite signature that computes something else)."""
    import tensorflow as tf

    from tfxkit.pipelines.run_fn import raw_features_fn, transformed_features_fn

    spec = _raw_spec()
    names_table = tf.constant(["no", "yes"])

    def transform(parsed):
        sp = parsed["x"]
        x = tf.sparse.to_dense(tf.SparseTensor(sp.indices, sp.values,
                                               tf.stack([sp.dense_shape[0], 1])))[:, 0]
        return {"x_xf": x, "n_xf": tf.cast(parsed["n"], tf.float32),
                "c_xf": tf.cast(tf.equal(parsed["c"], "a"), tf.float32)}

    def model(t, offset=0.0):
        z = 0.7 * t["x_xf"] - 0.3 * t["n_xf"] + 1.5 * t["c_xf"] + offset
        p = tf.nn.softmax(tf.stack([-z, z], axis=1))
        class_id = tf.argmax(p, axis=1)
        return {"probabilities": p, "class_id": class_id[:, None],
                "class": tf.gather(names_table, class_id)[:, None]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        return model(transform(tf.io.parse_example(serialized, spec)))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(serialized):
        return transform(tf.io.parse_example(serialized, spec))

    raw = raw_features_fn(spec, lambda parsed: model(transform(parsed), raw_offset))
    tspec = {k: tf.io.FixedLenFeature([], tf.float32) for k in NAMES}
    transformed = transformed_features_fn(tspec, NAMES, lambda t: model(t))
    m = tf.Module()
    m.fns = [serve, transform_features, raw, transformed]
    tf.saved_model.save(m, str(path), signatures={
        "serving_default": serve, "transform_features": transform_features,
        "serving_raw": raw.get_concrete_function(),
        "serving_transformed": transformed.get_concrete_function()})
    return str(path)


def _examples():
    import tensorflow as tf

    def ex(x=None, n=None, c=None):
        f = {}
        if x is not None:
            f["x"] = tf.train.Feature(float_list=tf.train.FloatList(value=[x]))
        if n is not None:
            f["n"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[n]))
        if c is not None:
            f["c"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[c.encode()]))
        return tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString()

    return [ex(0.5, 1, "a"), ex(None, 2, "b"), ex(-1.25, 0, None), ex(3.0, None, "a"),
            ex(2.0, 5, "a"), ex(None, 7, None)]


def test_raw_inputs_feed_absent_values_as_nan_and_empty_strings():
    arrays, kept, notes = tcheck.raw_inputs(
        _examples(), {"x": (np.float32, []), "n": (np.int64, []), "c": (np.bytes_, [])})
    assert kept == [0, 1, 2, 4, 5]
    assert notes == ["1 rows left out: integer feature 'n' is absent"]
    assert np.isnan(arrays["x"][1]) and arrays["x"][0] == 0.5 and arrays["x"].dtype == np.float32
    assert arrays["n"].tolist() == [1, 2, 0, 5, 7]
    assert arrays["c"].tolist() == [b"a", b"b", b"", b"a", b""]
    _, kept, notes = tcheck.raw_inputs(_examples(), {"x": (np.float32, [2])})
    assert kept == [] and notes == ["4 rows left out: feature 'x' has 1 values, the "
                                    "signature takes 2", "2 rows left out: feature 'x' is "
                                    "absent, the signature takes 2 values"]


def test_include_converts_the_raw_signature_and_matches(tmp_path):
    model_dir = _save(tmp_path / "model")
    out = tmp_path / "out"
    report = tcheck.check(model_dir, _examples(), {"transform": "include",
                                                    "tolerance": 1e-5}, str(out))
    assert report["problems"] == [], report
    print("tflite include: max abs diff", report["max_abs_diff"], "size",
          report["size_bytes"])
    assert report["signature"] == "serving_raw" and report["select_tf_ops"] is False
    assert report["rows"] == 5 and report["rows_skipped"] == 1
    assert report["notes"] == ["1 rows left out: integer feature 'n' is absent"]
    assert report["max_abs_diff"] < 1e-5
    assert report["mismatched_rows"] == {"class": 0, "class_id": 0, "probabilities": 0}
    assert set(report["inputs"]) == {"x", "n", "c"}
    assert set(report["outputs"]) == {"probabilities", "class_id", "class"}
    content = (out / "model.tflite").read_bytes()
    info = json.loads((out / "tflite.json").read_text())
    assert len(content) == info["size_bytes"] == report["size_bytes"]
    import hashlib

    assert info["sha256"] == hashlib.sha256(content).hexdigest()
    assert info["max_abs_diff"] == report["max_abs_diff"] and "problems" not in info


def test_separate_feeds_the_transforms_outputs(tmp_path):
    model_dir = _save(tmp_path / "model")
    report = tcheck.check(model_dir, _examples(), {"transform": "separate"},
                          str(tmp_path / "out"))
    assert report["problems"] == [], report
    assert report["signature"] == "serving_transformed"
    assert report["rows"] == 6 and report["rows_skipped"] == 0  # no raw parsing needed
    assert set(report["inputs"]) == set(NAMES) and report["max_abs_diff"] < 1e-4


def test_a_tflite_model_that_computes_something_else_fails(tmp_path):
    model_dir = _save(tmp_path / "model", raw_offset=0.2)
    report = tcheck.check(model_dir, _examples(), {"transform": "include",
                                                    "tolerance": 1e-4}, str(tmp_path / "o"))
    probs = [p for p in report["problems"] if "'probabilities'" in p]
    assert probs and "tflite: TFLite output 'probabilities' differs from the SavedModel's " \
        "by up to" in probs[0] and "(tolerance 0.0001) on 5 of 5 rows" in probs[0]
    assert report["max_abs_diff"] > 0.01


def test_a_model_without_the_signature(tmp_path):
    model_dir = _save(tmp_path / "model")
    import tensorflow as tf

    m = tf.saved_model.load(model_dir)
    report = tcheck.check(model_dir, _examples(), {"transform": "include"},
                          str(tmp_path / "o"), model=type("M", (), {
                              "signatures": {"serving_default": m.signatures[
                                  "serving_default"]}})())
    assert report["problems"] == [
        "tflite: the model has no 'serving_raw' signature to convert (it has "
        "serving_default); the Trainer exports it when push.tflite is on: was the model "
        "trained without it?"]
    assert not os.path.exists(tmp_path / "o")


def test_uninitialised_vocabulary_tables_are_explained():
    err = RuntimeError("hashtable need to be initialized before usingNode number 100 "
                       "(HASHTABLE_FIND) failed to invoke.")
    msg = tcheck.interpreter_problem(err, 69, "include")
    assert msg.startswith("tflite: the interpreter failed on 69 eval examples: the TFLite "
                          "model's vocabulary lookups (HASHTABLE_FIND) run on tables")
    assert msg.endswith("set push.tflite.transform: separate (the .tflite takes the "
                        "transformed features; the vocabulary lookups stay in the transform)")
    assert "transform: separate" not in tcheck.interpreter_problem(err, 5, "separate")
    assert tcheck.interpreter_problem(ValueError("bad\nmore"), 3, "include") == (
        "tflite: the interpreter failed on 3 eval examples: ValueError: bad")
