"""ArrowExampleGen's plain functions: deterministic splits, encoding, bad input."""
import glob
import os

import pytest
import tensorflow as tf

from tfxkit.components.example_gen import ingest


def write_csv(path, rows, header="id,x,s"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return str(path)


def read_split(out, split):
    exs = []
    for f in glob.glob(os.path.join(out, f"Split-{split}", "*.gz")):
        for raw in tf.data.TFRecordDataset(f, compression_type="GZIP"):
            exs.append(tf.train.Example.FromString(raw.numpy()))
    return exs


def ids(exs):
    return sorted(e.features.feature["id"].int64_list.value[0] for e in exs)


def test_hash_split_is_deterministic_as_data_grows(tmp_path):
    small = write_csv(tmp_path / "a.csv", [f"{i},{i * 0.5},s{i % 3}" for i in range(1000)])
    r = ingest.ingest([small], "csv", str(tmp_path / "o1"), key="id")
    assert r.rows["train"] + r.rows["eval"] == 1000
    assert abs(r.rows["train"] / 1000 - 0.8) < 0.04
    more = write_csv(tmp_path / "b.csv", [f"{i},{i * 0.5},s{i % 3}" for i in range(1000, 3000)])
    r2 = ingest.ingest([small, more], "csv", str(tmp_path / "o2"), key="id")
    first_eval = set(ids(read_split(str(tmp_path / "o1"), "eval")))
    grown_eval = set(ids(read_split(str(tmp_path / "o2"), "eval")))
    assert first_eval == {i for i in grown_eval if i < 1000}
    assert abs(r2.rows["eval"] / 3000 - 0.2) < 0.03


def test_whole_row_hash_without_key(tmp_path):
    f = write_csv(tmp_path / "a.csv", [f"{i},{i},x" for i in range(500)])
    a = ingest.ingest([f], "csv", str(tmp_path / "o1"))
    b = ingest.ingest([f], "csv", str(tmp_path / "o2"))
    assert a.rows == b.rows and sum(a.rows.values()) == 500
    assert ids(read_split(str(tmp_path / "o1"), "eval")) == ids(read_split(str(tmp_path / "o2"), "eval"))


def test_predicate_split_and_query(tmp_path):
    f = write_csv(tmp_path / "a.csv", [f"{i},{i},{'ab'[i % 2]}" for i in range(100)])
    r = ingest.ingest([f], "csv", str(tmp_path / "o"), query="SELECT * FROM source WHERE s = 'a'",
                      predicates=[("eval", "id >= 80"), ("train", "true")])
    assert r.rows == {"eval": 10, "train": 40}
    assert all(i >= 80 for i in ids(read_split(str(tmp_path / "o"), "eval")))


def test_missing_values_absent_and_types_like_csv_example_gen(tmp_path):
    f = write_csv(tmp_path / "a.csv", ["1,0.0,", "2,,b", "3,2.5,2026-01-01"])
    ingest.ingest([f], "csv", str(tmp_path / "o"), splits=[("train", 1)], key="id")
    exs = {e.features.feature["id"].int64_list.value[0]: e.features.feature
           for e in read_split(str(tmp_path / "o"), "train")}
    assert list(exs[1]["x"].float_list.value) == [0.0]       # zero kept
    assert not exs[2]["x"].float_list.value                   # empty -> absent
    assert list(exs[3]["s"].bytes_list.value) == [b"2026-01-01"]  # a date stays a string


def test_null_key_fails_or_is_recorded(tmp_path):
    f = write_csv(tmp_path / "a.csv", ["1,1.0,a", ",2.0,b", "3,3.0,c"])
    with pytest.raises(ingest.IngestError, match="1 row\\(s\\) with null split key 'id'"):
        ingest.ingest([f], "csv", str(tmp_path / "o1"), key="id")
    assert not glob.glob(str(tmp_path / "o1" / "Split-*" / "*.gz"))  # nothing half-written
    r = ingest.ingest([f], "csv", str(tmp_path / "o2"), key="id", on_null_key="reject")
    assert r.rejected == {"null split key 'id'": 1} and r.total == 2


def test_bad_inputs(tmp_path):
    with pytest.raises(ingest.IngestError, match="no input files"):
        ingest.ingest([], "csv", str(tmp_path / "o"))
    f = write_csv(tmp_path / "a.csv", ["1,1.0,a"])
    with pytest.raises(ingest.IngestError, match="split key column 'user'"):
        ingest.ingest([f], "csv", str(tmp_path / "o"), key="user")
    with pytest.raises(ingest.IngestError, match="cannot read query"):
        ingest.ingest([f], "csv", str(tmp_path / "o"), query="SELECT nope FROM source")


def test_fingerprint_sees_same_size_edits(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("id,x\n1,5\n")
    st = os.stat(f)
    before = ingest.fingerprint_files([str(f)])
    f.write_text("id,x\n1,6\n")  # same size
    os.utime(f, (st.st_atime, st.st_mtime))  # mtime restored
    assert ingest.fingerprint_files([str(f)]) != before
    f.write_text("id,x\n1,5\n")
    os.utime(f, (st.st_atime, st.st_mtime))
    assert ingest.fingerprint_files([str(f)]) == before


def test_empty_input_is_an_error_and_leaves_nothing(tmp_path):
    f = write_csv(tmp_path / "a.csv", [])
    with pytest.raises(ingest.IngestError, match="no rows to ingest"):
        ingest.ingest([f], "csv", str(tmp_path / "o"), key="id")
    assert not glob.glob(str(tmp_path / "o" / "Split-*" / "*"), recursive=True)
    assert not [p for p in glob.glob(str(tmp_path / "o" / "**" / ".*"), recursive=True)]


def test_span_of_patterns():
    assert ingest.span_of("eta-{YYYY}-{MM}-{DD}.csv", "eta-1970-01-03.csv") == 2
    assert ingest.span_of("day-{SPAN}/*.csv", "day-12/part-0.csv") == 12
    assert ingest.span_of("day-{SPAN}/*.csv", "other/part-0.csv") is None


def test_hash_bucket_matches_python_reference(tmp_path):
    """The split is reproducible outside DuckDB: md5's last 8 bytes, little-endian, mod total."""
    f = write_csv(tmp_path / "a.csv", [f"{i},{i},x" for i in range(300)])
    ingest.ingest([f], "csv", str(tmp_path / "o"), splits=[("train", 7), ("eval", 3)], key="id")
    want_eval = [i for i in range(300) if ingest.hash_bucket(str(i), 10) >= 7]
    assert ids(read_split(str(tmp_path / "o"), "eval")) == want_eval
    assert 0 < len(want_eval) < 300


def test_many_batches_keep_input_order(tmp_path):
    """Reading, encoding and writing overlap in threads; the output keeps the input order."""
    f = write_csv(tmp_path / "a.csv", [f"{i},{i * 0.5},s{i % 3}" for i in range(500)])
    one = ingest.ingest([f], "csv", str(tmp_path / "o1"), key="id")
    many = ingest.ingest([f], "csv", str(tmp_path / "o2"), key="id", batch_rows=7)
    assert one.rows == many.rows
    for split in ("train", "eval"):
        a = [e.features.feature["id"].int64_list.value[0] for e in read_split(str(tmp_path / "o1"), split)]
        b = [e.features.feature["id"].int64_list.value[0] for e in read_split(str(tmp_path / "o2"), split)]
        assert a == b == sorted(a)


def test_failure_mid_stream_stops_reader_and_leaves_nothing(tmp_path):
    import threading

    rows = [",1,x"] + [f"{i},{i},x" for i in range(3000)]  # the reader is still busy
    f = write_csv(tmp_path / "a.csv", rows)
    # the caller keeps the error (and its traceback, which holds the batch generator)
    with pytest.raises(ingest.IngestError, match="null split key 'id'") as error:
        ingest.ingest([f], "csv", str(tmp_path / "o"), key="id", batch_rows=16)
    assert error.traceback
    assert not [t for t in threading.enumerate() if t.name.startswith("tfxkit-ingest")]
    assert not [p for p in glob.glob(str(tmp_path / "o" / "**" / "*"), recursive=True)
                if os.path.isfile(p)]


def test_bad_numbers_rejected_and_counted_with_their_column_typed(tmp_path):
    """on_bad_value: reject drops the rows whose numeric column holds text ('heavy'),
    counts them, and writes the column as the type its other values have."""
    f = write_csv(tmp_path / "a.csv", ["1,3750,a", "2,heavy,b", "3,,c", "4,3800,d", "5,?,e"],
                  header="id,mass,s")
    r = ingest.ingest([f], "csv", str(tmp_path / "o"), splits=[("train", 1)], key="id",
                      numeric=["mass"], on_bad_value="reject")
    assert r.rejected == {"a value that is not a number in 'mass'": 2} and r.total == 3
    assert r.columns["mass"] == "BIGINT"
    exs = {e.features.feature["id"].int64_list.value[0]: e.features.feature
           for e in read_split(str(tmp_path / "o"), "train")}
    assert sorted(exs) == [1, 3, 4]
    assert list(exs[1]["mass"].int64_list.value) == [3750]
    assert not exs[3]["mass"].int64_list.value            # missing stays missing
    # a decimal among the numbers: float; two numeric columns, one row counted once
    f = write_csv(tmp_path / "b.csv", ["1,1.5,7", "2,bad,bad", "3,2,9", "4,3,n/a"],
                  header="id,x,y")
    r = ingest.ingest([f], "csv", str(tmp_path / "o2"), splits=[("train", 1)], key="id",
                      numeric=["x", "y"], on_bad_value="reject")
    assert r.rejected == {"a value that is not a number in 'x', 'y'": 2} and r.total == 2
    f = write_csv(tmp_path / "c.csv", ["1,1.5,x", "2,bad,8", "3,2,9"], header="id,x,y")
    r = ingest.ingest([f], "csv", str(tmp_path / "o3"), splits=[("train", 1)], key="id",
                      numeric=["x"], on_bad_value="reject")
    assert r.rejected == {"a value that is not a number in 'x'": 1}
    assert r.columns["x"] == "DOUBLE" and r.total == 2


def test_bad_numbers_keep_the_whole_row_split_of_the_clean_data(tmp_path):
    """Without a key a row's split is the hash of the row: a rejected row leaves every
    other row where the same data without it puts it."""
    rows = [f"{i},{i * 10},s{i % 3}" for i in range(200)]
    clean = write_csv(tmp_path / "clean.csv", rows, header="id,mass,s")
    dirty = write_csv(tmp_path / "dirty.csv", rows + ["999,heavy,s1"], header="id,mass,s")
    ingest.ingest([clean], "csv", str(tmp_path / "c"))
    r = ingest.ingest([dirty], "csv", str(tmp_path / "d"), numeric=["mass"],
                      on_bad_value="reject")
    assert r.total == 200 and sum(r.rejected.values()) == 1
    for split in ("train", "eval"):
        assert ids(read_split(str(tmp_path / "c"), split)) == \
            ids(read_split(str(tmp_path / "d"), split))


def test_bad_numbers_without_reject_or_numeric_columns_change_nothing(tmp_path):
    f = write_csv(tmp_path / "a.csv", ["1,3750,a", "2,heavy,b"], header="id,mass,s")
    r = ingest.ingest([f], "csv", str(tmp_path / "o"), splits=[("train", 1)],
                      numeric=["mass"])  # on_bad_value fail: check_data stops it before
    assert r.rejected == {} and r.total == 2 and r.columns["mass"] == "VARCHAR"
    r = ingest.ingest([f], "csv", str(tmp_path / "o2"), splits=[("train", 1)],
                      numeric=["id"], on_bad_value="reject")  # id is a number already
    assert r.rejected == {} and r.total == 2
