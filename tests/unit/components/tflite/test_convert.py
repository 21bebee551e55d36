"""components/tflite/convert.py on tiny SavedModels: a Keras model converts with TFLite's
builtins; a graph with an op the builtins lack (AsString) fails with that op named and the
options, or converts with Select TF ops when allowed, and the interpreter runs it."""
import numpy as np
import pytest

from tfxkit.components.tflite import convert
from tfxkit.components.tflite.check import interpreter

# what TF 2.16's converter said for the multiclass template's transform (shortened)
TEMPLATE_ERROR = """loc(callsite(...)): error: 'tf.StringToHashBucketFast' op is neither a custom op nor a flex op
loc(callsite(...)): error: 'tf.AsString' op is neither a custom op nor a flex op
error: failed while converting: 'main':
Some ops are not supported by the native TFLite runtime, you can enable TF kernels fallback using TF Select. See instructions: https://www.tensorflow.org/lite/guide/ops_select
TF Select ops: AsString, ConcatV2, SelectV2, SparseToDense, StringToHashBucketFast, UpperBound
Details:
\ttf.AsString(tensor<?xi64>) -> (tensor<?x!tf_type.string>) : {device = ""}
"""


def _tf_at_least_2_20() -> bool:
    import tensorflow as tf

    return tuple(int(p) for p in tf.__version__.split(".")[:2]) >= (2, 20)


# Measured on the TFX 1.21 stack (TF 2.21): its tf.lite.Interpreter has no Flex delegate
# (Select TF ops fail to prepare: "Make sure you apply/link the Flex delegate"), and LiteRT
# (ai_edge_litert) is not in the stack. Strict: the day they pass there, this fails.
NO_FLEX_ON_TF_2_20 = pytest.mark.xfail(
    _tf_at_least_2_20(), strict=True,
    reason="TF >= 2.20 (TFX 1.21 stack): no Flex delegate in tf.lite.Interpreter "
           "(README, TensorFlow Lite export)")


def test_unsupported_ops_are_parsed_from_the_converters_message():
    assert convert.unsupported_ops(TEMPLATE_ERROR) == [
        "AsString", "ConcatV2", "SelectV2", "SparseToDense", "StringToHashBucketFast",
        "UpperBound"]
    assert convert.unsupported_ops("error: 'tf.Bogus' op is neither a custom op nor a "
                                   "flex op") == ["Bogus"]
    assert convert.unsupported_ops("some other failure") == []


def _keras_model(path, with_as_string=False):
    """A tiny Keras (tf_keras here) Dense model saved with a signature over one float
    feature ``x`` [batch, 2]; ``with_as_string`` adds an output through tf.strings.as_string
    (AsString: no TFLite builtin)."""
    import tensorflow as tf


    from tfxkit.pipelines import compat

    keras = compat.keras_module(compat.keras_version())  # tf_keras here, Keras 3 on TFX 1.21

    model = keras.Sequential([keras.Input(shape=(2,)),
                              keras.layers.Dense(3, activation="softmax")])

    @tf.function(input_signature=[{"x": tf.TensorSpec([None, 2], tf.float32, name="x")}])
    def serve(features):
        p = model(features["x"])
        out = {"probabilities": p}
        if with_as_string:
            out["text"] = tf.strings.as_string(tf.argmax(p, axis=1))
        return out

    module = tf.Module()
    module.model = model
    module.serve = serve
    tf.saved_model.save(module, str(path), signatures={"serving_raw": serve})
    return model


def test_a_keras_model_converts_with_builtins_and_matches(tmp_path):
    """Keras 3 too (TFX 1.21): its variables are folded into constants before conversion
    (``frozen_signature``); converted as saved, TF 2.21's .tflite was off by up to 0.9."""
    model = _keras_model(tmp_path / "m")
    out = convert.convert(str(tmp_path / "m"), "serving_raw")
    assert not out.select_tf_ops and out.flex_ops == [] and len(out.content) > 100
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    runner = interpreter(out.content).get_signature_runner("serving_raw")
    got = runner(x=x)["probabilities"]
    assert got.shape == (5, 3)
    assert np.abs(got - model(x).numpy()).max() < 1e-5


def test_an_op_the_builtins_lack_is_named_with_the_options(tmp_path):
    _keras_model(tmp_path / "m", with_as_string=True)
    with pytest.raises(convert.ConversionError) as e:
        convert.convert(str(tmp_path / "m"), "serving_raw")
    assert e.value.ops == ["AsString"]
    msg = str(e.value)
    assert "TFLite builtins lack 1 op(s) of signature 'serving_raw' (the transform graph " \
           "included): AsString; set push.tflite.select_tf_ops: true" in msg
    assert "push.tflite.transform: separate" in msg
    sep = pytest.raises(convert.ConversionError, convert.convert, str(tmp_path / "m"),
                        "serving_raw", transform="separate")
    assert "transform: separate" not in str(sep.value)  # already separate: not offered
    # allowed: Select TF ops (Flex)
    out = convert.convert(str(tmp_path / "m"), "serving_raw", select_tf_ops=True)
    assert out.select_tf_ops and out.flex_ops == ["AsString"]


@NO_FLEX_ON_TF_2_20
def test_select_tf_ops_run_in_tensorflows_interpreter(tmp_path):
    _keras_model(tmp_path / "m", with_as_string=True)
    out = convert.convert(str(tmp_path / "m"), "serving_raw", select_tf_ops=True)
    runner = interpreter(out.content).get_signature_runner("serving_raw")
    res = runner(x=np.zeros((2, 2), np.float32))
    assert res["probabilities"].shape == (2, 3)
    assert res["text"].tolist() == [str(i).encode() for i in res["probabilities"].argmax(1)]


def test_a_signature_that_is_not_there(tmp_path):
    _keras_model(tmp_path / "m")
    with pytest.raises(convert.ConversionError) as e:
        convert.convert(str(tmp_path / "m"), "nope")
    assert e.value.ops == [] and "TFLite conversion of signature 'nope' failed" in str(e.value)


def _vocab_model(path, vocab_file):
    """A tiny SavedModel whose signature looks a string up in a table filled from a
    vocabulary file (as tft.compute_and_apply_vocabulary does) and formats the id with
    AsString (no TFLite builtin)."""
    import tensorflow as tf

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.lookup.StaticHashTable(
                tf.lookup.TextFileInitializer(
                    str(vocab_file), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                    tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), default_value=-1)

        @tf.function(input_signature=[{"s": tf.TensorSpec([None], tf.string, name="s")}])
        def serve(self, features):
            ids = self.table.lookup(features["s"])
            return {"id": ids, "text": tf.strings.as_string(ids)}

    m = M()
    tf.saved_model.save(m, str(path), signatures={"serving_raw": m.serve})


def test_vocabulary_tables_point_to_transform_separate(tmp_path):
    """A graph with tables filled from vocabulary files: the failure's advice is
    transform: separate (with Select TF ops the model converts, but on TF 2.16 its lookups
    then run on uninitialised tables: components/tflite/README.md)."""
    (tmp_path / "vocab.txt").write_text("a\nb\nc\n")
    _vocab_model(tmp_path / "m", tmp_path / "vocab.txt")
    assert convert.vocabulary_tables(str(tmp_path / "m")) == 1
    assert convert.vocabulary_tables(str(tmp_path / "nowhere")) == 0
    with pytest.raises(convert.ConversionError) as e:
        convert.convert(str(tmp_path / "m"), "serving_raw")
    assert e.value.ops == ["AsString"]
    assert str(e.value).endswith(
        "set push.tflite.transform: separate (the .tflite takes the transformed features; "
        "run the transform apart, e.g. the SavedModel's transform_features signature); "
        "select_tf_ops alone will not do: lookup tables filled from vocabulary files are "
        "not initialised in a .tflite (1 InitializeTableFromTextFile op(s) in the "
        "SavedModel)")
    _keras_model(tmp_path / "k")
    assert convert.vocabulary_tables(str(tmp_path / "k")) == 0
    out = convert.convert(str(tmp_path / "m"), "serving_raw", select_tf_ops=True)
    assert out.select_tf_ops and out.flex_ops == ["AsString"]


@NO_FLEX_ON_TF_2_20
def test_vocabulary_tables_with_select_tf_ops_are_not_initialised(tmp_path):
    (tmp_path / "vocab.txt").write_text("a\nb\nc\n")
    _vocab_model(tmp_path / "m", tmp_path / "vocab.txt")
    # Select TF ops: it converts; TF 2.16's interpreter then finds the table never
    # initialised (measured; a later TensorFlow that initialises it must give the ids)
    out = convert.convert(str(tmp_path / "m"), "serving_raw", select_tf_ops=True)
    assert out.select_tf_ops and out.flex_ops == ["AsString"]
    runner = interpreter(out.content).get_signature_runner("serving_raw")
    try:
        got = runner(s=np.array([b"b", b"z"], dtype=object))
    except RuntimeError as err:
        assert "hashtable need to be initialized" in str(err)
        print("vocabulary table in TFLite: not initialised")
    else:
        assert got["id"].tolist() == [1, -1] and got["text"].tolist() == [b"1", b"-1"]
        print("vocabulary table in TFLite: initialised")


def test_frozen_signature_keeps_the_names_or_says_it_cannot(tmp_path):
    import tensorflow as tf

    model = _keras_model(tmp_path / "m", with_as_string=True)
    assert convert.frozen_signature(str(tmp_path / "m"), "serving_raw", str(tmp_path / "f"))
    loaded = tf.saved_model.load(str(tmp_path / "f"))
    fn = loaded.signatures["serving_raw"]
    assert sorted(fn.structured_input_signature[1]) == ["x"]
    x = np.ones((2, 2), np.float32)
    out = fn(x=tf.constant(x))
    assert sorted(out) == ["probabilities", "text"]
    assert np.abs(out["probabilities"].numpy() - model(x).numpy()).max() < 1e-6
    assert not list(fn.variables)  # folded into constants
    assert not convert.frozen_signature(str(tmp_path / "m"), "nope", str(tmp_path / "g"))
    assert not (tmp_path / "g").exists()
