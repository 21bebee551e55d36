"""The scale benchmark's own logic (tests/bench/bench_scale.py): sizes and per-size runs
from the command line, RSS peaks attributed to components by time, and the targets it
prints as met or not."""
import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tests/bench"))  # bench_scale imports harness from there
_spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "tests/bench/bench_scale.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_scale"] = bench
_spec.loader.exec_module(bench)


def test_sizes():
    assert [bench.parse_rows(s) for s in ("10k", "300K", "1M", "2.5m", "3_000")] == [
        10_000, 300_000, 1_000_000, 2_500_000, 3_000]
    assert [bench.label(n) for n in (10_000, 1_000_000, 3_000_000, 2_500)] == [
        "10k", "1M", "3M", "2500"]
    assert [bench.days_for(n) for n in (10_000, 300_000, 3_000_000)] == [3, 3, 30]
    for bad in ("ten", "500", "1x"):
        with pytest.raises(argparse.ArgumentTypeError, match="--sizes"):
            bench.parse_rows(bad)


def test_runs_per_size():
    assert bench.runs_at("1M=1,3M=2") == {1_000_000: 1, 3_000_000: 2}
    assert bench.runs_at("") == {}
    with pytest.raises(argparse.ArgumentTypeError, match="SIZE=RUNS"):
        bench.runs_at("1M")
    with pytest.raises(argparse.ArgumentTypeError, match="runs must be >= 1"):
        bench.runs_at("1M=0")


def test_peaks_are_attributed_to_components_by_time():
    samples = [(0.0, 100), (1.0, 500), (2.0, 300), (3.0, 900), (4.0, 200)]
    comps = [{"node": "A", "start": 0.5, "end": 2.5},
             {"node": "B", "start": 2.9, "end": 3.1},
             {"node": "C", "start": 3.95, "end": 3.96}]  # no sample inside: the nearest
    assert bench.peaks(comps, samples) == 900
    assert [c["peak_rss"] for c in comps] == [500, 900, 200]


def test_tree_rss_samples_this_process_and_joins():
    rss = bench.TreeRss(interval=0.01)
    samples = rss.stop()
    assert samples and all(b > 10 * 2**20 for _, b in samples)  # a Python process: > 10 MB
    assert not rss._thread.is_alive()


def _size(rows, **sides):
    return {"rows": rows, "sides": sides}


def _side(wall, rss_mb):
    return {"runs": 1, "wall_s": {"median": wall, "min": wall, "max": wall, "n": 1},
            "peak_rss_mb": {"median": rss_mb, "min": rss_mb, "max": rss_mb, "n": 1}}


def test_targets_met_and_missed():
    ok = [dict(_size(300_000, tfxkit=_side(50, 900), stock=_side(200, 900)),
               ratio_total={"median": 0.25, "min": 0.25, "max": 0.25, "n": 1}),
          _size(3_000_000, tfxkit=_side(590, 3000))]
    assert [t["met"] for t in bench.targets(ok)] == [True, True, True]
    bad = [dict(_size(300_000, tfxkit=_side(150, 900), stock=_side(200, 900)),
                ratio_total={"median": 0.75, "min": 0.7, "max": 0.8, "n": 2}),
           _size(3_000_000, tfxkit=_side(601, 4200))]
    found = bench.targets(bad)
    assert [t["met"] for t in found] == [False, False, False]
    assert found[0]["measured"].startswith("0.75x (0.70..0.80)")
    assert "4.10 GB" in found[2]["measured"]
    missing = bench.targets([])
    assert [t["measured"] for t in missing] == ["not measured"] * 3
    assert not any(t["met"] for t in missing)
