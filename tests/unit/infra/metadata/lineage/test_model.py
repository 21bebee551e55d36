"""The lineage's dataclasses (infra/metadata/lineage/model.py)."""
import json

from tfxkit.infra.metadata.lineage.model import Lineage, Step


def test_steps_by_component_and_a_json_ready_dict():
    lin = Lineage("p", "7", "/m/7", "run-1", "h", "c0ffee",
                  steps=[Step("ExampleGen", 1), Step("ExampleGen", 2), Step("Trainer", 3)],
                  artifacts={5: {"type": "Model", "uri": "/m", "properties": {}}})
    assert lin.step("ExampleGen").execution_id == 1 and lin.step("Pusher") is None
    assert [s.execution_id for s in lin.steps_of("ExampleGen")] == [1, 2]
    d = lin.to_dict()
    assert list(d["artifacts"]) == ["5"] and d["steps"][2]["component"] == "Trainer"
    assert json.loads(json.dumps(d)) == d
