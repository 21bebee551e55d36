"""components/serving_check/executor.py: the InfraValidator's executor on real artifacts
(a tiny SavedModel as the Trainer exports it, tf.Examples as ExampleGen writes them): the
verdict, the blessing file and the report it writes, and a refusal without eval examples."""
import json
import os

from tfx.types import Channel, standard_artifacts

from tfxkit.components.serving_check.component import InfraValidator
from tfxkit.components.serving_check.executor import Executor
from tests.unit.components import tiny


def _run(tmp_path, examples, **settings):
    comp = InfraValidator(model=Channel(type=standard_artifacts.Model),
                          examples=Channel(type=standard_artifacts.Examples), **settings)
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = str(tmp_path / "blessing")
    model = tiny.doubling_model(str(tmp_path / "model"))
    Executor().Do({"model": [model], "examples": [examples]}, {"blessing": [blessing]},
                  tiny.exec_properties(comp))
    return blessing


def test_a_model_that_serves_is_blessed(tmp_path):
    rows = [(f"k{i}", i / 4) for i in range(12)]
    examples = tiny.examples_artifact(str(tmp_path / "examples"), rows, ("train", "eval"))
    blessing = _run(tmp_path, examples, num_examples=8, requests=6, max_latency_ms=10000)
    assert blessing.get_int_custom_property("blessed") == 1, \
        blessing.get_string_custom_property("reason")
    assert blessing.get_int_custom_property("examples") == 8
    assert blessing.get_int_custom_property("requests") == 6
    assert blessing.get_float_custom_property("latency_p99_ms") > 0
    assert sorted(os.listdir(blessing.uri)) == ["INFRA_BLESSED", "report.json"]
    with open(os.path.join(blessing.uri, "report.json")) as f:
        report = json.load(f)
    assert report["blessed"] and report["examples"] == 8
    shape = report["signatures"]["serving_default"]["outputs"]["double"]["shape"]
    assert shape == [8, 1]


def test_no_examples_in_the_split_is_a_refusal(tmp_path):
    examples = tiny.examples_artifact(str(tmp_path / "examples"), [("k0", 1.0)], ("train",))
    blessing = _run(tmp_path, examples, split="eval", num_examples=5, max_latency_ms=10000)
    assert blessing.get_int_custom_property("blessed") == 0
    reason = blessing.get_string_custom_property("reason")
    assert reason.startswith("no eval examples to validate with"), reason
    with open(os.path.join(blessing.uri, "INFRA_NOT_BLESSED")) as f:
        assert f.read() == reason
    assert not os.path.exists(os.path.join(blessing.uri, "INFRA_BLESSED"))
