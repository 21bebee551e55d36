"""A registry's files and their names (TF Serving's base-path convention, so a TF Serving
``base_path`` can point here)::

    <registry>/<version>/          a SavedModel; version = an increasing integer (seconds
                                   since the epoch, like the stock Pusher's, bumped past the
                                   newest so two pushes in one second still increase)
    <registry>/<version>/model_card/  the version's model card (model_card.json and .html,
                                   ``components/model_card``), written into the folder
                                   before its rename; outside the content hash
    <registry>/<version>/tflite/   its TFLite model (push.tflite: model.tflite, tflite.json,
                                   from the InfraValidator's check); outside the content hash
    <registry>/<version>.meta.json the version's own record beside its folder (the folder
                                   stays a clean SavedModel): its index entry (metrics,
                                   config hash, content hash, ...) and its history events;
                                   ``repair`` rebuilds a lost or broken index from these
    <registry>/registry.json       the index (written atomically: tmp + rename)
    <registry>/serving.config      a TF Serving model config that pins the serving version
    <registry>/.registry.lock      held (fcntl) while the index or the folders change

The index::

    {"serving": "<version>",
     "aliases": {"<alias>": "<version>"},   (only when there are aliases)
     "versions": {"<version>": {"created_at", "sha256", "metrics", "config_hash",
                                "git_commit", "data", "model_uri", "pipeline_run", ...}},
     "history": [{"at", "n", "action": "push|rollback|restore|trim|adopt|repair|alias|unalias|...",
                  "version", "by", ...}]}
"""
from __future__ import annotations

import datetime
import json
import re
from typing import Dict, Optional

INDEX = "registry.json"
LOCK = ".registry.lock"
SERVING_CONFIG = "serving.config"
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
BROKEN_PREFIX = ".broken-"   # a damaged serving folder set aside by a restore (kept)
CARD_DIR = "model_card"      # <version>/model_card/: not part of the content hash
TFLITE_DIR = "tflite"        # <version>/tflite/ (push.tflite): not part of the content hash
EXTRA_DIRS = (CARD_DIR, TFLITE_DIR)  # what a version folder holds beside its SavedModel
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


# an alias (a version label): lower case, starts with a letter; never all digits
ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def alias_problem(name) -> Optional[str]:
    """Why ``name`` is not a valid alias (None: it is)."""
    if not isinstance(name, str):
        return f"an alias is a string, got {type(name).__name__}"
    if not ALIAS.match(name):
        return (f"alias {name!r} is not a valid name: lower-case letters, digits, '_' and "
                "'-', starting with a letter, at most 63 characters (a version number "
                "cannot be an alias)")
    return None


def tf_serving_config(name: str, base_path: str, version: str,
                      labels: Optional[Dict[str, str]] = None) -> str:
    """A TF Serving ``--model_config_file`` that serves exactly ``version`` or, with
    ``labels`` (the registry's aliases), also each labelled version, with a
    ``version_labels`` entry per alias (TF Serving accepts a label only for a version it
    has loaded, so the labelled versions join the ``specific`` policy). A request that
    names no version gets TF Serving's highest loaded version: with aliases, ask for
    ``/labels/serving`` (always written) to get the serving pointer's version."""
    labels = dict(labels or {})
    versions = sorted({int(version), *(int(v) for v in labels.values())})
    lines = ["model_config_list {", "  config {",
             f"    name: {json.dumps(name)}", f"    base_path: {json.dumps(base_path)}",
             '    model_platform: "tensorflow"']
    if len(versions) == 1:
        lines.append(f"    model_version_policy {{ specific {{ versions: {versions[0]} }} }}")
        return "\n".join(lines + ["  }", "}", ""])
    lines.append("    model_version_policy { specific { "
                 + " ".join(f"versions: {v}" for v in versions) + " } }")
    labels.setdefault("serving", str(version))
    for alias in sorted(labels):
        lines.append(f"    version_labels {{ key: {json.dumps(alias)} "
                     f"value: {int(labels[alias])} }}")
    return "\n".join(lines + ["  }", "}", ""])
