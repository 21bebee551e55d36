"""Backfill: `tfxkit run --from Trainer` re-trains on the latest run's Transform outputs
(TFX partial run) with new hyperparameters; `--span N` ingests and trains on a past span."""
import json

import pytest
from ml_metadata.proto import metadata_store_pb2

from tests.e2e.helpers import STATE, node_states, runs, store, tfxkit

pytestmark = pytest.mark.e2e

UPSTREAM = {"ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "ValidationGate",
            "Transform"}
DOWNSTREAM = {"Trainer", "BaselineResolver", "Evaluator", "InfraValidator", "Pusher"}


def _executions(s, pipeline, run_ctx):
    """{node_id: Execution} of one pipeline run."""
    in_run = {e.id: e for e in s.get_executions_by_context(run_ctx.id)}
    out = {}
    for node_ctx in s.get_contexts_by_type("node"):
        if node_ctx.name.startswith(pipeline + "."):
            for e in s.get_executions_by_context(node_ctx.id):
                if e.id in in_run:
                    out[node_ctx.name[len(pipeline) + 1:]] = e
    return out


def _io(s, execution_id, kind):
    want = metadata_store_pb2.Event.INPUT if kind == "in" else metadata_store_pb2.Event.OUTPUT
    out = {}
    for ev in s.get_events_by_execution_ids([execution_id]):
        if ev.type == want:
            out.setdefault(ev.path.steps[0].key, set()).add(ev.artifact_id)
    return out


def test_from_trainer_reruns_trainer_on_the_same_transform_outputs(trained_multiclass,
                                                                     copy_case):
    # A copy of the shared run (conftest.py: one full run with the quick profile, 5 epochs):
    # its MLMD points at the shared run's artifacts, which the partial runs only read.
    case = copy_case(trained_multiclass.case)
    cfg = case / "config.yaml"

    bad = tfxkit("run", cfg, "--from", "Trainr")
    assert bad.returncode == 2
    assert "unknown component 'Trainr'" in bad.stderr and "Transform, Trainer" in bad.stderr

    r2 = tfxkit("run", cfg, "--from", "Trainer", "--set", "model.epochs=4")
    # completed: blessed (0) or not (3: 4 epochs may miss the gate; not what this tests)
    assert r2.returncode in (0, 3), r2.stderr
    assert "Trainer            ran" in r2.stdout and "Transform          reused" in r2.stdout

    s = store(case / ".tfxkit" / "metadata.sqlite")
    first, second = runs(s, "penguin-species")
    e1 = _executions(s, "penguin-species", first)
    e2 = _executions(s, "penguin-species", second)
    states2 = node_states(s, "penguin-species", second)
    # Only Trainer and downstream executed; upstream outputs were reused (TFX's snapshot
    # records them as CACHED executions in the new run), nothing upstream ran.
    ran = {n for n, st in states2.items() if st == "COMPLETE"}
    assert {"Trainer", "Evaluator", "Pusher"} <= ran <= DOWNSTREAM, states2
    assert all(states2[n] == "CACHED" for n in UPSTREAM if n in states2), states2
    for n in UPSTREAM:
        complete = [e for e in s.get_executions_by_context(
            s.get_context_by_type_and_name("node", f"penguin-species.{n}").id)
            if e.last_known_state == STATE.COMPLETE]
        assert len(complete) == 1, (n, "executed again")

    # The new Trainer read the first run's Transform outputs and wrote a new Model.
    t1, t2 = e1["Trainer"], e2["Trainer"]
    assert t2.id != t1.id and t2.last_known_state == STATE.COMPLETE
    assert _io(s, t2.id, "in") == _io(s, t1.id, "in")
    transform_out = _io(s, e1["Transform"].id, "out")
    assert _io(s, t2.id, "in")["examples"] == transform_out["transformed_examples"]
    assert _io(s, t2.id, "in")["transform_graph"] == transform_out["transform_graph"]
    assert _io(s, t2.id, "out")["model"].isdisjoint(_io(s, t1.id, "out")["model"])
    assert json.loads(t2.custom_properties["custom_config"].string_value)["model"]["epochs"] == 4
    assert json.loads(t1.custom_properties["custom_config"].string_value)["model"]["epochs"] == 5

    # A second --from with nothing changed still executes the Trainer (no cache hit).
    r3 = tfxkit("run", cfg, "--from", "Trainer", "--set", "model.epochs=4")
    assert r3.returncode in (0, 3), r3.stderr
    assert "Trainer            ran" in r3.stdout

    # Lineage of the latest pushed model (if the retrain was pushed) names the new epochs.
    lin = tfxkit("lineage", cfg, "--format", "json")
    assert lin.returncode == 0, lin.stderr
    d = json.loads(lin.stdout)
    assert d["steps"][[x["component"] for x in d["steps"]].index("Trainer")]["facts"][
        "hyperparameters"]["epochs"] in (5, 4)


def test_span_reruns_a_past_span(template_copy):
    case = template_copy("regression")
    cfg = case / "config.yaml"
    cfg.write_text(cfg.read_text().replace('"data/eta-*.csv"', '"data/eta-{YYYY}-{MM}-{DD}.csv"'))
    r1 = tfxkit("run", cfg, "--set", "model.epochs=2")
    assert r1.returncode in (0, 3), r1.stderr  # completed (2 epochs may miss the gate)
    day1, day3 = 20454, 20456  # days since 1970-01-01 of 2026-01-01 and 2026-01-03
    r2 = tfxkit("run", cfg, "--span", day1, "--set", "model.epochs=2")
    assert r2.returncode in (0, 3), r2.stderr
    assert "ExampleGen         ran" in r2.stdout and "Trainer            ran" in r2.stdout

    s = store(case / ".tfxkit" / "metadata.sqlite")
    first, second = runs(s, "trip-eta")
    spans = []
    for run_ctx in (first, second):
        gen = _executions(s, "trip-eta", run_ctx)["ExampleGen"]
        [ex] = s.get_artifacts_by_id(list(_io(s, gen.id, "out")["examples"]))
        spans.append(ex.custom_properties["span"].int_value)
        assert ex.custom_properties["rows_train"].int_value > 0
        assert json.loads(ex.custom_properties["input_files"].string_value)[0].endswith(
            {day1: "eta-2026-01-01.csv", day3: "eta-2026-01-03.csv"}[spans[-1]])
        transform = _executions(s, "trip-eta", run_ctx)["Transform"]
        assert _io(s, transform.id, "in")["examples"] == {ex.id}
    assert spans == [day3, day1]

    # a source without span placeholders: --span is a config error naming the field
    plain = case / "plain.yaml"
    plain.write_text(cfg.read_text().replace('"data/eta-{YYYY}-{MM}-{DD}.csv"', '"data/eta-*.csv"'))
    bad = tfxkit("run", plain, "--span", day1)
    assert bad.returncode == 2 and "span" in bad.stderr
