"""The ``<name>-monitor`` DAG (``monitoring.schedule``) and the operator's ``tfxkit
monitor`` task, in the real Airflow 3.3 (.venv-airflow): a crossed threshold (exit 4)
fails the task without retries, or with ``monitoring.retrain_on_drift`` lets the
``retrain`` task after it run (and nothing crossed skips both)."""
import textwrap

import pytest

from tests.airflow_env import airflow_env, airflow_python, fake_tfxkit, require_airflow
from tests.integration.infra.airflow.test_dag_factory import (DAGBAG, OPERATOR, ROOT,
                                                              _result, configs)  # noqa: F401

pytestmark = pytest.mark.usefixtures("_airflow")


@pytest.fixture(scope="module")
def _airflow():
    require_airflow()


def test_a_monitor_dag_per_config_with_a_monitoring_schedule(configs, tmp_path):  # noqa: F811
    penguins = configs / "penguins.yaml"
    penguins.write_text(penguins.read_text()
                        + "\nmonitoring: {schedule: '@hourly', retrain_on_drift: true}\n")
    churn = configs / "churn.yaml"
    churn.write_text(churn.read_text() + "monitoring: {schedule: '30 * * * *'}\n")
    (configs / "twin.yaml").write_text(  # its DAG id is churn's monitor DAG
        churn.read_text().replace("name: churn", "name: churn-monitor")
        .replace("monitoring: {schedule: '30 * * * *'}\n", ""))
    out = _result(airflow_python(DAGBAG, airflow_env(tmp_path / "home", configs)))
    dags = out["dags"]
    assert sorted(dags) == ["churn", "churn-monitor", "penguin-species",
                            "penguin-species-monitor", "trip-eta"]
    mon = dags["penguin-species-monitor"]
    assert mon["schedule"] == "@hourly" and mon["catchup"] is False
    assert mon["max_active_runs"] == 1 and mon["tags"] == ["monitor", "tfxkit"]
    assert mon["tasks"]["monitor"]["argv"] == ["monitor", str(penguins)]
    assert mon["tasks"]["monitor"]["downstream"] == ["retrain"]
    assert mon["tasks"]["retrain"]["argv"] == ["run", str(penguins)]
    assert dags["churn-monitor"]["schedule"] == "30 * * * *"
    assert list(dags["churn-monitor"]["tasks"]) == ["monitor"]   # no retrain_on_drift
    assert list(dags["penguin-species"]["tasks"]) == ["train", "predict"]  # unchanged
    # the config whose name takes churn's monitor DAG id is rejected, naming both files
    [error] = out["import_errors"].values()
    assert (f"{configs / 'twin.yaml'}: name: 'churn-monitor' is already the DAG of "
            f"{churn}") in error


FAKE = textwrap.dedent("""\
    case=$(basename "$2" .yaml)
    case $case in
      drifted)
        echo "window 2026-12-01T01:00:00Z .. 2026-12-01T02:00:00Z: 200 rows"
        echo "  island   L-inf   0.8358  0.1000   0.8350  0.1000  SKEW DRIFT"
        echo "Threshold crossed: SKEW island 0.8358 > 0.1; DRIFT island 0.8350 > 0.1"
        exit 4;;
      broken)
        echo "monitor failed: the registry /x serves no model yet" >&2; exit 1;;
      *)
        echo "args: $*";;
    esac
    """)


def _run(tmp_path, cases):
    import json

    fake = fake_tfxkit(tmp_path / "tfxkit", FAKE)
    env = airflow_env(tmp_path / "home", tmp_path, TFXKIT_BIN=fake, CASES=json.dumps(cases),
                      PYTHONPATH=ROOT)
    return _result(airflow_python(OPERATOR, env))


def test_the_monitor_task(tmp_path):
    c = str(tmp_path / "{}.yaml")
    out = _run(tmp_path, {
        "drifted": {"config": c.format("drifted"), "command": "monitor"},
        "drifted_retrain": {"config": c.format("drifted"), "command": "monitor",
                            "on_crossed": "retrain"},
        "calm": {"config": c.format("calm"), "command": "monitor"},
        "calm_retrain": {"config": c.format("calm"), "command": "monitor",
                         "on_crossed": "retrain"},
        "broken": {"config": c.format("broken"), "command": "monitor"},
    })
    crossed = "Threshold crossed: SKEW island 0.8358 > 0.1; DRIFT island 0.8350 > 0.1"
    assert out["drifted"]["error"] == "TfxkitThresholdCrossed" and out["drifted"]["fail_fast"]
    assert out["drifted"]["message"] == f"tfxkit monitor {c.format('drifted')}: {crossed}"
    assert out["drifted_retrain"]["ok"] == {"command": "monitor", "config": c.format("drifted"),
                                            "returncode": 4, "crossed": True}
    assert out["calm"]["ok"]["crossed"] is False
    assert f"args: monitor {c.format('calm')}" in out["calm"]["log"]
    assert out["calm_retrain"]["error"] == "AirflowSkipException"
    assert "no threshold crossed" in out["calm_retrain"]["message"]
    assert out["broken"]["error"] == "TfxkitRunFailed" and not out["broken"]["fail_fast"]
    assert "the registry /x serves no model yet" in out["broken"]["message"]
