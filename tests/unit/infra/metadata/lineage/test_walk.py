"""The walk back from a pushed model (infra/metadata/lineage/walk.py) on a fake MLMD:
the InfraValidator's blessing, JSON properties (strings and TFX's struct values), the
runs passed, and the errors. The full chain is in tests/unit/test_lineage.py."""
import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from tests.unit.infra.metadata.mlmd_records import PIPELINE, Records
from tfxkit.infra.metadata.lineage.model import LineageError
from tfxkit.infra.metadata.lineage.walk import model_lineage, pushed_models


def _pushed(rec, run, version, model, **props):
    pushed = rec.artifact("PushedModel", f"/p{version}", pushed=1, pushed_version=version,
                          pushed_destination=f"/models/{version}", **props)
    rec.execute(run, "Pusher", {"model": model}, {"pushed_model": pushed})
    return pushed


def test_pushed_models_skip_what_was_not_pushed():
    rec = Records()
    run = rec.run("run-1")
    model = rec.artifact("Model", "/m")
    _pushed(rec, run, "1", model)
    not_pushed = rec.artifact("PushedModel", "/x", pushed=0, pushed_version="2")
    rec.execute(run, "Pusher", {"model": model}, {"pushed_model": not_pushed})
    assert [m["version"] for m in pushed_models(rec.store, PIPELINE)] == ["1"]
    assert pushed_models(rec.store, "nothing") == []


def test_infra_validator_json_properties_and_runs():
    rec = Records()
    run0, run1 = rec.run("run-0", config_fingerprint="h0"), rec.run("run-1", git_commit="c1")
    ex = rec.artifact("Examples", "/ex", rows_train=5, span=2,
                      rejections={"bad_row": 3}, input_files='["/d/a.csv"]')
    rec.execute(run0, "ExampleGen", {}, {"examples": ex})
    graph = rec.artifact("TransformGraph", "/g")
    rec.execute(run1, "Transform", {"examples": ex}, {"transform_graph": graph})
    model = rec.artifact("Model", "/m")
    rec.execute(run1, "Trainer", {"transform_graph": graph}, {"model": model},
                custom_config='{"model": {"epochs": 2}, "task": "binary"}')
    infra = rec.artifact("InfraBlessing", "/i", blessed=1, reason="served",
                         latency_p99_ms=12.5)
    rec.execute(run1, "InfraValidator", {"model": model}, {"blessing": infra})
    pushed = rec.artifact("PushedModel", "/p", pushed=1, pushed_version="7", sha256="abc")
    rec.execute(run1, "Pusher", {"model": model, "infra_blessing": infra},
                {"pushed_model": pushed})
    lin = model_lineage(rec.store, PIPELINE)
    assert [s.component for s in lin.steps] == ["ExampleGen", "Transform", "Trainer",
                                                "InfraValidator", "Pusher"]
    assert lin.step("InfraValidator").facts == {"blessed": True, "reason": "served",
                                                "latency_p99_ms": 12.5, "max_latency_ms": None}
    assert lin.step("Pusher").facts["sha256"] == "abc" and lin.pushed_path is None
    assert lin.step("Trainer").facts["hyperparameters"] == {"epochs": 2}
    assert "hyperparameters_input" not in lin.step("Trainer").facts  # no such input
    gen = lin.step("ExampleGen")
    assert gen.run_id == "run-0" and gen.facts["rejections"] == {"bad_row": 3}
    assert gen.facts["input_files"] == ["/d/a.csv"] and gen.facts["rows_total"] == 5
    assert lin.artifacts[ex]["properties"]["rejections"] == {"bad_row": 3}
    assert (lin.run_id, lin.git_commit, lin.config_hash) == ("run-1", "c1", None)
    assert lin.runs == {"run-1": {"git_commit": "c1"}, "run-0": {"config_fingerprint": "h0"}}


def test_a_pushed_model_no_execution_wrote():
    rec = Records()
    rec.run("run-1")
    orphan = rec.artifact("PushedModel", "/p", pushed=1, pushed_version="3")
    rec.store.put_attributions_and_associations(
        [pb.Attribution(context_id=rec.pipeline.id, artifact_id=orphan)], [])
    with pytest.raises(LineageError, match="no Pusher execution produced pushed model 3"):
        model_lineage(rec.store, PIPELINE)


def test_the_trainers_hyperparameters_input_recorded_or_read_from_its_file(tmp_path):
    """HyperparametersGen's artifact: the values from its custom property; the Tuner's
    (no properties): from its best_hyperparameters.txt. Both shown by ``tfxkit lineage``."""
    from tfxkit.components.hyperparameters_gen.choose import write
    from tfxkit.infra.metadata.lineage.render import render_text

    rec = Records()
    run = rec.run("run-1")
    gen_hp = rec.artifact("HyperParameters", "/hp", chosen_by="config",
                          hyperparameters='{"learning_rate": 0.01, "hidden_units": [32, 16]}')
    rec.execute(run, "HyperparametersGen", {}, {"hyperparameters": gen_hp})
    model = rec.artifact("Model", "/m")
    rec.execute(run, "Trainer", {"hyperparameters": gen_hp}, {"model": model},
                custom_config='{"model": {"epochs": 2}, "task": "binary"}')
    _pushed(rec, run, "1", model)
    facts = model_lineage(rec.store, PIPELINE).step("Trainer").facts
    assert facts["hyperparameters_input"] == {
        "artifact_id": gen_hp, "uri": "/hp", "chosen_by": "config",
        "values": {"learning_rate": 0.01, "hidden_units": [32, 16]}}
    assert ("    hyperparameters input (config): learning_rate=0.01, hidden_units=[32, 16]"
            in render_text(model_lineage(rec.store, PIPELINE)))

    tuner_uri = str(tmp_path / "tuner")
    write(tuner_uri, {"learning_rate": 0.1})
    tuned = rec.artifact("HyperParameters", tuner_uri)
    rec.execute(run, "Tuner", {}, {"best_hyperparameters": tuned})
    model2 = rec.artifact("Model", "/m2")
    rec.execute(run, "Trainer", {"hyperparameters": tuned}, {"model": model2})
    _pushed(rec, run, "2", model2)
    facts = model_lineage(rec.store, PIPELINE, "2").step("Trainer").facts
    assert facts["hyperparameters_input"]["values"] == {"learning_rate": 0.1}
    assert facts["hyperparameters_input"]["chosen_by"] is None
