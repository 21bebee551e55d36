"""A versioned model registry on a filesystem path or a bucket path (plain Python, no TFX).

Its files are described in ``layout.py``; the index (``index.py``) and each version's
folder and record (``records.py``) are written through one file-system layer
(``filesystem.py``), and every change is recorded as a history event (``history.py``).

Guarantees:

- a reader never sees a partial model: ``publish`` copies into ``<registry>/.tmp-<version>``
  (TF Serving ignores names that are not numbers) and renames it to ``<version>`` only when
  complete; the index names a version only after its folder is in place;
- idempotent: a model whose content hash equals the serving version's is not pushed again,
  once the serving version's folder is checked (there and the same content hash): a
  missing or changed folder is restored from the model being pushed (the changed one is
  kept as ``.broken-<version>-<time>``);
- the index can be rebuilt: each version's record is also written beside its folder
  (``<version>.meta.json``, after the index); a missing index is rebuilt from them by the
  next writer, a broken one (not JSON, wrong shape) raises ``IndexBroken`` until
  ``repair()`` (``tfxkit models --repair``) rebuilds it, keeping the broken file;
- publishers on one machine are serialized by an ``fcntl`` lock (released by the kernel if a
  publisher dies); a folder left behind by a publisher that died (``.tmp-*``, or a version
  folder that neither the index nor a version record names) is removed by the next writer;
- ``trim(keep)`` keeps the newest ``keep`` versions and never removes the serving one nor
  an aliased one;
- aliases (``set_alias``, ``remove_alias``, ``aliases``, ``resolve``): names such as
  ``champion`` or ``challenger`` for versions, kept in the index under ``"aliases"`` and
  recorded as ``alias``/``unalias`` history events (so ``repair`` replays them from the
  version records); ``serving.config`` gives each one to TF Serving as a version label.

The serving pointer is ours. TF Serving pointed at the base path serves the *highest*
version unless given a version policy: start it with
``--model_config_file=<registry>/serving.config --model_config_file_poll_wait_seconds=30``
(a ``specific`` version policy rewritten on every push and rollback) to follow it.

Remote paths (``gs://...``) go through ``tf.io.gfile``; local paths use ``os`` directly.
Object stores have no exclusive-create, so remote publishers are serialized only
best-effort (a lock object with an owner token and a stale timeout).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from tfxkit.components.registry import filesystem
from tfxkit.components.registry.errors import RegistryError, UnknownAlias, UnknownVersion
from tfxkit.components.registry.hashing import content_hash
from tfxkit.components.registry.history import add_event, now
from tfxkit.components.registry.index import RegistryIndex, Txn
from tfxkit.components.registry.layout import (BROKEN_PREFIX, TRASH_PREFIX, URI,
                                               alias_problem, is_version, stamp, vkey)
from tfxkit.components.registry.records import FOLDER_STATE


@dataclass
class Published:
    """What ``publish_detailed`` did: ``action`` is push (a new version), identical (the
    serving version has this content and is intact) or restore (the serving version has
    this content but its folder was missing or changed: put back); ``notes`` say what
    else was found and done (an index rebuilt, a damaged folder set aside)."""
    version: str
    pushed: bool
    action: str
    notes: Tuple[str, ...] = ()


@dataclass
class Problem:
    """Something ``check()`` found: ``version`` (None for the registry as a whole),
    ``kind`` (missing, changed, empty, unhashed, unknown-serving, unindexed) and a sentence."""
    version: Optional[str]
    kind: str
    message: str
    serving: bool = False


@dataclass
class Serving:
    version: str
    path: str


class Registry(RegistryIndex):
    """A versioned model registry at ``path`` (local folder or ``gs://`` path)."""

    def __init__(self, path: str, name: Optional[str] = None, lock_timeout_s: float = 120.0):
        self.path = path.rstrip("/") if URI.match(path) else os.path.abspath(path)
        self.name = name or os.path.basename(self.path.rstrip("/")) or "model"
        self.fs = filesystem.fs_for(self.path)
        self.lock_timeout_s = lock_timeout_s

    def serving(self) -> Optional[Serving]:
        v = self._read()["serving"]
        return Serving(v, self.version_path(v)) if v is not None else None

    def get(self, version: str) -> Dict[str, Any]:
        """The record of ``version`` (with ``version`` and ``path``); UnknownVersion if
        the registry does not have it."""
        index = self._read()
        v = str(version)
        if v not in index["versions"]:
            raise UnknownVersion(v, sorted(index["versions"], key=vkey))
        return {**index["versions"][v], "version": v, "path": self.version_path(v),
                "serving": v == index["serving"]}

    # aliases ----------------------------------------------------------------------------
    def aliases(self) -> Dict[str, str]:
        """{alias: version}."""
        return dict(self._read().get("aliases") or {})

    def resolve(self, ref: str, index: Optional[Dict[str, Any]] = None) -> str:
        """The version ``ref`` names: a version of the registry, or one of its aliases.
        UnknownVersion (a number the registry does not have) or UnknownAlias (naming the
        aliases and versions there are)."""
        index = index if index is not None else self._read()
        ref = str(ref).strip()
        versions = sorted(index["versions"], key=vkey)
        if is_version(ref):
            if ref not in index["versions"]:
                raise UnknownVersion(ref, versions)
            return ref
        aliases = index.get("aliases") or {}
        if ref not in aliases:
            raise UnknownAlias(ref, aliases, versions)
        if aliases[ref] not in index["versions"]:  # an index edited by hand
            raise RegistryError(f"alias {ref!r} names version {aliases[ref]}, which the "
                                f"registry does not have (it has "
                                f"{', '.join(versions) or 'no versions'})")
        return aliases[ref]

    def set_alias(self, alias: str, version: str, reason: str = "",
                  by: Optional[str] = None) -> str:
        """Points ``alias`` at ``version`` (a version, or another alias: its version);
        returns the version. The version's folder must be there."""
        why = alias_problem(alias)
        if why:
            raise RegistryError(why)
        with self._locked(by) as t:
            index = t.index
            v = self.resolve(version, index)
            if not self.fs.isdir(self.version_path(v)):
                raise RegistryError(f"model version {v} is in the index but its folder "
                                    f"{self.version_path(v)} is gone: not aliasing it")
            aliases = index.setdefault("aliases", {})
            previous = aliases.get(alias)
            if previous == v:
                if t.dirty:
                    self._write(index)
                return v
            aliases[alias] = v
            add_event(index, "alias", v, by, alias=alias, previous=previous, reason=reason)
            self._write(index, touched=[v])
        return v

    def remove_alias(self, alias: str, reason: str = "", by: Optional[str] = None) -> str:
        """Removes ``alias``; returns the version it named (UnknownAlias if none)."""
        with self._locked(by) as t:
            index = t.index
            aliases = index.get("aliases") or {}
            if alias not in aliases:
                raise UnknownAlias(alias, aliases, sorted(index["versions"], key=vkey))
            v = aliases.pop(alias)
            add_event(index, "unalias", v, by, alias=alias, reason=reason)
            self._write(index, touched=[v])
        return v

    def check(self, verify: bool = True, index: Optional[Dict[str, Any]] = None
              ) -> List[Problem]:
        """What is wrong with the registry as the index describes it: a serving pointer
        naming no version, version folders missing, empty or (``verify``: content hashed)
        changed since publish, version folders the index does not name. IndexBroken when
        the index is not one."""
        index = index if index is not None else self._read()
        serving = index["serving"]
        out: List[Problem] = []
        if serving is not None and serving not in index["versions"]:
            known = ", ".join(sorted(index["versions"], key=vkey)) or "none"
            out.append(Problem(serving, "unknown-serving",
                               f"the index's serving version {serving} is not one of its "
                               f"versions ({known})", serving=True))
        names = set(self.fs.listdir(self.path))
        for v in sorted(index["versions"], key=vkey):
            rec = index["versions"][v]
            path = self.version_path(v)
            if v not in names:
                state = "missing"
            else:
                state = self._folder_state(v, rec.get("sha256") if verify else None)
            if state:
                out.append(Problem(v, state, f"folder {path} is {FOLDER_STATE[state]}",
                                   serving=v == serving))
            elif verify and not rec.get("sha256"):
                out.append(Problem(v, "unhashed", "no content hash recorded: its folder "
                                   "cannot be checked", serving=v == serving))
        for v in sorted((n for n in names if n.isdigit() and n not in index["versions"]),
                        key=vkey):
            if self.fs.isdir(self.version_path(v)):
                fate = ("it has a record: the next writer takes it back"
                        if self._load_meta(v)[0] is not None else
                        "it has no record: the next push or rollback removes it as a dead "
                        "publisher's leftover")
                out.append(Problem(v, "unindexed", f"folder {self.version_path(v)} is not "
                                   f"in the index ({fate})"))
        return out

    def publish(self, model_dir: str, meta: Optional[Dict[str, Any]] = None,
                by: Optional[str] = None, sha256: Optional[str] = None) -> Tuple[str, bool]:
        """Copies the SavedModel at ``model_dir`` in as a new version and makes it the
        serving one; returns (version, True). A model whose content equals the serving
        version's is not pushed again: returns (serving version, False), unless the
        serving version's folder is missing or changed: then it is restored from
        ``model_dir`` (serving version, True). See ``publish_detailed``."""
        r = self.publish_detailed(model_dir, meta, by=by, sha256=sha256)
        return r.version, r.pushed

    def publish_detailed(self, model_dir: str, meta: Optional[Dict[str, Any]] = None,
                         by: Optional[str] = None, sha256: Optional[str] = None,
                         extra: Optional[Callable[[str, Dict[str, Any]],
                                                  Dict[str, bytes]]] = None
                         ) -> Published:
        """``publish``, saying what it did (push, identical or restore) and what it found.
        ``extra(version, record)``: files ({``model_card/...``: bytes}) put into the new
        (or restored) version's folder before its rename, so they appear with it (the
        model card); they are not part of the content hash."""
        digest = sha256 or content_hash(model_dir)
        with self._locked(by) as t:
            index = t.index
            serving = index["serving"]
            rec = index["versions"].get(serving) if serving is not None else None
            if rec is not None and rec.get("sha256") == digest:
                state = self._folder_state(serving, digest)
                if state is None:
                    if t.dirty:
                        self._write(index)
                    return Published(serving, False, "identical", tuple(t.notes))
                return self._restore(t, serving, model_dir, state, by,
                                     extra(serving, rec) if extra else None)
            version = self._next_version(index)
            record = dict(meta or {})
            record.update({"created_at": now(), "sha256": digest})
            self._copy_in(model_dir, version, extra=extra(version, record) if extra else None)
            index["versions"][version] = record
            index["serving"] = version
            add_event(index, "push", version, by, at=record["created_at"], previous=serving)
            self._write(index, touched=[version])
        return Published(version, True, "push", tuple(t.notes))

    def _restore(self, t: Txn, v: str, model_dir: str, state: str, by: Optional[str],
                 extra: Optional[Dict[str, bytes]] = None) -> Published:
        """Under the lock: puts the serving version ``v``'s content back from
        ``model_dir`` (same content hash); a changed folder is set aside, not deleted."""
        path = self.version_path(v)
        aside = None
        if state != "missing":
            aside = self.fs.join(self.path, f"{BROKEN_PREFIX}{v}-{stamp()}")
        self._copy_in(model_dir, v, aside=aside, extra=extra)
        why = (f"its folder {path} was {FOLDER_STATE[state]}; put back from the model being "
               "pushed (the same content hash)")
        if aside:
            why += f"; the damaged folder is kept as {aside}"
        add_event(t.index, "restore", v, by, reason=why)
        self._write(t.index, touched=[v])
        return Published(v, True, "restore", (f"restored the serving version {v}: {why}",
                                              *t.notes))

    def set_serving(self, version: str, reason: str = "", by: Optional[str] = None,
                    action: str = "rollback", verify: bool = False) -> Serving:
        """Points serving at an existing ``version`` (a rollback, or a roll forward).
        ``verify``: its folder's content hash must also equal the one recorded."""
        v = str(version)
        with self._locked(by) as t:
            index = t.index
            if v not in index["versions"]:
                raise UnknownVersion(v, sorted(index["versions"], key=vkey))
            if not self.fs.isdir(self.version_path(v)):
                raise RegistryError(f"model version {v} is in the index but its folder "
                                    f"{self.version_path(v)} is gone")
            if verify:
                state = self._folder_state(v, index["versions"][v].get("sha256"))
                if state:
                    raise RegistryError(f"model version {v}'s folder {self.version_path(v)} "
                                        f"is {FOLDER_STATE[state]}: not serving it")
            previous = index["serving"]
            index["serving"] = v
            add_event(index, action, v, by, previous=previous, reason=reason)
            self._write(index, touched=[v])
        return Serving(v, self.version_path(v))

    def trim(self, keep: int, by: Optional[str] = None) -> List[str]:
        """Keeps the newest ``keep`` versions (and always the serving one and the aliased
        ones); returns the
        removed versions. Their records go first, then the index drops them, then their
        folders go (a folder without record or index entry is a leftover)."""
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        with self._locked(by) as t:
            index = t.index
            ordered = sorted(index["versions"], key=vkey)
            keep_set = set(ordered[-keep:])
            if index["serving"] is not None:
                keep_set.add(index["serving"])
            keep_set.update(v for v in (index.get("aliases") or {}).values()
                            if v in index["versions"])
            removed = [v for v in ordered if v not in keep_set]
            if not removed:
                if t.dirty:
                    self._write(index)
                return []
            for v in removed:
                self.fs.remove(self.meta_path(v))
                del index["versions"][v]
                add_event(index, "trim", v, by)
            self._write(index)
            for v in removed:  # out of the index: rename away, then delete
                trash = self.fs.join(self.path, TRASH_PREFIX + v)
                try:
                    self.fs.rename(self.version_path(v), trash)
                except Exception:  # pylint: disable=broad-except
                    trash = self.version_path(v)
                self.fs.rmtree(trash)
        return removed
