"""The one reader of ML Metadata behind lineage (``lineage/walk.py``), the run report
(``report/gather.py``) and the end-to-end tests (``tests/e2e/helpers.py``).

Plain reads over a ``MetadataStore``: property values (``struct_value`` decoded the way
TFX encodes a JSON property), a pipeline's ``pipeline_run`` contexts, and a ``Reader`` that
caches artifacts and executions and answers which node and run an execution belongs to,
what it read and wrote (events), who produced or consumed an artifact, and which
executions a run holds.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

# TFX's key for a JSON property that is not an object (tfx.types.artifact): a list or a
# number is stored as the Struct ``{"__value__": value}``.
_JSON_SINGLE_VALUE_KEY = "__value__"


def property_value(v) -> Any:
    """The Python value of an MLMD ``Value``: int, double, string or bool as they are; a
    ``struct_value`` as the JSON value TFX stored in it (a dict, list or scalar, the way
    ``Artifact.get_json_value_custom_property`` reads it); a ``proto_value`` (an Any) as
    its text; None when unset."""
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "struct_value":
        from google.protobuf import json_format

        decoded = json_format.MessageToDict(v.struct_value)
        if isinstance(decoded, dict) and _JSON_SINGLE_VALUE_KEY in decoded:
            return decoded[_JSON_SINGLE_VALUE_KEY]
        return decoded
    if which == "proto_value":
        return str(v.proto_value)
    return getattr(v, which)


def properties(msg) -> Dict[str, Any]:
    """An artifact's, execution's or context's properties and custom properties (a custom
    property wins over a property of the same name)."""
    out = {k: property_value(v) for k, v in msg.properties.items()}
    out.update({k: property_value(v) for k, v in msg.custom_properties.items()})
    return out


def json_or(value: Any) -> Any:
    """A JSON object or list stored as a string, decoded; anything else as it is."""
    if not isinstance(value, str) or not value.lstrip().startswith(("{", "[")):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def decoded_properties(msg, skip: Sequence[str] = ()) -> Dict[str, Any]:
    """``properties(msg)`` with JSON strings decoded (``json_or``), less ``skip``."""
    return {k: json_or(v) for k, v in properties(msg).items() if k not in skip}


def pipeline_runs(store, pipeline_name: str) -> List[Any]:
    """The pipeline's ``pipeline_run`` contexts, oldest first (empty if none)."""
    ctx = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if ctx is None:
        return []
    runs = list(store.get_children_contexts_by_context(ctx.id))
    if not runs:  # older MLMD records: runs that hold an execution of this pipeline
        in_pipeline = {e.id for e in store.get_executions_by_context(ctx.id)}
        runs = [c for c in store.get_contexts_by_type("pipeline_run")
                if any(e.id in in_pipeline for e in store.get_executions_by_context(c.id))]
    return sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))


def latest_run(store, pipeline_names: Sequence[str]) -> Optional[Tuple[str, str]]:
    """(pipeline, run id) of the newest run among ``pipeline_names``."""
    best = None
    for name in pipeline_names:
        for c in pipeline_runs(store, name):
            key = (c.create_time_since_epoch, c.id)
            if best is None or key > best[0]:
                best = (key, name, c.name)
    return None if best is None else (best[1], best[2])


class Reader:
    """Reads one pipeline's records in a store; artifacts, executions and the contexts of
    an execution are read once."""

    def __init__(self, store, pipeline_name: str):
        from ml_metadata.proto import metadata_store_pb2 as pb

        self.pb = pb
        self.store = store
        self.pipeline = pipeline_name
        self._type_names: Dict[str, Dict[int, str]] = {}
        self._arts: Dict[int, Any] = {}
        self._execs: Dict[int, Any] = {}
        self._contexts: Dict[int, Tuple[Optional[str], Any]] = {}

    # types ----------------------------------------------------------------------------
    def _types(self, kind: str) -> Dict[int, str]:
        if kind not in self._type_names:
            get = {"artifact": self.store.get_artifact_types,
                   "execution": self.store.get_execution_types,
                   "context": self.store.get_context_types}[kind]
            self._type_names[kind] = {t.id: t.name for t in get()}
        return self._type_names[kind]

    def artifact_type(self, artifact) -> Optional[str]:
        return self._types("artifact").get(artifact.type_id)

    def execution_type(self, execution) -> str:
        """The execution's type name as MLMD holds it (e.g. ``tfx.components...Trainer``)."""
        return self._types("execution").get(execution.type_id, "")

    # records, cached ------------------------------------------------------------------
    def artifact(self, aid: int):
        if aid not in self._arts:
            [self._arts[aid]] = self.store.get_artifacts_by_id([aid])
        return self._arts[aid]

    def execution(self, eid: int):
        if eid not in self._execs:
            [self._execs[eid]] = self.store.get_executions_by_id([eid])
        return self._execs[eid]

    def exec_props(self, eid: int) -> Dict[str, Any]:
        """The execution's properties, JSON strings decoded."""
        return decoded_properties(self.execution(eid))

    def node_and_run(self, eid: int) -> Tuple[Optional[str], Any]:
        """(node id within this pipeline, ``pipeline_run`` context) of an execution; either
        None when MLMD holds none."""
        if eid not in self._contexts:
            node = run = None
            ctypes = self._types("context")
            prefix = self.pipeline + "."
            for c in self.store.get_contexts_by_execution(eid):
                kind = ctypes.get(c.type_id)
                if kind == "node" and c.name.startswith(prefix):
                    node = c.name[len(prefix):]
                elif kind == "pipeline_run":
                    run = c
            self._contexts[eid] = (node, run)
        return self._contexts[eid]

    def node_of(self, eid: int) -> Optional[str]:
        return self.node_and_run(eid)[0]

    # events ---------------------------------------------------------------------------
    def io(self, eid: int) -> Tuple[Dict[str, List[int]], Dict[str, List[int]]]:
        """({input key: artifact ids}, {output key: artifact ids}) of an execution."""
        E = self.pb.Event
        ins: Dict[str, List[int]] = {}
        outs: Dict[str, List[int]] = {}
        for ev in self.store.get_events_by_execution_ids([eid]):
            key = next((st.key for st in ev.path.steps if st.key), "")
            if ev.type in (E.INPUT, E.DECLARED_INPUT):
                ins.setdefault(key, []).append(ev.artifact_id)
            elif ev.type in (E.OUTPUT, E.DECLARED_OUTPUT, E.INTERNAL_OUTPUT):
                outs.setdefault(key, []).append(ev.artifact_id)
        return ins, outs

    def _pick(self, eids: List[int]) -> Optional[int]:
        """The execution that did the work: COMPLETE first (the oldest), else any."""
        if not eids:
            return None
        execs = sorted((self.execution(e) for e in set(eids)), key=lambda e: e.id)
        done = [e for e in execs if e.last_known_state == self.pb.Execution.COMPLETE]
        return (done or execs)[0].id

    def producer(self, aid: int) -> Optional[int]:
        """The execution that wrote artifact ``aid`` (None if none did)."""
        E = self.pb.Event
        return self._pick([ev.execution_id for ev in self.store.get_events_by_artifact_ids([aid])
                           if ev.type in (E.OUTPUT, E.DECLARED_OUTPUT)])

    def consumer(self, aid: int, component: str, also_consumed: Optional[int] = None
                 ) -> Optional[int]:
        """The execution of ``component`` that read ``aid`` (and ``also_consumed``)."""
        E = self.pb.Event
        eids = [ev.execution_id for ev in self.store.get_events_by_artifact_ids([aid])
                if ev.type in (E.INPUT, E.DECLARED_INPUT)]
        eids = [e for e in set(eids) if self.node_of(e) == component]
        if also_consumed is not None:
            eids = [e for e in eids if any(also_consumed in ids for ids in self.io(e)[0].values())]
        return self._pick(eids)

    # runs -----------------------------------------------------------------------------
    def run_executions(self, run_ctx) -> List[Tuple[str, Any]]:
        """(node id, execution) of each execution of this pipeline in a run, oldest first."""
        out = []
        for e in sorted(self.store.get_executions_by_context(run_ctx.id),
                        key=lambda e: (e.create_time_since_epoch, e.id)):
            self._execs.setdefault(e.id, e)
            node = self.node_of(e.id)
            if node is not None:
                out.append((node, e))
        return out


# monitoring (infra/monitoring) ----------------------------------------------------------
MONITOR_EXECUTION = "tfxkit.Monitor"          # one execution per monitored window
MONITORING_RESULT = "MonitoringResult"        # its output: the result JSON (uri)


def _first(ids: Optional[List[int]]) -> Optional[int]:
    return (ids or [None])[0]


def model_artifact(store, pipeline_name: str, model_uri: Optional[str] = None,
                   pushed_version: Optional[str] = None):
    """The Trainer's ``Model`` artifact: by its uri (the registry records it per version),
    else through the PushedModel of ``pushed_version`` and the Pusher that read it. None
    when MLMD has neither."""
    r = Reader(store, pipeline_name)
    if model_uri:
        found = [a for a in store.get_artifacts_by_uri(model_uri)
                 if r.artifact_type(a) == "Model"]
        if found:
            return sorted(found, key=lambda a: a.id)[-1]
    if pushed_version:
        ctx = store.get_context_by_type_and_name("pipeline", pipeline_name)
        pushed = [a for a in (store.get_artifacts_by_context(ctx.id) if ctx else [])
                  if "pushed_version" in a.custom_properties
                  and a.custom_properties["pushed_version"].string_value == str(pushed_version)]
        for a in sorted(pushed, key=lambda a: -a.id):
            pusher = r.producer(a.id)
            model_id = _first(r.io(pusher)[0].get("model")) if pusher is not None else None
            if model_id is not None:
                return r.artifact(model_id)
    return None


def training_data_of_model(store, pipeline_name: str, model_id: int) -> Dict[str, Any]:
    """What the Trainer that wrote Model ``model_id`` learned from: {"trainer_execution",
    "examples_id", "statistics_uri" (StatisticsGen's output on those examples),
    "schema_uri"}; a value is None where MLMD has no record of it. The walk: Model <-
    Trainer <- transform graph <- Transform <- Examples -> StatisticsGen (as lineage)."""
    r = Reader(store, pipeline_name)
    out: Dict[str, Any] = {"trainer_execution": None, "examples_id": None,
                           "statistics_uri": None, "schema_uri": None}
    trainer = r.producer(model_id)
    if trainer is None:
        return out
    out["trainer_execution"] = trainer
    t_ins = r.io(trainer)[0]
    examples_id = schema_id = None
    transform = r.producer(_first(t_ins.get("transform_graph"))) \
        if t_ins.get("transform_graph") else None
    if transform is not None:
        x_ins = r.io(transform)[0]
        examples_id = _first(x_ins.get("examples"))
        schema_id = _first(x_ins.get("schema"))
    if examples_id is None:  # a Trainer on raw examples
        examples_id = _first(t_ins.get("examples"))
    schema_id = schema_id or _first(t_ins.get("schema"))
    out["examples_id"] = examples_id
    if schema_id is not None:
        out["schema_uri"] = r.artifact(schema_id).uri
    if examples_id is not None:
        stats_eid = r.consumer(examples_id, "StatisticsGen")
        if stats_eid is not None:
            stats_id = _first(r.io(stats_eid)[1].get("statistics"))
            if stats_id is not None:
                out["statistics_uri"] = r.artifact(stats_id).uri
    return out


def monitoring_results(store, model_ids: Sequence[int]) -> List[Dict[str, Any]]:
    """The monitoring windows recorded for the Model artifacts ``model_ids`` (a
    ``tfxkit.Monitor`` execution with the model as an INPUT), oldest window first: the
    execution's properties (window_start, window_end, rows, flagged, crossed, ...) and
    {"execution_id", "model_id", "result_uri"}."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    E = pb.Event
    types = {t.id: t.name for t in store.get_execution_types()}
    eids: Dict[int, int] = {}
    for ev in store.get_events_by_artifact_ids(list(model_ids)):
        if ev.type == E.INPUT:
            eids.setdefault(ev.execution_id, ev.artifact_id)
    if not eids:
        return []
    out = []
    for e in store.get_executions_by_id(list(eids)):
        if types.get(e.type_id) != MONITOR_EXECUTION:
            continue
        rec = decoded_properties(e)
        rec.update({"execution_id": e.id, "model_id": eids[e.id], "result_uri": None})
        for ev in store.get_events_by_execution_ids([e.id]):
            if ev.type == E.OUTPUT:
                rec["result_uri"] = store.get_artifacts_by_id([ev.artifact_id])[0].uri
        out.append(rec)
    return sorted(out, key=lambda d: (d.get("window_end") or 0, d["execution_id"]))
