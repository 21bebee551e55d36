"""Shared e2e helpers: run the CLI, read MLMD directly with ml_metadata."""
import subprocess
import sys
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

BIN = Path(sys.executable).parent / "tfxkit"


def tfxkit(*args, cwd=None, timeout=900):
    r = subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                       timeout=timeout)
    print(r.stdout[-4000:])
    print(r.stderr[-4000:], file=sys.stderr)
    return r


def store(sqlite_path):
    c = metadata_store_pb2.ConnectionConfig()
    c.sqlite.filename_uri = str(sqlite_path)
    c.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(c)


STATE = metadata_store_pb2.Execution


def runs(s, pipeline):
    """pipeline_run contexts of a pipeline, oldest first."""
    return sorted(s.get_contexts_by_type("pipeline_run"), key=lambda c: c.id)


def node_states(s, pipeline, run_ctx):
    """{node_id: execution state name} for one pipeline run."""
    in_run = {e.id: e for e in s.get_executions_by_context(run_ctx.id)}
    out = {}
    for node_ctx in s.get_contexts_by_type("node"):
        prefix = pipeline + "."
        if not node_ctx.name.startswith(prefix):
            continue
        for e in s.get_executions_by_context(node_ctx.id):
            if e.id in in_run:
                out[node_ctx.name[len(prefix):]] = STATE.State.Name(e.last_known_state)
    return out


def registry_versions(path):
    """The model versions (numbered folders) in a registry, sorted; the registry also
    holds registry.json, serving.config and its lock file."""
    path = Path(path)
    return sorted(p.name for p in path.iterdir() if p.name.isdigit()) if path.exists() else []


def artifacts_of_type(s, type_name):
    return s.get_artifacts_by_type(type_name)
