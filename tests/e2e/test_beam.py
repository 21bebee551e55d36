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


def test_auto_mode_resolves_to_worker_processes_for_training_and_batch_inference(
        template_copy):
    """``beam.mode: auto`` (the default) over a threshold below the data's size: the
    regression template trains (ArrowExampleGen, StatisticsGen, Transform, Evaluator) and
    scores its inference data (BatchInferrer) on 2 Beam worker processes, and both
    commands say which mode was chosen and why."""
    import re

    from tests.e2e.helpers import tfxkit

    case = template_copy("regression")
    cfg = case / "config.yaml"
    sets = ["--set", "beam.auto_min_mb=0.004", "--set", "beam.auto_min_cores=2",
            "--set", "beam.workers=2",
            "--set", "model.epochs=10", "--set", "model.early_stopping=null"]
    r = tfxkit("run", cfg, *sets, "-v", timeout=1200)
    assert r.returncode == 0, r.stderr[-3000:]
    chosen = re.compile(r"beam: direct runner, multi_processing, 2 workers \(auto: "
                        r"[\d.]+ MB of data >= 0.004 MB")
    assert chosen.search(r.stdout), r.stdout[:2000]
    assert "direct_running_mode" in r.stderr or "local_job_service" in r.stderr
    assert "Creating temporary sdist package" not in r.stderr
    s = store(case / ".tfxkit" / "metadata.sqlite")
    [run] = runs(s, "trip-eta")
    states = node_states(s, "trip-eta", run)
    assert all(states[c] == "COMPLETE" for c in
               ("ExampleGen", "StatisticsGen", "Transform", "Trainer", "Evaluator",
                "Pusher")), states

    p = tfxkit("predict", cfg, *sets, "-v", timeout=1200)
    assert p.returncode == 0, p.stderr[-3000:]
    assert chosen.search(p.stdout), p.stdout[:2000]
    rows = sum(1 for _ in open(case / "data" / "inference" / "trips.csv")) - 1
    assert f"{rows} predictions" in p.stdout, p.stdout[-2000:]
