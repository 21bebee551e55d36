"""The request log of ``tfxkit serve`` (issue 19): every online prediction, sampled per
request, appended to hourly JSON-lines files for monitoring (``tfxkit monitor`` reads
them with ``read_request_log``).

The format is a contract. In the log's folder, one file per UTC hour,
``requests-YYYY-MM-DDTHH.jsonl``, one JSON object per line and per instance::

    {"ts": 1795425323.52, "request_id": "9f2c...", "model": "penguin-species",
     "model_version": "1795425323", "arm": "stable", "route": "/predict",
     "latency_ms": 3.1, "features": {"island": "Torgersen", ...},
     "outputs": {"class": "Adelie", "class_id": 0, "probabilities": [...]}}

``ts``: when the answer was ready (seconds since the epoch); ``arm``: ``stable`` or
``canary`` (the version that answered); ``latency_ms``: the request's, from its parsed
body to its answer; ``features``: the instance as the client sent it (its key field
left out); ``outputs``: the instance's answer as sent back.

The request path only decides whether the request is sampled and queues what it already
has (the parsed instances or, for a big body, its raw bytes, and the per-instance
answers); one writer thread serializes and appends. The queue is bounded: when it is full
the request is dropped from the log and counted (``dropped``), never waited for.
Durability: the writer wakes every ``WAKE_S`` (0.2 s), writes what is queued and flushes
it to the operating system; the file is fsynced when it is rotated (a new hour) and on
``close``. A crash of the machine can lose at most the last second; a crash of the process
at most a torn last line, which ``read_request_log`` skips.
"""
from __future__ import annotations

import datetime as dt
import glob
import json
import os
import queue
import random
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

PREFIX, SUFFIX = "requests-", ".jsonl"
HOUR_FORMAT = "%Y-%m-%dT%H"
WAKE_S = 0.2  # the writer drains the queue this often: a line reaches the OS within it


def hour_of(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime(HOUR_FORMAT)


def file_name(ts: float) -> str:
    return f"{PREFIX}{hour_of(ts)}{SUFFIX}"


def request_log_path(cfg) -> str:
    """``serving.request_log.path``, else ``requests/`` beside a local registry, else in
    the pipeline root (as the choice log)."""
    from tfxkit.pipelines.config import is_remote

    rl = cfg.serving.request_log
    if rl.path:
        return cfg.resolve(rl.path)
    if not is_remote(cfg.registry_path):
        return os.path.join(cfg.registry_path, "requests")
    return os.path.join(cfg.resolve(cfg.root), cfg.name, "requests")


class RequestLog:
    """Appends sampled online predictions to ``folder`` from a writer thread (started on
    first use). ``sample_rate``: the share of requests logged (each drawn from ``seed``'s
    generator); ``max_queue``: requests waiting for the writer, more are dropped;
    ``clock``: seconds since the epoch (tests pass their own)."""

    def __init__(self, folder: str, sample_rate: float = 1.0, max_queue: int = 10_000,
                 seed: Optional[int] = None, clock: Callable[[], float] = time.time):
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be in [0, 1], got {sample_rate}")
        self.folder, self.sample_rate, self.clock = folder, sample_rate, clock
        self.max_queue = max_queue
        self._rng = random.Random(seed)
        self._q: "queue.Queue[Optional[tuple]]" = queue.Queue(maxsize=max_queue)
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._wake = threading.Event()  # set: drain now (close, flush)
        self._file = None
        self._file_name: Optional[str] = None
        self.written = 0   # lines (instances) written
        self.requests = 0  # requests written
        self.dropped = 0   # requests dropped because the queue was full
        self.dropped_lines = 0
        self.errors = 0    # lines lost to write failures
        self.error: Optional[str] = None  # the last write failure (the log goes on)

    # the request path ------------------------------------------------------------------
    def sampled(self) -> bool:
        """Whether this request is logged (one draw per request)."""
        rate = self.sample_rate
        return rate >= 1.0 or (rate > 0.0 and self._rng.random() < rate)

    def log(self, request_id: str, model: str, version: str, arm: str, route: str,
            latency_ms: float, instances: Any, outputs: Sequence[Dict[str, Any]],
            ignore: Sequence[str] = ()) -> bool:
        """Queues one answered request: ``instances``: the parsed instances (a list of
        dicts) or the raw JSON body (bytes: parsed in the writer thread);
        ``outputs``: the per-instance answers, in order; ``ignore``: instance fields
        that are no feature (the key). False when the queue was full (dropped)."""
        if self._thread is None:
            self._start()
        try:
            self._q.put_nowait((self.clock(), request_id, model, version, arm, route,
                                latency_ms, instances, outputs, tuple(ignore)))
        except queue.Full:
            self.dropped += 1
            self.dropped_lines += len(outputs)
            return False
        return True

    @property
    def depth(self) -> int:
        """Requests waiting for the writer."""
        return self._q.qsize()

    # the writer ------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                os.makedirs(self.folder, exist_ok=True)
                self._thread = threading.Thread(target=self._run, name="request-log",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        """Every ``WAKE_S`` (or at once when closing): drain the queue, write what it held
        in one go and flush it to the OS. Waking on a timer, not on each request, keeps
        the request path's ``put`` from waking a thread 200 times a second (a context
        switch and a GIL hand-over each, on the cores the event loop runs on)."""
        stop = False
        while not stop:
            self._wake.wait(WAKE_S)
            self._wake.clear()
            batch = []
            while True:
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True  # write what came before it, then close
                    self._q.task_done()
                    continue
                batch.append(item)
            for item in batch:
                try:
                    self._write(item)
                except Exception as e:  # pylint: disable=broad-except
                    self.errors += len(item[8])
                    self.error = f"request log {self.folder}: {type(e).__name__}: {e}"
            if batch and self._file is not None:
                try:
                    self._file.flush()
                except OSError as e:
                    self.error = f"request log {self.folder}: {e}"
            for _ in batch:
                self._q.task_done()
        self._close_file()

    def _write(self, item: tuple) -> None:
        from tfxkit.infra.serving.json_body import dumps, iter_instances

        ts, rid, model, version, arm, route, latency, instances, outputs, ignore = item
        if isinstance(instances, (bytes, bytearray, memoryview)):
            instances = iter_instances(instances)
        name = file_name(ts)
        if name != self._file_name:
            self._close_file()  # rotation: the last hour's file is fsynced and closed
            path = os.path.join(self.folder, name)
            self._file = open(path, "ab")
            self._file_name = name
            if self._file.tell() and not _ends_with_newline(path):
                self._file.write(b"\n")  # after a torn line (a crash): start a new one
        head = {"ts": ts, "request_id": rid, "model": model, "model_version": version,
                "arm": arm, "route": route, "latency_ms": round(latency, 3)}
        lines = []
        for inst, out in zip(instances, outputs):
            feats = inst if not ignore or not isinstance(inst, dict) else \
                {k: v for k, v in inst.items() if k not in ignore}
            lines.append(dumps({**head, "features": feats, "outputs": out}))
        lines.append(b"")
        self._file.write(b"\n".join(lines))
        self.written += len(lines) - 1
        self.requests += 1

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
            except OSError as e:
                self.error = f"request log {self.folder}: {e}"
            self._file, self._file_name = None, None

    def flush(self) -> None:
        """Returns once everything queued so far is written (and flushed: a request
        queued is written and flushed within ``WAKE_S``; this wakes the writer and waits)."""
        if self._thread is not None:
            self._wake.set()
            self._q.join()

    def close(self) -> None:
        """Writes what is queued, fsyncs and closes the file, stops the writer."""
        if self._thread is not None:
            self._q.put(None)  # waits for room: what is queued gets written first
            self._wake.set()
            self._thread.join(timeout=30)
            self._thread = None

    def stats(self) -> Dict[str, Any]:
        return {"folder": self.folder, "sample_rate": self.sample_rate,
                "written": self.written, "requests": self.requests,
                "dropped": self.dropped, "dropped_lines": self.dropped_lines,
                "queued": self.depth, "errors": self.errors, "error": self.error}


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def hour_start(name: str) -> Optional[float]:
    """The epoch second a log file's UTC hour starts at (None: not a log file's name)."""
    base = os.path.basename(name)
    if not (base.startswith(PREFIX) and base.endswith(SUFFIX)):
        return None
    stem = base[len(PREFIX):-len(SUFFIX)]
    try:
        return dt.datetime.strptime(stem, HOUR_FORMAT).replace(
            tzinfo=dt.timezone.utc).timestamp()
    except ValueError:
        return None


def log_files(path: str, start_ts: Optional[float] = None,
              end_ts: Optional[float] = None) -> List[str]:
    """The hour files in ``path`` that overlap [start_ts, end_ts], oldest first."""
    out = []
    for f in glob.glob(os.path.join(path, f"{PREFIX}*{SUFFIX}")):
        h = hour_start(f)
        if h is None:
            continue
        if (start_ts is not None and h + 3600 <= start_ts) or \
                (end_ts is not None and h > end_ts):
            continue
        out.append((h, f))
    return [f for _, f in sorted(out)]


def read_request_log(path: str, start_ts: Optional[float] = None,
                     end_ts: Optional[float] = None) -> Iterator[Dict[str, Any]]:
    """The lines of the request log in ``path`` with ``start_ts <= ts <= end_ts`` (either
    open), oldest file first, each file in written order. A torn line (a crash while
    appending: not JSON) is skipped."""
    for f in log_files(path, start_ts, end_ts):
        with open(f, "rb") as fh:
            for raw in fh:
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue  # torn
                ts = line.get("ts")
                if not isinstance(ts, (int, float)):
                    continue
                if (start_ts is not None and ts < start_ts) or \
                        (end_ts is not None and ts > end_ts):
                    continue
                yield line
