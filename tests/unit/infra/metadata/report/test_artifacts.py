"""The run's artifacts read into the report (infra/metadata/report/artifacts.py): small
statistics, anomalies, schema, history and PredictionLog files written here."""
import json

from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from tfxkit.infra.metadata.report import artifacts as A


def _stats(path, n, age_hist, islands):
    lst = statistics_pb2.DatasetFeatureStatisticsList()
    ds = lst.datasets.add(num_examples=n)
    age = ds.features.add(type=statistics_pb2.FeatureNameStatistics.FLOAT)
    age.path.step.append("age")
    age.num_stats.mean, age.num_stats.num_zeros = 4.0, 1
    age.num_stats.common_stats.num_non_missing, age.num_stats.common_stats.num_missing = n - 1, 1
    h = age.num_stats.histograms.add(type=statistics_pb2.Histogram.STANDARD)
    for lo, hi, c in age_hist:
        h.buckets.add(low_value=lo, high_value=hi, sample_count=c)
    island = ds.features.add(type=statistics_pb2.FeatureNameStatistics.STRING)
    island.path.step.append("island")
    island.string_stats.unique = len(islands)
    island.string_stats.common_stats.num_non_missing = n
    for v, c in islands:
        island.string_stats.top_values.add(value=v, frequency=c)
    path.mkdir(parents=True)
    (path / "FeatureStats.pb").write_bytes(lst.SerializeToString())


def test_read_statistics_train_first_with_numeric_and_categorical_summaries(tmp_path):
    _stats(tmp_path / "Split-eval", 4, [(0.0, 5.0, 4.0)], [("Dream", 4.0)])
    _stats(tmp_path / "Split-train", 10, [(0.0, 5.0, 6.0), (5.0, 10.0, 3.0)],
           [("Biscoe", 6.0), ("Dream", 4.0)])
    (tmp_path / "Split-empty").mkdir()  # no FeatureStats.pb: left out
    train, ev = A.read_statistics(str(tmp_path))
    assert (train.split, train.num_examples, ev.split) == ("train", 10, "eval")
    age, island = train.features
    assert (age.name, age.kind, age.type, age.present, age.missing, age.zeros) == \
        ("age", "numeric", "FLOAT", 9, 1, 1)
    assert age.histogram == [(0.0, 5.0, 6.0), (5.0, 10.0, 3.0)] and age.mean == 4.0
    assert (island.kind, island.unique, island.top) == \
        ("categorical", 2, [("Biscoe", 6.0), ("Dream", 4.0)])
    assert A.read_statistics(str(tmp_path / "nothing")) == []


def test_read_anomalies_per_split_and_for_the_dataset(tmp_path):
    a = anomalies_pb2.Anomalies()
    info = a.anomaly_info["island"]
    info.severity = anomalies_pb2.AnomalyInfo.ERROR
    info.short_description, info.description = "Unexpected values", "Dream (~36%)"
    a.dataset_anomaly_info.description = "Low count"
    (tmp_path / "Split-train").mkdir()
    (tmp_path / "Split-train" / "SchemaDiff.pb").write_bytes(a.SerializeToString())
    got = A.read_anomalies(str(tmp_path))
    assert [(x.split, x.feature, x.severity, x.short) for x in got] == [
        ("train", "island", "ERROR", "Unexpected values"),
        ("train", "<dataset>", "UNKNOWN", "Low count")]


def test_read_schema_domains_presence_and_values(tmp_path):
    (tmp_path / "schema.pbtxt").write_text(
        'feature { name: "island" type: BYTES domain: "island" '
        'presence { min_fraction: 1.0 min_count: 1 } value_count { min: 1 max: 1 } }\n'
        'feature { name: "age" type: FLOAT float_domain { min: 0 max: 99.5 } '
        'shape { dim { size: 1 } } }\n'
        'feature { name: "n" type: INT int_domain { min: 1 max: 3 } value_count { min: 1 } }\n'
        'string_domain { name: "island" value: "Biscoe" value: "Dream" }\n')
    text, rows = A.read_schema(str(tmp_path))
    assert text.startswith("feature")
    assert [(f.name, f.type, f.presence, f.valency, f.domain) for f in rows] == [
        ("island", "BYTES", "min fraction 1, min count 1", "1", "Biscoe, Dream"),
        ("age", "FLOAT", "", "shape [1]", "[0, 99.5]"),
        ("n", "INT", "", "1..any", "[1, 3]")]
    assert A.read_schema(str(tmp_path / "none")) == (None, [])


def test_read_history_from_the_model_run_else_the_model(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "history.json").write_text(json.dumps({"loss": [2, 1]}))
    assert A.read_history(str(tmp_path / "run"), str(tmp_path / "model")) == {"loss": [2.0, 1.0]}
    assert A.read_history(None, None) == {}


def test_prediction_values_of_prediction_logs(tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2

    from tfxkit.components.common.records import frame_records

    logs = []
    for cls, probs in (("Adelie", [0.7, 0.2, 0.1]), ("Gentoo", [0.1, 0.1, 0.8])):
        pl = prediction_log_pb2.PredictionLog()
        out = pl.predict_log.response.outputs
        out["class"].dtype = 7  # DT_STRING
        out["class"].string_val.append(cls.encode())
        out["probabilities"].dtype = 1  # DT_FLOAT
        out["probabilities"].float_val.extend(probs)
        logs.append(pl.SerializeToString())
    (tmp_path / "prediction_logs-00000-of-00001").write_bytes(frame_records(logs))
    got = A.prediction_values(str(tmp_path))
    assert got["class"] == ["Adelie", "Gentoo"]
    assert [round(x, 3) for x in got["probabilities (max)"]] == [0.7, 0.8]


def test_read_warm_start_from_the_model_run(tmp_path):
    assert A.read_warm_start(str(tmp_path)) is None and A.read_warm_start(None) is None
    info = {"mode": "latest_blessed", "warm_started": True, "from": "/m/7", "reason": "r"}
    (tmp_path / "warm_start.json").write_text(json.dumps(info))
    assert A.read_warm_start(str(tmp_path)) == info
    (tmp_path / "warm_start.json").write_text("{broken")
    assert A.read_warm_start(str(tmp_path)) is None
