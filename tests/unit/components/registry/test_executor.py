"""RegistryPusher's executor (components/registry/executor.py) on artifacts laid out as TFX
lays them out: the gates' verdict, the push, and the run properties it records."""
from tfxkit.components.registry.registry import Registry
from tests.unit.components.registry.test_registry import model


def test_executor_refuses_without_blessings(tmp_path):
    """The executor on artifacts laid out as TFX lays them out: no blessing inputs ->
    pushed 0 with the reason, nothing in the registry."""
    import os
    import shutil

    from tfx.types import standard_artifacts

    from tfxkit.components.registry.executor import Executor

    m = standard_artifacts.Model()
    m.uri = str(tmp_path / "model")
    shutil.copytree(model(tmp_path, "src"), os.path.join(m.uri, "Format-Serving"))
    out = standard_artifacts.PushedModel()
    out.uri = str(tmp_path / "pushed")
    ib = standard_artifacts.InfraBlessing()
    ib.set_int_custom_property("blessed", 1)
    mb = standard_artifacts.ModelBlessing()
    mb.set_int_custom_property("blessed", 0)
    props = {"registry": str(tmp_path / "models"), "keep_versions": 5}
    Executor().Do({"model": [m]}, {"pushed_model": [out]}, props)
    assert out.get_int_custom_property("pushed") == 0
    assert "no model blessing" in out.get_string_custom_property("push_reason")
    Executor().Do({"model": [m], "model_blessing": [mb], "infra_blessing": [ib]},
                  {"pushed_model": [out]}, props)
    assert out.get_int_custom_property("pushed") == 0
    assert "not blessed by the Evaluator" in out.get_string_custom_property("push_reason")
    assert not (tmp_path / "models").exists()
    mb.set_int_custom_property("blessed", 1)
    # the run's config hash and git commit arrive as execution properties (the factory's)
    Executor().Do({"model": [m], "model_blessing": [mb], "infra_blessing": [ib]},
                  {"pushed_model": [out]}, {**props, "config_hash": "cfg1", "git_commit": "c0"})
    assert out.get_int_custom_property("pushed") == 1
    v = out.get_string_custom_property("pushed_version")
    assert out.get_string_custom_property("pushed_destination") == str(tmp_path / "models" / v)
    rec = Registry(str(tmp_path / "models")).get(v)
    assert rec["config_hash"] == "cfg1" and rec["git_commit"] == "c0"
    assert rec["model_uri"] == m.uri


def test_a_policys_version_records_its_off_policy_estimates(tmp_path):
    """A bandit's blessing (the PolicyEvaluator's: ope.json, no TFMA evaluation): the
    version records the candidate's estimates with their intervals and the reward
    model's metrics, not the baseline's."""
    import json
    import os
    import shutil

    from tfx.types import standard_artifacts

    from tfxkit.components.registry.executor import Executor

    m = standard_artifacts.Model()
    m.uri = str(tmp_path / "model")
    shutil.copytree(model(tmp_path, "src"), os.path.join(m.uri, "Format-Serving"))
    out = standard_artifacts.PushedModel()
    out.uri = str(tmp_path / "pushed")
    ib = standard_artifacts.InfraBlessing()
    ib.set_int_custom_property("blessed", 1)
    mb = standard_artifacts.ModelBlessing()
    mb.uri = str(tmp_path / "blessing")
    mb.set_int_custom_property("blessed", 1)
    os.makedirs(mb.uri)
    dr = {"estimator": "dr", "value": 0.169, "lower": 0.125, "upper": 0.215, "n": 1884,
          "level": 0.9}
    with open(os.path.join(mb.uri, "ope.json"), "w") as f:
        json.dump({"n": 1884, "candidate": {"policy_value_dr": dr, "mse": 0.2, "auc": None},
                   "baseline": {"policy_value_dr": dict(dr, value=0.1)}}, f)
    Executor().Do({"model": [m], "model_blessing": [mb], "infra_blessing": [ib]},
                  {"pushed_model": [out]}, {"registry": str(tmp_path / "models")})
    rec = Registry(str(tmp_path / "models")).get(out.get_string_custom_property(
        "pushed_version"))
    assert rec["metrics"] == {"policy_value_dr": 0.169, "policy_value_dr_lower": 0.125,
                              "policy_value_dr_upper": 0.215, "mse": 0.2}
    assert json.loads(out.get_string_custom_property("metrics")) == rec["metrics"]


def test_executor_writes_the_model_card_into_the_pushed_version(tmp_path):
    """A push writes <version>/model_card/ (JSON and HTML) with the record's metrics, the
    card: section, the training data's rows and the inputs' MLMD ids; the PushedModel
    names the card; the version's content hash is the model's."""
    import json
    import os
    import shutil

    from tfx.types import standard_artifacts

    from tfxkit.components.registry.executor import Executor
    from tfxkit.components.registry.hashing import content_hash

    m = standard_artifacts.Model()
    m.uri = str(tmp_path / "model")
    m.id = 41
    shutil.copytree(model(tmp_path, "src"), os.path.join(m.uri, "Format-Serving"))
    ex = standard_artifacts.Examples()
    ex.uri, ex.id, ex.span = str(tmp_path / "ex"), 7, 3
    ex.set_int_custom_property("rows_train", 80)
    ex.set_int_custom_property("rows_eval", 20)
    ib, mb = standard_artifacts.InfraBlessing(), standard_artifacts.ModelBlessing()
    ib.set_int_custom_property("blessed", 1)
    mb.set_int_custom_property("blessed", 1)
    out = standard_artifacts.PushedModel()
    out.uri = str(tmp_path / "pushed")
    card = {"card": {"intended_use": "tests", "owners": ["me"]}}
    Executor().Do({"model": [m], "model_blessing": [mb], "infra_blessing": [ib],
                   "examples": [ex]}, {"pushed_model": [out]},
                  {"registry": str(tmp_path / "models"), "keep_versions": 5,
                   "model_name": "m", "card": json.dumps(card), "git_commit": "c0"})
    v = out.get_string_custom_property("pushed_version")
    folder = tmp_path / "models" / v
    assert out.get_string_custom_property("model_card") == str(
        folder / "model_card" / "model_card.html")
    doc = json.loads((folder / "model_card" / "model_card.json").read_text())
    assert doc["model"]["name"] == "m" and doc["model"]["version"] == v
    assert doc["model"]["git_commit"] == "c0"
    assert doc["considerations"]["intended_use"] == "tests"
    assert doc["data"]["spans"] == [3]
    assert doc["data"]["rows_per_split"] == {"train": 80, "eval": 20}
    assert doc["lineage"]["model"] == [41] and doc["lineage"]["examples"] == [7]
    assert "Model card: m version " + v in (folder / "model_card" / "model_card.html").read_text()
    rec = Registry(str(tmp_path / "models")).get(v)
    assert rec["model_card"] == "model_card/model_card.html"
    assert rec["sha256"] == content_hash(str(folder)) == content_hash(
        os.path.join(m.uri, "Format-Serving"))


def test_executor_puts_the_checked_tflite_model_into_the_version(tmp_path):
    """push.tflite: the .tflite the InfraValidator converted and checked (in its blessing's
    tflite/ folder) lands in <version>/tflite/, listed in the version's record (size,
    sha256, the check's max abs diff) and named on the PushedModel; the version's content
    hash is still the SavedModel's."""
    import os
    import shutil

    from tfx.types import standard_artifacts

    from tests.unit.components.tflite.test_files import write
    from tfxkit.components.registry.executor import Executor
    from tfxkit.components.registry.hashing import content_hash

    m = standard_artifacts.Model()
    m.uri = str(tmp_path / "model")
    shutil.copytree(model(tmp_path, "src"), os.path.join(m.uri, "Format-Serving"))
    ib, mb = standard_artifacts.InfraBlessing(), standard_artifacts.ModelBlessing()
    ib.uri = str(tmp_path / "blessing")
    doc = write(tmp_path / "blessing", content=b"TFL3 tiny")
    ib.set_int_custom_property("blessed", 1)
    mb.set_int_custom_property("blessed", 1)
    out = standard_artifacts.PushedModel()
    out.uri = str(tmp_path / "pushed")
    Executor().Do({"model": [m], "model_blessing": [mb], "infra_blessing": [ib]},
                  {"pushed_model": [out]},
                  {"registry": str(tmp_path / "models"), "keep_versions": 5})
    v = out.get_string_custom_property("pushed_version")
    folder = tmp_path / "models" / v
    assert (folder / "tflite" / "model.tflite").read_bytes() == b"TFL3 tiny"
    assert out.get_string_custom_property("tflite") == str(folder / "tflite" / "model.tflite")
    rec = Registry(str(tmp_path / "models")).get(v)
    assert rec["tflite"]["path"] == "tflite/model.tflite"
    assert rec["tflite"]["sha256"] == doc["sha256"] and rec["tflite"]["size_bytes"] == 9
    assert rec["tflite"]["max_abs_diff"] == 2e-7 and rec["tflite"]["rows"] == 70
    assert rec["sha256"] == content_hash(str(folder)) == content_hash(
        os.path.join(m.uri, "Format-Serving"))

    # an unblessed validation: nothing pushed, the .tflite with it
    ib.set_int_custom_property("blessed", 0)
    out2 = standard_artifacts.PushedModel()
    out2.uri = str(tmp_path / "pushed2")
    Executor().Do({"model": [m], "model_blessing": [mb], "infra_blessing": [ib]},
                  {"pushed_model": [out2]},
                  {"registry": str(tmp_path / "models"), "keep_versions": 5})
    assert out2.get_int_custom_property("pushed") == 0
    assert not out2.has_custom_property("tflite")
