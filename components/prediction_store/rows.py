"""PredictionLogs -> (key, prediction fields) rows for a store (plain functions)."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Iterator, List, Tuple

import numpy as np

# TensorProto dtype enum -> numpy dtype, for tensor_content
_NP = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64, 10: np.bool_}


class DuplicateKeyError(ValueError):
    pass


def tensor_values(tp) -> List[Any]:
    if tp.tensor_content:
        return np.frombuffer(tp.tensor_content, _NP[tp.dtype]).tolist()
    for field in ("float_val", "double_val", "int64_val", "int_val", "bool_val"):
        vals = getattr(tp, field)
        if len(vals):
            return list(vals)
    return [v.decode("utf-8", "replace") for v in tp.string_val]


def _feature_value(example, key: str):
    f = example.features.feature.get(key)
    kind = f.WhichOneof("kind") if f is not None else None
    vals = getattr(f, kind).value if kind else []
    if len(vals) != 1:
        return None
    v = vals[0]
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def prediction_rows(records: Iterable[bytes], key: str) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(key, {output: value or list}) per PredictionLog; the key is read from the request's
    example (it travelled with the example; the model never parsed it)."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    for i, raw in enumerate(records):
        pl = prediction_log_pb2.PredictionLog.FromString(raw).predict_log
        [tp] = pl.request.inputs.values()
        ex = tf.train.Example.FromString(tp.string_val[0])
        k = _feature_value(ex, key)
        if k is None:
            raise ValueError(f"key column {key!r} is missing or not a single value in "
                             f"example {i} (every inference row needs exactly one key)")
        pred = {}
        for name, t in pl.response.outputs.items():
            vals = tensor_values(t)
            pred[name] = vals[0] if len(vals) == 1 else vals
        yield k, pred


def dedupe(rows: Iterable[Tuple[str, Dict[str, Any]]], on_duplicate_key: str = "fail"
           ) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """``fail``: a key seen twice is an error naming it; ``keep_last``: the last row in input
    order wins (rows are then held in memory until the end)."""
    if on_duplicate_key == "keep_last":
        last: Dict[str, Dict[str, Any]] = {}
        for k, pred in rows:
            last.pop(k, None)
            last[k] = pred
        yield from last.items()
        return
    if on_duplicate_key != "fail":
        raise ValueError(f"on_duplicate_key must be fail or keep_last, got {on_duplicate_key!r}")
    seen = set()
    for k, pred in rows:
        if k in seen:
            raise DuplicateKeyError(
                f"key {k!r} appears more than once in the inference data; make keys unique "
                "or set inference.on_duplicate_key: keep_last (the last row wins)")
        seen.add(k)
        yield k, pred
