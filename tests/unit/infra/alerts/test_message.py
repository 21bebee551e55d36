"""What an alert says (infra/alerts/message.py): title, body, JSON fields, severity."""
import pytest

from tfxkit.infra.alerts.message import build


def test_an_alert_names_its_use_case_run_and_version():
    a = build("not_blessed", "model not blessed", "accuracy 0.41 < 0.99",
              {"metrics": {"accuracy": 0.41}, "node": "Evaluator"}, use_case="penguin",
              run_id="run-7", model_version=17)
    assert a.full_title() == "[tfxkit penguin] not_blessed: model not blessed"
    assert a.body().splitlines() == ["accuracy 0.41 < 0.99", "use case: penguin",
                                     "run: run-7", "model version: 17",
                                     'metrics: {"accuracy": 0.41}', "node: Evaluator"]
    assert a.fields() == {"kind": "not_blessed", "use_case": "penguin", "run_id": "run-7",
                          "model_version": "17",
                          "details": {"metrics": {"accuracy": 0.41}, "node": "Evaluator"}}
    assert a.severity == "warning"
    assert build("failed_run", "t", "m").severity == "failure"


def test_facts_not_known_are_left_out_and_details_become_json():
    class Odd:
        def __str__(self):
            return "odd"

    a = build("drift", "drift on 2 features", "m", {"x": Odd(), "t": (1, 2)})
    assert a.full_title() == "[tfxkit] drift: drift on 2 features"
    assert a.body().splitlines() == ["m", "x: odd", "t: [1, 2]"]
    assert a.fields()["details"] == {"x": "odd", "t": [1, 2]}
    assert a.fields()["use_case"] is None


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown alert kind 'oops'.*failed_run"):
        build("oops", "t", "m")
