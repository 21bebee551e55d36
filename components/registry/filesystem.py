"""The registry's file-system layer: every path of a registry goes through one of these.
Local paths use ``os`` directly (``LocalFS``: fsync before a rename makes a file visible, an
``fcntl`` lock released by the kernel if a publisher dies); remote paths (``gs://...``) go
through ``tf.io.gfile`` (``GfileFS``). Object stores have no exclusive-create, so remote
publishers are serialized only best-effort (a lock object with an owner token and a stale
timeout)."""
from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
import time
import uuid
from typing import Iterator, Tuple

from tfxkit.components.registry.errors import RegistryError
from tfxkit.components.registry.history import default_by
from tfxkit.components.registry.layout import URI


class LocalFS:
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


class GfileFS:
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
            rel = os.path.relpath(d, src) if not URI.match(src) else d[len(src):].lstrip("/")
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


def fs_for(path: str):
    return GfileFS() if URI.match(path) else LocalFS()
