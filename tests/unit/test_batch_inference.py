"""Batch inference's plain functions: PredictionLogs as BulkInferrer writes them."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from tfxkit.components.batch_inference import infer


def reference_log(example, outputs, i, input_key="examples", signature="serving_default"):
    """What tfx_bsl's RunInference (predict) writes for example i (its _post_process)."""
    log = prediction_log_pb2.PredictionLog()
    p = log.predict_log
    t = p.request.inputs[input_key]
    t.dtype = tf.string.as_datatype_enum
    t.tensor_shape.dim.add().size = 1
    t.string_val.append(example)
    p.request.model_spec.signature_name = signature
    p.response.model_spec.signature_name = signature
    for name, out in outputs.items():
        values = out[i]
        p.response.outputs[name].CopyFrom(tf.make_tensor_proto(
            values=values, dtype=tf.as_dtype(values.dtype).as_datatype_enum,
            shape=np.expand_dims(values, axis=0).shape))
    return log


@pytest.mark.parametrize("n", [1, 3, 200])
def test_encoded_logs_equal_bulk_inferrer_logs(n):
    rng = np.random.default_rng(0)
    examples = [tf.train.Example(features=tf.train.Features(feature={
        "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i)] * (i % 50))),
        "k": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"u%d" % i]))}))
        .SerializeToString() for i in range(n)]
    examples[0] = b"x" * 20000  # a long record: multi-byte length varints
    outputs = {
        "probabilities": rng.random((n, 3)).astype(np.float32),
        "class_id": rng.integers(0, 3, (n, 1)).astype(np.int64),
        "class": np.array([[b"Adelie" if i % 2 else b"Gentoo"] for i in range(n)], dtype=object),
        "prediction": rng.random((n,)).astype(np.float64),
        "score32": rng.random((n,)).astype(np.float32),
        "count": rng.integers(-5, 5, (n,)).astype(np.int64),
        "small": rng.integers(-5, 5, (n,)).astype(np.int32),
        "flag": rng.random((n,)) > 0.5,
        "flags": rng.random((n, 2)) > 0.5,
        "pair64": rng.integers(-5, 5, (n, 2)).astype(np.int64),
        "one32": rng.random((n, 1)).astype(np.float32),
    }
    logs = infer.encode_predict_logs(examples, outputs)
    assert len(logs) == n
    for i, raw in enumerate(logs):
        got = prediction_log_pb2.PredictionLog.FromString(raw)
        assert got == reference_log(examples[i], outputs, i)
        assert tf.make_ndarray(got.predict_log.response.outputs["probabilities"]).tolist() \
            == [outputs["probabilities"][i].tolist()]


def test_output_without_batch_dimension_is_an_error():
    with pytest.raises(ValueError, match="first dimension"):
        infer.encode_predict_logs([b"a", b"b"], {"p": np.zeros((3, 1), np.float32)})


def test_gzip_record_writer_is_read_by_tf_data(tmp_path):
    """TFRecord frames with masked crc32c, one gzip stream: tf.data checks the CRCs."""
    records = [b"", b"a", b"x" * 70000] + [b"r%d" % i for i in range(5000)]
    w = infer.GzipRecordWriter(str(tmp_path / "out.gz"))
    w.write_many(records[:3])
    w.write_many(records[3:])
    w.close()
    got = list(tf.data.TFRecordDataset(str(tmp_path / "out.gz"), compression_type="GZIP")
               .as_numpy_iterator())
    assert got == records
    bad = bytearray((tmp_path / "out.gz").read_bytes())
    import gzip
    raw = bytearray(gzip.decompress(bytes(bad)))
    raw[20] ^= 0xFF  # flip a data byte: the CRC no longer matches
    (tmp_path / "bad.tfrecord").write_bytes(bytes(raw))
    with pytest.raises(tf.errors.DataLossError):
        list(tf.data.TFRecordDataset(str(tmp_path / "bad.tfrecord")).as_numpy_iterator())


def test_failed_inference_leaves_no_file(tmp_path):
    class Broken:
        input_key, signature = "examples", "serving_default"

        def __call__(self, batch):
            raise RuntimeError("model exploded")

    out = tmp_path / "prediction_logs-00000-of-00001.gz"
    with pytest.raises(RuntimeError, match="exploded"):
        infer.infer_to_file(Broken(), iter([[b"a"], [b"b"]]), str(out))
    assert list(tmp_path.iterdir()) == []
