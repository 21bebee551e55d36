"""Arrow -> tf.Example (``encode.py``): list columns (Parquet lists) become repeated
features, through the whole ingestion from Parquet and from CSV."""
import glob
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import tensorflow as tf

from tfxkit.components.example_gen import ingest
from tfxkit.components.example_gen.encode import record_batch_to_examples


def feature(ex, name):
    f = ex.features.feature[name]
    kind = f.WhichOneof("kind")
    return kind, list(getattr(f, kind).value) if kind else None


def test_list_columns_become_repeated_features():
    batch = pa.RecordBatch.from_pydict({
        "segs": pa.array([["a", "b"], [], None, ["c"]], pa.list_(pa.string())),
        "km": pa.array([[1.5, 2.0], [3.0], [], None], pa.list_(pa.float64())),
        "ids": pa.array([[1, 2, 3], None, [4], [5]], pa.large_list(pa.int32())),
        "x": pa.array([1, 2, None, 4], pa.int64())})
    exs = [tf.train.Example.FromString(b) for b in record_batch_to_examples(batch)]
    assert feature(exs[0], "segs") == ("bytes_list", [b"a", b"b"])
    assert feature(exs[0], "km") == ("float_list", [1.5, 2.0])
    assert feature(exs[0], "ids") == ("int64_list", [1, 2, 3])
    assert feature(exs[1], "km") == ("float_list", [3.0])
    # a null list: no values of any kind (as a null scalar: tf.io parses it as absent)
    assert feature(exs[1], "ids") == (None, None)
    assert feature(exs[2], "segs") == (None, None)
    assert feature(exs[1], "segs") == ("bytes_list", [])  # an empty list: no elements
    assert feature(exs[3], "segs") == ("bytes_list", [b"c"])
    assert feature(exs[3], "x") == ("int64_list", [4])


def test_a_null_element_inside_a_list_names_the_column_and_row():
    batch = pa.RecordBatch.from_pydict({
        "segs": pa.array([["a"], ["b", None]], pa.list_(pa.string()))})
    with pytest.raises(ValueError, match=r"column segs: row 1 has a null element"):
        record_batch_to_examples(batch)


def read(out, split):
    exs = []
    for f in glob.glob(os.path.join(out, f"Split-{split}", "*.gz")):
        exs += [tf.train.Example.FromString(r.numpy())
                for r in tf.data.TFRecordDataset(f, compression_type="GZIP")]
    return exs


def test_parquet_lists_and_csv_delimited_strings_ingest(tmp_path):
    from tfxkit.pipelines.datasets import eta

    pq_path = eta.write_sequences(str(tmp_path / "t.parquet"), 40, seed=2)
    csv_path = eta.write_sequences(str(tmp_path / "t.csv"), 40, seed=2)
    want = eta.generate_sequences(40, seed=2)
    got = {}
    for kind, path in (("parquet", pq_path), ("csv", csv_path)):
        out = str(tmp_path / kind)
        r = ingest.ingest([path], kind, out, splits=(("train", 1),), key="trip_id")
        assert r.total == 40
        got[kind] = {feature(e, "trip_id")[1][0]: e for e in read(out, "train")}
    ex = got["parquet"][7]
    assert feature(ex, "segments") == ("bytes_list", [s.encode() for s in want["segments"][7]])
    assert feature(ex, "segment_km")[1] == pytest.approx(want["segment_km"][7])
    # CSV: the list is one delimited string; the transform splits it
    ex = got["csv"][7]
    assert feature(ex, "segments") == ("bytes_list", ["|".join(want["segments"][7]).encode()])
    assert feature(ex, "segment_km")[0] == "bytes_list"
