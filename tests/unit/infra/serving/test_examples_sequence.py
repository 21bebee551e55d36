"""List features (``features.sequence``) in serving requests: a JSON list becomes a
repeated feature; a delimited string (as in CSV) stays one value for the transform to
split; numbers for a list read as text from CSV are sent as their text."""
import pytest
import tensorflow as tf

from tfxkit.infra.serving.errors import InstanceError
from tfxkit.infra.serving.examples import encode_example

SPEC = {"segments": "bytes", "segment_km": "float", "km_text": "bytes", "hour": "int"}


def parsed(b):
    return tf.train.Example.FromString(b).features.feature


def test_json_lists_and_delimited_strings():
    f = parsed(encode_example({"segments": ["jam", "local"], "segment_km": [1.5, 2],
                               "km_text": [0.25, 3], "hour": 8}, SPEC))
    assert f["segments"].bytes_list.value == [b"jam", b"local"]
    assert list(f["segment_km"].float_list.value) == [1.5, 2.0]
    assert f["km_text"].bytes_list.value == [b"0.25", b"3"]
    f = parsed(encode_example({"segments": "jam|local", "km_text": "0.25|3"}, SPEC))
    assert f["segments"].bytes_list.value == [b"jam|local"]
    assert f["km_text"].bytes_list.value == [b"0.25|3"]
    assert "segments" not in parsed(encode_example({"segments": [], "hour": 1}, SPEC))


@pytest.mark.parametrize("inst,msg", [
    ({"segments": ["jam", {"x": 1}]}, "'segments' is a string"),
    ({"segment_km": [1.0, "far"]}, "'segment_km' is a number"),
    ({"km_text": 0.25}, "'km_text' is a string"),  # a lone float is not a list
])
def test_bad_elements_are_named(inst, msg):
    with pytest.raises(InstanceError, match=msg):
        encode_example(inst, SPEC, "instances[0]")
