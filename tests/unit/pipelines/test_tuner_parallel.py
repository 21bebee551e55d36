"""pipelines/tuner_parallel.py: the plain parts (the search itself runs in
tests/e2e/test_tuning.py, on both stacks)."""
import subprocess
import sys

import pytest

from tfxkit.pipelines import tuner_parallel as tp


def test_roles_come_from_kerastuners_variables(monkeypatch):
    monkeypatch.delenv("KERASTUNER_ORACLE_IP", raising=False)
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    assert tp.tuner_id() is None and not tp.is_worker()  # no oracle: a serial search
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    assert tp.tuner_id() == "tuner1" and tp.is_worker()
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert not tp.is_worker()
    assert tp.worker_ids(3) == ["tuner0", "tuner1", "tuner2"]


def test_trial_times_are_recorded_per_worker_and_overlap_is_judged(tmp_path):
    work = str(tmp_path)
    tp.record_trial(f"{tp.project_root(work)}/tuner0", "0", 10.0, 20.0)
    tp.record_trial(f"{tp.project_root(work)}/tuner0", "2", 20.0, 25.0)
    tp.record_trial(f"{tp.project_root(work)}/tuner1", "1", 30.0, 40.0)
    t0, t1 = tp.trial_times(work, "tuner0"), tp.trial_times(work, "tuner1")
    assert [t["trial_id"] for t in t0] == ["0", "2"] and len(t1) == 1
    assert tp.trial_times(work, "tuner9") == []
    spans = [{**t, "worker": "tuner0"} for t in t0] + [{**t, "worker": "tuner1"} for t in t1]
    assert not tp.overlapping(spans)  # one after another
    spans[-1].update(start=22.0)
    assert tp.overlapping(spans)
    # the same worker's trials back to back never count as parallel
    assert not tp.overlapping([{**t, "worker": "tuner0"} for t in t0] +
                              [{"trial_id": "x", "start": 12.0, "end": 13.0, "worker": "tuner0"}])


def test_a_failing_worker_stops_the_search_and_is_named(tmp_path, monkeypatch):
    """run_parallel with processes that fail at once (a spec no executor can read)."""
    real = subprocess.Popen

    def popen(args, **kw):
        role = args[-2]
        code = "import sys; print('boom in', sys.argv[1]); sys.exit(3)" if role == "worker" \
            else "import time; time.sleep(60)"
        return real([sys.executable, "-c", code, role], **kw)

    monkeypatch.setattr(tp.subprocess, "Popen", popen)
    monkeypatch.setattr(tp, "write_spec", lambda *a, **k: None)
    with pytest.raises(RuntimeError, match=r"(?s)tuning: tuner\d failed \(exit 3\).*boom in worker"):
        tp.run_parallel({}, {}, {}, str(tmp_path), 2, log=lambda *_: None, poll_s=0.05)
