"""The canary decision log: one JSON object per line, appended atomically.

Each append is one ``write`` of a whole line to a file opened with ``O_APPEND``, under an
``fcntl`` lock, then ``fsync``: concurrent writers never interleave, and a crash leaves at
worst a truncated last line, which readers skip. Plain Python (the CLI reads it without
TensorFlow).

A record::

    {"at": "2026-...", "action": "start|hold|ramp|promote|rollback|follow",
     "stable": "<version>", "canary": "<version>", "step": 1, "share": 0.25,
     "next_share": 0.5, "reasons": [...],
     "evidence": {"stable": {...}, "canary": {...}, "margins": {...}}}
"""
from __future__ import annotations

import datetime
import json
import os
from typing import Any, Dict, Iterator, List, Optional

from tfxkit.infra.canary.policy import PROMOTE

LOG_NAME = "canary.jsonl"
FINAL = ("promote", "rollback")


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


class DecisionLog:
    def __init__(self, path: str):
        self.path = os.path.abspath(path)

    def append(self, record: Dict[str, Any]) -> Dict[str, Any]:
        import fcntl

        record = {"at": now(), **record}
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # a writer that died mid-line left no newline: start on a fresh line
            if os.fstat(fd).st_size:
                with open(self.path, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        return record

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        if not os.path.exists(self.path):
            return iter(())
        out = []
        with open(self.path, "rb") as f:
            for raw in f:
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue  # a torn line
                if isinstance(rec, dict):
                    out.append(rec)
        return iter(out)

    def records(self) -> List[Dict[str, Any]]:
        return list(self)

    def rejected(self) -> set:
        """Versions a canary rolled back (never tried again automatically)."""
        return {r.get("canary") for r in self if r.get("action") == "rollback"}

    def promoted(self) -> set:
        return {r.get("canary") for r in self if r.get("action") == "promote"}


def current(records: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The running canary (its last record) or None: the last ``start`` not followed by
    ``promote``/``rollback`` of the same version."""
    running = None
    for r in records:
        if r.get("action") == "start":
            running = r
        elif running is not None and r.get("canary") == running.get("canary"):
            running = None if r.get("action") in FINAL else r
    return running


def last_stable(log: DecisionLog) -> Optional[str]:
    """The version the server last ran as stable, by the decision log."""
    records = log.records()
    if not records:
        return None
    r = records[-1]
    return r.get("canary") if r.get("action") == PROMOTE else r.get("stable")


def decision_log_path(cfg) -> str:
    """``serving.canary.log``, else ``canary.jsonl`` beside a local registry, else in the
    pipeline root (a bucket cannot be appended to)."""
    import os

    from tfxkit.pipelines.config import is_remote

    c = cfg.serving.canary
    if c is not None and c.log:
        return cfg.resolve(c.log)
    if not is_remote(cfg.registry_path):
        return os.path.join(cfg.registry_path, "canary.jsonl")
    return os.path.join(cfg.resolve(cfg.root), cfg.name, "canary.jsonl")
