"""A versioned model registry on a filesystem path or a bucket path (plain Python, no TFX).

Layout (TF Serving's base-path convention, so a TF Serving ``base_path`` can point here)::

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
- ``trim(keep)`` keeps the newest ``keep`` versions and never removes the serving one.

The serving pointer is ours. TF Serving pointed at the base path serves the *highest*
version unless given a version policy: start it with
``--model_config_file=<registry>/serving.config --model_config_file_poll_wait_seconds=30``
(a ``specific`` version policy rewritten on every push and rollback) to follow it.

Remote paths (``gs://...``) go through ``tf.io.gfile``; local paths use ``os`` directly.
Object stores have no exclusive-create, so remote publishers are serialized only
best-effort (a lock object with an owner token and a stale timeout).
"""
from __future__ import annotations

import contextlib
import datetime
import getpass
import hashlib
import json
import os
import posixpath
import re
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

INDEX = "registry.json"
LOCK = ".registry.lock"
SERVING_CONFIG = "serving.config"
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
BROKEN_PREFIX = ".broken-"   # a damaged serving folder set aside by a restore (kept)
META_SUFFIX = ".meta.json"   # <version>.meta.json: a version's own record
META_FORMAT = "tfxkit-registry-version/1"
_META = re.compile(r"^(\d+)\.meta\.json$")
# what write_atomic leaves when its writer dies before the rename
_PARTIAL_WRITE = re.compile(r"^(registry\.json|serving\.config|\d+\.meta\.json)\.tmp-[0-9a-f-]+$")
# history actions that do not change the serving pointer (every other one points it at
# the event's version: push, restore, rollback, promote, canary, rebuild, repair)
NOT_SERVING_ACTIONS = ("trim", "adopt")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
HISTORY_MAX = 1000  # history entries kept in the index


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (names the version or the path)."""


class UnknownVersion(RegistryError, KeyError):
    def __init__(self, version: str, known: List[str]):
        self.version, self.known = str(version), list(known)
        RuntimeError.__init__(self, f"unknown model version {version!r}; the registry has "
                              f"{', '.join(known) if known else 'no versions'}")

    def __str__(self):  # KeyError would quote the message
        return self.args[0]


class IndexBroken(RegistryError):
    """The index exists but cannot be used (not JSON, truncated, wrong shape)."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}; `tfxkit models CONFIG --repair` rebuilds it "
                         "from the version folders' records (keeping this file)")


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


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def default_by() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # pylint: disable=broad-except
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# -- file systems ---------------------------------------------------------------------

class _LocalFS:
    join = staticmethod(os.path.join)

    def exists(self, p):
        return os.path.exists(p)

    def isdir(self, p):
        return os.path.isdir(p)

    def listdir(self, p):
        return os.listdir(p) if os.path.isdir(p) else []

    def makedirs(self, p):
        os.makedirs(p, exist_ok=True)

    def read(self, p) -> bytes:
        with open(p, "rb") as f:
            return f.read()

    def write_atomic(self, p, data: bytes):
        tmp = f"{p}.tmp-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
        _fsync_dir(os.path.dirname(p))

    def copytree(self, src, dst):
        shutil.copytree(src, dst)
        for root, _, files in os.walk(dst):  # durable before the rename makes it visible
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    os.fsync(f.fileno())

    def rename(self, src, dst):
        if os.path.exists(dst):
            raise RegistryError(f"{dst} already exists")
        os.rename(src, dst)
        _fsync_dir(os.path.dirname(dst))

    def rmtree(self, p):
        shutil.rmtree(p, ignore_errors=True)

    def remove(self, p):
        with contextlib.suppress(FileNotFoundError):
            os.remove(p)

    def walk_files(self, root) -> Iterator[Tuple[str, str]]:
        """(relative posix path, absolute path) of every file, sorted."""
        out = []
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for name in files:
                full = os.path.join(d, name)
                out.append((os.path.relpath(full, root).replace(os.sep, "/"), full))
        return iter(sorted(out))

    @contextlib.contextmanager
    def lock(self, path, timeout_s):
        import fcntl

        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RegistryError(f"{path}: another publisher holds the registry "
                                            f"lock for more than {timeout_s:g} s") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock


def _fsync_dir(d):
    try:
        fd = os.open(d or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _GfileFS:
    """Bucket paths through tf.io.gfile (TFX's fileio where available)."""

    def __init__(self):
        try:
            from tfx.dsl.io import fileio as io
        except ImportError:  # pragma: no cover - tfx is installed with tfxkit
            import tensorflow as tf
            io = tf.io.gfile
        self.io = io

    join = staticmethod(posixpath.join)

    def exists(self, p):
        return self.io.exists(p)

    def isdir(self, p):
        return self.io.isdir(p)

    def listdir(self, p):
        if not self.io.exists(p):
            return []
        return [n.rstrip("/") for n in self.io.listdir(p)]

    def makedirs(self, p):
        self.io.makedirs(p)

    def read(self, p) -> bytes:
        with self.io.open(p, "rb") as f:
            return f.read()

    def write_atomic(self, p, data: bytes):
        tmp = f"{p}.tmp-{uuid.uuid4().hex[:8]}"
        with self.io.open(tmp, "wb") as f:
            f.write(data)
        self.io.rename(tmp, p, overwrite=True)

    def copytree(self, src, dst):
        self.io.makedirs(dst)
        for d, dirs, files in self.io.walk(src):
            rel = os.path.relpath(d, src) if not _URI.match(src) else d[len(src):].lstrip("/")
            target = posixpath.join(dst, rel) if rel not in ("", ".") else dst
            self.io.makedirs(target)
            for name in files:
                self.io.copy(posixpath.join(d, name), posixpath.join(target, name),
                             overwrite=True)

    def rename(self, src, dst):
        if self.io.exists(dst):
            raise RegistryError(f"{dst} already exists")
        self.io.rename(src, dst, overwrite=False)

    def rmtree(self, p):
        if self.io.exists(p):
            self.io.rmtree(p)

    def remove(self, p):
        if self.io.exists(p):
            self.io.remove(p)

    def walk_files(self, root):
        out = []
        for d, _, files in self.io.walk(root):
            for name in files:
                full = posixpath.join(d, name)
                out.append((full[len(root):].lstrip("/"), full))
        return iter(sorted(out))

    @contextlib.contextmanager
    def lock(self, path, timeout_s, stale_s=600.0):
        token = uuid.uuid4().hex
        deadline = time.monotonic() + timeout_s
        while True:
            held = None
            if self.io.exists(path):
                try:
                    held = json.loads(self.read(path))
                except Exception:  # pylint: disable=broad-except
                    held = None
            if held and time.time() - held.get("at", 0) < stale_s:
                if time.monotonic() > deadline:
                    raise RegistryError(f"{path}: held by {held.get('by')} since "
                                        f"{held.get('at')}")
                time.sleep(0.5)
                continue
            with self.io.open(path, "w") as f:
                f.write(json.dumps({"token": token, "at": time.time(), "by": default_by()}))
            time.sleep(0.2)  # the last writer wins; check that it is us
            try:
                if json.loads(self.read(path)).get("token") == token:
                    break
            except Exception:  # pylint: disable=broad-except
                pass
        try:
            yield
        finally:
            try:
                if json.loads(self.read(path)).get("token") == token:
                    self.io.remove(path)
            except Exception:  # pylint: disable=broad-except
                pass


# -- content hash ---------------------------------------------------------------------

def _fs_for(path: str):
    return _GfileFS() if _URI.match(path) else _LocalFS()


def content_hash(model_dir: str) -> str:
    """sha256 over the SavedModel's files: each relative path and its bytes, sorted by
    path (the same model copied anywhere hashes the same)."""
    fs = _fs_for(model_dir)
    if not fs.isdir(model_dir):
        raise RegistryError(f"{model_dir}: no such model folder")
    h = hashlib.sha256()
    n = 0
    for rel, full in fs.walk_files(model_dir):
        h.update(rel.encode() + b"\0")
        if isinstance(fs, _LocalFS):
            fh = hashlib.sha256()
            with open(full, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    fh.update(chunk)
            h.update(fh.digest())
        else:
            h.update(hashlib.sha256(fs.read(full)).digest())
        n += 1
    if n == 0:
        raise RegistryError(f"{model_dir}: the model folder is empty")
    return h.hexdigest()


def _vkey(v: str) -> int:
    return int(v)


def _stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


_JTYPES = {dict: "an object", list: "an array", str: "a string", int: "a number",
           float: "a number", bool: "true/false", type(None): "null"}


def _jtype(x) -> str:
    return _JTYPES.get(type(x), type(x).__name__)


def _is_version(x) -> bool:
    return isinstance(x, (str, int)) and not isinstance(x, bool) and str(x).isdigit()


def _index_problem(raw: Any) -> Optional[str]:
    """Why ``raw`` (the parsed ``registry.json``) is not a registry index (None: it is)."""
    if not isinstance(raw, dict):
        return f"the top level is {_jtype(raw)}, not an object"
    versions = raw.get("versions", {})
    if not isinstance(versions, dict):
        return f'"versions" is {_jtype(versions)}, not an object'
    for v, rec in versions.items():
        if not _is_version(v):
            return f'"versions" names {v!r}, which is not a version number'
        if not isinstance(rec, dict):
            return f'"versions"."{v}" is {_jtype(rec)}, not an object'
    serving = raw.get("serving")
    if serving is not None and not _is_version(serving):
        return f'"serving" is {json.dumps(serving)[:40]}, not a version number or null'
    history = raw.get("history", [])
    if not isinstance(history, list):
        return f'"history" is {_jtype(history)}, not an array'
    for i, h in enumerate(history):
        if not isinstance(h, dict):
            return f'"history"[{i}] is {_jtype(h)}, not an object'
    return None


def _ekey(e: Dict[str, Any]):
    """History order: time, then the registry's event number."""
    n = e.get("n")
    return (str(e.get("at") or ""), n if isinstance(n, int) else 0)


def _merge_events(events) -> List[Dict[str, Any]]:
    """The events without repeats, oldest first."""
    seen, out = set(), []
    for e in events:
        k = json.dumps(e, sort_keys=True, default=str)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return sorted(out, key=_ekey)


def _event(index: Dict[str, Any], action: str, version: Optional[str],
           by: Optional[str] = None, at: Optional[str] = None, **extra) -> Dict[str, Any]:
    n = max((e["n"] for e in index["history"] if isinstance(e.get("n"), int)), default=0)
    e = {"at": at or _now(), "n": n + 1, "action": action, "version": version,
         "by": by or default_by(), **extra}
    index["history"].append(e)
    return e


_STATE = {"missing": "missing", "empty": "empty",
          "changed": "changed (its content hash differs from the one recorded at publish: "
                     "files changed, added or missing)"}


class _Txn:
    """One locked change: the index, what was found on the way, whether it must be
    written even when the operation itself changes nothing."""

    def __init__(self, index: Dict[str, Any], names: List[str]):
        self.index, self.names = index, names
        self.notes: List[str] = []
        self.dirty = False


# -- the registry ---------------------------------------------------------------------

class Registry:
    """A versioned model registry at ``path`` (local folder or ``gs://`` path)."""

    def __init__(self, path: str, name: Optional[str] = None, lock_timeout_s: float = 120.0):
        self.path = path.rstrip("/") if _URI.match(path) else os.path.abspath(path)
        self.name = name or os.path.basename(self.path.rstrip("/")) or "model"
        self.fs = _fs_for(self.path)
        self.lock_timeout_s = lock_timeout_s

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
        return sorted(self._read()["versions"], key=_vkey)

    def version_path(self, version: str) -> str:
        return self.fs.join(self.path, str(version))

    def meta_path(self, version: str) -> str:
        """``<registry>/<version>.meta.json``: the version's own record."""
        return self.fs.join(self.path, f"{version}{META_SUFFIX}")

    def version_folders(self) -> List[str]:
        """The version folders on disk (indexed or not), oldest first."""
        return sorted((n for n in self.fs.listdir(self.path)
                       if n.isdigit() and self.fs.isdir(self.version_path(n))), key=_vkey)

    def serving(self) -> Optional[Serving]:
        v = self._read()["serving"]
        return Serving(v, self.version_path(v)) if v is not None else None

    def get(self, version: str) -> Dict[str, Any]:
        """The record of ``version`` (with ``version`` and ``path``); UnknownVersion if
        the registry does not have it."""
        index = self._read()
        v = str(version)
        if v not in index["versions"]:
            raise UnknownVersion(v, sorted(index["versions"], key=_vkey))
        return {**index["versions"][v], "version": v, "path": self.version_path(v),
                "serving": v == index["serving"]}

    def history(self) -> List[Dict[str, Any]]:
        return self._read()["history"]

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
            known = ", ".join(sorted(index["versions"], key=_vkey)) or "none"
            out.append(Problem(serving, "unknown-serving",
                               f"the index's serving version {serving} is not one of its "
                               f"versions ({known})", serving=True))
        names = set(self.fs.listdir(self.path))
        for v in sorted(index["versions"], key=_vkey):
            rec = index["versions"][v]
            path = self.version_path(v)
            if v not in names:
                state = "missing"
            else:
                state = self._folder_state(v, rec.get("sha256") if verify else None)
            if state:
                out.append(Problem(v, state, f"folder {path} is {_STATE[state]}",
                                   serving=v == serving))
            elif verify and not rec.get("sha256"):
                out.append(Problem(v, "unhashed", "no content hash recorded: its folder "
                                   "cannot be checked", serving=v == serving))
        for v in sorted((n for n in names if n.isdigit() and n not in index["versions"]),
                        key=_vkey):
            if self.fs.isdir(self.version_path(v)):
                fate = ("it has a record: the next writer takes it back"
                        if self._load_meta(v)[0] is not None else
                        "it has no record: the next push or rollback removes it as a dead "
                        "publisher's leftover")
                out.append(Problem(v, "unindexed", f"folder {self.version_path(v)} is not "
                                   f"in the index ({fate})"))
        return out

    # writing ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, by: Optional[str] = None) -> Iterator[_Txn]:
        """Holds the lock; yields the change (after cleaning up after dead publishers).
        A broken index raises IndexBroken and nothing is changed; a missing one is
        rebuilt from the version folders and their records."""
        self.fs.makedirs(self.path)
        with self.fs.lock(self.fs.join(self.path, LOCK), self.lock_timeout_s):
            names = self.fs.listdir(self.path)
            if self.fs.exists(self.index_path):
                t = _Txn(self._parse(self.fs.read(self.index_path)), names)
                self._clean_leftovers(names)
                self._cleanup(t, by)
            else:
                self._clean_leftovers(names)
                index, notes, how = self._rebuild(names, None, by)
                t = _Txn(index, names)
                if index["versions"] or index["history"]:
                    t.dirty = True
                    recorded = [v for v in index["versions"]
                                if not index["versions"][v].get("adopted")]
                    if recorded and index["serving"] is not None:
                        why = (f"{INDEX} was missing: rebuilt from {len(recorded)} version "
                               f"record(s); serving {index['serving']} ({how})")
                        _event(index, "rebuild", index["serving"], by, reason=why)
                        notes.insert(0, why)
                t.notes.extend(notes)
            yield t

    def _clean_leftovers(self, names: List[str]) -> None:
        """Under the lock: partial copies and writes of publishers that died."""
        for name in names:
            full = self.fs.join(self.path, name)
            if name.startswith((TMP_PREFIX, TRASH_PREFIX)):
                self.fs.rmtree(full)
            elif _PARTIAL_WRITE.search(name):
                self.fs.remove(full)

    def _cleanup(self, t: _Txn, by: Optional[str]) -> None:
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
                index["history"] = _merge_events(index["history"] + meta["history"])
                _event(index, "adopt", name, by,
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
                          and self.fs.isdir(self.version_path(n))), key=_vkey)
        metas: Dict[str, Dict[str, Any]] = {}
        for n in names:
            m = _META.match(n)
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
        index["history"] = _merge_events(events)
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
            _event(index, "adopt", v, by)
        if adopted and (metas or old):
            notes.append(f"version(s) {', '.join(adopted)} had no record: adopted from "
                         "their folders (content hash only)")
        lost = sorted((set(metas) | set(old["versions"] if old else ())) - set(index["versions"]),
                      key=_vkey)
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
                if e.get("action") in NOT_SERVING_ACTIONS or not _is_version(v):
                    continue
                if str(v) in usable:
                    serving = str(v)
                    how = (f"the latest history event that set it: {e.get('action')} at "
                           f"{e.get('at')}")
                    break
                if str(v) not in skipped:
                    skipped.append(str(v))
            if serving is None and usable:
                serving = max(usable, key=_vkey)
                how = "the newest version: no history event names one whose folder is intact"
            elif serving is None and index["versions"]:
                serving = max(index["versions"], key=_vkey)
                how = "the newest version, though its folder is changed: no folder is intact"
            if skipped and serving is not None:
                how += (f"; version(s) {', '.join(skipped)}, served after it, have no "
                        "folder or a changed one")
        index["serving"] = serving
        return index, notes, how

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
                stamp = _stamp()
                backup = self.fs.join(self.path, f"{INDEX}.{kind}-{stamp}")
                i = 1
                while self.fs.exists(backup):
                    i += 1
                    backup = self.fs.join(self.path, f"{INDEX}.{kind}-{stamp}-{i}")
                self.fs.write_atomic(backup, data)
            self._clean_leftovers(names)
            index, notes, how = self._rebuild(names, old, by)
            if index["serving"] is not None:
                _event(index, "repair", index["serving"], by,
                       reason=f"index rebuilt from the version folders' records; serving "
                              f"{index['serving']} ({how})")
            self._write(index, touched=list(index["versions"]))
        return {"serving": index["serving"], "how": how,
                "versions": sorted(index["versions"], key=_vkey), "backup": backup,
                "was": was, "notes": notes}

    def _write(self, index: Dict[str, Any], touched=()) -> None:
        """The index (atomically), serving.config, then the records of the ``touched``
        versions and of any version that has none yet."""
        index["history"] = index["history"][-HISTORY_MAX:]
        data = json.dumps(index, indent=1, sort_keys=True).encode()
        self.fs.write_atomic(self.index_path, data)
        if index["serving"] is not None:
            self.fs.write_atomic(self.fs.join(self.path, SERVING_CONFIG),
                                 tf_serving_config(self.name, self.path,
                                                   index["serving"]).encode())
        names = set(self.fs.listdir(self.path))
        lacking = {v for v in index["versions"] if f"{v}{META_SUFFIX}" not in names}
        for v in sorted((set(map(str, touched)) | lacking) & set(index["versions"]),
                        key=_vkey):
            self._write_meta(index, v)

    def _write_meta(self, index: Dict[str, Any], v: str) -> None:
        """``<version>.meta.json``: the version's index entry and every history event
        about it (those already there kept: the index keeps only the last HISTORY_MAX)."""
        old, _ = self._load_meta(v)
        events = (old["history"] if old else []) + [
            e for e in index["history"] if str(e.get("version")) == v]
        meta = {"format": META_FORMAT, "version": v, "record": index["versions"][v],
                "history": _merge_events(events)[-HISTORY_MAX:]}
        data = json.dumps(meta, indent=1, sort_keys=True, default=str).encode()
        if old is None or json.dumps(old, indent=1, sort_keys=True,
                                     default=str).encode() != data:
            self.fs.write_atomic(self.meta_path(v), data)

    def _next_version(self, index: Dict[str, Any]) -> str:
        v = int(time.time())
        taken = [_vkey(x) for x in index["versions"]]
        taken += [int(n) for n in self.fs.listdir(self.path) if n.isdigit()]
        taken += [int(m.group(1)) for m in map(_META.match, self.fs.listdir(self.path)) if m]
        if taken:
            v = max(v, max(taken) + 1)
        return str(v)

    def _copy_in(self, model_dir: str, version: str, aside: Optional[str] = None) -> None:
        """Copies ``model_dir`` to ``.tmp-<version>``, then (``aside``: after moving the
        folder there to ``aside``) renames it to ``<version>``."""
        tmp = self.fs.join(self.path, TMP_PREFIX + version)
        self.fs.rmtree(tmp)
        try:
            self.fs.copytree(model_dir, tmp)
            if aside:
                self.fs.rename(self.version_path(version), aside)
            self.fs.rename(tmp, self.version_path(version))
        except BaseException:
            self.fs.rmtree(tmp)
            raise

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
                         by: Optional[str] = None, sha256: Optional[str] = None
                         ) -> Published:
        """``publish``, saying what it did (push, identical or restore) and what it found."""
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
                return self._restore(t, serving, model_dir, state, by)
            version = self._next_version(index)
            self._copy_in(model_dir, version)
            record = dict(meta or {})
            record.update({"created_at": _now(), "sha256": digest})
            index["versions"][version] = record
            index["serving"] = version
            _event(index, "push", version, by, at=record["created_at"], previous=serving)
            self._write(index, touched=[version])
        return Published(version, True, "push", tuple(t.notes))

    def _restore(self, t: _Txn, v: str, model_dir: str, state: str, by: Optional[str]
                 ) -> Published:
        """Under the lock: puts the serving version ``v``'s content back from
        ``model_dir`` (same content hash); a changed folder is set aside, not deleted."""
        path = self.version_path(v)
        aside = None
        if state != "missing":
            aside = self.fs.join(self.path, f"{BROKEN_PREFIX}{v}-{_stamp()}")
        self._copy_in(model_dir, v, aside=aside)
        why = (f"its folder {path} was {_STATE[state]}; put back from the model being "
               "pushed (the same content hash)")
        if aside:
            why += f"; the damaged folder is kept as {aside}"
        _event(t.index, "restore", v, by, reason=why)
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
                raise UnknownVersion(v, sorted(index["versions"], key=_vkey))
            if not self.fs.isdir(self.version_path(v)):
                raise RegistryError(f"model version {v} is in the index but its folder "
                                    f"{self.version_path(v)} is gone")
            if verify:
                state = self._folder_state(v, index["versions"][v].get("sha256"))
                if state:
                    raise RegistryError(f"model version {v}'s folder {self.version_path(v)} "
                                        f"is {_STATE[state]}: not serving it")
            previous = index["serving"]
            index["serving"] = v
            _event(index, action, v, by, previous=previous, reason=reason)
            self._write(index, touched=[v])
        return Serving(v, self.version_path(v))

    def trim(self, keep: int, by: Optional[str] = None) -> List[str]:
        """Keeps the newest ``keep`` versions (and always the serving one); returns the
        removed versions. Their records go first, then the index drops them, then their
        folders go (a folder without record or index entry is a leftover)."""
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        with self._locked(by) as t:
            index = t.index
            ordered = sorted(index["versions"], key=_vkey)
            keep_set = set(ordered[-keep:])
            if index["serving"] is not None:
                keep_set.add(index["serving"])
            removed = [v for v in ordered if v not in keep_set]
            if not removed:
                if t.dirty:
                    self._write(index)
                return []
            for v in removed:
                self.fs.remove(self.meta_path(v))
                del index["versions"][v]
                _event(index, "trim", v, by)
            self._write(index)
            for v in removed:  # out of the index: rename away, then delete
                trash = self.fs.join(self.path, TRASH_PREFIX + v)
                try:
                    self.fs.rename(self.version_path(v), trash)
                except Exception:  # pylint: disable=broad-except
                    trash = self.version_path(v)
                self.fs.rmtree(trash)
        return removed


def tf_serving_config(name: str, base_path: str, version: str) -> str:
    """A TF Serving ``--model_config_file`` that serves exactly ``version``."""
    return ("model_config_list {\n  config {\n"
            f"    name: {json.dumps(name)}\n    base_path: {json.dumps(base_path)}\n"
            "    model_platform: \"tensorflow\"\n"
            f"    model_version_policy {{ specific {{ versions: {int(version)} }} }}\n"
            "  }\n}\n")
