"""A run's components and status as the report shows them
(infra/metadata/report/components.py), from a fake MLMD."""
import json
import socket

import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from tests.unit.infra.metadata.mlmd_records import PIPELINE, Records
from tfxkit.pipelines.mlmd_reader import Reader
from tfxkit.infra.metadata.report import components as C
from tfxkit.infra.metadata.report.model import ComponentRun, Report
from tfxkit.infra.run import state as run_state


def _gone_runner():
    """Run properties of a ``running`` run whose runner process no longer exists."""
    return {run_state.RUN_STATE: run_state.RUNNING, run_state.RUNNER_PID: 2 ** 22 + 17,
            run_state.RUNNER_HOST: socket.gethostname(),
            run_state.RUNNER_PIDNS: run_state._pidns(),  # pylint: disable=protected-access
            run_state.RUNNER_PROCESS: "a process that is gone"}


def test_result_message():
    assert C.result_message(None) is None and C.result_message("") is None
    assert C.result_message(json.dumps({"resultMessage": "boom"})) == "boom"
    assert C.result_message(json.dumps({"result_message": "bang"})) == "bang"
    assert C.result_message('{"code": 1}') == '{"code": 1}'
    assert C.result_message("{broken") == "{broken"
    assert C.result_message(3) == "3"


@pytest.mark.parametrize("states, props, expected", [
    (["ran", "cached"], {}, ("succeeded", None)),
    (["ran", "failed"], {}, ("failed", "failed in B")),
    (["ran", "canceled"], {}, ("canceled", "canceled in B")),
    (["ran"], {run_state.RUN_STATE: run_state.CANCELED, run_state.RUN_ERROR: "stopped"},
     ("canceled", "stopped")),
    (["ran"], {run_state.RUN_STATE: run_state.FAILED}, ("failed", "the run failed")),
    (["ran", "running"], {}, ("running", "B is still running")),
    (["ran"], {run_state.RUN_STATE: run_state.RUNNING}, ("running", "the run has not finished")),
])
def test_run_status(states, props, expected):
    comps = [ComponentRun(name, st) for name, st in zip("AB", states)]
    assert C.run_status(comps, props) == expected


def test_run_status_names_the_failed_components_error_and_a_gone_runner():
    comps = [ComponentRun("A", "failed", error="disk full")]
    assert C.run_status(comps) == ("failed", "A: disk full")
    status, reason = C.run_status([ComponentRun("A", "ran")], _gone_runner())
    assert status == "failed" and "is gone" in reason


def test_report_status_prefers_the_gathered_one():
    rep = Report("p", "r", "training", components=[ComponentRun("A", "failed")])
    assert C.report_status(rep) == ("failed", "failed in A")
    rep.status, rep.status_reason = "canceled", "by hand"
    assert C.report_status(rep) == ("canceled", "by hand")


def test_component_runs_states_timing_errors_and_events():
    rec = Records()
    run = rec.run("run-1")
    ex = rec.artifact("Examples", "/ex")
    gen = rec.execute(run, "ExampleGen", {}, {"examples": ex})
    res = rec.execute(run, "latest_model_resolver", {}, {"model": ex},
                      type_name="tfx.dsl.components.common.resolver.Resolver")
    cached = rec.execute(run, "StatisticsGen", {"examples": ex}, {}, state=pb.Execution.CACHED)
    failed = rec.execute(run, "Trainer", {"examples": ex}, {}, state=pb.Execution.FAILED,
                         **{run_state.EXECUTION_RESULT: json.dumps({"resultMessage": "OOM"})})
    odd = rec.execute(run, "Pusher", {}, {}, state=pb.Execution.UNKNOWN)
    comps = C.component_runs(Reader(rec.store, PIPELINE), run)
    got = {c.node_id: (c.execution_id, c.state, c.error) for c in comps}
    assert got == {"ExampleGen": (gen, "ran", None),
                   "latest_model_resolver": (res, "resolved", None),
                   "StatisticsGen": (cached, "cached", None),
                   "Trainer": (failed, "failed", "OOM"),
                   "Pusher": (odd, "failed", "unknown execution state")}
    g = comps[0]
    assert g.outputs == {"examples": [ex]} and g.start and g.end and g.elapsed is not None
    assert C.find(comps, "Statistics") is comps[2] and C.find(comps, "Evaluator") is None
    r = Reader(rec.store, PIPELINE)
    assert C.out_artifact(r, g, "examples").uri == "/ex"
    assert C.out_artifact(r, g, "other") is None and C.out_artifact(r, None, "examples") is None


def test_a_running_execution_of_a_gone_runner_shows_failed():
    rec = Records()
    run = rec.run("run-1", **_gone_runner())
    rec.execute(run, "Trainer", state=pb.Execution.RUNNING)
    [c] = C.component_runs(Reader(rec.store, PIPELINE), run)
    assert c.state == "failed" and "Trainer finished" in c.error and "is gone" in c.error


def test_find_prefers_the_exact_name():
    comps = [ComponentRun("Trainer_b", "ran"), ComponentRun("Trainer", "ran")]
    assert C.find(comps, "Trainer") is comps[1]
    assert C.find(comps[:1], "Trainer") is comps[0]
