"""What a training run records on its ``pipeline_run`` context in ML Metadata: the
effective config's hash, the git commit of the use case's folder (and whether it had
uncommitted changes), the config path and tfxkit's version (``tfxkit run`` records them
through the local runner; lineage and the run report read them back)."""
from __future__ import annotations

import subprocess
from typing import Dict, Optional, Tuple

CONFIG_HASH = "config_fingerprint"
GIT_COMMIT = "git_commit"
GIT_DIRTY = "git_dirty"
CONFIG_PATH = "config_path"
TFXKIT_VERSION = "tfxkit_version"
# the effective config itself (JSON, as hashed): ``tfxkit ui`` diffs two runs' configs
CONFIG_JSON = "config_json"
# the run's evaluation as its report read it (``report.record_evaluation``, at the run's end)
EVALUATION_JSON = "evaluation_json"


def git_commit(folder: str) -> Tuple[str, Optional[bool]]:
    """(``git rev-parse HEAD`` of the repository holding ``folder``, whether that folder
    has uncommitted changes); ("unknown", None) outside a git checkout."""
    try:
        head = subprocess.run(["git", "-C", folder, "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return "unknown", None
        status = subprocess.run(["git", "-C", folder, "status", "--porcelain", "--", "."],
                                capture_output=True, text=True, timeout=10)
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return head.stdout.strip(), dirty
    except (OSError, subprocess.SubprocessError):
        return "unknown", None


def run_properties(cfg) -> Dict[str, str]:
    """What a training run records on its pipeline_run context: the effective config's
    hash, the git commit of the use case's folder, the config path, tfxkit's version."""
    import json

    import tfxkit

    commit, dirty = git_commit(str(cfg.base_dir))
    return {CONFIG_HASH: cfg.fingerprint(), GIT_COMMIT: commit,
            GIT_DIRTY: "unknown" if dirty is None else str(dirty).lower(),
            CONFIG_PATH: str(cfg.config_path or ""),
            CONFIG_JSON: json.dumps(cfg.model_dump(mode="json", by_alias=True), sort_keys=True),
            TFXKIT_VERSION: getattr(tfxkit, "__version__", "unknown")}
