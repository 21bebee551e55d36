"""What the lineage walk reads beyond MLMD (infra/metadata/lineage/facts.py): the schema's
size, anomalies, and the thresholds a run recorded in its EvalConfig."""
import pytest
from google.protobuf import json_format
from tensorflow_metadata.proto.v0 import anomalies_pb2

from tfxkit.infra.metadata.lineage import facts
from tfxkit.pipelines import metrics as m
from tfxkit.pipelines.compat import tfma_config


def test_schema_feature_count(tmp_path):
    assert facts.schema_feature_count(str(tmp_path)) is None
    (tmp_path / "schema.pbtxt").write_text('feature { name: "a" } feature { name: "b" }')
    assert facts.schema_feature_count(str(tmp_path)) == 2
    (tmp_path / "schema.pbtxt").write_text("not a schema {")
    assert facts.schema_feature_count(str(tmp_path)) is None


def test_anomaly_lines(tmp_path):
    assert facts.anomaly_lines(str(tmp_path)) is None  # nothing written
    a = anomalies_pb2.Anomalies()
    a.anomaly_info["island"].short_description = "Unexpected values"
    for split, proto in (("train", a), ("eval", anomalies_pb2.Anomalies())):
        (tmp_path / f"Split-{split}").mkdir()
        (tmp_path / f"Split-{split}" / "SchemaDiff.pb").write_bytes(proto.SerializeToString())
    assert facts.anomaly_lines(str(tmp_path)) == ["train: island: Unexpected values"]
    (tmp_path / "Split-eval" / "SchemaDiff.pb").write_bytes(b"\xff garbage")
    assert facts.anomaly_lines(str(tmp_path)) is None


def _eval_config(*metrics):
    ec = tfma_config().EvalConfig()
    spec = ec.metrics_specs.add()
    for metric in metrics:
        spec.metrics.append(metric.to_tfma())
    return json_format.MessageToJson(ec)


def test_thresholds_come_back_as_the_metrics_that_set_them():
    acc = m.accuracy_metric("multiclass", lower_bound=0.7, absolute_change=-0.01)
    mae = m.mae_metric(upper_bound=6.0).with_slice("island", upper_bound=8.0)
    ungated = m.auc_metric()
    table = facts.thresholds_from_eval_config(_eval_config(acc, mae, ungated))
    assert set(table) == {acc.key, mae.key}
    assert table[acc.key] == acc
    assert table[mae.key] == mae and table[mae.key].slices == {"island": mae.slices["island"]}


def test_read_metrics_without_a_config_holds_to_nothing(monkeypatch):
    seen = {}

    def summary(uri, blessing, cfg, table=None):
        seen.update(uri=uri, table=table)
        return type("S", (), {"metrics": [], "reasons": ["r"], "has_baseline": False})()

    monkeypatch.setattr("tfxkit.infra.run.summary.evaluation_summary", summary)
    assert facts.read_metrics("/eval", None) == {"metrics": [], "reasons": ["r"],
                                                 "has_baseline": False}
    assert seen == {"uri": "/eval", "table": {}}
    with pytest.raises(Exception):
        facts.read_metrics("/eval", "{not json")


def test_warm_start_record_of_a_model_run(tmp_path):
    import json

    assert facts.warm_start_record(str(tmp_path)) is None
    assert facts.warm_start_record(None) is None
    info = {"mode": "latest_blessed", "warm_started": False, "from": None, "reason": "r"}
    (tmp_path / "warm_start.json").write_text(json.dumps(info))
    assert facts.warm_start_record(str(tmp_path)) == info
    (tmp_path / "warm_start.json").write_text("[1, 2]")
    assert facts.warm_start_record(str(tmp_path)) is None
