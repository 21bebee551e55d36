"""A versioned model registry on a filesystem path or a bucket path (plain Python, no TFX).

Layout (TF Serving's base-path convention, so a TF Serving ``base_path`` can point here)::

    <registry>/<version>/          a SavedModel; version = an increasing integer (seconds
                                   since the epoch, like the stock Pusher's, bumped past the
                                   newest so two pushes in one second still increase)
    <registry>/registry.json       the index (written atomically: tmp + rename)
    <registry>/serving.config      a TF Serving model config that pins the serving version
    <registry>/.registry.lock      held (fcntl) while the index or the folders change

The index::

    {"serving": "<version>",
     "versions": {"<version>": {"created_at", "sha256", "metrics", "config_hash",
                                "git_commit", "data", "model_uri", "pipeline_run", ...}},
     "history": [{"at", "action": "push|rollback|trim|adopt", "version", "by", ...}]}

Guarantees:

- a reader never sees a partial model: ``publish`` copies into ``<registry>/.tmp-<version>``
  (TF Serving ignores names that are not numbers) and renames it to ``<version>`` only when
  complete; the index names a version only after its folder is in place;
- idempotent: a model whose content hash equals the serving version's is not pushed again;
- publishers on one machine are serialized by an ``fcntl`` lock (released by the kernel if a
  publisher dies); a folder left behind by a publisher that died (``.tmp-*``, or a version
  folder that the index does not name) is removed by the next writer;
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

    def _read(self) -> Dict[str, Any]:
        if not self.fs.exists(self.index_path):
            return {"serving": None, "versions": {}, "history": []}
        try:
            index = json.loads(self.fs.read(self.index_path))
        except ValueError as e:
            raise RegistryError(f"{self.index_path}: not a registry index ({e})") from None
        index.setdefault("serving", None)
        index.setdefault("versions", {})
        index.setdefault("history", [])
        return index

    def index(self) -> Dict[str, Any]:
        return self._read()

    def versions(self) -> List[str]:
        """Published versions, oldest first."""
        return sorted(self._read()["versions"], key=_vkey)

    def version_path(self, version: str) -> str:
        return self.fs.join(self.path, str(version))

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

    # writing ------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[Dict[str, Any]]:
        """Holds the lock; yields the index (after cleaning up after dead publishers)."""
        self.fs.makedirs(self.path)
        with self.fs.lock(self.fs.join(self.path, LOCK), self.lock_timeout_s):
            index = self._read()
            self._cleanup(index)
            yield index

    def _cleanup(self, index: Dict[str, Any]) -> None:
        """Under the lock: removes what a publisher that died left behind. Without an
        index (a registry the stock Pusher wrote), its version folders are adopted."""
        adopt = not self.fs.exists(self.index_path)
        for name in self.fs.listdir(self.path):
            full = self.fs.join(self.path, name)
            if name.startswith((TMP_PREFIX, TRASH_PREFIX)):
                self.fs.rmtree(full)
            elif name.isdigit() and name not in index["versions"] and self.fs.isdir(full):
                if adopt:
                    index["versions"][name] = {"created_at": None, "sha256": content_hash(full),
                                               "adopted": True}
                    index["history"].append({"at": _now(), "action": "adopt", "version": name,
                                             "by": default_by()})
                else:
                    self.fs.rmtree(full)  # renamed in, but the index was never written
        if adopt and index["versions"] and index["serving"] is None:
            index["serving"] = max(index["versions"], key=_vkey)

    def _write(self, index: Dict[str, Any]) -> None:
        index["history"] = index["history"][-HISTORY_MAX:]
        data = json.dumps(index, indent=1, sort_keys=True).encode()
        self.fs.write_atomic(self.index_path, data)
        if index["serving"] is not None:
            self.fs.write_atomic(self.fs.join(self.path, SERVING_CONFIG),
                                 tf_serving_config(self.name, self.path,
                                                   index["serving"]).encode())

    def _next_version(self, index: Dict[str, Any]) -> str:
        v = int(time.time())
        taken = [_vkey(x) for x in index["versions"]]
        taken += [int(n) for n in self.fs.listdir(self.path) if n.isdigit()]
        if taken:
            v = max(v, max(taken) + 1)
        return str(v)

    def publish(self, model_dir: str, meta: Optional[Dict[str, Any]] = None,
                by: Optional[str] = None, sha256: Optional[str] = None) -> Tuple[str, bool]:
        """Copies the SavedModel at ``model_dir`` in as a new version and makes it the
        serving one; returns (version, True). A model whose content equals the serving
        version's is not pushed again: returns (serving version, False)."""
        digest = sha256 or content_hash(model_dir)
        with self._locked() as index:
            serving = index["serving"]
            if serving is not None and index["versions"].get(serving, {}).get("sha256") == digest:
                if not self.fs.exists(self.index_path):  # adopted a stock Pusher registry
                    self._write(index)
                return serving, False
            version = self._next_version(index)
            tmp = self.fs.join(self.path, TMP_PREFIX + version)
            self.fs.rmtree(tmp)
            try:
                self.fs.copytree(model_dir, tmp)
                self.fs.rename(tmp, self.version_path(version))
            except BaseException:
                self.fs.rmtree(tmp)
                raise
            record = dict(meta or {})
            record.update({"created_at": _now(), "sha256": digest})
            index["versions"][version] = record
            index["serving"] = version
            index["history"].append({"at": record["created_at"], "action": "push",
                                     "version": version, "by": by or default_by(),
                                     "previous": serving})
            self._write(index)
        return version, True

    def set_serving(self, version: str, reason: str = "", by: Optional[str] = None,
                    action: str = "rollback") -> Serving:
        """Points serving at an existing ``version`` (a rollback, or a roll forward)."""
        v = str(version)
        with self._locked() as index:
            if v not in index["versions"]:
                raise UnknownVersion(v, sorted(index["versions"], key=_vkey))
            if not self.fs.isdir(self.version_path(v)):
                raise RegistryError(f"model version {v} is in the index but its folder "
                                    f"{self.version_path(v)} is gone")
            previous = index["serving"]
            index["serving"] = v
            index["history"].append({"at": _now(), "action": action, "version": v,
                                     "by": by or default_by(), "previous": previous,
                                     "reason": reason})
            self._write(index)
        return Serving(v, self.version_path(v))

    def trim(self, keep: int, by: Optional[str] = None) -> List[str]:
        """Keeps the newest ``keep`` versions (and always the serving one); returns the
        removed versions. The index drops them first, then their folders go."""
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        with self._locked() as index:
            ordered = sorted(index["versions"], key=_vkey)
            keep_set = set(ordered[-keep:])
            if index["serving"] is not None:
                keep_set.add(index["serving"])
            removed = [v for v in ordered if v not in keep_set]
            if not removed:
                return []
            for v in removed:
                del index["versions"][v]
                index["history"].append({"at": _now(), "action": "trim", "version": v,
                                         "by": by or default_by()})
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
