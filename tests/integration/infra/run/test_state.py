"""Runs whose process is gone, and failures TFX's launcher does not record
(infra.run.state, infra.run.local_runner): a runner killed with -9 leaves its execution
RUNNING; the next run (and the report) marks it FAILED and the report says failed. A
driver's error (ExampleGen on missing files) and an executor's sys.exit(1) are marked
FAILED by the runner itself; SIGTERM marks the run CANCELED. Real processes and a real
SQLite MLMD throughout (tests/integration/stale_runs_pipeline.py is the pipeline)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.stale_runs_pipeline import start_holding_runner
from tfxkit.infra.run import state as run_state


# -- the runner process ------------------------------------------------------------

def test_process_identity_tells_a_live_process_from_a_dead_or_reused_pid():
    me = run_state.this_runner()
    assert me["runner_pid"] == os.getpid() and me["runner_process"]
    assert run_state.runner_alive(me) is True
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert run_state.process_identity(child.pid) is None  # reaped: gone
    assert run_state.runner_alive({**me, "runner_pid": child.pid}) is False
    # the same pid but another process (a pid reused after a reboot or a wrap-around)
    assert run_state.runner_alive({**me, "runner_process": "other-boot/123"}) is False
    # cannot be told from here: another host, another pid namespace, nothing recorded
    assert run_state.runner_alive({**me, "runner_host": socket.gethostname() + "-x"}) is None
    assert run_state.runner_alive({**me, "runner_pidns": "pid:[1]"}) is None
    assert run_state.runner_alive({}) is None


def test_a_process_this_user_may_not_see_is_not_called_dead(monkeypatch):
    # /proc/<pid> hidden (hidepid) or another user's: it exists (kill 0 says EPERM) but
    # cannot be verified, so the run is left alone
    monkeypatch.setattr(run_state, "_read", lambda path: None if "/stat" in path else "b")
    assert run_state.process_identity(1) == run_state.UNVERIFIABLE  # pid 1 always exists
    me = {**run_state.this_runner(), "runner_pid": 1}
    assert run_state.runner_alive(me) is None


def test_a_zombie_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # exited but not reaped yet: a zombie
        if Path(f"/proc/{child.pid}/stat").read_text().split(")")[1].split()[0] == "Z":
            break
        time.sleep(0.05)
    assert run_state.process_identity(child.pid) is None
    child.wait()


# -- a real runner killed with -9 ----------------------------------------------------

def _store(root, readonly=False):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    c = pb.ConnectionConfig()
    c.sqlite.filename_uri = str(root / "metadata.sqlite")
    c.sqlite.connection_mode = (pb.SqliteMetadataSourceConfig.READONLY if readonly
                                else pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE)
    return metadata_store.MetadataStore(c)


def _states(store, pipeline="stale-runs"):
    """[(run id, run_state, {node: execution state name})], oldest run first."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    from tfxkit.pipelines.mlmd_reader import pipeline_runs

    nodes = {c.id: c.name.split(".", 1)[1] for c in store.get_contexts_by_type("node")}
    out = []
    for run in pipeline_runs(store, pipeline):
        states = {}
        for e in store.get_executions_by_context(run.id):
            node = next(nodes[c.id] for c in store.get_contexts_by_execution(e.id)
                        if c.id in nodes)
            states[node] = pb.Execution.State.Name(e.last_known_state)
        out.append((run.name, run_state.props(run).get("run_state"), states))
    return out


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A runner killed with -9 inside its component: the store as it left it."""
    tmp_path = tmp_path_factory.mktemp("killed")
    proc = start_holding_runner(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return tmp_path


def test_kill_9_leaves_running_then_the_report_marks_it_failed(killed_run, tmp_path):
    import shutil

    from tfxkit.infra.metadata.report.gather import gather
    from tfxkit.infra.metadata.report.render import render_html

    root = tmp_path / "copy"
    shutil.copytree(killed_run, root)
    [(run_id, state, nodes)] = _states(_store(root))
    assert (state, nodes) == ("running", {"Step": "RUNNING"})  # what kill -9 leaves
    # a read-only store (nothing marked yet): the report already tells the truth
    rep = gather(_store(root, readonly=True), "stale-runs")
    assert rep.status == "failed" and rep.component("Step").state == "failed"
    assert "is gone" in rep.component("Step").error
    # the report's reconciliation marks it in MLMD
    from tfxkit.infra.metadata.report import reconcile

    class Cfg:  # what mlmd.open_store reads of a config: a SQLite path
        class metadata:
            mysql = None
        metadata_path = str(root / "metadata.sqlite")

    stale = []
    reconcile(Cfg, ["stale-runs"], stale.append)
    assert [(s.run_id, s.node) for s in stale] == [(run_id, "Step")]
    assert "is gone" in stale[0].reason and "kill -9" in stale[0].reason
    [(_, state, nodes)] = _states(_store(root))
    assert (state, nodes) == ("failed", {"Step": "FAILED"})
    [execution] = [e for e in _store(root).get_executions()]
    result = json.loads(execution.custom_properties["__execution_result__"].string_value)
    assert "is gone" in result["resultMessage"]  # TFX's own format (ExecutionResult JSON)
    rep = gather(_store(root, readonly=True), "stale-runs")
    assert rep.status == "failed" and rep.failed.node_id == "Step"
    page = render_html(rep)
    assert "data-status='failed'" in page and "failed in Step" in page
    assert ">succeeded<" not in page
    reconcile(Cfg, ["stale-runs"], stale.append)  # once marked, never again
    assert len(stale) == 1


def test_the_next_run_marks_the_killed_run_failed(killed_run, tmp_path):
    import shutil

    from tests.integration import stale_runs_pipeline as sp
    from tfxkit.infra.run.local_runner import run_pipeline

    root = tmp_path / "copy"
    shutil.copytree(killed_run, root)
    stale = []
    result = run_pipeline(sp.pipeline(str(root), sp.Step("ok")), on_stale=stale.append)
    assert [n.state for n in result.nodes] == ["ran"]
    assert [s.node for s in stale] == ["Step"]
    [(_, first, first_nodes), (_, second, second_nodes)] = _states(_store(root))
    assert (first, first_nodes) == ("failed", {"Step": "FAILED"})
    assert (second, second_nodes) == ("succeeded", {"Step": "COMPLETE"})


def test_a_live_runner_is_left_running(tmp_path):
    from tfxkit.infra.metadata.report.gather import gather

    proc = start_holding_runner(tmp_path)
    try:
        store = _store(tmp_path)
        assert run_state.reconcile(store, "stale-runs") == []
        [(_, state, nodes)] = _states(store)
        assert (state, nodes) == ("running", {"Step": "RUNNING"})
        rep = gather(store, "stale-runs")
        assert rep.status == "running" and "Step is still running" in rep.status_reason
        assert f"pid {proc.pid}" in rep.status_reason
        proc.send_signal(signal.SIGTERM)  # a stop, not a crash: CANCELED by the runner
        assert proc.wait(timeout=120) != 0
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    [(_, state, nodes)] = _states(_store(tmp_path))
    assert (state, nodes) == ("canceled", {"Step": "CANCELED"})
    rep = gather(_store(tmp_path, readonly=True), "stale-runs")
    assert rep.status == "canceled" and rep.component("Step").state == "canceled"


# -- failures TFX's launcher leaves RUNNING ----------------------------------------------

def test_executor_sys_exit_1_is_failed(tmp_path):
    from tests.integration import stale_runs_pipeline as sp
    from tfxkit.infra.run.local_runner import RunFailed, run_pipeline

    with pytest.raises(RunFailed) as e:
        run_pipeline(sp.pipeline(str(tmp_path), sp.Step("exit")))
    assert e.value.node.node_id == "Step" and "exited with code 1" in e.value.node.error
    [(_, state, nodes)] = _states(_store(tmp_path))
    assert (state, nodes) == ("failed", {"Step": "FAILED"})


def test_executor_exception_is_failed(tmp_path):
    from tests.integration import stale_runs_pipeline as sp
    from tfxkit.infra.run.local_runner import RunFailed, run_pipeline

    with pytest.raises(RunFailed, match="step is broken"):
        run_pipeline(sp.pipeline(str(tmp_path), sp.Step("raise")))
    [(_, state, nodes)] = _states(_store(tmp_path))
    assert (state, nodes) == ("failed", {"Step": "FAILED"})


@pytest.mark.parametrize("pattern", ["day-{SPAN}.csv", "*.csv"])
def test_example_gen_failure_is_failed_with_its_reason(tmp_path, pattern):
    # {SPAN}: ArrowExampleGen's driver (span resolution) finds no file, after TFX
    # registered the execution RUNNING and before any executor: TFX leaves it RUNNING.
    # *.csv: the executor finds none: TFX marks it FAILED, without the reason.
    from tests.integration import stale_runs_pipeline as sp
    from tfxkit.components.example_gen.component import ArrowExampleGen
    from tfxkit.infra.run.local_runner import RunFailed, run_pipeline
    from tfxkit.infra.metadata.report.gather import gather

    (tmp_path / "data").mkdir()
    gen = ArrowExampleGen(input_base=str(tmp_path / "data"), pattern=pattern)
    with pytest.raises(RunFailed) as e:
        run_pipeline(sp.pipeline(str(tmp_path), gen))
    assert e.value.node.node_id == "ArrowExampleGen"
    [(_, state, nodes)] = _states(_store(tmp_path))
    assert (state, nodes) == ("failed", {"ArrowExampleGen": "FAILED"})
    rep = gather(_store(tmp_path, readonly=True), "stale-runs")
    assert rep.status == "failed" and rep.failed.node_id == "ArrowExampleGen"
    assert rep.failed.error and rep.failed.error == e.value.node.error


# -- what the report and the summary say -------------------------------------------------

def test_report_status_is_never_succeeded_for_an_unfinished_run():
    from tfxkit.infra.metadata.report.components import run_status
    from tfxkit.infra.metadata.report.model import ComponentRun, Report
    from tfxkit.infra.metadata.report.render import render_html

    def page(comps, props=None):
        rep = Report(pipeline="p", run_id="r", kind="training", components=comps,
                     run_properties=props or {})
        return render_html(rep)

    ok = [ComponentRun("ExampleGen", "ran", 1, 1.0, 2.0, 1.0)]
    assert run_status(ok) == ("succeeded", None)
    assert "data-status='succeeded'" in page(ok)
    running = ok + [ComponentRun("StatisticsGen", "running", 2, 2.0, 3.0)]
    assert run_status(running)[0] == "running"
    assert "data-status='running'" in page(running) and ">succeeded<" not in page(running)
    canceled = ok + [ComponentRun("StatisticsGen", "canceled", 2, 2.0, 3.0, error="SIGTERM")]
    assert "data-status='canceled'" in page(canceled) and "canceled in StatisticsGen" in \
        page(canceled)
    # killed between two components: nothing running, but its runner is gone
    gone = {"run_state": "running", "runner_pid": 999999999, "runner_process": "x/1",
            "runner_host": socket.gethostname(), "runner_pidns": run_state._pidns()}
    status, reason = run_status(ok, gone)
    assert status == "failed" and "pid 999999999" in reason and "is gone" in reason
    assert "data-status='failed'" in page(ok, gone) and ">succeeded<" not in page(ok, gone)
    assert run_status(ok, {"run_state": "canceled"})[0] == "canceled"


def test_summary_says_when_a_component_did_not_complete():
    from tfxkit.infra.run.local_runner import NodeResult, RunResult
    from tfxkit.infra.run.summary import Summary, format_summary, run_status

    r = RunResult("p", "r", [NodeResult("ExampleGen", "ran", 1.0, 1),
                             NodeResult("Trainer", "running", 1.0, 2)])
    assert run_status(r)[0] == "running"
    s = Summary()
    s.status, s.status_reason = run_status(r)
    assert format_summary(s)[0].startswith("Run RUNNING: Trainer running")
    assert run_status(RunResult("p", "r", [NodeResult("A", "ran", 1.0, 1)])) == ("succeeded", None)


def test_report_of_a_run_stopped_in_the_trainer():
    from tfxkit.infra.metadata.report.model import ComponentRun, Report
    from tfxkit.infra.metadata.report.render import render_html

    rep = Report(pipeline="p", run_id="r", kind="training",
                 components=[ComponentRun("Transform", "ran", 1, 1.0, 2.0, 1.0),
                             ComponentRun("Trainer", "canceled", 2, 2.0, 3.0, 1.0,
                                          error="canceled (SIGTERM)"),
                             ComponentRun("Evaluator", "not run")])
    page = render_html(rep)
    assert "data-status='canceled'" in page and "canceled in Trainer" in page
    assert "Nothing was trained: the Trainer was canceled (SIGTERM)." in page
