"""The tfxkit command: fast help, templates, new, validate."""
import os
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "tfxkit"
ROOT = Path(__file__).resolve().parents[4]


def run(*args, cwd=None):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, cwd=cwd)


def test_help_is_fast_and_imports_no_tensorflow():
    t = time.monotonic()
    r = run("--help")
    assert r.returncode == 0 and "run" in r.stdout and "validate" in r.stdout
    assert time.monotonic() - t < 2.0
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from tfxkit.infra import cli; "
         "sys.argv=['tfxkit','--help']\ntry: cli.main()\nexcept SystemExit: pass\n"
         "print('tensorflow' in sys.modules, 'tfx' in sys.modules)"],
        capture_output=True, text=True)
    assert probe.stdout.strip().endswith("False False")


def test_templates_lists_all():
    r = run("templates")
    assert r.returncode == 0
    for name in ("multiclass", "binary", "regression"):
        assert name in r.stdout


def test_new_copies_template(tmp_path):
    r = run("new", "my-penguins", "--template", "multiclass", "--dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    cfg = tmp_path / "my-penguins" / "config.yaml"
    assert "name: my-penguins" in cfg.read_text()
    assert (tmp_path / "my-penguins" / "data" / "penguins.csv").is_file()
    assert (tmp_path / "my-penguins" / "tests" / "test_preprocessing.py").is_file()
    r = run("validate", str(cfg))
    assert r.returncode == 0 and "OK" in r.stdout
    again = run("new", "my-penguins", "--template", "multiclass", "--dir", str(tmp_path))
    assert again.returncode != 0 and "already exists" in again.stderr


def test_new_rejects_unknown_template(tmp_path):
    r = run("new", "x", "--template", "nope", "--dir", str(tmp_path))
    assert r.returncode != 0 and "unknown template" in r.stderr


def test_validate_bad_config_exits_nonzero_naming_field(tmp_path):
    cfg = tmp_path / "config.yaml"
    (tmp_path / "d.csv").write_text("a,y\n1,2\n")
    cfg.write_text("name: x\ntask: regression\nlabel: y\ndata: {source: {csv: d.csv}}\n"
                   "features: {dense: [a, b]}\neval: {metrics: [{name: mae, upper_bound: 1}]}\n")
    r = run("validate", str(cfg))
    assert r.returncode == 2
    assert "config.yaml: features.dense: column 'b' is not in the data" in r.stderr


def test_generate_eta(tmp_path):
    r = run("generate", "eta", "--rows", "100", "--days", "3", "--out", str(tmp_path))
    assert r.returncode == 0
    files = sorted(os.listdir(tmp_path))
    assert files == ["eta-2026-01-01.csv", "eta-2026-01-02.csv", "eta-2026-01-03.csv"]
    lines = sum(len((tmp_path / f).read_text().splitlines()) - 1 for f in files)
    assert lines == 100
