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
