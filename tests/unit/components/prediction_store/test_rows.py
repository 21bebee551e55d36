"""PredictionLogs to store rows (``rows.py``): tensor values, duplicate keys."""
import pytest

from tfxkit.components.prediction_store import rows as rows_lib


def test_duplicate_keys_fail_or_keep_last():
    data = [("a", {"v": 1}), ("b", {"v": 2}), ("a", {"v": 3})]
    with pytest.raises(rows_lib.DuplicateKeyError, match="key 'a' appears more than once"):
        list(rows_lib.dedupe(data))
    assert list(rows_lib.dedupe(data, "keep_last")) == [("b", {"v": 2}), ("a", {"v": 3})]


def test_an_unknown_duplicate_key_rule_is_refused():
    with pytest.raises(ValueError, match="fail or keep_last, got 'first'"):
        list(rows_lib.dedupe([("a", {})], "first"))


def test_tensor_values_read_packed_content_typed_fields_and_strings():
    import numpy as np
    from tensorflow.core.framework import tensor_pb2

    packed = tensor_pb2.TensorProto(dtype=1, tensor_content=np.array(
        [0.25, 0.75], np.float32).tobytes())
    assert rows_lib.tensor_values(packed) == [0.25, 0.75]
    ints = tensor_pb2.TensorProto(dtype=9, tensor_content=np.array([3, -1], np.int64).tobytes())
    assert rows_lib.tensor_values(ints) == [3, -1]
    assert rows_lib.tensor_values(tensor_pb2.TensorProto(dtype=9, int64_val=[7])) == [7]
    assert rows_lib.tensor_values(tensor_pb2.TensorProto(dtype=2, double_val=[0.5])) == [0.5]
    strings = tensor_pb2.TensorProto(dtype=7, string_val=[b"cat", b"\xff"])
    assert rows_lib.tensor_values(strings) == ["cat", "\ufffd"]


def _prediction_log(key_feature, outputs):
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2
    from tensorflow_serving.apis import prediction_log_pb2

    ex = tf.train.Example(features=tf.train.Features(feature=key_feature))
    pl = prediction_log_pb2.PredictionLog()
    pl.predict_log.request.inputs["examples"].CopyFrom(
        tensor_pb2.TensorProto(dtype=7, string_val=[ex.SerializeToString()]))
    for name, vals in outputs.items():
        pl.predict_log.response.outputs[name].CopyFrom(
            tensor_pb2.TensorProto(dtype=1, float_val=vals))
    return pl.SerializeToString()


def test_prediction_rows_key_each_prediction_by_its_examples_key_column():
    import tensorflow as tf

    def key(v):
        if isinstance(v, int):
            return {"id": tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))}
        return {"id": tf.train.Feature(bytes_list=tf.train.BytesList(value=v))}

    logs = [_prediction_log(key([b"a"]), {"score": [0.5], "probs": [0.25, 0.75]}),
            _prediction_log(key(42), {"score": [1.0], "probs": [1.0, 0.0]})]
    assert list(rows_lib.prediction_rows(logs, "id")) == [
        ("a", {"score": 0.5, "probs": [0.25, 0.75]}),
        ("42", {"score": 1.0, "probs": [1.0, 0.0]})]
    for bad in (key([b"a", b"b"]), {}):  # two values, or none: no single key
        with pytest.raises(ValueError, match="key column 'id' is missing or not a single "
                                             "value in example 1"):
            list(rows_lib.prediction_rows([logs[0], _prediction_log(bad, {"s": [1.0]})],
                                          "id"))
