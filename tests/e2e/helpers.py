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


def write_request_log(folder, rows, start, end, version, model="penguin-species",
                      label="species", **replace):
    """Appends ``rows`` (CSV dicts of the template's data) to a request log in the
    serving contract's format (``requests-YYYY-MM-DDTHH.jsonl`` per UTC hour, one line per
    instance), spread evenly over ``[start, end)``: the features as a client sends them
    (numbers as numbers, empty cells left out, ``replace`` overriding a feature's value),
    the label as the answered class."""
    import json
    import os
    import time
    import uuid

    os.makedirs(folder, exist_ok=True)
    step = (end - start) / max(len(rows), 1)
    for i, row in enumerate(rows):
        ts = start + i * step
        features = {}
        for k, v in row.items():
            if k == label or v == "":
                continue
            try:
                features[k] = int(v)
            except ValueError:
                try:
                    features[k] = float(v)
                except ValueError:
                    features[k] = v
        features.update(replace)
        line = {"ts": ts, "request_id": uuid.uuid4().hex, "model": model,
                "model_version": str(version), "arm": "stable", "route": "/predict",
                "latency_ms": 1.2, "features": features,
                "outputs": {"class": row[label], "class_id": 0,
                            "probabilities": [1.0, 0.0, 0.0]}}
        name = time.strftime("requests-%Y-%m-%dT%H.jsonl", time.gmtime(ts))
        with open(os.path.join(folder, name), "a") as f:
            f.write(json.dumps(line) + "\n")
