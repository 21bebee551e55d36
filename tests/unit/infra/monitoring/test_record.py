"""A judged window in ML Metadata (``infra/monitoring/record.py``): a ``tfxkit.Monitor``
execution that read the Model (INPUT) and wrote a ``MonitoringResult`` (OUTPUT), in the
pipeline's ``tfxkit.monitoring`` context; read back by ``mlmd_reader.monitoring_results``."""
from ml_metadata.proto import metadata_store_pb2 as pb

from tests.unit.infra.metadata.mlmd_records import Records
from tfxkit.infra.monitoring.record import CONTEXT_TYPE, record_window
from tfxkit.pipelines.mlmd_reader import MONITOR_EXECUTION, monitoring_results


def window(end, crossed):
    flagged = [{"feature": "island", "kind": "skew", "value": 0.8, "threshold": 0.1}]
    return {"start": end - 3600, "end": end, "rows": 120, "model_version": "7",
            "flagged": flagged if crossed else [], "crossed": crossed}


def test_windows_are_linked_to_the_model_and_read_back_oldest_first():
    rec = Records(pipeline="toy")
    model = rec.artifact("Model", "/m/7")
    other = rec.artifact("Model", "/m/8")
    e2 = record_window(rec.store, "toy", model, window(7200.0, True), "/r/2.json")
    e1 = record_window(rec.store, "toy", model, window(3600.0, False), "/r/1.json")
    record_window(rec.store, "toy", other, window(3600.0, False), "/r/other.json")
    s = rec.store
    [e] = s.get_executions_by_id([e2])
    assert [t.name for t in s.get_execution_types_by_id([e.type_id])] == [MONITOR_EXECUTION]
    assert e.last_known_state == pb.Execution.COMPLETE
    events = {(ev.type, ev.artifact_id) for ev in s.get_events_by_execution_ids([e2])}
    assert (pb.Event.INPUT, model) in events
    [out] = [a for t, a in events if t == pb.Event.OUTPUT]
    [art] = s.get_artifacts_by_id([out])
    assert art.uri == "/r/2.json"
    assert s.get_artifact_types_by_id([art.type_id])[0].name == "MonitoringResult"
    ctx = s.get_context_by_type_and_name(CONTEXT_TYPE, "toy")
    assert {x.id for x in s.get_executions_by_context(ctx.id)} >= {e1, e2}
    got = monitoring_results(s, [model])
    assert [(r["execution_id"], r["window_end"], r["crossed"]) for r in got] == [
        (e1, 3600.0, 0), (e2, 7200.0, 1)]
    assert got[1]["flagged"][0]["feature"] == "island" and got[1]["result_uri"] == "/r/2.json"
    assert got[1]["model_id"] == model and got[1]["rows"] == 120
    assert [r["result_uri"] for r in monitoring_results(s, [other])] == ["/r/other.json"]
    assert monitoring_results(s, [rec.artifact("Model", "/m/9")]) == []
