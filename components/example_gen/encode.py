"""Arrow -> tf.Example with tfx_bsl's C++ encoder (plain functions, no TFX)."""
from __future__ import annotations

from typing import List

import pyarrow as pa


def _offsets(n: int) -> pa.Array:
    """0, 1, ..., n as int32 list offsets (one value per list)."""
    import numpy as np

    return pa.array(np.arange(n + 1, dtype=np.int32))


def _as_list_column(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """tfx_bsl encodes list columns: wrap each scalar (null stays null = absent)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        return col
    if pa.types.is_integer(col.type) or pa.types.is_boolean(col.type):
        col = col.cast(pa.int64())
    elif pa.types.is_floating(col.type) or pa.types.is_decimal(col.type):
        col = col.cast(pa.float32())
    elif pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_large_string(col.type) or pa.types.is_large_binary(col.type):
        col = col.cast(pa.large_binary())
    elif not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        col = col.cast(pa.string()).cast(pa.binary())  # the encoder takes bytes
    offsets = _offsets(len(col))
    lists = pa.ListArray.from_arrays(offsets, col)
    if col.null_count:  # a null value becomes a null list: the feature is absent
        import pyarrow.compute as pc

        lists = pc.if_else(pc.is_null(col), pa.scalar(None, lists.type), lists)
    return lists


def record_batch_to_examples(batch: pa.RecordBatch) -> List[bytes]:
    """Serialized tf.Examples, one per row; nulls are absent features, zeros are kept."""
    from tfx_bsl.coders import example_coder

    cols = [_as_list_column(batch.column(i)) for i in range(batch.num_columns)]
    return example_coder.RecordBatchToExamples(
        pa.RecordBatch.from_arrays(cols, names=batch.schema.names))
