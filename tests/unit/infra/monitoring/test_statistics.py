"""A window's rows as TFDV statistics (``infra/monitoring/statistics.py``): raw values
typed by the schema, missing values, values of the wrong type."""
import pytest

from tfxkit.infra.monitoring.statistics import (feature_types, load_schema, load_statistics,
                                                record_batch, statistics_of)

TYPES = {"island": "bytes", "bill": "float", "year": "int"}


def test_rows_become_typed_list_columns():
    batch, bad = record_batch([{"island": "Dream", "bill": 39, "year": 2007},
                               {"island": None, "bill": 40.5},
                               {"island": "Biscoe", "bill": "41.5", "year": "2008"}], TYPES)
    assert bad == {}
    cols = dict(zip(batch.schema.names, batch.columns))
    assert cols["island"].to_pylist() == [[b"Dream"], None, [b"Biscoe"]]
    assert cols["bill"].to_pylist() == [[39.0], [40.5], [41.5]]
    assert cols["year"].to_pylist() == [[2007], None, [2008]]


def test_values_of_the_wrong_type_are_counted_and_missing():
    batch, bad = record_batch([{"bill": "abc", "year": 2007.5, "island": {"x": 1}},
                               {"bill": True, "year": 2008, "island": "A"}], TYPES)
    assert bad == {"bill": 2, "year": 1, "island": 1}
    cols = dict(zip(batch.schema.names, batch.columns))
    assert cols["year"].to_pylist() == [None, [2008]]


def test_statistics_count_rows_and_missing():
    typed = statistics_of([{"island": "A", "bill": 1.0}, {"island": "B"}, {}], TYPES)
    [ds] = typed.statistics.datasets
    assert ds.num_examples == 3 and typed.rows == 3
    feats = {f.path.step[0]: f for f in ds.features}
    assert feats["island"].string_stats.common_stats.num_non_missing == 2
    assert feats["bill"].num_stats.common_stats.num_missing == 2


def test_schema_types_and_files(tmp_path):
    import tensorflow_data_validation as tfdv

    typed = statistics_of([{"island": "A", "bill": 1.0, "year": 1}] * 5, TYPES)
    schema = tfdv.infer_schema(typed.statistics)
    assert feature_types(schema, ["island", "bill", "year", "other"]) == TYPES
    (tmp_path / "Split-train").mkdir()
    # as StatisticsGen writes it: a serialized DatasetFeatureStatisticsList
    (tmp_path / "Split-train" / "FeatureStats.pb").write_bytes(
        typed.statistics.SerializeToString())
    tfdv.write_schema_text(schema, str(tmp_path / "schema.pbtxt"))
    assert load_statistics(str(tmp_path)).datasets[0].num_examples == 5
    assert len(load_schema(str(tmp_path)).feature) == 3
    with pytest.raises(FileNotFoundError, match="Split-eval"):
        load_statistics(str(tmp_path), "eval")
