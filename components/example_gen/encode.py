"""Arrow -> tf.Example with tfx_bsl's C++ encoder (plain functions, no TFX)."""
from __future__ import annotations

from typing import List

import pyarrow as pa


def _offsets(n: int) -> pa.Array:
    """0, 1, ..., n as int32 list offsets (one value per list)."""
    import numpy as np

    return pa.array(np.arange(n + 1, dtype=np.int32))


def _value_type(t: pa.DataType) -> pa.DataType:
    """The type tf.Example takes for values of type ``t``: int64, float32 or bytes."""
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        return pa.int64()
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return pa.float32()
    if pa.types.is_dictionary(t):
        return _value_type(t.value_type)
    if pa.types.is_large_string(t) or pa.types.is_large_binary(t):
        return pa.large_binary()
    return pa.binary()


def _list_of_values(col: pa.Array, name: str = "") -> pa.Array:
    """A list column (a Parquet list, a DuckDB LIST) as a list of int64, float32 or bytes:
    each row becomes a repeated tf.Example feature (a null list: the feature is absent).
    A null element inside a list cannot be encoded: IngestError-worthy, so ValueError
    naming the column and the first such row."""
    import pyarrow.compute as pc

    values = col.flatten()
    if values.null_count:
        parents = pc.list_parent_indices(col)
        row = int(pc.filter(parents, pc.is_null(values))[0].as_py())
        raise ValueError(f"column {name or '?'}: row {row} has a null element in its list; "
                         "a list feature holds values only (leave the element out)")
    vt = col.type.value_type
    if pa.types.is_dictionary(vt):
        vt = vt.value_type
        col = col.cast(pa.list_(vt))
    target = _value_type(vt)
    textual = (pa.types.is_string(vt) or pa.types.is_large_string(vt)
               or pa.types.is_binary(vt) or pa.types.is_large_binary(vt))
    if target in (pa.binary(), pa.large_binary()) and not textual:
        col = col.cast(pa.list_(pa.string()))  # dates, times: their text
    return col.cast(pa.list_(target))


def _as_list_column(col: pa.ChunkedArray | pa.Array, name: str = "") -> pa.Array:
    """tfx_bsl encodes list columns: wrap each scalar (null stays null = absent); a list
    column is one repeated feature (``_list_of_values``)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        return _list_of_values(col, name)
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

    cols = [_as_list_column(batch.column(i), batch.schema.names[i])
            for i in range(batch.num_columns)]
    return example_coder.RecordBatchToExamples(
        pa.RecordBatch.from_arrays(cols, names=batch.schema.names))
