"""The server's request log, read per time window.

The format (the contract with ``tfxkit serve``'s writer): a folder of
``requests-YYYY-MM-DDTHH.jsonl`` files (one per UTC hour), one JSON object per line and
per instance: ``{"ts": epoch seconds, "request_id", "model", "model_version", "arm":
"stable"|"canary", "route", "latency_ms", "features": {raw feature: value as sent},
"outputs": {"class", "class_id", "probabilities"} or {"prediction"}}``. A line that is not
JSON (a torn last line, as a writer killed mid-write leaves) is skipped and counted.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional

# where the log is and what its files are called: the writer's own (one definition)
from tfxkit.infra.serving.request_log import (  # noqa: F401
    file_name, hour_start, request_log_path)

def hour_of(name: str) -> Optional[int]:
    """The epoch second a log file's hour starts at (None: not a log file)."""
    start = hour_start(name)
    return None if start is None else int(start)


@dataclass
class Window:
    """The log lines with ``start <= ts < end``."""

    start: float
    end: float
    records: List[Dict[str, Any]] = field(default_factory=list)
    skipped: int = 0          # lines that were not JSON objects (torn or broken)

    @property
    def rows(self) -> int:
        return len(self.records)


def log_hours(folder: str) -> List[int]:
    """The hours (their first epoch second) the folder has a log file for, oldest first."""
    if not os.path.isdir(folder):
        return []
    return sorted(h for h in (hour_of(n) for n in os.listdir(folder)) if h is not None)


def _lines(path: str) -> Iterator[Optional[Dict[str, Any]]]:
    with open(path, "rb") as f:
        for raw in f:
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                yield None
                continue
            yield obj if isinstance(obj, dict) else None


def read_window(folder: str, start: float, end: float) -> Window:
    """The records of ``[start, end)``, read only from the hour files that overlap it,
    in time order."""
    w = Window(start=start, end=end)
    for hour in log_hours(folder):
        if hour + 3600 <= start or hour >= end:
            continue
        for obj in _lines(os.path.join(folder, file_name(hour))):
            if obj is None or not isinstance(obj.get("ts"), (int, float)):
                w.skipped += 1
                continue
            if start <= obj["ts"] < end:
                w.records.append(obj)
    w.records.sort(key=lambda r: r["ts"])
    return w


def window_ends(folder: str, window_s: int, until: Optional[float] = None) -> List[float]:
    """The end of every window (aligned on multiples of ``window_s`` since the epoch)
    that the log's hour files may hold records for, oldest first; with ``until``, only
    the windows complete by then (``end <= until``)."""
    hours = log_hours(folder)
    if not hours:
        return []
    first = hours[0] // window_s * window_s
    last = hours[-1] + 3600            # the log holds nothing from here on
    ends = []
    end = first + window_s
    while end - window_s < last and (until is None or end <= until):
        ends.append(float(end))
        end += window_s
    return ends
