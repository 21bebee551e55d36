"""``tfxkit predict`` and ``tfxkit predictions`` (``infra/cli/predict.py``): a store that
cannot be opened is one line naming it, no traceback, never its password."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent / "tfxkit"


def test_predictions_command_names_the_store_without_a_traceback(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    (case / "config.yaml").write_text((ROOT / "templates/multiclass/config.yaml").read_text())
    folder = tmp_path / "store-is-a-folder"
    folder.mkdir()
    r = subprocess.run([str(BIN), "predictions", str(case / "config.yaml"), "--set",
                        f"inference.store={{sqlite: '{folder}'}}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert f"sqlite {folder}" in lines[0] and "unable to open database file" in lines[0]
    # a redis store that is down: one line naming it and its URL, never the password
    r = subprocess.run([str(BIN), "predictions", str(case / "config.yaml"), "--set",
                        "inference.store={redis: 'redis://u@127.0.0.1:1/0', "
                        "password_env: TFXKIT_TEST_STORE_PW}"],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TFXKIT_TEST_STORE_PW": "s3cret"})
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "redis redis://u@127.0.0.1:1/0" in r.stderr and "s3cret" not in r.stderr
