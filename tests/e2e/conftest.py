"""Runs the e2e tests share, made once per test session instead of once per test.

- ``trained_multiclass``: the multiclass template trained with ``--profile quick`` (a
  blessed and pushed model, one training run in MLMD);
- ``failed_validation``: the multiclass template with a curated schema its data violates
  (the run stops in ValidationGate).

Both are read-only for the tests: a test that changes state (a new run, predictions,
push, rollback, edited data) works on its own copy made with ``copy_case``. A copy holds
everything under the use-case folder (MLMD, pipeline root, registry, data, reports); the
artifact URIs in its MLMD are absolute, so its *earlier* artifacts are the original's
files, which nothing writes to; new runs in the copy write under the copy.

Under pytest-xdist each worker has its own session, so the shared run is made once per
test session with a file lock in the session's base temp folder (common to the workers):
the first worker that needs it runs it, the others wait for it and read the same folder.
Run the tier with ``-n 2 --dist loadfile``: a module's tests stay on one worker, so a
module-scoped fixture (test_canary's server, test_report's twice-trained case) is made
once. (``--dist loadgroup`` with ``xdist_group`` marks does not group on pytest 9.2 with
pytest-xdist 3.8: xdist tags ``item._nodeid``, which pytest 9.2 no longer reads.)
"""
import fcntl
import json
import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import TEMPLATES
from tests.e2e.helpers import tfxkit

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Every test under tests/e2e is an e2e test (``-m "not e2e"`` leaves them out)."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@dataclass
class Run:
    """A finished ``tfxkit run``: the use-case folder it ran in, its exit status and output."""
    case: Path
    returncode: int
    stdout: str
    stderr: str


def _shared_folder(tmp_path_factory) -> Path:
    """The session's base temp folder: under xdist the parent of the worker's own one."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / "e2e-shared"


def _text(b) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else (b or "")


def shared_run(tmp_path_factory, name: str, template: str, prepare, args,
               timeout: int = 1800) -> Run:
    """Copies ``template`` into ``<shared>/<name>/<template>``, calls ``prepare(case)`` and
    runs ``tfxkit run config.yaml *args`` there, once per test session (across xdist
    workers); later calls return the recorded result, a failure or a timeout included (so
    that every test using it fails at once with the same reason instead of retrying).
    Many tests wait for it, so its timeout is twice a single test's run (busy machines)."""
    shared = _shared_folder(tmp_path_factory)
    shared.mkdir(parents=True, exist_ok=True)
    folder = shared / name
    result = shared / f"{name}.json"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not result.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a run that died half-way
            case = folder / template
            shutil.copytree(TEMPLATES / template, case,
                            ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
            prepare(case)
            try:
                r = tfxkit("run", case / "config.yaml", *args, timeout=timeout)
                out = {"returncode": r.returncode, "stdout": r.stdout, "stderr": r.stderr}
            except subprocess.TimeoutExpired as e:  # recorded: the other workers fail too
                out = {"returncode": -1, "stdout": _text(e.stdout),
                       "stderr": _text(e.stderr) + f"\ntfxkit run timed out after {timeout} s"}
            result.write_text(json.dumps({"case": str(case), **out}))
    d = json.loads(result.read_text())
    return Run(Path(d.pop("case")), **d)


@pytest.fixture(scope="session")
def trained_multiclass(tmp_path_factory) -> Run:
    """The multiclass template trained once (``--profile quick``): blessed and pushed.
    Read-only: copy it (``copy_case``) to run anything in it."""
    r = shared_run(tmp_path_factory, "trained-multiclass", "multiclass", lambda case: None,
                   ["--profile", "quick"])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "BLESSED" in r.stdout and "Pushed version" in r.stdout, r.stdout[-3000:]
    return r


# A curated schema that does not know the island 'Dream': the penguin data violates it.
DREAMLESS_SCHEMA = textwrap.dedent("""
    feature { name: "island" type: BYTES domain: "island" }
    feature { name: "species" type: BYTES }
    feature { name: "bill_length_mm" type: FLOAT }
    feature { name: "bill_depth_mm" type: FLOAT }
    feature { name: "flipper_length_mm" type: INT }
    feature { name: "body_mass_g" type: INT }
    feature { name: "sex" type: BYTES }
    feature { name: "year" type: INT }
    string_domain { name: "island" value: "Torgersen" value: "Biscoe" }
""")


@pytest.fixture(scope="session")
def failed_validation(tmp_path_factory) -> Run:
    """The multiclass template run once against ``DREAMLESS_SCHEMA``
    (``--set validation.schema=schema.pbtxt``): it stops in ValidationGate. Read-only."""
    r = shared_run(tmp_path_factory, "failed-validation", "multiclass",
                   lambda case: (case / "schema.pbtxt").write_text(DREAMLESS_SCHEMA),
                   ["--set", "validation.schema=schema.pbtxt"])
    assert r.returncode >= 0, r.stderr[-3000:]  # it finished (the tests check how)
    return r


@pytest.fixture
def copy_case(tmp_path):
    """``copy_case(case, name=None)``: a copy of a use-case folder (config, data, MLMD,
    pipeline root, registry) under this test's tmp_path, to change without touching the
    shared original."""

    def make(case, name=None) -> Path:
        dest = tmp_path / (name or Path(case).name)
        shutil.copytree(case, dest)
        return dest

    return make
