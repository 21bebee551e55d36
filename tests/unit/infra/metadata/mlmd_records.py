"""A small in-memory ML Metadata store laid out as a tfxkit run records it, for the
reader's, the report's and the graph's unit tests (not a test module itself)."""
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

PIPELINE = "toy"


def _set(value_msg, v):
    """One MLMD Value from a Python value (a dict or list as TFX stores JSON)."""
    if isinstance(v, bool) or isinstance(v, int):
        value_msg.int_value = int(v)
    elif isinstance(v, float):
        value_msg.double_value = v
    elif isinstance(v, (dict, list)):
        from google.protobuf import json_format

        json_format.ParseDict(v if isinstance(v, dict) else {"__value__": v},
                              value_msg.struct_value)
    else:
        value_msg.string_value = v


class Records:
    """Writes contexts, artifacts and executions (with their events) into a fake store."""

    def __init__(self, pipeline=PIPELINE, store=None):
        """A new fake store, or a second pipeline in ``store``."""
        if store is None:
            config = pb.ConnectionConfig()
            config.fake_database.SetInParent()
            store = metadata_store.MetadataStore(config)
        self.store = store
        self.name = pipeline
        self._type_ids = {}
        self.pipeline = self.context("pipeline", pipeline)

    def type_id(self, kind, name):
        if (kind, name) not in self._type_ids:
            put, msg = {"artifact": (self.store.put_artifact_type, pb.ArtifactType),
                        "execution": (self.store.put_execution_type, pb.ExecutionType),
                        "context": (self.store.put_context_type, pb.ContextType)}[kind]
            self._type_ids[(kind, name)] = put(msg(name=name))
        return self._type_ids[(kind, name)]

    def context(self, kind, name, **props):
        c = pb.Context(type_id=self.type_id("context", kind), name=name)
        for k, v in props.items():
            _set(c.custom_properties[k], v)
        [c.id] = self.store.put_contexts([c])
        return c

    def run(self, run_id, **props):
        """A ``pipeline_run`` context, a child of the pipeline's."""
        r = self.context("pipeline_run", run_id, **props)
        self.store.put_parent_contexts([pb.ParentContext(child_id=r.id,
                                                         parent_id=self.pipeline.id)])
        return r

    def artifact(self, type_name, uri="", **props):
        a = pb.Artifact(type_id=self.type_id("artifact", type_name), uri=uri,
                        state=pb.Artifact.LIVE)
        for k, v in props.items():
            _set(a.custom_properties[k], v)
        [aid] = self.store.put_artifacts([a])
        return aid

    def execute(self, run, node, inputs=None, outputs=None, state=pb.Execution.COMPLETE,
                type_name=None, **props):
        """An execution of ``node`` in ``run``: {key: artifact id} in and out."""
        e = pb.Execution(type_id=self.type_id("execution", type_name or f"tfx.components.{node}"),
                         last_known_state=state)
        for k, v in props.items():
            _set(e.custom_properties[k], v)
        node_ctx = self.store.get_context_by_type_and_name("node", f"{self.name}.{node}") or \
            self.context("node", f"{self.name}.{node}")
        contexts = [self.pipeline, run, node_ctx]
        eid, _, _ = self.store.put_execution(e, [], contexts)
        events = []
        for kind, d in ((pb.Event.INPUT, inputs or {}), (pb.Event.OUTPUT, outputs or {})):
            for key, aid in d.items():
                ev = pb.Event(artifact_id=aid, execution_id=eid, type=kind)
                ev.path.steps.add().key = key
                events.append(ev)
        self.store.put_events(events)
        # outputs belong to the pipeline, the run and the node, as TFX records them
        self.store.put_attributions_and_associations(
            [pb.Attribution(context_id=c.id, artifact_id=aid)
             for c in contexts for aid in (outputs or {}).values()], [])
        return eid
