"""Statistics in process (``statistics.py``) against TFDV's Beam ``GenerateStatistics``
on the same examples: equal protos, over several batches; and the check for features
beyond what the in-memory sketches count exactly."""
import numpy as np
import pytest


def _examples(path, n, distinct=4, seed=0):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    with tf.io.TFRecordWriter(path, "GZIP") as w:
        for i in range(n):
            f = {"k": tf.train.Feature(bytes_list=tf.train.BytesList(
                value=[f"v{int(rng.integers(0, distinct))}".encode()]))}
            if i % 5:
                f["x"] = tf.train.Feature(float_list=tf.train.FloatList(
                    value=[float(rng.normal())]))
            f["n"] = tf.train.Feature(int64_list=tf.train.Int64List(
                value=[int(v) for v in rng.integers(0, 9, size=int(rng.integers(0, 3)))]))
            if i % 7 == 0:
                f["s"] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a", b"b"]))
            w.write(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())


def _tfxio(pattern):
    from tfx_bsl.tfxio import tf_example_record

    return tf_example_record.TFExampleRecord(file_pattern=pattern, telemetry_descriptors=["t"])


def _beam_stats(pattern, tmp):
    import apache_beam as beam
    import tensorflow_data_validation as tfdv

    out = str(tmp / "beam.pb")
    with beam.Pipeline() as p:
        _ = (p | _tfxio(pattern).BeamSource() | tfdv.GenerateStatistics(tfdv.StatsOptions())
             | tfdv.WriteStatisticsToBinaryFile(out))
    return tfdv.load_stats_binary(out)


def assert_same_statistics(got, want):
    """Equal protos, floats within 1e-9 relative (sums over batches in another order)."""
    from google.protobuf import json_format

    def same(a, b, where):
        if isinstance(a, dict) and isinstance(b, dict):
            assert set(a) == set(b), (where, set(a) ^ set(b))
            for k in a:
                same(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, list) and isinstance(b, list):
            assert len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b)):
                same(x, y, f"{where}[{i}]")
        elif isinstance(a, float) or isinstance(b, float):
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12), where
        else:
            assert a == b, where

    same(json_format.MessageToDict(got), json_format.MessageToDict(want), "stats")


@pytest.mark.parametrize("rows", [1, 3])
def test_equal_to_tfdvs_beam_statistics(tmp_path, monkeypatch, rows):
    """``rows`` per batch: the combiners merge batch by batch as Beam's do."""
    import tensorflow_data_validation as tfdv

    from tfxkit.components.statistics_gen import statistics

    path = str(tmp_path / "data.gz")
    _examples(path, 50)
    monkeypatch.setattr(statistics, "BATCH_ROWS", rows * 17)
    mine = statistics.split_statistics(_tfxio(path), tfdv.StatsOptions())
    beam = _beam_stats(path, tmp_path)
    assert_same_statistics(mine, beam)
    if rows == 3:  # one batch: the very same proto
        assert mine == beam
    [ds] = mine.datasets
    assert ds.num_examples == 50
    assert {".".join(f.path.step) for f in ds.features} == {"k", "x", "n", "s"}
    assert statistics.sketch_inexact(mine) is None


def test_too_many_distinct_values_are_named(tmp_path, monkeypatch):
    """Seen in the first batch: refused at once; seen only over the split: named after."""
    import tensorflow_data_validation as tfdv

    from tfxkit.components.statistics_gen import statistics

    path = str(tmp_path / "data.gz")
    _examples(path, 3000, distinct=2000)
    with pytest.raises(statistics.TooManyValues, match=r"^k: \d+ distinct values > 1024$"):
        statistics.split_statistics(_tfxio(path), tfdv.StatsOptions())
    monkeypatch.setattr(statistics, "BATCH_ROWS", 1000)  # < 1024 distinct per batch
    stats = statistics.split_statistics(_tfxio(path), tfdv.StatsOptions())
    reason = statistics.sketch_inexact(stats)
    assert reason is not None and reason.startswith("k: ") and reason.endswith(
        "distinct values > 1024")
