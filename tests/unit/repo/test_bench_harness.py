"""The benchmark harness: alternating order, separate processes, phases, medians and
spread, ratios paired run by run, and the JSON it writes."""
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("bench_harness", ROOT / "tests/bench/harness.py")
harness = importlib.util.module_from_spec(_spec)
sys.modules["bench_harness"] = harness  # dataclasses look their module up
_spec.loader.exec_module(harness)

CHILD = """
import sys, time
sys.path.insert(0, {bench!r})
import harness
ph = harness.Phases()
time.sleep({imports})
ph.mark("imports")
time.sleep({work})
ph.mark("work")
ph.emit(rows=10, pid=__import__("os").getpid())
"""


def side(name, imports, work):
    code = CHILD.format(bench=str(ROOT / "tests/bench"), imports=imports, work=work)
    return harness.Side(name, [sys.executable, "-c", code])


def test_order_alternates():
    assert harness.order(3) == [0, 1, 1, 0, 0, 1]
    assert harness.order(4) == [0, 1, 1, 0, 0, 1, 1, 0]


def test_spread_median_and_range():
    assert harness.spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "n": 3}
    assert harness.spread([])["median"] is None


def test_compare_runs_each_side_in_its_own_process(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    c = harness.compare("t", side("slow", 0.05, 0.4), side("fast", 0.05, 0.1), runs=3,
                        log_dir=tmp_path / "logs")
    assert [r.side for r in c.runs] == ["slow", "fast", "fast", "slow", "slow", "fast"]
    assert len({r.extra["pid"] for r in c.runs}) == 6
    s = c.summary()
    # the work ratio excludes imports and process start; the total ratio includes them
    assert 2.5 < s["ratios"]["work"]["median"] < 5.5
    assert s["ratios"]["total"]["median"] < s["ratios"]["work"]["median"]
    assert s["sides"]["slow"]["fixed_s"]["median"] >= 0.05
    assert s["ratios"]["work"]["n"] == 3
    text = harness.report(c, per=10)
    assert "fixed costs excluded" in text and "slow/fast" in text
    path = harness.save("t", [c], {"rows": 10}, started_load=harness.loadavg())
    data = json.loads(path.read_text())
    assert data["commit"] and "loadavg_end" in data["machine"]
    assert len(data["comparisons"][0]["runs"]) == 6
    assert data["comparisons"][0]["runs"][0]["loadavg_before"]


def test_a_failing_side_stops_the_benchmark(tmp_path):
    bad = harness.Side("bad", [sys.executable, "-c", "raise SystemExit(3)"])
    with pytest.raises(SystemExit, match="bad run 1 failed"):
        harness.compare("t", bad, bad, runs=1, log_dir=tmp_path)


def test_metrics_are_summarized_and_paired(tmp_path, monkeypatch):
    """Numbers a side reports beside its phases (requests/s, p99) get a spread per side
    and paired ratios; the report and the JSON carry them."""
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    code = ("import sys; sys.path.insert(0, {bench!r}); import harness; "
            "ph = harness.Phases(); ph.mark('work'); ph.emit(rps={rps}, p99_ms=None)")
    a = harness.Side("a", [sys.executable, "-c", code.format(
        bench=str(ROOT / "tests/bench"), rps=300)])
    b = harness.Side("b", [sys.executable, "-c", code.format(
        bench=str(ROOT / "tests/bench"), rps=100)])
    c = harness.compare("m", a, b, runs=2, log_dir=tmp_path / "logs",
                        metrics=("rps", "p99_ms"))
    s = c.summary()
    assert s["metrics"]["a"]["rps"]["median"] == 300
    assert s["metric_ratios"]["rps"]["median"] == 3.0
    assert s["metric_ratios"]["p99_ms"]["n"] == 0  # absent values are left out, not zeros
    assert "rps: a 300.0" in harness.report(c)
    data = json.loads(harness.save("m", [c], {}).read_text())
    assert data["comparisons"][0]["summary"]["metric_ratios"]["rps"]["median"] == 3.0
    assert (tmp_path / "m.png").exists()


def test_compare_rounds_shares_a_side_and_alternates_each_pair(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    s, t, p = side("s", 0, 0.2), side("t", 0, 0.05), side("p", 0, 0.02)
    st, pt = harness.compare_rounds([("st", s, t), ("pt", p, t, "a note")], runs=3,
                                    log_dir=tmp_path / "logs")
    # rounds S T P, P T S, S T P: t runs 3 times, shared by both comparisons
    assert [r.side for r in st.runs] == ["s", "t", "t", "s", "s", "t"]
    assert [r.side for r in pt.runs] == ["t", "p", "p", "t", "t", "p"]
    assert {id(r) for r in st.of("t")} == {id(r) for r in pt.of("t")}
    assert pt.note == "a note" and st.summary()["ratios"]["work"]["n"] == 3
    assert st.summary()["ratios"]["work"]["median"] > 1 > pt.summary()["ratios"]["work"]["median"]


def test_fewer_than_three_runs_is_marked_a_development_run(tmp_path):
    c = harness.compare("t", side("a", 0.0, 0.01), side("b", 0.0, 0.01), runs=1,
                        log_dir=tmp_path, work_includes="the sleeps")
    s = c.summary()
    assert s["dev_only"] and s["work_includes"] == "the sleeps"
    text = harness.report(c)
    assert "DEVELOPMENT RUN" in text and "work (the sleeps)" in text


def _load(name):
    """tests/bench/NAME.py as a module; the environment variables it sets for its side
    processes (PYTHONWARNINGS, TF_CPP_MIN_LOG_LEVEL) are undone."""
    saved = dict(os.environ)
    try:
        return _exec(name)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _exec(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}",
                                                  ROOT / f"tests/bench/{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _paired(plain_work, tfxkit_work):
    """A plain-vs-tfxkit Comparison of recorded runs (work phases in seconds)."""
    c = harness.Comparison("plain-vs-tfxkit", "plain", "tfxkit")
    for i, (p, t) in enumerate(zip(plain_work, tfxkit_work)):
        for side, w in (("plain", p), ("tfxkit", t)):
            c.runs.append(harness.Run(side, i, w + 3.0, {"imports": 3.0, "work": w}, {},
                                      [1.0], [1.0]))
    return c


@pytest.mark.parametrize("plain, tfxkit, met, median", [
    ([2.0, 2.0, 2.0], [2.0, 2.5, 4.0], True, 0.8),   # 1.0, 0.8, 0.5: median 0.8, met
    ([2.0, 2.0, 2.0], [2.0, 2.6, 4.0], False, 2 / 2.6),  # median just under 0.8
])
def test_inference_target_is_the_median_plain_over_tfxkit_work(tmp_path, plain, tfxkit, met,
                                                               median):
    sys.path.insert(0, str(ROOT / "tests/bench"))
    try:
        bench = _load("bench_inference")
        summary = _load("summary")
    finally:
        sys.path.remove(str(ROOT / "tests/bench"))
    t = bench.target(_paired(plain, tfxkit))
    assert t["met"] is met and t["threshold"] == 0.8 and t["runs"] == 3
    assert t["ratio"]["median"] == pytest.approx(median)
    assert t["ratio"]["min"] == pytest.approx(0.5)
    # summary.py's targets table lists it, with the measured median, spread and met
    (tmp_path / "inference.json").write_text(json.dumps(
        {"commit": "abc", "params": {"quick": False}, "comparisons": [], "target": t}))
    [(name, measured, got_met, where)] = list(summary.targets(tmp_path))
    assert name.startswith("batch inference >= 0.8x a plain loop")
    assert measured.startswith(f"{median:.2f}x (0.50..1.00) over 3 paired runs")
    assert "DEVELOPMENT" not in measured and got_met is met and "inference.json" in where
def _bench_module(name):
    sys.path.insert(0, str(ROOT / "tests/bench"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "tests/bench"))


def test_importtime_is_read_between_the_probe_markers_and_summed_by_package():
    """bench_imports: only the command's lines count; the tree is rebuilt from the levels
    (a module is printed after what it imports); a package's cumulative time is its
    outermost imports', its self times add up to the total."""
    b = _bench_module("bench_imports")
    probe = _bench_module("import_probe")
    text = "\n".join([
        "import time: self [us] | cumulative | imported package",
        "import time:         5 |          5 | site",
        probe.BEGIN,
        "import time:       100 |        100 |     tensorflow.python",
        "import time:        50 |        150 |   tensorflow",
        "import time:        20 |        170 | tfx.types",
        "import time:        30 |         30 |   google.cloud.storage",
        "import time:        10 |         40 | apache_beam.io",
        "", probe.END,
        "import time:         9 |          9 | json"])
    entries = b.parse_importtime(text)
    assert [e[3] for e in entries] == ["tensorflow.python", "tensorflow", "tfx.types",
                                      "google.cloud.storage", "apache_beam.io"]
    assert [e[2] for e in entries] == [2, 1, 0, 1, 0]
    total, cum, own = b.summarize(entries)
    assert total == pytest.approx(210e-6)
    assert cum == pytest.approx({"tfx": 170e-6, "tensorflow": 150e-6, "apache_beam": 40e-6,
                                 "google.cloud": 30e-6})
    assert own == pytest.approx({"tfx": 20e-6, "tensorflow": 150e-6, "apache_beam": 10e-6,
                                 "google.cloud": 30e-6})
    assert sum(own.values()) == pytest.approx(total)


def test_the_probe_names_the_watched_modules_imported():
    probe = _bench_module("import_probe")
    mods = ["tensorflow", "tensorflow.python", "tfx.extensions.google_cloud_big_query.x",
            "google.cloud", "apache_beam.io.gcp.bigquery", "tfxkit"]
    found = probe.loaded(modules=mods)
    assert "tfx.extensions.google_cloud_" in found and "apache_beam.io.gcp" in found
    assert "tensorflow" in found and "tfx" in found and "tfx.v1" not in found
    assert "google.cloud." not in found  # the bare namespace package (a .pth makes it)
    assert "google.cloud." in probe.loaded(modules=mods + ["google.cloud.storage"])


def test_the_summary_prints_each_commands_imports_target(tmp_path):
    summary = _bench_module("summary")
    cmd = {"imports_s": {"median": 9.5, "min": 9.0, "max": 10.0, "n": 5}, "loaded": [],
           "target": "imports <= 8 s", "target_met": False, "dev_only": False}
    fast = dict(cmd, imports_s={"median": 0.4, "min": 0.4, "max": 0.5, "n": 5},
                target="imports no TensorFlow (and no TFX, Beam)", target_met=True)
    (tmp_path / "imports.json").write_text(json.dumps({
        "commit": "abc", "comparisons": [], "target_s": 8.0,
        "commands": {"run": cmd, "validate": fast}}))
    rows = list(summary.targets(tmp_path))
    assert rows[0][:3] == ("tfxkit run: imports <= 8 s (python -X importtime)",
                           "9.50 s (9.00..10.00) over 5 runs", False)
    assert rows[1][0] == "tfxkit validate: imports no TensorFlow (and no TFX, Beam)"
    assert rows[1][1].endswith("heavy modules: none") and rows[1][2] is True


def test_a_benchmarks_own_results_do_not_make_the_tree_dirty(tmp_path, monkeypatch):
    """A benchmark saves bench-results/ while it runs (partial saves): the commit it
    records is dirty only for changes elsewhere."""
    import subprocess

    def git(*a):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *a], cwd=tmp_path,
                       check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "bench-results").mkdir()
    (tmp_path / "bench-results" / "x.json").write_text("{}")
    (tmp_path / "code.py").write_text("a = 1\n")
    git("add", "-A")
    git("commit", "-qm", "c")
    monkeypatch.setattr(harness, "ROOT", tmp_path)
    assert harness.git_commit()["dirty"] is False
    (tmp_path / "bench-results" / "x.json").write_text('{"partial": true}')
    assert harness.git_commit()["dirty"] is False
    (tmp_path / "code.py").write_text("a = 2\n")
    assert harness.git_commit()["dirty"] is True
