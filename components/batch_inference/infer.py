"""Batch inference as plain functions (no TFX): read serialized tf.Examples in batches,
call a SavedModel signature once per batch, write one PredictionLog per example.

The output is what TFX's BulkInferrer writes (``PredictionLog.predict_log`` with the
request's serialized example and each output split per example, numerics as
``tensor_content`` like ``tf.make_tensor_proto``), so code that reads BulkInferrer results
reads these. What differs is the speed: the logs are encoded straight to protobuf wire
format from the batch's arrays (``encode_predict_logs``; a unit test checks it against
the protobuf library), and the model call for one batch overlaps encoding and writing
of the previous one. Reading and writing TFRecords (and the C loops, ``_fastlog``) are
``components/common/records.py``, shared with the other components.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np

from tfxkit.components.common import records
from tfxkit.components.common.records import GzipRecordWriter, frame_records, read_batches
from tfxkit.components.common.records import field as _field
from tfxkit.components.common.records import varint as _varint

LOG_FILE = "prediction_logs-{:05d}-of-{:05d}.gz"

# tensorflow DataType enum values (types.proto)
_DTYPES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3,
           np.dtype("int64"): 9, np.dtype("bool"): 10}
_DT_STRING = 7


_v = _varint  # lengths: a table lookup below 16384


def _shape(dims: Sequence[int]) -> bytes:
    return b"".join(_field(2, b"\x08" + _varint(d) if d else b"") for d in dims)


def _tensor_prefix(dtype_enum: int, dims: Sequence[int]) -> bytes:
    return b"\x08" + _varint(dtype_enum) + _field(2, _shape(dims))


def _rows_with_prefix(prefix: bytes, raw: np.ndarray) -> List[bytes]:
    """prefix + each row of the uint8 matrix ``raw``, as bytes (built in one numpy buffer)."""
    n, w = raw.shape
    full = np.empty((n, len(prefix) + w), np.uint8)
    full[:, :len(prefix)] = np.frombuffer(prefix, np.uint8)
    full[:, len(prefix):] = raw
    buf, width = full.tobytes(), full.shape[1]
    return [buf[i * width:(i + 1) * width] for i in range(n)]


def _output_entries(name: str, arr: np.ndarray) -> List[bytes]:
    """Per example, the serialized map entry ``outputs[name]`` (a TensorProto of the
    example's slice with a leading dimension of 1)."""
    n = arr.shape[0]
    dims = (1,) + tuple(arr.shape[1:])
    key = _field(1, name.encode())
    if arr.dtype.kind in "SOU":  # strings: repeated string_val; rows repeat (class names)
        prefix = _tensor_prefix(_DT_STRING, dims)

        def entry(row) -> bytes:
            vals = b"".join(b"\x42" + _v(len(s)) + s for s in
                            (x if isinstance(x, bytes) else str(x).encode() for x in row))
            tp = prefix + vals
            return (b"\x0a" + _v(len(key) + 1 + len(_v(len(tp))) + len(tp)) + key
                    + b"\x12" + _v(len(tp)) + tp)

        return _repeated(arr, entry)
    arr = np.ascontiguousarray(arr)
    if arr.dtype not in _DTYPES:
        arr = arr.astype(np.float32)
    if arr.dtype == np.bool_ or int(np.prod(arr.shape[1:], dtype=np.int64)) == 1:
        # like tf.make_tensor_proto: tensor_content only for numerics of more than 1 value
        return _val_entries(key, arr, dims)
    width = arr.itemsize * int(np.prod(arr.shape[1:], dtype=np.int64))
    tp_prefix = _tensor_prefix(_DTYPES[arr.dtype], dims) + b"\x22" + _v(width)
    tp_len = len(tp_prefix) + width
    entry_prefix = (b"\x0a" + _v(len(key) + 1 + len(_v(tp_len)) + tp_len) + key
                    + b"\x12" + _v(tp_len) + tp_prefix)
    raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).reshape(n, -1)
    return _rows_with_prefix(entry_prefix, raw.view(np.uint8).reshape(n, width))


# packed repeated field numbers of TensorProto's *_val fields, by dtype
_VAL_FIELD = {np.dtype("float32"): 5, np.dtype("float64"): 6, np.dtype("int32"): 7,
              np.dtype("int64"): 10, np.dtype("bool"): 11}


def _val_entries(key: bytes, arr: np.ndarray, dims) -> List[bytes]:
    """Entries whose values go in the packed typed field (float_val, int64_val, ...)."""
    prefix = _tensor_prefix(_DTYPES[arr.dtype], dims)
    tag = bytes([(_VAL_FIELD[arr.dtype] << 3) | 2])
    flat = arr.reshape(arr.shape[0], -1)
    if arr.dtype.kind == "f":  # fixed width: one numpy buffer
        w = arr.itemsize * flat.shape[1]
        tp_len = len(prefix) + 1 + len(_v(w)) + w
        entry_prefix = (b"\x0a" + _v(len(key) + 1 + len(_v(tp_len)) + tp_len) + key
                        + b"\x12" + _v(tp_len) + prefix + tag + _v(w))
        raw = np.ascontiguousarray(flat.astype(arr.dtype.newbyteorder("<"), copy=False))
        return _rows_with_prefix(entry_prefix, raw.view(np.uint8).reshape(len(flat), w))

    def entry(row) -> bytes:  # varints; negative numbers as 64-bit two's complement
        val = b"".join(_varint(int(x) & 0xFFFFFFFFFFFFFFFF) for x in row)
        tp = prefix + tag + _v(len(val)) + val
        return (b"\x0a" + _v(len(key) + 1 + len(_v(len(tp))) + len(tp)) + key
                + b"\x12" + _v(len(tp)) + tp)

    return _repeated(flat, entry)  # integer outputs repeat (class ids)


def _repeated(arr: np.ndarray, entry: Callable[[tuple], bytes]) -> List[bytes]:
    """``entry(row)`` for each row of ``arr``, encoded once per distinct row: outputs such
    as class names and ids take a few values, so this is a dict lookup per example."""
    n = arr.shape[0]
    single = arr.size == n
    rows = arr.reshape(-1).tolist() if single else \
        list(map(tuple, arr.reshape(n, -1).tolist()))
    table = {r: entry((r,) if single else r) for r in set(rows)}
    return list(map(table.__getitem__, rows))


def _log_parts(outputs: Dict[str, np.ndarray], n: int, input_key: str, signature: str):
    """(per-output entry lists, request spec, input key, input tensor prefix, response
    spec): everything of a batch's logs but the examples."""
    for name, arr in outputs.items():
        if arr.ndim < 1 or arr.shape[0] != n:
            raise ValueError(f"output {name!r} has shape {arr.shape}; its first dimension "
                             f"should be the batch size {n}")
    spec = _field(1, _field(3, signature.encode()))  # request.model_spec (field 1)
    resp_spec = _field(2, _field(3, signature.encode()))  # response.model_spec (field 2)
    in_key = _field(1, input_key.encode())
    in_prefix = _tensor_prefix(_DT_STRING, (1,)) + b"\x42"
    per_output = [_output_entries(name, arr) for name, arr in sorted(outputs.items())]
    return per_output, spec, in_key, in_prefix, resp_spec


def encode_predict_logs(examples: Sequence[bytes], outputs: Dict[str, np.ndarray],
                        input_key: str = "examples",
                        signature: str = "serving_default") -> List[bytes]:
    """Serialized ``PredictionLog`` protos, one per example, as BulkInferrer writes them."""
    n = len(examples)
    if n == 0:
        return []
    per_output, spec, in_key, in_prefix, resp_spec = _log_parts(outputs, n, input_key,
                                                                signature)
    # each example's response field (tag, length, PredictResponse), then a cached "head"
    # per (example length, response length): everything before the example's bytes
    responses = [b"".join(parts) + resp_spec for parts in zip(*per_output)] if per_output \
        else [resp_spec] * n
    responses = [b"\x12" + _v(len(r)) + r for r in responses]
    heads: Dict[tuple, bytes] = {}

    def head(ex_len: int, response_field_len: int) -> bytes:
        tp_len = len(in_prefix) + len(_v(ex_len)) + ex_len
        entry_len = len(in_key) + 1 + len(_v(tp_len)) + tp_len
        request_len = len(spec) + 1 + len(_v(entry_len)) + entry_len
        predict_len = 1 + len(_v(request_len)) + request_len + response_field_len
        return b"".join((b"\x32", _v(predict_len), b"\x0a", _v(request_len), spec,
                         b"\x12", _v(entry_len), in_key, b"\x12", _v(tp_len), in_prefix,
                         _v(ex_len)))

    logs = []
    append = logs.append
    get = heads.get
    for ex, resp in zip(examples, responses):
        k = (len(ex), len(resp))
        h = get(k)
        if h is None:
            h = heads[k] = head(*k)
        append(h + ex + resp)
    return logs


def encode_framed_logs(examples: List[bytes], outputs: Dict[str, np.ndarray],
                       input_key: str = "examples", signature: str = "serving_default",
                       native: bool = True) -> bytes:
    """The TFRecord frames of ``encode_predict_logs``'s logs, as one buffer: with the C
    loop when it is built (``native``), else in Python; both give identical bytes."""
    if not len(examples):
        return b""
    if native and records.fastlog is not None:
        per_output, spec, in_key, in_prefix, resp_spec = _log_parts(
            outputs, len(examples), input_key, signature)
        examples = examples if isinstance(examples, list) else list(examples)
        return records.fastlog.frame_logs(examples, per_output, spec, in_key, in_prefix,
                                          resp_spec)
    return frame_records(encode_predict_logs(examples, outputs, input_key, signature))


class Predictor:
    """A SavedModel signature that takes serialized tf.Examples (one string input)."""

    def __init__(self, model_dir: str, signature: str = "serving_default"):
        import tensorflow as tf

        self.model = tf.saved_model.load(model_dir)
        if signature not in self.model.signatures:
            raise ValueError(f"model {model_dir} has no signature {signature!r} "
                             f"(it has {', '.join(self.model.signatures)})")
        self.fn = self.model.signatures[signature]
        self.signature = signature
        inputs = self.fn.structured_input_signature[1]
        strings = [k for k, s in inputs.items() if s.dtype == tf.string]
        if len(inputs) != 1 or not strings:
            raise ValueError(f"signature {signature!r} of {model_dir} should take one string "
                             f"input of serialized tf.Examples (it takes {list(inputs)})")
        self.input_key = strings[0]
        self._tf = tf

    def __call__(self, serialized) -> Dict[str, np.ndarray]:
        """``serialized``: a list or numpy array of bytes, or a string tensor."""
        if not isinstance(serialized, self._tf.Tensor):
            serialized = self._tf.constant(serialized, dtype=self._tf.string)
        out = self.fn(**{self.input_key: serialized})
        return {k: v.numpy() for k, v in out.items()}


def _resolved(predictor):
    """A Predictor, or the result of a Future of one (the model loads while reading)."""
    return predictor.result() if hasattr(predictor, "result") else predictor


def infer_to_file(predictor, batches: Iterable[List[bytes]], out_path: str,
                  progress: Optional[Callable[[int], None]] = None,
                  read_ahead: int = 16) -> int:
    """Scores ``batches`` and writes their PredictionLogs to ``out_path`` (via a temporary
    name: a failure leaves nothing). ``predictor`` is a Predictor or a Future of one.
    Reading (a thread), the model call (a thread; TensorFlow releases the GIL), encoding
    (here; the C loop releases the GIL while it copies) and compressing (the writer's
    thread) overlap. Up to ``read_ahead`` batches are read ahead, so the reader gets well
    ahead while the model loads (16 of 4096 serialized examples: tens of MB). Returns the
    number of examples."""
    from tfxkit.components.common import threads

    tmp = os.path.join(os.path.dirname(out_path), "." + os.path.basename(out_path) + ".tmp")
    w = GzipRecordWriter(tmp)
    n = 0
    pool = ThreadPoolExecutor(1, thread_name_prefix="tfxkit-infer")

    def score(batch):
        return _resolved(predictor)(batch)

    try:
        pending = None
        for batch in threads.read_ahead(batches, read_ahead):
            fut = pool.submit(score, batch)
            if pending is not None:
                n += _write(w, _resolved(predictor), *pending)
                if progress:
                    progress(n)
            pending = (batch, fut)
        if pending is not None:
            n += _write(w, _resolved(predictor), *pending)
            if progress:
                progress(n)
        w.close()
        os.replace(tmp, out_path)
    except BaseException:
        try:
            w.close()
        except BaseException:
            pass
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    finally:
        pool.shutdown(wait=True)
    return n


def score_file(predictor, index: int, path: str, shards: int, out_dir: str,
               batch_size: int = 4096, chain: Optional[Dict[str, str]] = None,
               upstream: bool = False) -> int:
    """Scores input file ``path`` (number ``index`` of ``shards``) into its PredictionLog
    file in ``out_dir``: tf.Examples, or with ``upstream`` an upstream model's logs whose
    outputs named in ``chain`` become features. ``predictor``: a Predictor or a Future of
    one. Returns the number of examples."""
    batches = (chained_batches(path, chain or {}, batch_size) if upstream
               else read_batches([path], batch_size))
    return infer_to_file(predictor, batches,
                         os.path.join(out_dir, LOG_FILE.format(index, shards)))


def score_files(model_path: str, files: Sequence[str], out_dir: str, batch_size: int = 4096,
                signature: str = "serving_default", chain: Optional[Dict[str, str]] = None,
                upstream: bool = False) -> int:
    """Scores every file in this process, one after another, with one model: what the
    executor's Beam job does on the in-memory direct runner (one worker, one bundle after
    another), without the Beam job. The model loads in a thread while the first batches
    are read. Returns the number of examples."""
    loader = ThreadPoolExecutor(1, thread_name_prefix="tfxkit-load")
    try:
        predictor = loader.submit(Predictor, model_path, signature)
        return sum(score_file(predictor, i, f, len(files), out_dir, batch_size, chain,
                              upstream) for i, f in enumerate(files))
    finally:
        loader.shutdown(wait=True)


def _write(w: GzipRecordWriter, predictor: Predictor, batch: List[bytes], fut) -> int:
    w.write_framed(encode_framed_logs(batch, fut.result(), predictor.input_key,
                                      predictor.signature))
    return len(batch)


def log_example_and_outputs(raw: bytes):
    """(serialized request example, {output: ndarray of this example}) of a PredictionLog."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    pl = prediction_log_pb2.PredictionLog.FromString(raw).predict_log
    if len(pl.request.inputs) != 1:
        raise ValueError("expected a PredictLog whose request holds the serialized example")
    [tp] = pl.request.inputs.values()
    return tp.string_val[0], {k: tf.make_ndarray(v) for k, v in pl.response.outputs.items()}


def with_features(example: bytes, values: Dict[str, np.ndarray]) -> bytes:
    """``example`` with extra features: a serialized Example appended to another merges
    into it (protobuf concatenation), so the original bytes are not re-encoded."""
    import tensorflow as tf

    extra = tf.train.Example()
    for name, arr in values.items():
        flat = np.asarray(arr).reshape(-1)
        f = extra.features.feature[name]
        if flat.dtype.kind == "f":
            f.float_list.value.extend(flat.astype(float).tolist())
        elif flat.dtype.kind in "iub":
            f.int64_list.value.extend(int(x) for x in flat.tolist())
        else:
            f.bytes_list.value.extend(x if isinstance(x, bytes) else str(x).encode()
                                      for x in flat.tolist())
    return example + extra.SerializeToString()


def chained_batches(log_path: str, chain: Dict[str, str],
                    batch_size: int) -> Iterator[List[bytes]]:
    """Batches of the upstream model's input examples, each with that model's outputs added
    as features (``chain``: feature -> upstream output name)."""
    for raw_batch in read_batches([log_path], batch_size):
        out = []
        for raw in raw_batch:
            example, outputs = log_example_and_outputs(raw)
            missing = [o for o in chain.values() if o not in outputs]
            if missing:
                raise ValueError(f"the upstream model has no output {missing[0]!r} "
                                 f"(it has {', '.join(sorted(outputs))})")
            out.append(with_features(example, {f: outputs[o] for f, o in chain.items()}))
        yield out
