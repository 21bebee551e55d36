"""The ETA generator: deterministic, one file per day, known ground truth."""
import csv

import numpy as np

from tfxkit.pipelines.datasets import eta


def test_deterministic_and_split_by_day(tmp_path):
    a = eta.write_days(str(tmp_path / "a"), rows=500, days=2, seed=3)
    b = eta.write_days(str(tmp_path / "b"), rows=500, days=2, seed=3)
    assert [open(x).read() for x in a] == [open(x).read() for x in b]
    rows = [r for f in a for r in csv.DictReader(open(f))]
    assert len(rows) == 500 and len({r["trip_id"] for r in rows}) == 500
    assert {r["day"] for r in rows} == {"2026-01-01", "2026-01-02"}


def test_noise_around_truth():
    d = eta.generate(20_000, __import__("datetime").date(2026, 1, 5), seed=1)
    ok = [i for i, v in enumerate(d["distance_km"]) if v is not None]
    truth = eta.expected_minutes(np.array(d["distance_km"], dtype=object)[ok].astype(float),
                                 np.array(d["hour"])[ok], np.array(d["weekday"])[ok],
                                 [d["road_type"][i] or "arterial" for i in ok],
                                 np.array(d["city"])[ok])
    resid = np.array(d["duration_min"])[ok] - truth
    known = [j for j, i in enumerate(ok) if d["road_type"][i] is not None]
    assert abs(np.std(resid[known]) - eta.NOISE_SD) < 0.3
    assert 0.005 < sum(v is None for v in d["road_type"]) / 20_000 < 0.04
