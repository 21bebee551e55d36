"""``gather`` (infra/metadata/report/gather.py) on a fake MLMD run: the components with the
runner's own times and failures, the planned ones never reached, the DAG's edges, rows,
the gate, the schema, training, the push and the lineage graph; unknown runs refused."""
import json
from types import SimpleNamespace

import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from tests.unit.infra.metadata.mlmd_records import PIPELINE, Records
from tfxkit.infra.metadata.report.gather import gather
from tfxkit.infra.metadata.report.model import ReportError

SCHEMA = 'feature { name: "age" type: FLOAT }\nfeature { name: "island" type: BYTES }\n'


def _run(rec, tmp_path, run_id="run-1", version="7", **run_props):
    run = rec.run(run_id, **run_props)
    ex = rec.artifact("Examples", str(tmp_path / "ex"), rows_train=80, rows_eval=20,
                      rows_rejected=2, span=3, input_files=json.dumps(["/d/a.csv"]))
    rec.execute(run, "ExampleGen", {}, {"examples": ex})
    (tmp_path / "schema").mkdir(parents=True, exist_ok=True)
    (tmp_path / "schema" / "schema.pbtxt").write_text(SCHEMA)
    schema = rec.artifact("Schema", str(tmp_path / "schema"))
    rec.execute(run, "SchemaGen", {"examples": ex}, {"schema": schema})
    result = rec.artifact("DataValidation", "/gate", passed=1, anomalies=0)
    rec.execute(run, "ValidationGate", {"schema": schema}, {"result": result},
                on_anomalies="warn")
    (tmp_path / "run").mkdir(parents=True, exist_ok=True)
    (tmp_path / "run" / "history.json").write_text(json.dumps({"loss": [1, 0.5]}))
    model = rec.artifact("Model", str(tmp_path / "model"))
    model_run = rec.artifact("ModelRun", str(tmp_path / "run"))
    rec.execute(run, "Trainer", {"examples": ex, "schema": schema},
                {"model": model, "model_run": model_run},
                custom_config=json.dumps({"model": {"epochs": 2, "dropout": None}}))
    infra = rec.artifact("InfraBlessing", "/infra", blessed=1, reason="served 3 examples")
    rec.execute(run, "InfraValidator", {"model": model}, {"blessing": infra})
    pushed = rec.artifact("PushedModel", "/pushed", pushed=1, pushed_version=version,
                          pushed_destination=f"/models/{version}", push_reason="better")
    rec.execute(run, "Pusher", {"model": model, "infra_blessing": infra},
                {"pushed_model": pushed})
    return run


def test_a_pushed_training_run(tmp_path):
    rec = Records()
    _run(rec, tmp_path, config_fingerprint="h1")
    rep = gather(rec.store, PIPELINE)
    assert rep.run_id == "run-1" and rep.kind == "training" and rep.status == "succeeded"
    assert rep.run_properties == {"config_fingerprint": "h1"}
    assert [c.node_id for c in rep.components] == [
        "ExampleGen", "SchemaGen", "ValidationGate", "Trainer", "InfraValidator", "Pusher"]
    assert ("ExampleGen", "Trainer", "examples") in rep.edges
    assert ("Trainer", "Pusher", "model") in rep.edges
    assert rep.rows == {"train": 80, "eval": 20} and rep.rows_rejected == 2 and rep.span == 3
    assert rep.input_files == ["/d/a.csv"]
    assert rep.gate == {"state": "ran", "error": None, "passed": True, "anomalies": 0,
                        "on_anomalies": "warn"}
    assert [f.name for f in rep.schema] == ["age", "island"]
    assert rep.schema_text == SCHEMA and rep.schema_source.startswith("SchemaGen (")
    assert rep.training.history == {"loss": [1.0, 0.5]} and rep.training.epochs == 2
    assert rep.training.hyperparameters == {"epochs": 2}
    assert (rep.pushed, rep.pushed_version, rep.pushed_path, rep.push_reason) == \
        (True, "7", "/models/7", "better")
    assert rep.infra_blessed is True and rep.infra_reason == "served 3 examples"
    assert rep.lineage_svg.startswith("<svg") and "Pusher" in rep.lineage_svg
    assert rep.evaluation is None and rep.predictions is None and not rep.notes


def test_runner_result_and_planned_components(tmp_path):
    rec = Records()
    run = rec.run("run-1", run_nodes=json.dumps(["ExampleGen", "Trainer", "Pusher"]))
    rec.execute(run, "ExampleGen", {}, {}, state=pb.Execution.COMPLETE)
    nodes = [SimpleNamespace(node_id="ExampleGen", state="ran", elapsed=1.5, error=None,
                             execution_id=1),
             SimpleNamespace(node_id="Trainer", state="failed", elapsed=0.2,
                             error="no GPU", execution_id=None)]
    rep = gather(rec.store, PIPELINE, "run-1", run_result=SimpleNamespace(nodes=nodes))
    assert [(c.node_id, c.state, c.elapsed) for c in rep.components] == [
        ("ExampleGen", "ran", 1.5), ("Trainer", "failed", 0.2), ("Pusher", "not run", None)]
    assert rep.failed.node_id == "Trainer" and rep.status == "failed"
    assert rep.status_reason == "Trainer: no GPU"
    # the failed Trainer counts as the run's Trainer, though MLMD has no execution of it
    assert rep.training is not None and rep.training.state == "failed" and not rep.trained
    rep = gather(rec.store, PIPELINE, "run-1", planned=["ExampleGen", "Transform"])
    assert [c.state for c in rep.components] == ["ran", "not run"]


def test_the_latest_run_by_default_and_unknown_runs(tmp_path):
    rec = Records()
    with pytest.raises(ReportError, match="no run in ML Metadata"):
        gather(rec.store, PIPELINE)
    _run(rec, tmp_path / "1", "run-1", "7")
    _run(rec, tmp_path / "2", "run-2", "8")
    assert gather(rec.store, PIPELINE).run_id == "run-2"
    assert gather(rec.store, PIPELINE, "run-1").pushed_version == "7"
    with pytest.raises(ReportError, match="no run 'run-9'; runs: run-1, run-2"):
        gather(rec.store, PIPELINE, "run-9")


def test_an_inference_pipeline_gathers_predictions():
    rec = Records("toy-inference")
    run = rec.run("run-1")
    stored = rec.artifact("PredictionRun", "/p", rows=5, model_version="7", store="duckdb")
    rec.execute(run, "PredictionStorer", {}, {"prediction_run": stored})
    rep = gather(rec.store, "toy-inference")
    assert rep.kind == "inference"
    assert (rep.predictions.rows, rep.predictions.model_version, rep.predictions.store) == \
        (5, "7", "duckdb")
    assert rep.predictions.outputs == [] and rep.training is None
