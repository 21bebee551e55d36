"""The pipeline factory: config -> tfx Pipeline, without running it."""
import json
from pathlib import Path

import pytest

from tfxkit.pipelines import component_ids, factory, training_stage
from tfxkit.pipelines.config import load_config

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


@pytest.fixture(scope="module")
def cfg():
    return load_config(TEMPLATES / "multiclass" / "config.yaml")


def test_pipeline_components_in_order(cfg, tmp_path):
    cfg = cfg.model_copy(update={"root": str(tmp_path / "root"),
                                 "metadata": cfg.metadata.model_copy(
                                     update={"sqlite": str(tmp_path / "m.sqlite")})})
    p = factory.create_pipeline(cfg)
    ids = [c.id for c in p.components]
    assert ids[:8] == ["ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
                       "ValidationGate", "Transform", "Trainer", "BaselineResolver"]
    assert sorted(ids[8:10]) == ["Evaluator", "InfraValidator"] and ids[10] == "Pusher"
    assert p.enable_cache and p.beam_pipeline_args == []
    comps = {c.id: c for c in p.components}
    # no order between the two: the local runner runs InfraValidator beside the Evaluator
    assert "Evaluator" not in [u.id for u in comps["InfraValidator"].upstream_nodes]
    assert type(comps["InfraValidator"]).RUNS_BESIDE is True
    assert comps["Transform"].exec_properties["preprocessing_fn"] == training_stage.TRANSFORM_FN
    assert comps["Trainer"].exec_properties["run_fn"] == training_stage.RUN_FN
    assert "ValidationGate" in [u.id for u in comps["Transform"].upstream_nodes]
    # The pusher needs both blessings (tfxkit's RegistryPusher, not the stock Pusher).
    assert type(comps["Pusher"]).__name__ == "RegistryPusher"
    assert {"model_blessing", "infra_blessing"} <= set(comps["Pusher"].inputs)
    assert comps["Pusher"].exec_properties["registry"] == cfg.registry_path
    assert comps["Pusher"].exec_properties["keep_versions"] == 5
    iv = comps["InfraValidator"].exec_properties
    assert (iv["num_examples"], iv["max_latency_ms"], iv["split"]) == (100, 200.0, "eval")
    assert comps["SchemaGen"].exec_properties["infer_feature_shape"] in (False, 0)


def test_pusher_records_the_run_properties_as_execution_properties(cfg, tmp_path):
    """The config hash and git commit reach the RegistryPusher as execution properties
    (no environment variable: they work wherever the executor runs). They are part of the
    cache key, so they are the same for the same config and commit (a second identical run
    stays cached) and the factory runs no git: the commit comes from the caller."""
    from tfx.dsl.compiler import compiler

    from tfxkit.infra.run.properties import run_properties

    cfg = cfg.model_copy(update={"root": str(tmp_path / "root")})

    def pusher(**kw):
        [p] = [c for c in factory.create_components(cfg, **kw) if c.id == component_ids.PUSHER]
        return p.exec_properties

    props = run_properties(cfg)
    got = pusher(run_properties=props)
    assert got["config_hash"] == props["config_fingerprint"] == cfg.fingerprint()
    assert got["git_commit"] == props["git_commit"] and got["git_commit"]
    assert pusher(run_properties=dict(props)) == got
    assert pusher(run_properties={"config_fingerprint": "h1", "git_commit": "c1"})[
        "git_commit"] == "c1"
    # without the run's properties: the config's own hash, and no commit known
    bare = pusher()
    assert (bare["config_hash"], bare["git_commit"]) == (cfg.fingerprint(), "unknown")
    # compiled into the IR as the node's parameters (what TFX's cache key hashes)
    ir = compiler.Compiler().compile(factory.create_pipeline(
        cfg.model_copy(update={"metadata": cfg.metadata.model_copy(
            update={"sqlite": str(tmp_path / "m.sqlite")})}),
        run_properties={"config_fingerprint": "h1", "git_commit": "c1"}))
    [node] = [n.pipeline_node for n in ir.nodes
              if n.pipeline_node.node_info.id == component_ids.PUSHER]
    params = node.parameters.parameters
    assert params["git_commit"].field_value.string_value == "c1"
    assert params["config_hash"].field_value.string_value == "h1"


def test_eval_config(cfg):
    from tfxkit.pipelines.metrics import eval_config_from

    ec = eval_config_from(cfg)
    spec = ec.model_specs[0]
    assert spec.label_key == "species_xf" and spec.prediction_key == "probabilities"
    assert list(spec.preprocessing_function_names) == ["transform_features"]
    assert [list(s.feature_keys) for s in ec.slicing_specs] == [[], ["island"]]
    acc = [m for m in ec.metrics_specs[0].metrics if m.class_name == "SparseCategoricalAccuracy"][0]
    assert acc.threshold.value_threshold.lower_bound.value == 0.8
    assert acc.threshold.change_threshold.absolute.value == -0.05


def test_a_bandit_is_gated_off_policy_on_the_windows_eval_split(tmp_path):
    """task: bandit: the PolicyEvaluator under the id Evaluator (the summary, the report and
    the baseline resolver find its blessing there), on the raw logged examples of the
    training window, against the resolved baseline, with the config's bandit section,
    thresholds and bootstrap; the pusher takes its blessing and no TFMA evaluation."""
    cfg = load_config(TEMPLATES / "bandit" / "config.yaml", profile="weekly")
    comps = {c.id: c for c in factory.create_components(cfg)}
    ev = comps["Evaluator"]
    assert type(ev).__name__ == "PolicyEvaluator"
    assert ev.inputs["examples"] is comps["SpanWindow"].outputs["examples"]
    assert ev.inputs["baseline_model"] is comps["BaselineResolver"].outputs["model"]
    props = ev.exec_properties
    assert props["label"] == "reward"
    assert json.loads(props["bandit"])["actions"] == cfg.bandit.actions
    assert json.loads(props["bootstrap"]) == {"resamples": 300, "level": 0.9, "seed": 0}
    assert [t["name"] for t in json.loads(props["thresholds"])] == ["policy_value_dr", "mse"]
    assert comps["Pusher"].inputs["model_blessing"] is ev.outputs["blessing"]
    assert "evaluation" not in comps["Pusher"].inputs


def test_hyperparameters_reach_the_trainer_through_hyperparametersgen(tmp_path):
    """``hyperparameters:``: HyperparametersGen before the Trainer, its values and search as
    execution properties (the cache key), its output the Trainer's ``hyperparameters``."""
    cfg = load_config(TEMPLATES / "multiclass" / "config.yaml", overrides=[
        "hyperparameters={values: {learning_rate: 0.02}, search: {space: {epochs: [5, 9]}}}"])
    comps = factory.create_components(cfg)
    ids = [c.id for c in comps]
    assert ids.index("Transform") < ids.index("HyperparametersGen") < ids.index("Trainer")
    by_id = {c.id: c for c in comps}
    gen = by_id["HyperparametersGen"]
    assert json.loads(gen.exec_properties["values"]) == {"learning_rate": 0.02}
    assert json.loads(gen.exec_properties["search"])["space"] == {"epochs": [5, 9]}
    assert by_id["Trainer"].inputs["hyperparameters"] is gen.outputs["hyperparameters"]
    assert "HyperparametersGen" not in [c.id for c in factory.create_components(
        load_config(TEMPLATES / "multiclass" / "config.yaml"))]


def test_pusher_gets_the_statistics_and_the_card_section(cfg, tmp_path):
    """The model card's inputs: the StatisticsGen's statistics channel and the ``card``
    execution property (the ``card:`` section, ``eval.fairness`` when configured)."""
    from tfxkit.pipelines.config.card import Card

    def pusher(c):
        comps = {x.id: x for x in factory.create_components(c)}
        return comps, comps[component_ids.PUSHER]

    cfg = cfg.model_copy(update={"root": str(tmp_path / "root")})
    comps, p = pusher(cfg)
    assert p.inputs["statistics"].producer_component_id == component_ids.STATISTICS_GEN
    assert p.inputs["statistics"].type_name == "ExampleStatistics"
    assert json.loads(p.exec_properties["card"]) == {"card": {}}
    with_card = cfg.model_copy(update={"card": Card(owners=["ml-team"],
                                                    limitations="penguins only")})
    doc = json.loads(pusher(with_card)[1].exec_properties["card"])
    assert doc["card"]["owners"] == ["ml-team"] and doc["card"]["limitations"] == (
        "penguins only")
