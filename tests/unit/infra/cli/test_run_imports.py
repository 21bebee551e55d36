"""What ``tfxkit run`` imports before its first component runs, and ``tfxkit validate``
(issue 18, start-up): the real command in a fresh process under ``python -X importtime``,
stopped at the first component's launch by ``tests/bench/import_probe.py`` (the probe
``make bench-imports`` times)."""
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tfxkit.pipelines import compat

ROOT = Path(__file__).resolve().parents[4]
BENCH = ROOT / "tests" / "bench"
PROBE = BENCH / "import_probe.py"
# never imported by a local run: tfx.v1 (it imports the Google Cloud extensions), those
# extensions, Beam's BigQuery and Pub/Sub I/O with their clients (lazy_imports), stock
# components the pipeline does not use (keras_tuner: Tuner; kubernetes: InfraValidator)
NEVER = ("tfx.v1", "tfx.extensions.google_cloud_", "apache_beam.io.gcp.bigquery",
         "apache_beam.io.gcp.pubsub", "google.cloud.bigquery", "google.cloud.pubsub", "kfp")
if compat.tfx_release() < (1, 21):  # TFX 1.21's tfx.components stays eager (lazy_imports)
    NEVER += ("keras_tuner", "kubernetes")
HEAVY = ("tensorflow", "tfx", "apache_beam")


def probe(*args, cwd=None):
    """(the probe's result, -X importtime's lines as (self, cumulative, level, module))."""
    sys.path.insert(0, str(BENCH))
    try:
        import bench_imports
    finally:
        sys.path.remove(str(BENCH))
    r = subprocess.run([sys.executable, "-X", "importtime", str(PROBE), *map(str, args)],
                       capture_output=True, text=True, timeout=600, cwd=cwd)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
    assert lines, (r.stdout[-2000:], r.stderr[-3000:])
    return json.loads(lines[-1][len("BENCH_RESULT "):]), bench_imports.parse_importtime(r.stderr)


def importers(entries, module):
    """The modules whose import of ``module`` ran it (its parents in -X importtime's tree)."""
    pending, found = defaultdict(list), []
    for self_us, cum_us, level, name in entries:
        children = pending.pop(level + 1, [])
        found += [name for child in children if child == module]
        pending[level].append(name)
    return found


def template_copy(tmp_path) -> Path:
    case = tmp_path / "multiclass"
    shutil.copytree(ROOT / "templates" / "multiclass", case,
                    ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
    return case / "config.yaml"


def test_run_imports_up_to_its_first_component_nothing_it_does_not_use(tmp_path):
    """``tfxkit run --force`` on a template that never ran, stopped as its first component
    launches: TensorFlow, TFX, Beam and TFMA (the pipeline evaluates) are imported, never
    tfx.v1, the Google Cloud extensions, Beam's BigQuery or Pub/Sub I/O or a stock
    component it does not use; TFMA is imported by TFX (its component specs), never by a
    tfxkit module."""
    out, entries = probe("run", "--force", template_copy(tmp_path))
    assert out["stopped_at"] == "first component launch", out
    loaded = set(out["loaded"])
    assert {"tensorflow", "tfx", "apache_beam", "tensorflow_model_analysis"} <= loaded, out
    assert not loaded & set(NEVER), out
    assert entries and sum(c for s, c, lv, n in entries if lv == 0) > 0
    tfma = importers(entries, "tensorflow_model_analysis")
    # (on TFX 1.21 / Python 3.13 the importer is not seen in -X importtime's tree: TFX
    # imports it through importlib there)
    assert tfma or compat.tfx_release() >= (1, 21), entries[:50]
    assert not [m for m in tfma if m.startswith("tfxkit")], tfma


def test_validate_imports_no_tensorflow(tmp_path):
    out, _ = probe("validate", template_copy(tmp_path))
    assert out["exit_status"] == 0 and out["stopped_at"] == "end of the command", out
    assert not set(out["loaded"]) & set(HEAVY), out


def test_importers_reads_the_tree():
    """-X importtime prints a module after what it imports, one level deeper."""
    entries = [(1, 1, 2, "c"), (1, 2, 1, "b"), (1, 1, 1, "c2"), (1, 4, 0, "a"),
               (1, 1, 0, "b")]
    assert importers(entries, "b") == ["a"] and importers(entries, "c") == ["b"]
    assert importers(entries, "a") == []
