"""Continuous training from Airflow, for real: Airflow 3.3 (.venv-airflow, its own
Python 3.11, no TFX) loads the tfxkit DAGs from infra/airflow/dags and `airflow dags test`
runs the multiclass template's DAG: a real local `tfxkit run` in the TFX environment, then
`tfxkit predict`. A second DAG run with no new data runs no training (nothing changed)."""
import json
import shutil
import sqlite3

import pytest

from tests.airflow_env import airflow, airflow_env, require_airflow
from tests.conftest import TEMPLATES
from tests.e2e.helpers import (BIN, artifacts_of_type, node_states, registry_versions, runs,
                               store)

pytestmark = pytest.mark.e2e

DAG_ID = "penguin-species"


def _dag_test(env):
    r = airflow("dags", "test", DAG_ID, env=env, timeout=1200)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    assert f"DagRun Finished: dag_id={DAG_ID}" in out and "state=success" in out
    return out


def _task_states(env, run_id):
    r = airflow("tasks", "states-for-dag-run", DAG_ID, run_id, "-o", "json", env=env,
                timeout=300)
    assert r.returncode == 0
    return {t["task_id"]: t["state"] for t in json.loads(r.stdout[r.stdout.index("["):])}


def _training_runs(s):
    """The training pipeline's runs (the batch-inference pipeline shares the MLMD)."""
    return [r for r in runs(s, DAG_ID) if "Pusher" in node_states(s, DAG_ID, r)]


def test_airflow_dag_trains_pushes_then_pushes_nothing_new(tmp_path):
    require_airflow()
    configs = tmp_path / "configs"
    case = configs / "multiclass"  # a use-case folder, as `tfxkit new` makes it
    shutil.copytree(TEMPLATES / "multiclass", case,
                    ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
    env = airflow_env(tmp_path / "airflow-home", configs, TFXKIT_BIN=BIN)
    assert airflow("db", "migrate", env=env, timeout=300).returncode == 0

    # First run: the whole pipeline runs, the model is blessed and pushed, then predictions.
    out = _dag_test(env)
    assert "Running: " + f"{BIN} run {case / 'config.yaml'}" in out
    assert "Pushed version" in out  # tfxkit's own summary, streamed into the task log
    versions = registry_versions(case / "models")
    assert len(versions) == 1
    s = store(case / ".tfxkit" / "metadata.sqlite")
    [run1] = _training_runs(s)
    states = node_states(s, DAG_ID, run1)
    assert states["Trainer"] == "COMPLETE" and states["Pusher"] == "COMPLETE", states
    [pushed] = artifacts_of_type(s, "PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 1
    assert pushed.custom_properties["pushed_destination"].string_value == \
        str(case / "models" / versions[0])
    with sqlite3.connect(case / ".tfxkit" / "predictions.sqlite") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master")]
    assert tables, "batch inference wrote no predictions"

    # Second run, no new data: train sees that nothing changed and runs nothing (no
    # training run, nothing pushed); predictions run again.
    out = _dag_test(env)
    assert f"Nothing changed since run {run1.name}" in out and "nothing ran" in out
    assert registry_versions(case / "models") == versions
    s = store(case / ".tfxkit" / "metadata.sqlite")
    assert [r.name for r in _training_runs(s)] == [run1.name]
    assert len(artifacts_of_type(s, "PushedModel")) == 1

    # Airflow's own record: two successful DAG runs, each with train and predict done.
    r = airflow("dags", "list-runs", DAG_ID, "-o", "json", env=env, timeout=300)
    dag_runs = json.loads(r.stdout[r.stdout.index("["):])
    assert [d["state"] for d in dag_runs] == ["success", "success"]
    for d in dag_runs:
        assert _task_states(env, d["run_id"]) == {"train": "success", "predict": "success"}
