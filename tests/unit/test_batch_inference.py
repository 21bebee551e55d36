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


needs_c = pytest.mark.skipif(infer._fastlog is None, reason="the C loops are not built")


@needs_c
@pytest.mark.parametrize("n", [0, 1, 3, 200])
def test_c_framing_equals_python_framing(n):
    """The C loop and the Python rule give identical bytes (frames of BulkInferrer logs)."""
    examples, outputs = sample_batch(max(n, 1))
    examples, outputs = examples[:n], {k: v[:n] for k, v in outputs.items()}
    c = infer.encode_framed_logs(examples, outputs, "inputs", "sig")
    py = infer.encode_framed_logs(examples, outputs, "inputs", "sig", native=False)
    assert c == py == infer.frame_records(infer.encode_predict_logs(examples, outputs,
                                                                      "inputs", "sig"))


@needs_c
def test_c_crc32c_is_castagnoli():
    import google_crc32c

    for data in (b"", b"a", b"123456789", bytes(range(256)) * 41):
        assert infer._fastlog.crc32c(data) == google_crc32c.value(data)


def write_tfrecords(path, records, gzip):
    with tf.io.TFRecordWriter(str(path), "GZIP" if gzip else None) as w:
        for r in records:
            w.write(r)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("gz", [True, False])
def test_read_batches_reads_what_tf_writes(tmp_path, native, gz):
    """Batches of exactly batch_size (the last one shorter), frames split across tiny read
    chunks, several files in order: the same records tf.data reads."""
    if native and infer._fastlog is None:
        pytest.skip("the C loops are not built")
    rng = np.random.default_rng(1)
    files = []
    for f in range(2):
        records = [rng.bytes(int(rng.integers(0, 300))) for _ in range(257)] + [b"x" * 70000]
        path = tmp_path / (f"part-{f}" + (".gz" if gz else ""))
        write_tfrecords(path, records, gz)
        files.append(str(path))
    want = [list(tf.data.TFRecordDataset(f, compression_type="GZIP" if gz else None)
                 .as_numpy_iterator()) for f in files]
    batches = list(infer.read_batches(files, 100, chunk=97, native=native))
    assert [len(b) for b in batches] == [100, 100, 58] * 2
    assert [r for b in batches for r in b] == want[0] + want[1]
    assert all(isinstance(b, list) for b in batches)


@pytest.mark.parametrize("native", [True, False])
def test_read_batches_rejects_corrupt_and_truncated_files(tmp_path, native):
    if native and infer._fastlog is None:
        pytest.skip("the C loops are not built")
    path = tmp_path / "data"
    write_tfrecords(path, [b"record-%d" % i for i in range(10)], gzip=False)
    raw = bytearray(path.read_bytes())
    bad = bytearray(raw)
    bad[14] ^= 0xFF  # a data byte of the first record
    (tmp_path / "bad").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="bad data checksum at byte 0"):
        list(infer.read_batches([str(tmp_path / "bad")], 4, native=native))
    (tmp_path / "short").write_bytes(bytes(raw[:-3]))
    with pytest.raises(ValueError, match="truncated TFRecord"):
        list(infer.read_batches([str(tmp_path / "short")], 4, native=native))
    import gzip
    (tmp_path / "short.gz").write_bytes(gzip.compress(bytes(raw))[:-20])
    with pytest.raises(ValueError, match="truncated"):
        list(infer.read_batches([str(tmp_path / "short.gz")], 4, native=native))


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
    got = [infer.log_example_and_outputs(r) for r in infer.iter_records(str(out))]
    assert [(e, o["n"].tolist()) for e, o in got] == [(b"a", [[1]]), (b"bb", [[2]]),
                                                        (b"ccc", [[3]])]

    def broken():
        yield [b"a"]
        raise ValueError("corrupt TFRecord: bad data checksum at byte 7")

    out2 = tmp_path / "x" / "logs.gz"
    with pytest.raises(ValueError, match="checksum"):
        infer.infer_to_file(Echo(), broken(), str(out2))
    assert list((tmp_path / "x").iterdir()) == []
