"""Issue 21's target: every page of ``tfxkit ui`` answers in well under a second on a use
case with 200 runs (the bench, tests/bench/bench_ui.py, with fewer repeats; its figures go
to a file under tmp_path here, to bench-results/ui-pages.json by make bench-ui)."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def test_pages_under_a_second_with_200_runs(tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "bench"))
    try:
        import bench_ui
    finally:
        sys.path.remove(str(ROOT / "tests" / "bench"))
    out = tmp_path / "ui-pages.json"
    rc = bench_ui.main(["--runs", "200", "--repeat", "3", "--out", str(out)])
    result = json.loads(out.read_text())
    assert len(result["pages"]) == 10
    slow = {k: v for k, v in result["pages"].items()
            if v["median_s"] >= 1.0 or v["median_changed_s"] >= 1.0}
    assert rc == 0 and not slow, slow
