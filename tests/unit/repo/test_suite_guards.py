"""The suite's own settings can fail a test: an assertion in a thread, an exception
nobody could raise (``__del__``), and warnings are not swallowed by pytest.ini.

Each check runs a tiny pytest session in a subprocess on a temporary test file, with
this repository's pytest.ini (``-c``), and looks at how that session ended.
"""
import configparser
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

INI = Path(__file__).resolve().parents[3] / "pytest.ini"

INNER = '''
import gc
import threading
import warnings


def _in_a_thread(fn):
    t = threading.Thread(target=fn, name="guard-thread")
    t.start()
    t.join()


def test_assert_false_in_a_thread():
    def body():
        assert False, "tfxkit-guard: failed in a thread"
    _in_a_thread(body)


def test_a_thread_that_passes():
    _in_a_thread(lambda: None)


class Broken:
    def __del__(self):
        raise ValueError("tfxkit-guard: raised in __del__")


def test_unraisable_exception():
    b = Broken()
    del b
    gc.collect()


def test_our_warnings_surface():
    warnings.warn("tfxkit-guard: a UserWarning of ours", UserWarning)
    warnings.warn("tfxkit-guard: a DeprecationWarning of ours", DeprecationWarning)
    warnings.warn("tfxkit-guard: a FutureWarning of ours", FutureWarning)
'''


@pytest.fixture(scope="module")
def inner_run(tmp_path_factory):
    """Runs INNER under this repository's pytest.ini; returns (exit code, output)."""
    folder = tmp_path_factory.mktemp("guards")
    (folder / "test_inner.py").write_text(textwrap.dedent(INNER))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_ADDOPTS", "PYTHONWARNINGS", "PYTEST_PLUGINS")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(INI), "--rootdir", str(folder),
         "-p", "no:cacheprovider", "-q", "-rfE",
         str(folder / "test_inner.py")],
        cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


def test_a_failing_assertion_in_a_thread_fails_the_test(inner_run):
    code, out = inner_run
    assert code == 1, out  # 1: tests failed (not 0, nor a usage or internal error)
    assert "FAILED test_inner.py::test_assert_false_in_a_thread" in out, out
    assert "PytestUnhandledThreadExceptionWarning" in out, out
    assert "tfxkit-guard: failed in a thread" in out, out
    assert "FAILED test_inner.py::test_a_thread_that_passes" not in out, out


def test_an_unraisable_exception_fails_the_test(inner_run):
    code, out = inner_run
    assert "FAILED test_inner.py::test_unraisable_exception" in out, out
    assert "PytestUnraisableExceptionWarning" in out, out


def test_our_warnings_are_reported_not_swallowed(inner_run):
    code, out = inner_run
    assert "FAILED test_inner.py::test_our_warnings_surface" not in out, out
    for kind in ("UserWarning", "DeprecationWarning", "FutureWarning"):
        assert f"{kind}: tfxkit-guard: a {kind} of ours" in out, out
    assert "2 failed, 2 passed" in out, out


def test_pytest_ini_ignores_no_whole_warning_category():
    """An ``ignore`` filter names the warning's message or module, never only a category
    (``ignore::UserWarning`` hid pytest's thread-exception warnings)."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(INI)
    lines = [ln.strip() for ln in ini["pytest"]["filterwarnings"].splitlines() if ln.strip()]
    assert "error::pytest.PytestUnhandledThreadExceptionWarning" in lines
    assert "error::pytest.PytestUnraisableExceptionWarning" in lines
    for line in lines:
        action, message, *rest = line.split(":") + ["", "", ""]
        module = rest[1] if len(rest) > 1 else ""
        if action == "ignore":
            assert message or module, f"{line!r} ignores a whole category"
