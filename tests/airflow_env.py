"""Running the real Airflow (.venv-airflow, `make airflow-setup`) from the tests.

The tests themselves run in the TFX environment; Airflow runs in its own Python 3.11
environment as a subprocess, with its home (config, SQLite metadata DB, logs) in a
temporary folder per test.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_VENV = ROOT / ".venv-airflow"
AIRFLOW_PY = AIRFLOW_VENV / "bin" / "python"
AIRFLOW = AIRFLOW_VENV / "bin" / "airflow"
DAGS_FOLDER = ROOT / "infra" / "airflow" / "dags"


def require_airflow() -> None:
    if not AIRFLOW.is_file():
        pytest.fail(f"{AIRFLOW_VENV} is missing: run `make airflow-setup` (make test does)")


def airflow_env(home: Path, configs_dir: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "TFXKIT_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "TFXKIT_CONFIGS_DIR": str(configs_dir),
        "PYTHONWARNINGS": "ignore",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(argv, env, timeout=900, cwd=None) -> subprocess.CompletedProcess:
    r = subprocess.run([str(a) for a in argv], env=env, capture_output=True, text=True,
                       timeout=timeout, cwd=cwd or ROOT)
    print(r.stdout[-6000:])
    print(r.stderr[-6000:], file=sys.stderr)
    return r


def airflow(*args, env, timeout=900) -> subprocess.CompletedProcess:
    return run([AIRFLOW, *args], env, timeout=timeout)


def airflow_python(code: str, env, timeout=300) -> subprocess.CompletedProcess:
    return run([AIRFLOW_PY, "-c", code], env, timeout=timeout)


def fake_tfxkit(path: Path, body: str) -> Path:
    """A stand-in for the TFX environment's tfxkit executable (a bash script)."""
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)
    return path
