"""Custom components: construction, and their plain functions on tiny fixtures."""
import json

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from tfxkit.components.baseline_resolver.strategy import (LatestBlessedBaselineStrategy,
                                                          latest_blessed_other_than)
from tfxkit.components.validation_gate import gate


def anomalies(**features):
    a = anomalies_pb2.Anomalies()
    for name, text in features.items():
        a.anomaly_info[name].short_description = text
        a.anomaly_info[name].description = text + " (long)"
    return a


def test_gate_passes_clean_data():
    assert gate.check({"train": anomalies(), "eval": anomalies()}, "fail") == []


def test_gate_fails_on_anomalies_naming_split_and_feature():
    with pytest.raises(gate.AnomaliesFound) as e:
        gate.check({"train": anomalies(), "eval": anomalies(island="Unexpected string values")},
                   "fail")
    assert "eval: island: Unexpected string values" in str(e.value)
    assert "on_anomalies: warn" in str(e.value)


def test_gate_warn_returns_lines():
    lines = gate.check({"eval": anomalies(sex="Column dropped")}, "warn")
    assert lines == ["eval: sex: Column dropped (Column dropped (long))"]


def test_gate_rejects_unknown_mode():
    with pytest.raises(ValueError):
        gate.check({}, "ignore")


def test_gate_executor_on_artifact_layout(tmp_path):
    """The executor reads Split-*/SchemaDiff.pb as ExampleValidator writes them."""
    from tfx.types import standard_artifacts

    from tfxkit.components.validation_gate.component import DataValidation
    from tfxkit.components.validation_gate.executor import Executor

    art = standard_artifacts.ExampleAnomalies()
    art.uri = str(tmp_path / "anomalies")
    art.split_names = json.dumps(["train", "eval"])
    for split, proto in (("train", anomalies()), ("eval", anomalies(x="New column"))):
        d = tmp_path / "anomalies" / f"Split-{split}"
        d.mkdir(parents=True)
        (d / "SchemaDiff.pb").write_bytes(proto.SerializeToString())
    out = DataValidation()
    out.uri = str(tmp_path / "out")
    (tmp_path / "out").mkdir()
    Executor().Do({"anomalies": [art]}, {"result": [out]}, {"on_anomalies": "warn"})
    assert out.get_int_custom_property("anomalies") == 1
    assert json.loads((tmp_path / "out" / "anomalies.json").read_text()) == [
        "eval: x: New column (New column (long))"]
    with pytest.raises(gate.AnomaliesFound):
        Executor().Do({"anomalies": [art]}, {"result": [out]}, {"on_anomalies": "fail"})


def test_gate_component_construction():
    from tfx.types import Channel, standard_artifacts

    from tfxkit.components.validation_gate.component import ValidationGate

    c = ValidationGate(anomalies=Channel(type=standard_artifacts.ExampleAnomalies))
    assert c.exec_properties["on_anomalies"] == "fail"
    assert "result" in c.outputs
    with pytest.raises(ValueError):
        ValidationGate(anomalies=Channel(type=standard_artifacts.ExampleAnomalies),
                       on_anomalies="maybe")


def _model(i):
    from tfx.types import standard_artifacts

    m = standard_artifacts.Model()
    m.id = i
    return m


def _blessing(model_id, blessed):
    from tfx.types import standard_artifacts

    b = standard_artifacts.ModelBlessing()
    b.id = 100 + model_id
    b.set_int_custom_property("current_model_id", model_id)
    b.set_int_custom_property("blessed", int(blessed))
    return b


def test_baseline_is_latest_blessed_other_than_candidate():
    models = [_model(1), _model(2), _model(3)]
    blessings = [_blessing(1, True), _blessing(2, True), _blessing(3, False)]
    got = latest_blessed_other_than(models, blessings, {3})
    assert [m.id for m in got["model"]] == [2]
    # An identical re-run: the candidate is model 2 itself -> baseline model 1.
    got = latest_blessed_other_than(models, blessings, {2})
    assert [m.id for m in got["model"]] == [1]
    # First run: nothing blessed but the candidate -> no baseline.
    got = latest_blessed_other_than([_model(1)], [_blessing(1, True)], {1})
    assert got == {"model": [], "model_blessing": []}


def test_strategy_returns_candidate_and_checks_types():
    s = LatestBlessedBaselineStrategy()
    out = s.resolve_artifacts(None, {"model": [_model(1), _model(2)],
                                     "model_blessing": [_blessing(1, True)],
                                     "candidate": [_model(2)]})
    assert [m.id for m in out["model"]] == [1] and [m.id for m in out["candidate"]] == [2]
    with pytest.raises(RuntimeError):
        s.resolve_artifacts(None, {"model": [_blessing(1, True)], "model_blessing": []})


def test_parquet_encoding_keeps_zeros_and_drops_nulls():
    import pyarrow as pa
    import tensorflow as tf

    from tfxkit.components.example_gen.encode import record_batch_to_examples

    batch = pa.RecordBatch.from_pydict({"i": [0, 5, None], "f": [0.0, None, 2.5],
                                        "s": ["", "a", None]})
    exs = [tf.train.Example.FromString(b) for b in record_batch_to_examples(batch)]
    f0 = exs[0].features.feature
    assert list(f0["i"].int64_list.value) == [0]
    assert list(f0["f"].float_list.value) == [0.0]
    assert list(f0["s"].bytes_list.value) == [b""]
    assert "f" not in exs[1].features.feature or not exs[1].features.feature["f"].float_list.value
    f2 = exs[2].features.feature
    assert not f2["i"].int64_list.value and not f2["s"].bytes_list.value
    assert list(f2["f"].float_list.value) == [2.5]


def _examples(i, span, version=None):
    from tfx.types import standard_artifacts

    e = standard_artifacts.Examples()
    e.id = i
    e.set_int_custom_property("span", span)
    if version is not None:
        e.set_int_custom_property("version", version)
    return e


def test_latest_spans_keeps_newest_per_span():
    from tfxkit.components.span_window.strategy import latest_spans

    arts = [_examples(1, 10), _examples(2, 11), _examples(3, 12), _examples(4, 11)]
    assert [a.id for a in latest_spans(arts, 2)] == [3, 4]  # span 11 re-ingested: id 4
    assert [a.id for a in latest_spans(arts, 5)] == [3, 4, 1]
    assert [a.id for a in latest_spans([_examples(5, 1, 2), _examples(6, 1, 1)], 1)] == [5]
    with pytest.raises(ValueError):
        latest_spans(arts, 0)


def test_window_in_pipeline(tmp_path):
    import shutil
    from pathlib import Path

    from tfxkit.pipelines import data_stage, factory
    from tfxkit.pipelines.config import ConfigError, load_config

    src = Path(__file__).resolve().parents[4] / "templates" / "regression"
    shutil.copytree(src / "data", tmp_path / "data")
    text = (src / "config.yaml").read_text().replace(
        '"data/eta-*.csv"', '"data/eta-{YYYY}-{MM}-{DD}.csv"').replace(
        "  split: {train: 8, eval: 2, key: trip_id}",
        "  split: {train: 8, eval: 2, key: trip_id}\n  rolling_window: 2")
    (tmp_path / "config.yaml").write_text(text)
    cfg = load_config(tmp_path / "config.yaml")
    comps = {c.id: c for c in factory.create_components(cfg)}
    assert "SpanWindow" in comps
    assert data_stage.split_input(cfg.resolve(cfg.data.source.path))[1] == "eta-{YYYY}-{MM}-{DD}.csv"
    (tmp_path / "bad.yaml").write_text(text.replace('"data/eta-{YYYY}-{MM}-{DD}.csv"',
                                                    '"data/eta-*.csv"'))
    with pytest.raises(ConfigError, match="rolling_window need"):
        load_config(tmp_path / "bad.yaml")
