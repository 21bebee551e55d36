"""Shared e2e helpers: run the CLI, read MLMD with the reader lineage and the report use
(tfxkit.pipelines.mlmd_reader)."""
import subprocess
import sys
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from tfxkit.pipelines.mlmd_reader import Reader, pipeline_runs

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
    """pipeline_run contexts of a pipeline, oldest first (the report's reader)."""
    return pipeline_runs(s, pipeline)


def node_states(s, pipeline, run_ctx):
    """{node_id: execution state name} for one pipeline run (its latest execution of each
    node)."""
    return {node: STATE.State.Name(e.last_known_state)
            for node, e in Reader(s, pipeline).run_executions(run_ctx)}


def registry_versions(path):
    """The model versions (numbered folders) in a registry, sorted; the registry also
    holds registry.json, serving.config and its lock file."""
    path = Path(path)
    return sorted(p.name for p in path.iterdir() if p.name.isdigit()) if path.exists() else []


def artifacts_of_type(s, type_name):
    return s.get_artifacts_by_type(type_name)
