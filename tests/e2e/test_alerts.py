"""Alerts from a real ``tfxkit run`` (infra/run/outcome.py ``run_alert``): a copy of the
trained multiclass case re-evaluated from the Evaluator against a gate no model can pass
exits 3, and a local HTTP receiver gets the ``not_blessed`` alert; a copy of the run that
fails in ValidationGate, run again, exits 1 and the receiver gets ``failed_run``."""
import json

from tests.e2e.helpers import tfxkit
from tests.integration.infra.alerts.test_send import Receiver


def test_a_run_not_blessed_fires_not_blessed(trained_multiclass, copy_case):
    case = copy_case(trained_multiclass.case)
    r = Receiver()
    try:
        alerts = json.dumps({"timeout_s": 5, "targets": [
            {"webhook": f"{r.url}/tfxkit?token=e2e-secret", "on": ["not_blessed"]},
            {"webhook": f"{r.url}/never", "on": ["failed_run"]}]})
        run = tfxkit("run", case / "config.yaml", "--from", "Evaluator", "--no-report",
                     "--set", "eval.metrics=[{name: accuracy, lower_bound: 1.5}]",
                     "--set", f"alerts={alerts}")
    finally:
        r.close()
    assert run.returncode == 3, run.stderr[-3000:]
    assert [p for _, p, _, _ in r.requests] == ["/tfxkit?token=e2e-secret"]
    doc = json.loads(r.requests[0][3])
    assert doc["kind"] == "not_blessed" and doc["type"] == "warning"
    assert doc["title"] == "[tfxkit penguin-species] not_blessed: model not blessed"
    assert doc["use_case"] == "penguin-species" and doc["run_id"]
    assert doc["run_id"] in run.stdout  # "Run <run id>: ..."
    [(name, missed)] = doc["details"]["failed_metrics"].items()  # (sparse_categorical_)accuracy
    assert name.endswith("accuracy") and missed["threshold"] == ">= 1.5", missed
    assert missed["value"] < 1.5
    assert doc["details"]["exit_status"] == 3
    assert "e2e-secret" not in run.stdout + run.stderr


def test_a_failed_run_fires_failed_run(failed_validation, copy_case):
    # the shared run whose data violates its curated schema, run again (--force) in a copy
    case = copy_case(failed_validation.case)
    r = Receiver()
    try:
        alerts = json.dumps({"targets": [{"webhook": f"{r.url}/hook"}]})
        run = tfxkit("run", case / "config.yaml", "--force", "--no-report",
                     "--set", "validation.schema=schema.pbtxt", "--set", f"alerts={alerts}")
    finally:
        r.close()
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Run failed in ValidationGate" in run.stderr
    [(_, path, _, body)] = r.requests
    doc = json.loads(body)
    assert doc["kind"] == "failed_run" and doc["type"] == "failure"
    assert doc["title"] == "[tfxkit penguin-species] failed_run: run failed in ValidationGate"
    assert doc["details"] == {"component": "ValidationGate", "exit_status": 1}
    assert "island" in doc["message"] and doc["run_id"]
