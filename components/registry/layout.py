"""A registry's files and their names (TF Serving's base-path convention, so a TF Serving
``base_path`` can point here)::

    <registry>/<version>/          a SavedModel; version = an increasing integer (seconds
                                   since the epoch, like the stock Pusher's, bumped past the
                                   newest so two pushes in one second still increase)
    <registry>/<version>.meta.json the version's own record beside its folder (the folder
                                   stays a clean SavedModel): its index entry (metrics,
                                   config hash, content hash, ...) and its history events;
                                   ``repair`` rebuilds a lost or broken index from these
    <registry>/registry.json       the index (written atomically: tmp + rename)
    <registry>/serving.config      a TF Serving model config that pins the serving version
    <registry>/.registry.lock      held (fcntl) while the index or the folders change

The index::

    {"serving": "<version>",
     "versions": {"<version>": {"created_at", "sha256", "metrics", "config_hash",
                                "git_commit", "data", "model_uri", "pipeline_run", ...}},
     "history": [{"at", "n", "action": "push|rollback|restore|trim|adopt|repair|...",
                  "version", "by", ...}]}
"""
from __future__ import annotations

import datetime
import json
import re

INDEX = "registry.json"
LOCK = ".registry.lock"
SERVING_CONFIG = "serving.config"
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
BROKEN_PREFIX = ".broken-"   # a damaged serving folder set aside by a restore (kept)
META_SUFFIX = ".meta.json"   # <version>.meta.json: a version's own record
META_FORMAT = "tfxkit-registry-version/1"
META_NAME = re.compile(r"^(\d+)\.meta\.json$")
# what write_atomic leaves when its writer dies before the rename
PARTIAL_WRITE = re.compile(r"^(registry\.json|serving\.config|\d+\.meta\.json)\.tmp-[0-9a-f-]+$")
URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def vkey(v: str) -> int:
    return int(v)


def stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def is_version(x) -> bool:
    return isinstance(x, (str, int)) and not isinstance(x, bool) and str(x).isdigit()


def tf_serving_config(name: str, base_path: str, version: str) -> str:
    """A TF Serving ``--model_config_file`` that serves exactly ``version``."""
    return ("model_config_list {\n  config {\n"
            f"    name: {json.dumps(name)}\n    base_path: {json.dumps(base_path)}\n"
            "    model_platform: \"tensorflow\"\n"
            f"    model_version_policy {{ specific {{ versions: {int(version)} }} }}\n"
            "  }\n}\n")
