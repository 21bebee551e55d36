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
