"""A monitored window in ML Metadata: one ``tfxkit.Monitor`` execution that read the
serving ``Model`` artifact (an INPUT event, so lineage from the model reaches it) and
wrote a ``MonitoringResult`` artifact (uri: the result JSON), in a ``tfxkit.monitoring``
context named after the pipeline. Read back by ``pipelines/mlmd_reader.monitoring_results``."""
from __future__ import annotations

import json
from typing import Any, Dict

from tfxkit.pipelines.mlmd_reader import MONITOR_EXECUTION, MONITORING_RESULT

CONTEXT_TYPE = "tfxkit.monitoring"

_PROPERTIES = {"window_start": "DOUBLE", "window_end": "DOUBLE", "rows": "INT",
               "flagged": "STRING", "crossed": "INT", "model_version": "STRING",
               "result": "STRING"}


def _type_ids(store):
    from ml_metadata.proto import metadata_store_pb2 as pb

    et = pb.ExecutionType(name=MONITOR_EXECUTION)
    for k, v in _PROPERTIES.items():
        et.properties[k] = getattr(pb, v)
    at = pb.ArtifactType(name=MONITORING_RESULT)
    at.properties["window_end"] = pb.DOUBLE
    ct = pb.ContextType(name=CONTEXT_TYPE)
    return (store.put_execution_type(et, can_add_fields=True),
            store.put_artifact_type(at, can_add_fields=True),
            store.put_context_type(ct))


def record_window(store, pipeline_name: str, model_id: int, window: Dict[str, Any],
                  result_uri: str) -> int:
    """Records one judged window (``window``: its ``as_dict``); the execution's id."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    exec_type, art_type, ctx_type = _type_ids(store)
    e = pb.Execution(type_id=exec_type, last_known_state=pb.Execution.COMPLETE)
    e.properties["window_start"].double_value = float(window["start"])
    e.properties["window_end"].double_value = float(window["end"])
    e.properties["rows"].int_value = int(window["rows"])
    e.properties["flagged"].string_value = json.dumps(window["flagged"])
    e.properties["crossed"].int_value = int(bool(window["crossed"]))
    e.properties["model_version"].string_value = str(window.get("model_version") or "")
    e.properties["result"].string_value = result_uri
    out = pb.Artifact(type_id=art_type, uri=result_uri, state=pb.Artifact.LIVE)
    out.properties["window_end"].double_value = float(window["end"])
    [model] = store.get_artifacts_by_id([model_id])

    def event(kind, key):
        ev = pb.Event(type=kind)
        ev.path.steps.add().key = key
        ev.path.steps.add().index = 0
        return ev

    ctx = store.get_context_by_type_and_name(CONTEXT_TYPE, pipeline_name)
    if ctx is None:
        ctx = pb.Context(type_id=ctx_type, name=pipeline_name)
    eid, _, _ = store.put_execution(
        e, [(model, event(pb.Event.INPUT, "model")), (out, event(pb.Event.OUTPUT, "result"))],
        [ctx])
    return eid
