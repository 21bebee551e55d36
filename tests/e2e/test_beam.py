"""The multiclass template end to end on Beam's DirectRunner with 2 worker processes
(the template's ``parallel`` profile): it succeeds, pushes, and no Beam component
rebuilt TFX as an sdist."""
import os
import subprocess

import pytest

from tests.e2e.helpers import (BIN, artifacts_of_type, node_states, registry_versions, runs,
                               store)

pytestmark = pytest.mark.e2e

COMPONENTS = {"ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "ValidationGate",
              "Transform", "Trainer", "Evaluator", "Pusher"}


def test_direct_runner_with_two_worker_processes(template_copy):
    case = template_copy("multiclass")
    r = subprocess.run([str(BIN), "run", str(case / "config.yaml"), "--profile", "parallel",
                        "-v"], capture_output=True, text=True, timeout=1200)
    print(r.stdout[-3000:])
    print(r.stderr[-3000:])
    assert r.returncode == 0, r.stderr[-3000:]
    assert "BLESSED" in r.stdout and "Pushed version" in r.stdout

    # Beam ran with 2 worker processes (the FnApiRunner's subprocess workers log through
    # the local job service), and TFX never fell back to building its sdist.
    assert "direct_running_mode" in r.stderr or "local_job_service" in r.stderr
    assert "Attempting to infer TFX Python dependency" not in r.stderr
    assert "Creating temporary sdist package" not in r.stderr

    s = store(case / ".tfxkit" / "metadata.sqlite")
    [run] = runs(s, "penguin-species")
    states = node_states(s, "penguin-species", run)
    assert COMPONENTS <= set(states), states
    assert all(states[c] == "COMPLETE" for c in COMPONENTS), states
    [pushed] = artifacts_of_type(s, "PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 1
    [version] = registry_versions(case / "models")
    assert os.path.isfile(case / "models" / version / "saved_model.pb")
