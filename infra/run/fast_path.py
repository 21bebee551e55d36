"""The no-change fast path of ``tfxkit run`` (issue 18): before TensorFlow or TFX is
imported, a fingerprint of everything that decides the pipeline's outcome is compared with
the one the last run recorded; when they are equal and that run completed, nothing runs.

The fingerprint (``inputs_fingerprint``) covers: the effective config (its hash: profile
and ``--set`` included), the content of every data file the source matches (sha256 of the
bytes, as ExampleGen's content fingerprint: a same-size edit with the mtime restored
changes it), the user's modules (``features.module``, ``model.module``) and curated schema,
tfxkit's own source files, and the Python, TFX and TensorFlow versions. ``tfxkit run``
records it on the run's ``pipeline_run`` context with the run's exit status; the fast path
is taken only when the newest training run of the pipeline (batch-inference runs share its
name) completed (``run_state`` succeeded) with
the same fingerprint and a recorded exit status, and the registry still holds the serving
version's folder when that run left one. Remote or BigQuery sources never take it.
``tfxkit run --force`` runs anyway."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Dict, List, Optional

INPUTS = "inputs_fingerprint"
EXIT_STATUS = "run_exit_status"


def _hash_files(h, files: List[str], label: str) -> None:
    from tfxkit.components.example_gen.ingest import fingerprint_files

    h.update(f"{label}:{len(files)}:".encode())
    if files:
        h.update(fingerprint_files(files).encode())


# tfxkit's top-level packages (setup.py's PACKAGES): one folder in a wheel, four
# folders of the repository in an editable install
_PACKAGES = ("tfxkit", "tfxkit.components", "tfxkit.pipelines", "tfxkit.infra")


def _tfxkit_sources() -> List[str]:
    """Every .py file of tfxkit, whichever way it is installed (no package imported)."""
    from importlib.util import find_spec

    out = set()
    for name in _PACKAGES:
        spec = find_spec(name)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
                out.update(os.path.join(folder, f) for f in files if f.endswith(".py"))
    return sorted(out)


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "none"


def inputs_fingerprint(cfg) -> Optional[str]:
    """The fingerprint of what decides ``cfg``'s run; None when it cannot be known before
    running (a remote or BigQuery source, no matching file)."""
    import platform

    from tfxkit.pipelines.config import is_remote, source_files

    src = cfg.data.source
    if src.kind == "bigquery" or is_remote(src.path):
        return None
    files = source_files(cfg)
    if not files:
        return None
    h = hashlib.sha256()
    h.update(f"config:{cfg.fingerprint()}\n".encode())
    _hash_files(h, files, "data")
    extra = [m for m in (cfg.features.module, cfg.model.module,
                         cfg.validation.schema_file) if m]
    _hash_files(h, [cfg.resolve(m) for m in extra if os.path.isfile(cfg.resolve(m))], "user")
    h.update(f"missing:{[m for m in extra if not os.path.isfile(cfg.resolve(m))]}\n".encode())
    _hash_files(h, _tfxkit_sources(), "tfxkit")
    h.update(f"python:{platform.python_version()},tfx:{_version('tfx')},"
             f"tensorflow:{_version('tensorflow')}\n".encode())
    return "sha256:" + h.hexdigest()


def _is_training(p: Dict[str, object]) -> bool:
    """A training run: its recorded nodes include the Pusher (``state.start_run``)."""
    import json

    from tfxkit.infra.run import state
    from tfxkit.pipelines.component_ids import PUSHER

    try:
        return PUSHER in json.loads(str(p.get(state.RUN_NODES) or "[]"))
    except ValueError:
        return False


@dataclass
class Hit:
    run_id: str
    status: int               # the earlier run's exit status (0 or 3)
    serving: Optional[str]    # the registry's serving version


def _serving(cfg) -> "tuple[bool, Optional[str]]":
    """(the registry is as a completed run left it, its serving version): a serving
    version whose folder is gone is not."""
    from tfxkit.components.registry.registry import Registry
    from tfxkit.pipelines.config import is_remote

    if is_remote(cfg.registry_path):
        return False, None
    if not os.path.exists(cfg.registry_path):
        return True, None
    current = Registry(cfg.registry_path, name=cfg.name).serving()
    if current is None:
        return True, None
    return os.path.isdir(current.path), current.version


def check(cfg, fingerprint: Optional[str]) -> Optional[Hit]:
    """The earlier run that makes this one unnecessary, or None (run the pipeline)."""
    if fingerprint is None:
        return None
    from tfxkit.infra.run import state
    from tfxkit.pipelines import mlmd
    from tfxkit.pipelines.mlmd_reader import pipeline_runs, properties

    if not mlmd.exists(cfg):
        return None
    from ml_metadata.metadata_store import metadata_store

    store = metadata_store.MetadataStore(mlmd.connection_config(cfg, readonly=True))
    training = [r for r in pipeline_runs(store, cfg.name) if _is_training(properties(r))]
    if not training:
        return None
    last = training[-1]  # batch-inference runs share the pipeline's name: not these
    p: Dict[str, object] = properties(last)
    if (p.get(state.RUN_STATE) != state.SUCCEEDED or p.get(INPUTS) != fingerprint
            or p.get(EXIT_STATUS) not in (0, 3)):
        return None
    intact, serving = _serving(cfg)
    if not intact or (p.get(EXIT_STATUS) == 0 and serving is None):
        return None
    return Hit(last.name, int(p[EXIT_STATUS]), serving)


def decide(cfg, from_node: Optional[str], force: bool) -> "tuple[Optional[str], Optional[Hit]]":
    """(the fingerprint to record, the hit that makes this run unnecessary): a partial run
    (``--from``) has neither, ``--force`` runs anyway."""
    fingerprint = inputs_fingerprint(cfg) if from_node is None else None
    return fingerprint, None if force else check(cfg, fingerprint)


def record(cfg, run_id: str, fingerprint: Optional[str], status: int) -> None:
    """Records the run's fingerprint and exit status on its ``pipeline_run`` context."""
    if fingerprint is None:
        return
    from ml_metadata.metadata_store import metadata_store

    from tfxkit.pipelines import mlmd

    store = metadata_store.MetadataStore(mlmd.connection_config(cfg))
    ctx = store.get_context_by_type_and_name("pipeline_run", run_id)
    if ctx is None:
        return
    ctx.custom_properties[INPUTS].string_value = fingerprint
    ctx.custom_properties[EXIT_STATUS].int_value = int(status)
    store.put_contexts([ctx])


def text(hit: Hit) -> str:
    now = f"model {hit.serving} is serving" if hit.serving else "no model is serving"
    verdict = "" if hit.status == 0 else "; its model was not blessed, nothing was pushed"
    return (f"Nothing changed since run {hit.run_id}: the same data, config, modules and "
            f"tfxkit; nothing ran ({now}{verdict}). --force runs the pipeline anyway.")
