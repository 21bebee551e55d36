"""A real ``tfxkit run`` killed with -9 in the middle of a component: ML Metadata keeps
the execution RUNNING, ``tfxkit report`` marks it FAILED (the runner's pid is gone) and
the page says failed, never succeeded. (The next ``tfxkit run`` marks it the same way:
tests/integration/infra/run/test_state.py, with a one-component pipeline.)"""
import os
import signal
import subprocess
import time

import pytest

from tests.e2e.helpers import BIN, node_states, runs, store, tfxkit

pytestmark = pytest.mark.e2e


def _running_node(db):
    """The node whose execution is RUNNING after ExampleGen completed, or None."""
    if not db.exists():
        return None
    try:
        s = store(db)
        rs = runs(s, "trip-eta")
        if not rs:
            return None
        states = node_states(s, "trip-eta", rs[-1])
    except Exception:  # pylint: disable=broad-except  # the runner is creating the schema
        return None
    if states.get("ExampleGen") != "COMPLETE":
        return None
    return next((n for n, st in states.items() if st == "RUNNING"), None)


def test_kill_9_mid_run_then_report_says_failed(template_copy):
    case = template_copy("regression")
    db = case / ".tfxkit" / "metadata.sqlite"
    proc = subprocess.Popen([str(BIN), "run", str(case / "config.yaml"), "--no-report"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        node = None
        while node is None:
            assert proc.poll() is None, f"the run ended (rc {proc.returncode}) before a kill"
            assert time.monotonic() < deadline, "no component after ExampleGen started"
            time.sleep(0.3)
            node = _running_node(db)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    s = store(db)
    states = node_states(s, "trip-eta", runs(s, "trip-eta")[-1])
    assert states[node] == "RUNNING"  # what kill -9 leaves behind

    out = case / "report.html"
    r = tfxkit("report", case / "config.yaml", "-o", out)
    assert r.returncode == 0, r.stderr
    assert f"{node} (execution" in r.stderr and "marked FAILED" in r.stderr
    assert f"pid {proc.pid}" in r.stderr and "is gone" in r.stderr
    s = store(db)
    states = node_states(s, "trip-eta", runs(s, "trip-eta")[-1])
    assert states[node] == "FAILED" and "RUNNING" not in states.values()
    page = out.read_text()
    assert "data-status='failed'" in page and f"failed in {node}" in page
    assert ">succeeded<" not in page
    # the report again: nothing left to mark, the same verdict
    r = tfxkit("report", case / "config.yaml", "-o", out)
    assert r.returncode == 0 and "marked FAILED" not in r.stderr
    assert "data-status='failed'" in out.read_text()
