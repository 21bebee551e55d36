"""The choice log of a served bandit policy (issue 16): every instance ``POST /predict``
answered with a policy's choice (the action and the probability it was chosen with, the
next round's logged propensity) and every reward ``POST /feedback`` brought for one, so
that ``tfxkit choices export`` can write them as the next training round's span.

Two kinds of JSON lines, one file per kind and UTC day in the log's folder:

- ``choices-YYYY-MM-DD.jsonl``: ``{"t", "request_id", "index", "key", "model_version",
  "action", "propensity", "example"}`` (``example``: the instance as the model read it, a
  serialized raw tf.Example in base64: every feature value exactly as typed by the
  model's parse spec);
- ``rewards-YYYY-MM-DD.jsonl``: ``{"t", "request_id", "index", "reward"}``.

Lines are appended by one writer thread (the request path only queues them) and flushed
once the queue is empty; a crash can tear only the last line of a file, which the reader
skips and counts (``read``)."""
from __future__ import annotations

import base64
import datetime as dt
import glob
import json
import os
import queue
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

KINDS = ("choices", "rewards")


def day_of(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%d")


class ChoiceLog:
    """Appends choices and rewards to ``folder`` from a writer thread (started on first
    use). ``clock``: seconds since the epoch (tests pass their own)."""

    def __init__(self, folder: str, clock: Callable[[], float] = time.time):
        self.folder, self.clock = folder, clock
        self._q: "queue.Queue[Optional[Tuple[str, List[Dict[str, Any]]]]]" = queue.Queue()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self.written = {k: 0 for k in KINDS}
        self.error: Optional[str] = None  # the last write failure (the log goes on)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                os.makedirs(self.folder, exist_ok=True)
                self._thread = threading.Thread(target=self._run, name="choice-log",
                                                daemon=True)
                self._thread.start()

    def choices(self, request_id: str, version: str, answers: Sequence[Dict[str, Any]],
                keys: Optional[Sequence[Any]], examples: Sequence[bytes]) -> None:
        """Queues one line per instance of an answered request (``answers``: the
        per-instance outputs with ``action`` and ``propensity``)."""
        t = self.clock()
        lines = []
        for i, (answer, raw) in enumerate(zip(answers, examples)):
            lines.append({"t": t, "request_id": request_id, "index": i,
                          "key": None if not keys or keys[i] is None else str(keys[i]),
                          "model_version": version, "action": answer.get("action"),
                          "propensity": answer.get("propensity"),
                          "example": base64.b64encode(raw).decode("ascii")})
        self._put("choices", lines)

    def rewards(self, items: Sequence[Tuple[str, int, Any]]) -> None:
        """Queues one line per (request_id, index, reward)."""
        t = self.clock()
        self._put("rewards", [{"t": t, "request_id": rid, "index": int(i), "reward": r}
                              for rid, i, r in items])

    def _put(self, kind: str, lines: List[Dict[str, Any]]) -> None:
        if lines:
            self._start()
            self._q.put((kind, lines))

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                self._q.task_done()
                return
            batch = [item]
            while True:  # drain what is queued: one open and flush per file
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._q.put(None)  # handled after this batch
                    self._q.task_done()
                    break
                batch.append(nxt)
            try:
                self._write(batch)
            except OSError as e:
                self.error = f"choice log {self.folder}: {e}"
            finally:
                for _ in batch:
                    self._q.task_done()

    def _write(self, batch: List[Tuple[str, List[Dict[str, Any]]]]) -> None:
        by_file: Dict[str, List[str]] = {}
        for kind, lines in batch:
            for line in lines:
                path = os.path.join(self.folder, f"{kind}-{day_of(line['t'])}.jsonl")
                by_file.setdefault(path, []).append(json.dumps(line, separators=(",", ":")))
        for path, lines in by_file.items():
            with open(path, "a", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
            kind = os.path.basename(path).split("-", 1)[0]
            self.written[kind] += len(lines)

    def flush(self) -> None:
        """Returns once everything queued so far is written."""
        self._q.join()

    def close(self) -> None:
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(timeout=10)
            self._thread = None

    def stats(self) -> Dict[str, Any]:
        return {"folder": self.folder, **self.written, "error": self.error}


def read(folder: str, kind: str, since: Optional[str] = None, until: Optional[str] = None
         ) -> Tuple[List[Dict[str, Any]], int]:
    """The lines of ``kind`` in the day files from ``since`` to ``until`` (YYYY-MM-DD,
    inclusive), and how many torn lines were skipped (a crash while appending)."""
    if kind not in KINDS:
        raise ValueError(f"kind is one of {KINDS}, got {kind!r}")
    out, torn = [], 0
    for path in sorted(glob.glob(os.path.join(folder, f"{kind}-*.jsonl"))):
        day = os.path.basename(path)[len(kind) + 1:-len(".jsonl")]
        if (since and day < since) or (until and day > until):
            continue
        for line in _lines(path):
            try:
                out.append(json.loads(line))
            except ValueError:
                torn += 1
    return out, torn


def _lines(path: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield line


def example_of(line: Dict[str, Any]) -> bytes:
    return base64.b64decode(line["example"])
