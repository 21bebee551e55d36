"""``monitor(cfg)`` (``infra/monitoring/monitor.py``) on a registry, an ML Metadata store
laid out as a tfxkit run records it, training statistics and a request log in the
serving contract's format: the serving model's training statistics are found through
MLMD, skew and drift are judged per window, the result is written as JSON and recorded
as a ``tfxkit.Monitor`` execution that read the serving Model artifact."""
import json
import random

import pytest

from tests.conftest import TEMPLATES
from tests.unit.infra.metadata.mlmd_records import Records
from tests.unit.infra.monitoring.test_request_log import H, line, write

TYPES = {"island": "bytes", "bill_length_mm": "float", "bill_depth_mm": "float",
         "flipper_length_mm": "int", "body_mass_g": "int", "sex": "bytes", "year": "int"}


def penguins(n, seed, island=None):
    rnd = random.Random(seed)
    return [{"island": island or rnd.choice(["Biscoe", "Dream", "Torgersen"]),
             "bill_length_mm": rnd.gauss(44, 5), "bill_depth_mm": rnd.gauss(17, 2),
             "flipper_length_mm": int(rnd.gauss(200, 14)), "body_mass_g": int(rnd.gauss(4200, 800)),
             "sex": rnd.choice(["male", "female"]), "year": rnd.choice([2007, 2008, 2009])}
            for _ in range(n)]


@pytest.fixture
def setup(tmp_path):
    """(cfg, store, model artifact id, log folder): a pushed model version whose Trainer,
    Transform, StatisticsGen and SchemaGen are in MLMD."""
    import tensorflow_data_validation as tfdv

    from tfxkit.components.registry.registry import Registry
    from tfxkit.infra.monitoring.request_log import request_log_path
    from tfxkit.infra.monitoring.statistics import statistics_of
    from tfxkit.pipelines.config import load_config

    cfg = load_config(TEMPLATES / "multiclass" / "config.yaml",
                      overrides=[f"push.registry={tmp_path}/models",
                                 "monitoring.min_rows=100"])
    rec = Records(pipeline=cfg.name)
    stats = statistics_of(penguins(600, 0), TYPES).statistics
    stats_uri, schema_uri = tmp_path / "stats", tmp_path / "schema"
    (stats_uri / "Split-train").mkdir(parents=True)
    (stats_uri / "Split-train" / "FeatureStats.pb").write_bytes(stats.SerializeToString())
    schema_uri.mkdir()
    tfdv.write_schema_text(tfdv.infer_schema(stats), str(schema_uri / "schema.pbtxt"))
    run = rec.run("run-1")
    examples = rec.artifact("Examples", str(tmp_path / "examples"))
    rec.execute(run, "ExampleGen", outputs={"examples": examples})
    stats_id = rec.artifact("ExampleStatistics", str(stats_uri))
    rec.execute(run, "StatisticsGen", inputs={"examples": examples},
                outputs={"statistics": stats_id})
    schema_id = rec.artifact("Schema", str(schema_uri))
    rec.execute(run, "SchemaGen", inputs={"statistics": stats_id}, outputs={"schema": schema_id})
    graph = rec.artifact("TransformGraph", str(tmp_path / "graph"))
    rec.execute(run, "Transform", inputs={"examples": examples, "schema": schema_id},
                outputs={"transform_graph": graph})
    model_uri = str(tmp_path / "Trainer" / "model" / "7")
    model_id = rec.artifact("Model", model_uri)
    rec.execute(run, "Trainer", inputs={"transform_graph": graph, "schema": schema_id},
                outputs={"model": model_id})
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"model")
    Registry(cfg.registry_path, name=cfg.name).publish(str(saved), meta={"model_uri": model_uri})
    return cfg, rec.store, model_id, request_log_path(cfg)


def traffic(folder, start, rows, version):
    lines = []
    for i, r in enumerate(rows):
        ln = line(start + i * 3600 / len(rows), **r)
        ln["model_version"] = version
        ln["outputs"] = {"class": "Adelie" if r["island"] == "Torgersen" else "Gentoo",
                         "class_id": 0, "probabilities": [0.5, 0.5]}
        lines.append(ln)
    write(folder, lines)


def serving_version(cfg):
    from tfxkit.components.registry.registry import Registry

    return Registry(cfg.registry_path).serving().version


def test_shifted_island_is_skew_and_recorded_linked_to_the_model(setup):
    from tfxkit.infra.monitoring.monitor import monitor, output_path
    from tfxkit.pipelines.mlmd_reader import monitoring_results

    cfg, store, model_id, folder = setup
    v = serving_version(cfg)
    traffic(folder, H, penguins(200, 1), v)
    traffic(folder, H + 3600, penguins(200, 2, island="Torgersen"), v)
    result = monitor(cfg, all_windows=True, store=store, now=lambda: H + 7200)
    first, second = result.windows
    assert result.model_version == v and result.crossed
    assert first.status == "judged" and not first.crossed, first.flagged
    skew = {d.feature: d for d in second.features if d.kind == "skew"}
    assert set(skew) == set(TYPES)              # every monitored feature, flagged or not
    assert [f for f, d in skew.items() if d.flagged] == ["island"]
    assert skew["island"].measure == "L_INFTY" and skew["island"].value > 0.5
    drift = {d.feature: d for d in second.features if d.kind == "drift"}
    assert drift["island"].flagged and not drift["year"].flagged
    assert all(d.value is None and "previous window" in d.note
               for d in first.features if d.kind == "drift")
    [pred] = second.predictions
    assert pred.feature == "class" and pred.flagged   # Gentoo -> Adelie
    # the JSON and the MLMD record
    saved = json.loads(open(second.result_path).read())
    assert second.result_path.startswith(output_path(cfg))
    assert saved["end"] == H + 7200 and saved["rows"] == 200 and saved["crossed"]
    assert {(f["feature"], f["kind"]) for f in saved["flagged"]} == {
        ("island", "skew"), ("island", "drift"), ("class", "prediction_drift")}
    recs = monitoring_results(store, [model_id])
    assert [r["window_end"] for r in recs] == [H + 3600, H + 7200]
    assert recs[1]["result_uri"] == second.result_path and recs[1]["crossed"] == 1
    assert recs[1]["model_version"] == v and recs[1]["rows"] == 200
    assert {f["feature"] for f in recs[1]["flagged"]} == {"island", "class"}


def test_no_traffic_and_too_few_rows_are_not_judged(setup):
    from tfxkit.infra.monitoring.monitor import monitor
    from tfxkit.pipelines.mlmd_reader import monitoring_results

    cfg, store, model_id, folder = setup
    result = monitor(cfg, window_end=H + 3600, store=store)
    [w] = result.windows
    assert w.status == "no_traffic" and "no traffic in the window" in w.message
    traffic(folder, H, penguins(20, 1, island="Dream"), serving_version(cfg))
    [w] = monitor(cfg, window_end=H + 1, store=store).windows   # rounded up to the grid
    assert w.end == H + 3600 and w.status == "too_few_rows" and "min_rows" in w.message
    assert not result.crossed and monitoring_results(store, [model_id]) == []


def test_a_registry_without_a_serving_model_is_a_clear_error(tmp_path):
    from tfxkit.infra.monitoring.monitor import MonitorError, monitor
    from tfxkit.pipelines.config import load_config

    cfg = load_config(TEMPLATES / "multiclass" / "config.yaml",
                      overrides=[f"push.registry={tmp_path}/models"])
    with pytest.raises(MonitorError, match="serves no model"):
        monitor(cfg, store=Records(pipeline=cfg.name).store)


def test_a_model_without_statistics_in_mlmd_is_a_clear_error(setup, tmp_path):
    from tfxkit.components.registry.registry import Registry
    from tfxkit.infra.monitoring.monitor import MonitorError, monitor

    cfg, store, _, _ = setup
    other = tmp_path / "other"
    other.mkdir()
    (other / "saved_model.pb").write_bytes(b"other model")
    Registry(cfg.registry_path, name=cfg.name).publish(str(other),
                                                       meta={"model_uri": "/nowhere/model"})
    with pytest.raises(MonitorError, match="is not in ML Metadata"):
        monitor(cfg, store=store)


def test_prediction_drift_of_a_regression_value_and_of_the_serving_version_only():
    from types import SimpleNamespace

    from tfxkit.infra.monitoring.monitor import _prediction_drift
    from tfxkit.infra.monitoring.request_log import Window
    from tfxkit.pipelines.config.monitoring import Monitoring

    cfg = SimpleNamespace(monitoring=Monitoring(min_rows=50))
    rnd = random.Random(7)

    def window(mean, n=200, version="7"):
        return Window(0, 1, [{"ts": 0, "model_version": version,
                              "outputs": {"prediction": rnd.gauss(mean, 1.0)}}
                             for _ in range(n)])

    [same] = _prediction_drift(cfg, window(10), window(10), "7")
    assert same.feature == "prediction" and same.measure == "JENSEN_SHANNON_DIVERGENCE"
    assert same.value is not None and not same.flagged
    [moved] = _prediction_drift(cfg, window(14), window(10), "7")
    assert moved.flagged and moved.value > 0.1
    # another version's answers (a canary) are not the serving version's distribution
    [other] = _prediction_drift(cfg, window(10, n=40), window(10, version="8"), "7")
    assert other.value is None and "this window: 40 answers" in other.note
    [other] = _prediction_drift(cfg, window(14), window(10, version="8"), "7")
    assert other.value is None and "previous window: 0 answers of version 7" in other.note
