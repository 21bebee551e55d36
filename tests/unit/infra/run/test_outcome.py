"""What ``tfxkit run`` says and returns at the end (infra/run/outcome.py): counts that add
up to the listed components, the exit status of a not-blessed run, the line of a run in
which nothing changed."""
import pytest

from tfxkit.infra.run import outcome
from tfxkit.infra.run.local_runner import NodeResult, RunResult
from tfxkit.infra.run.summary import Summary


def result(*states):
    return RunResult("p", "r2", [NodeResult(f"N{i}", st, 0.0, i + 1)
                                 for i, st in enumerate(states)])


def test_the_counts_add_up_to_the_listed_components():
    r = result(*["ran"] * 10, "resolved")
    assert outcome.counts_text(r) == "10 ran, 0 cached, 1 resolved"
    r = result("cached", "cached", "resolved", "skipped", "failed")
    assert outcome.counts_text(r) == "0 ran, 2 cached, 1 resolved, 1 skipped, 1 failed"


@pytest.mark.parametrize("summary, status", [
    (Summary(blessed=True, infra_blessed=True, pushed=True), 0),
    (Summary(blessed=True, infra_blessed=True, pushed=False), 0),  # identical to serving
    (Summary(blessed=False, pushed=False), outcome.NOT_BLESSED),
    (Summary(blessed=True, infra_blessed=False, pushed=False), outcome.NOT_BLESSED),
    (Summary(blessed=False, status="failed"), 1),
])
def test_exit_status(summary, status):
    assert outcome.exit_status(summary) == status
    assert outcome.NOT_BLESSED == 3  # documented: README, tfxkit run --help, Airflow


def test_nothing_ran_only_when_every_component_was_reused():
    assert outcome.nothing_ran(result("cached", "resolved", "cached"))
    assert not outcome.nothing_ran(result("cached", "ran"))
    assert not outcome.nothing_ran(result("resolved", "skipped"))  # nothing cached
    assert not outcome.nothing_ran(result())


def test_the_line_of_an_unchanged_run():
    line = outcome.unchanged_text("2026-11-30T20:21:11", Summary(blessed=True), "17")
    assert line == ("Nothing changed since run 2026-11-30T20:21:11: the same inputs and "
                    "settings, every result reused, nothing new was pushed (model 17 is "
                    "serving)")
    weak = outcome.unchanged_text(None, Summary(blessed=False), None)
    assert weak.startswith("Nothing changed: ") and weak.endswith(
        "(no model is serving; its model was not blessed)")
    slow = outcome.unchanged_text("r1", Summary(blessed=True, infra_blessed=False), "3")
    assert slow.endswith("(model 3 is serving; its model failed infra validation)")


def test_the_earlier_run_is_the_producers(tmp_path):
    """On a real MLMD: a cached execution's output was produced in the earlier run."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    conn = pb.ConnectionConfig()
    conn.sqlite.filename_uri = str(tmp_path / "m.sqlite")
    conn.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    st = metadata_store.MetadataStore(conn)
    [et] = [st.put_execution_type(pb.ExecutionType(name="Pusher"))]
    at = st.put_artifact_type(pb.ArtifactType(name="PushedModel"))
    ct = {n: st.put_context_type(pb.ContextType(name=n)) for n in ("node", "pipeline_run")}
    [aid] = st.put_artifacts([pb.Artifact(type_id=at, uri="/p")])
    eids = []
    for run, state in (("run-1", pb.Execution.COMPLETE), ("run-2", pb.Execution.CACHED)):
        [eid] = st.put_executions([pb.Execution(type_id=et, last_known_state=state)])
        eids.append(eid)
        st.put_events([pb.Event(artifact_id=aid, execution_id=eid, type=pb.Event.OUTPUT)])
        cids = st.put_contexts([pb.Context(type_id=ct["pipeline_run"], name=run)])
        node = st.get_contexts_by_type("node") or []
        if not node:
            st.put_contexts([pb.Context(type_id=ct["node"], name="p.Pusher")])
            node = st.get_contexts_by_type("node")
        st.put_attributions_and_associations(
            [], [pb.Association(context_id=c, execution_id=eid)
                 for c in [cids[0], node[0].id]])
    assert outcome.earlier_run(conn, "p", eids[1]) == "run-1"
    assert outcome.earlier_run(conn, "p", eids[0]) is None  # its own output: no earlier run


class _Cfg:
    name = "penguin"

    def __init__(self, alerts):
        self.alerts = alerts


def _alerts():
    from tfxkit.pipelines.config.alerts import Alerts
    return Alerts(targets=[{"webhook": "http://127.0.0.1:9/hook"}])


def test_a_run_not_blessed_fires_not_blessed():
    from tfxkit.infra.run.summary import MetricLine

    calls = []
    fake = lambda *a, **k: calls.append((a, k)) or [("webhook", True, None)]  # noqa: E731
    s = Summary(blessed=False, pushed=False, reasons=["accuracy 0.41 < lower bound 0.99"],
                metrics=[MetricLine("accuracy", 0.41, ">= 0.99", ok=False),
                         MetricLine("auc", 0.9, "", ok=True)])
    cfg = _Cfg(_alerts())
    status = outcome.exit_status(s)
    assert outcome.run_alert(cfg, status, run_id="r2", summary=s, fire=fake) == [
        ("webhook", True, None)]
    [((alerts, kind, title, message, details), kw)] = calls
    assert alerts is cfg.alerts and kind == "not_blessed" and title == "model not blessed"
    assert message == "Nothing was pushed. accuracy 0.41 < lower bound 0.99"
    assert details["failed_metrics"] == {
        "accuracy": {"value": 0.41, "threshold": ">= 0.99", "baseline": None}}
    assert details["exit_status"] == 3 and details["pushed"] is False
    assert kw == {"use_case": "penguin", "run_id": "r2"}


def test_infra_validation_and_failed_runs_fire_their_kinds():
    calls = []
    fake = lambda *a, **k: calls.append((a, k)) or []  # noqa: E731
    cfg = _Cfg(_alerts())
    s = Summary(blessed=True, infra_blessed=False, infra_reason="the model did not load")
    outcome.run_alert(cfg, outcome.exit_status(s), run_id="r3", summary=s, fire=fake)
    assert calls[-1][0][1:4] == ("not_blessed", "model failed infra validation",
                                 "Nothing was pushed. the model did not load")
    outcome.run_alert(cfg, 1, run_id="r4", failed_node="Trainer", error="x" * 5000, fire=fake)
    (_, kind, title, message, details), kw = calls[-1]
    assert (kind, title, len(message)) == ("failed_run", "run failed in Trainer", 2000)
    assert details == {"component": "Trainer", "exit_status": 1} and kw["run_id"] == "r4"


@pytest.mark.parametrize("status", [0, 2, 130, 143])
def test_other_statuses_and_configs_without_alerts_fire_nothing(status):
    def fake(*a, **k):
        raise AssertionError("fired")

    assert outcome.run_alert(_Cfg(_alerts()), status, fire=fake) is None
    assert outcome.run_alert(_Cfg(None), 1, fire=fake) is None
    assert outcome.run_alert(_Cfg(None), outcome.NOT_BLESSED, fire=fake) is None


def test_a_broken_alert_does_not_raise(capsys):
    def fake(*a, **k):
        raise RuntimeError("no")

    out = outcome.run_alert(_Cfg(_alerts()), 1, failed_node="Trainer", fire=fake)
    assert out == [("alerts", False, "RuntimeError: no")]
    assert "the run's alert was not sent: RuntimeError: no" in capsys.readouterr().err
