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
