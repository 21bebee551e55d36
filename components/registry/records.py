"""A registry's versions, one at a time: each version's folder (a SavedModel, copied in
under a temporary name and renamed when complete) and its own record beside it
(``<version>.meta.json``: its index entry and every history event about it), from which
a lost or broken index is rebuilt (``index.py``)."""
from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Tuple

from tfxkit.components.registry.errors import RegistryError
from tfxkit.components.registry.hashing import content_hash
from tfxkit.components.registry.history import HISTORY_MAX, merge_events
from tfxkit.components.registry.layout import (EXTRA_DIRS, META_FORMAT, META_NAME, META_SUFFIX,
                                               TMP_PREFIX, vkey)


# what ``_folder_state`` found, as a sentence
FOLDER_STATE = {"missing": "missing", "empty": "empty",
                "changed": "changed (its content hash differs from the one recorded at "
                           "publish: files changed, added or missing)"}


class VersionRecords:
    """The per-version files of the registry at ``path`` (through the file system
    ``fs``); the base of ``Registry``, which sets both."""

    path: str
    fs: Any

    def version_path(self, version: str) -> str:
        return self.fs.join(self.path, str(version))

    def meta_path(self, version: str) -> str:
        """``<registry>/<version>.meta.json``: the version's own record."""
        return self.fs.join(self.path, f"{version}{META_SUFFIX}")

    def version_folders(self) -> List[str]:
        """The version folders on disk (indexed or not), oldest first."""
        return sorted((n for n in self.fs.listdir(self.path)
                       if n.isdigit() and self.fs.isdir(self.version_path(n))), key=vkey)

    def version_record(self, version: str) -> Optional[Dict[str, Any]]:
        """The record written beside ``version``'s folder (None if absent or unreadable)."""
        return self._load_meta(str(version))[0]

    def _load_meta(self, v: str) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
        p = self.meta_path(v)
        try:
            if not self.fs.exists(p):
                return None, "absent"
            meta = json.loads(self.fs.read(p))
        except Exception as e:  # pylint: disable=broad-except
            return None, f"{type(e).__name__}: {e}"
        if not (isinstance(meta, dict) and isinstance(meta.get("record"), dict)
                and isinstance(meta.get("history"), list)
                and all(isinstance(h, dict) for h in meta["history"])
                and str(meta.get("version")) == v):
            return None, "not a version record"
        return meta, None

    def _folder_state(self, v: str, sha256: Optional[str]) -> Optional[str]:
        """None when ``v``'s folder is there with content hash ``sha256`` (or there, when
        no hash is known); else missing, empty or changed."""
        path = self.version_path(v)
        if not self.fs.isdir(path):
            return "missing"
        if not sha256:
            return None
        try:
            digest = content_hash(path)
        except RegistryError:
            return "empty"
        return None if digest == sha256 else "changed"

    def _write_meta(self, index: Dict[str, Any], v: str) -> None:
        """``<version>.meta.json``: the version's index entry and every history event
        about it (those already there kept: the index keeps only the last HISTORY_MAX)."""
        old, _ = self._load_meta(v)
        events = (old["history"] if old else []) + [
            e for e in index["history"] if str(e.get("version")) == v]
        meta = {"format": META_FORMAT, "version": v, "record": index["versions"][v],
                "history": merge_events(events)[-HISTORY_MAX:]}
        data = json.dumps(meta, indent=1, sort_keys=True, default=str).encode()
        if old is None or json.dumps(old, indent=1, sort_keys=True,
                                     default=str).encode() != data:
            self.fs.write_atomic(self.meta_path(v), data)

    def _next_version(self, index: Dict[str, Any]) -> str:
        v = int(time.time())
        taken = [vkey(x) for x in index["versions"]]
        taken += [int(n) for n in self.fs.listdir(self.path) if n.isdigit()]
        taken += [int(m.group(1)) for m in map(META_NAME.match, self.fs.listdir(self.path)) if m]
        if taken:
            v = max(v, max(taken) + 1)
        return str(v)

    def _copy_in(self, model_dir: str, version: str, aside: Optional[str] = None,
                 extra: Optional[Dict[str, bytes]] = None) -> None:
        """Copies ``model_dir`` to ``.tmp-<version>``, adds ``extra`` ({relative path under
        ``model_card/``: bytes}: the model card, outside the content hash), then (``aside``:
        after moving the folder there to ``aside``) renames it to ``<version>``."""
        tmp = self.fs.join(self.path, TMP_PREFIX + version)
        self.fs.rmtree(tmp)
        try:
            self.fs.copytree(model_dir, tmp)
            for rel, data in sorted((extra or {}).items()):
                parts = rel.split("/")
                if parts[0] not in EXTRA_DIRS or len(parts) < 2 or ".." in parts:
                    raise RegistryError(f"{rel}: extra files go under "
                                        f"{'/ or '.join(EXTRA_DIRS)}/")
                self.fs.makedirs(self.fs.join(tmp, *parts[:-1]))
                self.fs.write_atomic(self.fs.join(tmp, *parts), data)
            if aside:
                self.fs.rename(self.version_path(version), aside)
            self.fs.rename(tmp, self.version_path(version))
        except BaseException:
            self.fs.rmtree(tmp)
            raise
