"""A synthetic trip-duration (ETA) generator with a known, noisy ground truth.

Columns: ``trip_id``, ``day``, ``distance_km``, ``hour``, ``weekday``, ``road_type``,
``city`` and the label ``duration_min``. A few values are missing on purpose
(``road_type`` and ``distance_km``), as in real logs. ``expected_minutes`` is the
noise-free truth, so a model's error can be judged against the noise floor.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
from typing import Dict, List

import numpy as np

CITIES = {"paris": 1.25, "berlin": 1.1, "madrid": 1.0, "rome": 1.3, "oslo": 0.9}
ROADS = {"highway": 0.7, "arterial": 1.0, "local": 1.6}
COLUMNS = ["trip_id", "day", "distance_km", "hour", "weekday", "road_type", "city",
           "duration_min"]
NOISE_SD = 2.0


def rush(hour: np.ndarray) -> np.ndarray:
    """Congestion factor by hour: peaks at 8 and 18."""
    return 1.0 + 0.5 * np.exp(-((hour - 8) ** 2) / 4.0) + 0.6 * np.exp(-((hour - 18) ** 2) / 4.0)


def expected_minutes(distance_km, hour, weekday, road_type, city) -> np.ndarray:
    road = np.array([ROADS[r] for r in road_type])
    town = np.array([CITIES[c] for c in city])
    weekend = np.where(np.asarray(weekday) >= 5, 0.85, 1.0)
    return 2.0 + 1.5 * np.asarray(distance_km) * road * town * rush(np.asarray(hour)) * weekend


def generate(rows: int, day: dt.date, seed: int = 0, first_id: int = 0) -> Dict[str, list]:
    rng = np.random.default_rng([seed, day.toordinal()])
    distance = np.round(rng.gamma(2.0, 3.0, rows), 2)
    hour = rng.integers(0, 24, rows)
    weekday = np.full(rows, day.weekday())
    road = rng.choice(list(ROADS), rows, p=[0.3, 0.45, 0.25])
    city = rng.choice(list(CITIES), rows)
    truth = expected_minutes(distance, hour, weekday, road, city)
    duration = np.round(np.maximum(1.0, truth + rng.normal(0, NOISE_SD, rows)), 2)
    road_out: List = list(road)
    dist_out: List = list(distance)
    for i in np.flatnonzero(rng.random(rows) < 0.02):
        road_out[i] = None
    for i in np.flatnonzero(rng.random(rows) < 0.01):
        dist_out[i] = None
    return {"trip_id": list(range(first_id, first_id + rows)), "day": [day.isoformat()] * rows,
            "distance_km": dist_out, "hour": list(hour), "weekday": list(weekday),
            "road_type": road_out, "city": list(city), "duration_min": list(duration)}


def write_days(out_dir: str, rows: int, days: int = 1, start: str = "2026-01-01",
               seed: int = 0) -> List[str]:
    """Writes ``rows`` trips spread over ``days`` files ``eta-YYYY-MM-DD.csv``."""
    if rows < 1 or days < 1:
        raise ValueError("rows and days must be positive")
    os.makedirs(out_dir, exist_ok=True)
    first = dt.date.fromisoformat(start)
    per_day = [rows // days + (1 if i < rows % days else 0) for i in range(days)]
    files, next_id = [], 0
    for i, n in enumerate(per_day):
        day = first + dt.timedelta(days=i)
        data = generate(n, day, seed, next_id)
        next_id += n
        path = os.path.join(out_dir, f"eta-{day.isoformat()}.csv")
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(COLUMNS)
            for r in range(n):
                w.writerow(["" if data[c][r] is None else data[c][r] for c in COLUMNS])
        os.replace(tmp, path)
        files.append(path)
    return files


# --------------------------------------------------------------------------- sequences
# Trips as the road segments they run through, in order (issue 20 point 3: sequence
# models). Each segment has a type with its pace (minutes per km) and a length; a
# ``jam`` slows the NEXT ``JAM_REACH`` segments too (congestion propagates downstream),
# so the duration depends on the order of the segments, not only on which they are.

SEGMENT_PACE = {"highway": 0.6, "arterial": 1.0, "local": 1.6, "bridge": 1.2, "jam": 3.0}
JAM_REACH = 2  # segments after a jam that it slows
JAM_SLOWDOWN = 2.5  # their pace multiplier
SEQ_COLUMNS = ["trip_id", "hour", "distance_km", "segments", "segment_km", "duration_min"]
SEQ_NOISE_SD = 1.0


def expected_minutes_of_segments(segments: List[str], segment_km: List[float],
                                 hour: int) -> float:
    """The noise-free duration of one trip: each segment's km times its pace, times
    ``JAM_SLOWDOWN`` within ``JAM_REACH`` segments after a jam, times the hour's rush."""
    total, since_jam = 0.0, JAM_REACH + 1
    for seg, km in zip(segments, segment_km):
        slow = JAM_SLOWDOWN if since_jam <= JAM_REACH else 1.0
        total += km * SEGMENT_PACE[seg] * slow
        since_jam = 1 if seg == "jam" else since_jam + 1
    return float(1.0 + total * rush(np.asarray(hour)))


def generate_sequences(rows: int, seed: int = 0, min_segments: int = 2,
                       max_segments: int = 12) -> Dict[str, list]:
    """``rows`` trips: ``segments`` (list of segment types, in driving order),
    ``segment_km`` (their lengths), ``distance_km`` (their sum), ``hour`` and the label
    ``duration_min`` (``expected_minutes_of_segments`` plus noise)."""
    if rows < 1:
        raise ValueError("rows must be positive")
    if not 1 <= min_segments <= max_segments:
        raise ValueError(f"need 1 <= min_segments <= max_segments, got {min_segments}, "
                         f"{max_segments}")
    rng = np.random.default_rng([seed, 20])
    types = list(SEGMENT_PACE)
    p = [0.3, 0.3, 0.2, 0.05, 0.15]
    out: Dict[str, list] = {c: [] for c in SEQ_COLUMNS}
    for i in range(rows):
        n = int(rng.integers(min_segments, max_segments + 1))
        segs = [str(s) for s in rng.choice(types, n, p=p)]
        kms = [float(k) for k in np.round(rng.gamma(2.0, 0.6, n) + 0.1, 2)]
        hour = int(rng.integers(0, 24))
        truth = expected_minutes_of_segments(segs, kms, hour)
        out["trip_id"].append(i)
        out["hour"].append(hour)
        out["distance_km"].append(round(sum(kms), 2))
        out["segments"].append(segs)
        out["segment_km"].append(kms)
        out["duration_min"].append(round(max(0.5, truth + rng.normal(0, SEQ_NOISE_SD)), 2))
    return out


def write_sequences(path: str, rows: int, seed: int = 0, delimiter: str = "|",
                    **kw) -> str:
    """Writes ``generate_sequences`` to ``path``: Parquet (``.parquet``: ``segments`` a
    list<string> column, ``segment_km`` a list<double>) or CSV (``.csv``: each list one
    cell joined by ``delimiter``)."""
    data = generate_sequences(rows, seed, **kw)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    if path.endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({
            "trip_id": pa.array(data["trip_id"], pa.int64()),
            "hour": pa.array(data["hour"], pa.int64()),
            "distance_km": pa.array(data["distance_km"], pa.float64()),
            "segments": pa.array(data["segments"], pa.list_(pa.string())),
            "segment_km": pa.array(data["segment_km"], pa.list_(pa.float64())),
            "duration_min": pa.array(data["duration_min"], pa.float64())})
        pq.write_table(table, tmp)
    elif path.endswith(".csv"):
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(SEQ_COLUMNS)
            for r in range(rows):
                w.writerow([delimiter.join(str(v) for v in data[c][r])
                            if isinstance(data[c][r], list) else data[c][r]
                            for c in SEQ_COLUMNS])
    else:
        raise ValueError(f"{path}: write .parquet or .csv")
    os.replace(tmp, path)
    return path
