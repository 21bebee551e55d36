"""A registry's index (``registry.json``): read and checked, written (with
``serving.config`` and the version records), changed under the registry's lock only, and
rebuilt from the version folders and their records when it is missing (by the next
writer) or broken (``repair``)."""
from __future__ import annotations

import contextlib
import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

from tfxkit.components.registry.errors import IndexBroken, RegistryError
from tfxkit.components.registry.hashing import content_hash
from tfxkit.components.registry.history import (ALIAS_ACTIONS, HISTORY_MAX,
                                                NOT_SERVING_ACTIONS, add_event, default_by,
                                                merge_events)
from tfxkit.components.registry.layout import (INDEX, LOCK, META_NAME, META_SUFFIX,
                                               PARTIAL_WRITE, SERVING_CONFIG, TMP_PREFIX,
                                               TRASH_PREFIX, alias_problem, is_version,
                                               stamp,
                                               tf_serving_config, vkey)
from tfxkit.components.registry.records import VersionRecords

_JTYPES = {dict: "an object", list: "an array", str: "a string", int: "a number",
           float: "a number", bool: "true/false", type(None): "null"}


def _jtype(x) -> str:
    return _JTYPES.get(type(x), type(x).__name__)


def _index_problem(raw: Any) -> Optional[str]:
    """Why ``raw`` (the parsed ``registry.json``) is not a registry index (None: it is)."""
    if not isinstance(raw, dict):
        return f"the top level is {_jtype(raw)}, not an object"
    versions = raw.get("versions", {})
    if not isinstance(versions, dict):
        return f'"versions" is {_jtype(versions)}, not an object'
    for v, rec in versions.items():
        if not is_version(v):
            return f'"versions" names {v!r}, which is not a version number'
        if not isinstance(rec, dict):
            return f'"versions"."{v}" is {_jtype(rec)}, not an object'
    serving = raw.get("serving")
    if serving is not None and not is_version(serving):
        return f'"serving" is {json.dumps(serving)[:40]}, not a version number or null'
    aliases = raw.get("aliases", {})
    if not isinstance(aliases, dict):
        return f'"aliases" is {_jtype(aliases)}, not an object'
    for a, v in aliases.items():
        why = alias_problem(a)
        if why:
            return f'"aliases": {why}'
        if not is_version(v):
            return f'"aliases"."{a}" is {json.dumps(v)[:40]}, not a version number'
    history = raw.get("history", [])
    if not isinstance(history, list):
        return f'"history" is {_jtype(history)}, not an array'
    for i, h in enumerate(history):
        if not isinstance(h, dict):
            return f'"history"[{i}] is {_jtype(h)}, not an object'
    return None


class Txn:
    """One locked change: the index, what was found on the way, whether it must be
    written even when the operation itself changes nothing."""

    def __init__(self, index: Dict[str, Any], names: List[str]):
        self.index, self.names = index, names
        self.notes: List[str] = []
        self.dirty = False


class RegistryIndex(VersionRecords):
    """The index of the registry at ``path``; the base of ``Registry``, which sets
    ``name`` (the model name in ``serving.config``) and ``lock_timeout_s``."""

    name: str
    lock_timeout_s: float

    # reading ------------------------------------------------------------------------
    @property
    def index_path(self) -> str:
        return self.fs.join(self.path, INDEX)

    def exists(self) -> bool:
        """Whether this registry has an index (something was published through it)."""
        return self.fs.exists(self.index_path)

    def _parse(self, data: bytes) -> Dict[str, Any]:
        """The index in ``data``; IndexBroken (naming the file and why) if it is not one."""
        if not data.strip():
            raise IndexBroken(self.index_path, "the file is empty")
        try:
            index = json.loads(data)
        except ValueError as e:
            raise IndexBroken(self.index_path,
                              f"not valid JSON, truncated or damaged ({e})") from None
        why = _index_problem(index)
        if why:
            raise IndexBroken(self.index_path, f"not a registry index: {why}")
        index.setdefault("versions", {})
        index.setdefault("history", [])
        index["versions"] = {str(v): rec for v, rec in index["versions"].items()}
        serving = index.get("serving")
        index["serving"] = str(serving) if serving is not None else None
        if "aliases" in index:
            index["aliases"] = {a: str(v) for a, v in index["aliases"].items()}
        return index

    def _read(self) -> Dict[str, Any]:
        if not self.fs.exists(self.index_path):
            return {"serving": None, "versions": {}, "history": []}
        return self._parse(self.fs.read(self.index_path))

    def index(self) -> Dict[str, Any]:
        """The index (IndexBroken when ``registry.json`` is not one)."""
        return self._read()

    def versions(self) -> List[str]:
        """Published versions, oldest first."""
        return sorted(self._read()["versions"], key=vkey)

    def history(self) -> List[Dict[str, Any]]:
        return self._read()["history"]

    # writing ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, by: Optional[str] = None) -> Iterator[Txn]:
        """Holds the lock; yields the change (after cleaning up after dead publishers).
        A broken index raises IndexBroken and nothing is changed; a missing one is
        rebuilt from the version folders and their records."""
        self.fs.makedirs(self.path)
        with self.fs.lock(self.fs.join(self.path, LOCK), self.lock_timeout_s):
            names = self.fs.listdir(self.path)
            if self.fs.exists(self.index_path):
                t = Txn(self._parse(self.fs.read(self.index_path)), names)
                self._clean_leftovers(names)
                self._cleanup(t, by)
            else:
                self._clean_leftovers(names)
                index, notes, how = self._rebuild(names, None, by)
                t = Txn(index, names)
                if index["versions"] or index["history"]:
                    t.dirty = True
                    recorded = [v for v in index["versions"]
                                if not index["versions"][v].get("adopted")]
                    if recorded and index["serving"] is not None:
                        why = (f"{INDEX} was missing: rebuilt from {len(recorded)} version "
                               f"record(s); serving {index['serving']} ({how})")
                        add_event(index, "rebuild", index["serving"], by, reason=why)
                        notes.insert(0, why)
                t.notes.extend(notes)
            yield t

    def _clean_leftovers(self, names: List[str]) -> None:
        """Under the lock: partial copies and writes of publishers that died."""
        for name in names:
            full = self.fs.join(self.path, name)
            if name.startswith((TMP_PREFIX, TRASH_PREFIX)):
                self.fs.rmtree(full)
            elif PARTIAL_WRITE.search(name):
                self.fs.remove(full)

    def _cleanup(self, t: Txn, by: Optional[str]) -> None:
        """Under the lock: a version folder the index does not name is a publisher's that
        died before writing the index (removed), unless its own record names it (then the
        index lost it: it is taken back, record and history)."""
        index = t.index
        for name in t.names:
            full = self.fs.join(self.path, name)
            if name.isdigit() and name not in index["versions"] and self.fs.isdir(full):
                meta, _ = self._load_meta(name)
                if meta is None:
                    self.fs.rmtree(full)  # renamed in, but the index was never written
                    continue
                index["versions"][name] = dict(meta["record"])
                index["history"] = merge_events(index["history"] + meta["history"])
                add_event(index, "adopt", name, by,
                          reason="its folder and record are there but the index did not name it")
                t.notes.append(f"version {name} was missing from the index: taken back "
                               f"from its record {self.meta_path(name)}")
                t.dirty = True

    def _rebuild(self, names: List[str], old: Optional[Dict[str, Any]], by: Optional[str]
                 ) -> Tuple[Dict[str, Any], List[str], str]:
        """An index from the version folders, their records and ``old`` (a readable index,
        whose entries win); returns (index, notes, why that serving version). The serving
        version: ``old``'s if its folder is intact (there, with its recorded content hash),
        else the latest history event that pointed serving at a version whose folder is
        intact, else the newest intact version."""
        notes: List[str] = []
        folders = sorted((n for n in names if n.isdigit()
                          and self.fs.isdir(self.version_path(n))), key=vkey)
        metas: Dict[str, Dict[str, Any]] = {}
        for n in names:
            m = META_NAME.match(n)
            if m:
                meta, err = self._load_meta(m.group(1))
                if meta is None:
                    notes.append(f"{self.fs.join(self.path, n)}: unreadable version record "
                                 f"({err}); left as it is")
                else:
                    metas[m.group(1)] = meta
        index: Dict[str, Any] = {"serving": None, "versions": {}, "history": []}
        events = list(old["history"]) if old else []
        for meta in metas.values():
            events += meta["history"]
        index["history"] = merge_events(events)
        adopted = []
        for v in folders:
            if old and v in old["versions"]:
                index["versions"][v] = dict(old["versions"][v])
            elif v in metas:
                index["versions"][v] = dict(metas[v]["record"])
            else:
                try:
                    digest = content_hash(self.version_path(v))
                except RegistryError as e:
                    notes.append(f"{e}: not a version, left out of the index")
                    continue
                index["versions"][v] = {"created_at": None, "sha256": digest, "adopted": True}
                adopted.append(v)
        for v in adopted:
            add_event(index, "adopt", v, by)
        if adopted and (metas or old):
            notes.append(f"version(s) {', '.join(adopted)} had no record: adopted from "
                         "their folders (content hash only)")
        lost = sorted((set(metas) | set(old["versions"] if old else ())) - set(index["versions"]),
                      key=vkey)
        if lost:
            notes.append(f"version(s) {', '.join(lost)} are recorded but their folders are "
                         "gone: left out of the index (their records are kept)")
        # serve a version whose folder is intact (those adopted just now were hashed)
        usable = [v for v in index["versions"] if v in adopted or self._folder_state(
            v, index["versions"][v].get("sha256")) is None]
        serving, how = None, ""
        if old and old["serving"] in usable:
            serving, how = old["serving"], "the serving version of the old index"
        else:
            skipped = []
            for e in reversed(index["history"]):
                v = e.get("version")
                if e.get("action") in NOT_SERVING_ACTIONS or not is_version(v):
                    continue
                if str(v) in usable:
                    serving = str(v)
                    how = (f"the latest history event that set it: {e.get('action')} at "
                           f"{e.get('at')}")
                    break
                if str(v) not in skipped:
                    skipped.append(str(v))
            if serving is None and usable:
                serving = max(usable, key=vkey)
                how = "the newest version: no history event names one whose folder is intact"
            elif serving is None and index["versions"]:
                serving = max(index["versions"], key=vkey)
                how = "the newest version, though its folder is changed: no folder is intact"
            if skipped and serving is not None:
                how += (f"; version(s) {', '.join(skipped)}, served after it, have no "
                        "folder or a changed one")
        index["serving"] = serving
        self._rebuild_aliases(index, old, notes)
        return index, notes, how

    @staticmethod
    def _rebuild_aliases(index: Dict[str, Any], old: Optional[Dict[str, Any]],
                         notes: List[str]) -> None:
        """The aliases of a rebuilt index: the old index's, else replayed from the alias
        and unalias events of the history (kept in the version records too); an alias
        whose version is not in the index is left out (a note says so)."""
        if old is not None and old.get("aliases"):
            aliases = dict(old["aliases"])
        else:
            aliases = {}
            for e in index["history"]:
                name, v = e.get("alias"), e.get("version")
                if e.get("action") not in ALIAS_ACTIONS or alias_problem(name):
                    continue
                if e["action"] == "alias" and is_version(v):
                    aliases[name] = str(v)
                elif e["action"] == "unalias" and aliases.get(name) == str(v):
                    del aliases[name]
        lost = {a: v for a, v in aliases.items() if v not in index["versions"]}
        for a, v in sorted(lost.items()):
            del aliases[a]
            notes.append(f"alias {a!r} named version {v}, which is not in the index: "
                         "left out")
        if aliases:
            index["aliases"] = aliases

    def repair(self, by: Optional[str] = None) -> Dict[str, Any]:
        """Rebuilds the index from the version folders and their records (and what can be
        read of the old index); the old index is kept as ``registry.json.broken-<time>``
        (or ``.before-repair-<time>`` when it was readable). Nothing stored is removed:
        records whose folders are gone stay, and are left out of the index. Returns
        {serving, how, versions, backup, was (why the old index was broken, or None),
        notes}."""
        by = by or default_by()
        self.fs.makedirs(self.path)
        with self.fs.lock(self.fs.join(self.path, LOCK), self.lock_timeout_s):
            names = self.fs.listdir(self.path)
            old, was, backup = None, None, None
            if self.fs.exists(self.index_path):
                data = self.fs.read(self.index_path)
                try:
                    old = self._parse(data)
                except IndexBroken as e:
                    was = e.reason
                kind = "broken" if was else "before-repair"
                when = stamp()
                backup = self.fs.join(self.path, f"{INDEX}.{kind}-{when}")
                i = 1
                while self.fs.exists(backup):
                    i += 1
                    backup = self.fs.join(self.path, f"{INDEX}.{kind}-{when}-{i}")
                self.fs.write_atomic(backup, data)
            self._clean_leftovers(names)
            index, notes, how = self._rebuild(names, old, by)
            if index["serving"] is not None:
                add_event(index, "repair", index["serving"], by,
                          reason=f"index rebuilt from the version folders' records; serving "
                                 f"{index['serving']} ({how})")
            self._write(index, touched=list(index["versions"]))
        return {"serving": index["serving"], "how": how,
                "versions": sorted(index["versions"], key=vkey), "backup": backup,
                "was": was, "notes": notes}

    def _write(self, index: Dict[str, Any], touched=()) -> None:
        """The index (atomically), serving.config, then the records of the ``touched``
        versions and of any version that has none yet."""
        index["history"] = index["history"][-HISTORY_MAX:]
        if not index.get("aliases"):
            index.pop("aliases", None)
        data = json.dumps(index, indent=1, sort_keys=True).encode()
        self.fs.write_atomic(self.index_path, data)
        if index["serving"] is not None:
            self.fs.write_atomic(self.fs.join(self.path, SERVING_CONFIG),
                                 tf_serving_config(self.name, self.path, index["serving"],
                                                   index.get("aliases")).encode())
        names = set(self.fs.listdir(self.path))
        lacking = {v for v in index["versions"] if f"{v}{META_SUFFIX}" not in names}
        for v in sorted((set(map(str, touched)) | lacking) & set(index["versions"]),
                        key=vkey):
            self._write_meta(index, v)
