"""Batch inference's plain functions: PredictionLogs as BulkInferrer writes them."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from tfxkit.components.batch_inference import infer
from tfxkit.components.common import records


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


def sample_batch(n):
    """Examples and outputs of every dtype and shape a serving signature may return."""
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
    return examples, outputs


@pytest.mark.parametrize("n", [1, 3, 200])
def test_encoded_logs_equal_bulk_inferrer_logs(n):
    examples, outputs = sample_batch(n)
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


def test_failed_inference_leaves_no_file(tmp_path):
    class Broken:
        input_key, signature = "examples", "serving_default"

        def __call__(self, batch):
            raise RuntimeError("model exploded")

    out = tmp_path / "prediction_logs-00000-of-00001.gz"
    with pytest.raises(RuntimeError, match="exploded"):
        infer.infer_to_file(Broken(), iter([[b"a"], [b"b"]]), str(out))
    assert list(tmp_path.iterdir()) == []


needs_c = pytest.mark.skipif(records.fastlog is None, reason="the C loops are not built")


@needs_c
@pytest.mark.parametrize("n", [0, 1, 3, 200])
def test_c_framing_equals_python_framing(n):
    """The C loop and the Python rule give identical bytes (frames of BulkInferrer logs)."""
    examples, outputs = sample_batch(max(n, 1))
    examples, outputs = examples[:n], {k: v[:n] for k, v in outputs.items()}
    c = infer.encode_framed_logs(examples, outputs, "inputs", "sig")
    py = infer.encode_framed_logs(examples, outputs, "inputs", "sig", native=False)
    assert c == py == records.frame_records(infer.encode_predict_logs(examples, outputs,
                                                                      "inputs", "sig"))


def test_infer_to_file_with_a_loading_model_and_read_errors(tmp_path):
    """The predictor may be a Future (the model loads while reading); a read error stops
    the run and leaves no file."""
    from concurrent.futures import ThreadPoolExecutor

    class Echo:
        input_key, signature = "examples", "serving_default"

        def __call__(self, batch):
            return {"n": np.array([[len(b)] for b in batch], np.int64)}

    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(Echo)
        out = tmp_path / "logs.gz"
        n = infer.infer_to_file(fut, iter([[b"a", b"bb"], [b"ccc"]]), str(out))
    assert n == 3
    got = [infer.log_example_and_outputs(r) for r in records.iter_records(str(out))]
    assert [(e, o["n"].tolist()) for e, o in got] == [(b"a", [[1]]), (b"bb", [[2]]),
                                                        (b"ccc", [[3]])]

    def broken():
        yield [b"a"]
        raise ValueError("corrupt TFRecord: bad data checksum at byte 7")

    out2 = tmp_path / "x" / "logs.gz"
    with pytest.raises(ValueError, match="checksum"):
        infer.infer_to_file(Echo(), broken(), str(out2))
    assert list((tmp_path / "x").iterdir()) == []
