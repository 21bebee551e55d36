"""Instances -> tf.Examples (infra/serving/examples.py): the encoding, checked against
tf.train.Example, its errors, and the feature spec read from the model's parse op."""
import pytest

from tfxkit.infra.serving.errors import InstanceError
from tfxkit.infra.serving.examples import encode_example

SPEC = {"bill_length_mm": "float", "body_mass_g": "int", "island": "bytes", "year": "int"}


def test_encode_matches_tf_train_example():
    import tensorflow as tf

    got = encode_example({"bill_length_mm": [39.1, -1.5], "body_mass_g": 3750.0,
                          "island": "Torgersen", "year": None, "key": "p1"}, SPEC,
                         ignore=("key",))
    ex = tf.train.Example()
    ex.features.feature["bill_length_mm"].float_list.value.extend([39.1, -1.5])
    ex.features.feature["body_mass_g"].int64_list.value.append(3750)
    ex.features.feature["island"].bytes_list.value.append(b"Torgersen")
    assert got == ex.SerializeToString(deterministic=True)
    neg = encode_example({"year": -7, "island": {"b64": "AAE="}}, SPEC)
    parsed = tf.train.Example.FromString(neg).features.feature
    assert parsed["year"].int64_list.value == [-7]
    assert parsed["island"].bytes_list.value == [b"\x00\x01"]
    assert encode_example({}, SPEC) == b""  # every feature missing


@pytest.mark.parametrize("inst, msg", [
    ({"bill_length_mm": "long"}, "'bill_length_mm' is a number"),
    ({"body_mass_g": 3750.5}, "'body_mass_g' is an integer"),
    ({"island": 1.5}, "'island' is a string"),
    ({"bill_lenght_mm": 1.0}, "unknown feature(s) 'bill_lenght_mm'"),
    ({"body_mass_g": 1 << 70}, "out of int64 range"),
    ({"island": {"b64": "!!"}}, "bad base64"),
    ("x", "expected an object"),
])
def test_encode_rejects_bad_values_naming_them(inst, msg):
    with pytest.raises(InstanceError) as e:
        encode_example(inst, SPEC, "instances[3]")
    assert msg in str(e.value) and "instances[3]" in str(e.value)


def test_spec_from_the_models_parse_op():
    import tensorflow as tf

    from tfxkit.infra.serving.examples import spec_from_graph_def

    spec = {"a": tf.io.VarLenFeature(tf.float32), "b": tf.io.FixedLenFeature([], tf.int64, 0),
            "c": tf.io.VarLenFeature(tf.string)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(x):
        p = tf.io.parse_example(x, spec)
        return {"out": tf.cast(p["b"], tf.float32)}

    gd = serve.get_concrete_function().graph.as_graph_def()
    got = spec_from_graph_def(gd)
    assert got == {"a": "float", "b": "int", "c": "bytes"}
    assert got.sizes == {"b": 1} and got.required == set()


def test_spec_knows_scalar_and_required_features():
    """Issue 13, 12a: the dense features' shapes (a scalar: [] or [1]) and defaults, from
    the parse op; a list for a scalar is a 400 naming it, not a model error."""
    import tensorflow as tf

    from tfxkit.infra.serving.examples import spec_from_graph_def

    spec = {"s": tf.io.FixedLenFeature([], tf.float32, 0.0),
            "one": tf.io.FixedLenFeature([1], tf.int64, [0]),
            "three": tf.io.FixedLenFeature([3], tf.float32, [0.0] * 3),
            "need": tf.io.FixedLenFeature([], tf.string),
            "many": tf.io.VarLenFeature(tf.string)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(x):
        p = tf.io.parse_example(x, spec)
        return {"out": p["s"]}

    got = spec_from_graph_def(serve.get_concrete_function().graph.as_graph_def())
    assert got == {"s": "float", "one": "int", "three": "float", "need": "bytes",
                   "many": "bytes"}
    assert got.sizes == {"s": 1, "one": 1, "three": 3, "need": 1}
    assert got.required == {"need"}
    ok = {"need": "x"}
    for inst in ({**ok, "s": 1.5, "one": [2], "three": [1, 2, 3], "many": ["a", "b"]},
                 {**ok, "s": [1.5]}, ok):
        ex = tf.train.Example.FromString(encode_example(inst, got))
        tf.io.parse_example([ex.SerializeToString()], spec)  # TF takes what we let through
    for inst, msg in [({**ok, "s": [1.0, 2.0]}, "'s' is a scalar (one value); got a list of 2"),
                      ({**ok, "one": [1, 2]}, "'one' is a scalar"),
                      ({**ok, "three": [1.0]}, "'three' takes 3 values; got a list of 1"),
                      ({"s": 1.0}, "'need' are required"),
                      ({**ok, "need": []}, "'need' is a scalar")]:
        with pytest.raises(InstanceError) as e:
            encode_example(inst, got, "instances[2]")
        assert msg in str(e.value) and "instances[2]" in str(e.value), (inst, str(e.value))
