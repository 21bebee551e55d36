"""The training stage (``training_stage.py``): the Transform's and Trainer's custom_config
(and so their cache keys) and what a remote run is given."""
import pytest

from tfxkit.pipelines import training_stage
from tfxkit.pipelines.config import load_config
from tests.unit.pipelines.test_factory import TEMPLATES, cfg  # noqa: F401 - the fixture


def test_custom_config_tracks_user_modules(cfg, tmp_path):
    mod = tmp_path / "preprocessing.py"
    mod.write_text("def preprocessing_fn(inputs): return inputs\n")
    c = cfg.model_copy(update={"features": cfg.features.model_copy(update={"module": str(mod)})})
    first = training_stage.transform_custom_config(c)
    mod.write_text("def preprocessing_fn(inputs): return dict(inputs)\n")
    assert training_stage.transform_custom_config(c)["code"] != first["code"]
    assert training_stage.transform_custom_config(c)["features"]["module"] == str(mod)


def test_trainer_config_names_the_keras_it_builds_with(cfg, tmp_path):
    """model.keras auto is resolved before the run: the Trainer's custom_config (and so its
    cache key) says 3 on TFX 1.21 and 2 on TFX 1.16; an explicit choice stays."""
    from tfxkit.pipelines import compat

    auto = training_stage.trainer_custom_config(cfg)["model"]["keras"]
    assert auto == (3 if compat.tfx_release() >= (1, 21) else 2)
    for v in (2, 3):
        c = cfg.model_copy(update={"model": cfg.model.model_copy(update={"keras": v})})
        assert training_stage.trainer_custom_config(c)["model"]["keras"] == v
    bad = tmp_path / "config.yaml"
    bad.write_text((TEMPLATES / "multiclass" / "config.yaml").read_text().replace(
        "  kind: dnn", "  keras: 4\n  kind: dnn"))
    with pytest.raises(Exception, match=r"model\.keras"):
        load_config(bad)


def test_a_remote_run_reads_the_user_module_inside_the_image(cfg, tmp_path):
    """For vertex / kubeflow the module path is where the image holds the use-case folder
    (deploy.workdir); its code marker is still the local file's content hash."""
    from tfxkit.pipelines.config.deploy import Deploy

    mod = tmp_path / "src" / "preprocessing.py"
    mod.parent.mkdir()
    mod.write_text("def preprocessing_fn(inputs): return inputs\n")
    c = cfg.model_copy(update={"config_path": str(tmp_path / "config.yaml"),
                               "features": cfg.features.model_copy(update={"module": str(mod)}),
                               "deploy": Deploy(workdir="/srv/case")})
    local = training_stage.transform_custom_config(c)
    remote = training_stage.transform_custom_config(c, target="vertex")
    assert local["features"]["module"] == str(mod)
    assert remote["features"]["module"] == "/srv/case/src/preprocessing.py"
    assert remote["code"] == local["code"] and remote["code"]["preprocessing.py"]
    assert training_stage.image_path(c.model_copy(update={"deploy": None}), str(mod)) == \
        "/pipeline/src/preprocessing.py"
    # without a user module: no module path, only tfxkit's version in the marker
    bare = training_stage.transform_custom_config(cfg, target="vertex")
    assert "module" not in bare["features"] or bare["features"]["module"] is None
    assert set(bare["code"]) == {"tfxkit"}
    assert (bare["task"], bare["label"]) == ("multiclass", "species")


def test_runtime_parameters_default_to_the_configs_values(cfg):
    c = cfg.model_copy(update={"model": cfg.model.model_copy(
        update={"epochs": 7, "steps": None, "learning_rate": 0.5})})
    params = training_stage.runtime_parameters(c)
    assert sorted(params) == ["epochs", "learning_rate", "train_steps"]
    assert (params["epochs"].default, params["epochs"].ptype) == (7, int)
    assert params["train_steps"].default == 0  # 0: train `epochs` full epochs
    assert (params["learning_rate"].default, params["learning_rate"].ptype) == (0.5, float)
    c = c.model_copy(update={"model": c.model.model_copy(update={"steps": 120})})
    assert training_stage.runtime_parameters(c)["train_steps"].default == 120


def test_a_bandit_section_reaches_the_transform_and_the_trainer(cfg):
    """Task bandit: the preprocessing_fn and run_fn read the bandit section (its JSON form)
    from their custom_config; other tasks have none there."""
    assert "bandit" not in training_stage.trainer_custom_config(cfg)

    class Bandit:
        def model_dump(self, mode=None):
            assert mode == "json"
            return {"action": "recommender", "actions": ["r01", "r02"]}

    c = cfg.model_copy(update={"bandit": Bandit()})
    for custom_config in (training_stage.transform_custom_config(c),
                          training_stage.trainer_custom_config(c)):
        assert custom_config["bandit"] == {"action": "recommender", "actions": ["r01", "r02"]}


@pytest.mark.parametrize("setting, module, tf1", [
    ("auto", None, 1), ("auto", "preprocessing.py", 0), (False, None, 0),
    (True, "preprocessing.py", 1)])
def test_transform_traces_tfxkits_own_preprocessing_in_tf1_and_a_module_in_tf2(
        cfg, tmp_path, setting, module, tf1):
    """features.tf_compat_v1: auto is TF1 graph mode (TFX's force_tf_compat_v1) for the
    config-driven preprocessing only; an explicit value wins."""
    from tfxkit.pipelines import factory

    update = {"tf_compat_v1": setting}
    if module:
        (tmp_path / module).write_text("def preprocessing_fn(inputs): return dict(inputs)\n")
        update["module"] = str(tmp_path / module)
    c = cfg.model_copy(update={
        "root": str(tmp_path / "root"),
        "metadata": cfg.metadata.model_copy(update={"sqlite": str(tmp_path / "m.sqlite")}),
        "features": cfg.features.model_copy(update=update)})
    transform = next(x for x in factory.create_pipeline(c).components if x.id == "Transform")
    assert transform.exec_properties["force_tf_compat_v1"] == tf1


def test_tf_compat_v1_takes_auto_or_a_boolean(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text((TEMPLATES / "multiclass" / "config.yaml").read_text().replace(
        "features:\n", "features:\n  tf_compat_v1: sometimes\n", 1))
    with pytest.raises(Exception, match=r"features\.tf_compat_v1"):
        load_config(bad)


def test_model_tune_puts_the_tuner_before_the_trainer(cfg):
    from tfxkit.pipelines.component_ids import TUNER
    from tfxkit.pipelines.config.tune import Tune
    from tfxkit.pipelines.data_stage import data_nodes

    tune = Tune.model_validate({"space": {"learning_rate": [0.001, 0.03]}, "trials": 2,
                                "objective": "accuracy"})
    cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"tune": tune})})
    tc = training_stage.tuner_custom_config(cfg)
    # the Trainer's own settings stay out: a change of them leaves the Tuner cached
    assert not {"epochs", "steps", "early_stopping", "tune"} & set(tc["model"])
    assert tc["model"]["learning_rate"] == cfg.model.learning_rate
    assert tc["tune"]["space"] == {"learning_rate": [0.001, 0.03]}
    longer = cfg.model_copy(update={"model": cfg.model.model_copy(update={"epochs": 99})})
    assert training_stage.tuner_custom_config(longer) == tc
    assert training_stage.trainer_custom_config(longer) != training_stage.trainer_custom_config(cfg)

    nodes = training_stage.training_nodes(cfg, data_nodes(cfg))
    assert nodes.tuner.id == TUNER
    assert [n.id for n in nodes.nodes()].index(TUNER) < [n.id for n in nodes.nodes()].index(
        nodes.trainer.id)
    assert nodes.trainer.inputs["hyperparameters"] is nodes.tuner.outputs["best_hyperparameters"]
    assert nodes.tuner.exec_properties["tuner_fn"] == training_stage.TUNER_FN
    from tfxkit.pipelines.tuner_executor import Executor

    assert nodes.tuner.executor_spec.executor_class is Executor


def _pipeline_components(cfg, tmp_path, **model):
    from tfxkit.pipelines import factory

    c = cfg.model_copy(update={
        "root": str(tmp_path / "root"),
        "metadata": cfg.metadata.model_copy(update={"sqlite": str(tmp_path / "m.sqlite")}),
        "model": cfg.model.model_copy(update=model)})
    return {x.id: x for x in factory.create_pipeline(c).components}


def test_warm_start_feeds_the_latest_blessed_model_to_the_trainer(cfg, tmp_path):
    """model.warm_start: latest_blessed adds a LatestBlessedModelStrategy resolver before
    the Trainer, whose model output is the Trainer's base_model; none adds nothing."""
    from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
        LatestBlessedModelStrategy)

    from tfxkit.pipelines.component_ids import WARM_START_RESOLVER

    comps = _pipeline_components(cfg, tmp_path, warm_start="latest_blessed")
    resolver, trainer = comps[WARM_START_RESOLVER], comps["Trainer"]
    assert resolver.exec_properties["resolver_class"] is LatestBlessedModelStrategy
    assert trainer.inputs["base_model"].producer_component_id == WARM_START_RESOLVER
    ids = list(comps)
    assert ids.index(WARM_START_RESOLVER) < ids.index("Trainer")

    cold = _pipeline_components(cfg, tmp_path, warm_start="none")
    assert WARM_START_RESOLVER not in cold
    assert "base_model" not in cold["Trainer"].inputs


def test_the_remote_trainer_takes_the_base_model(cfg):
    from tfxkit.pipelines import data_stage

    c = cfg.model_copy(update={"model": cfg.model.model_copy(
        update={"warm_start": "latest_blessed"})})
    nodes = training_stage.training_nodes(c, data_stage.data_nodes(c, "vertex"), "vertex")
    assert nodes.warm_start is not None and nodes.warm_start in nodes.nodes()
    assert nodes.trainer.inputs["base_model"].producer_component_id == nodes.warm_start.id


def test_the_trainer_is_told_the_registry_only_with_warm_start(cfg):
    on = cfg.model_copy(update={"model": cfg.model.model_copy(
        update={"warm_start": "latest_blessed"})})
    assert training_stage.trainer_custom_config(on)["model"]["registry"] == on.registry_path
    assert "registry" not in training_stage.trainer_custom_config(cfg)["model"]


def test_push_tflite_asks_the_trainer_for_its_signature(cfg):
    """push.tflite reaches the Trainer (run_fn exports serving_raw or serving_transformed),
    with the raw features the config's transform reads; off, the Trainer's custom_config
    (its cache key) is what it was without TFLite; a change of the validator's tolerance
    or select_tf_ops leaves it alone."""
    import json

    from tfxkit.pipelines.factory import tflite_property

    assert "tflite" not in training_stage.trainer_custom_config(cfg)
    assert tflite_property(cfg) is None
    on = load_config(TEMPLATES / "multiclass" / "config.yaml", overrides=["push.tflite=true"])
    assert training_stage.trainer_custom_config(on)["tflite"] == {
        "transform": "include",
        "features": sorted(["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                            "body_mass_g", "island", "sex", "year"])}
    assert json.loads(tflite_property(on)) == {"transform": "include", "select_tf_ops": False,
                                               "tolerance": 1e-4}
    looser = load_config(TEMPLATES / "multiclass" / "config.yaml", overrides=[
        "push.tflite={tolerance: 0.01, select_tf_ops: true}"])
    assert training_stage.trainer_custom_config(looser) == training_stage.trainer_custom_config(on)
    assert tflite_property(looser) != tflite_property(on)
    sep = load_config(TEMPLATES / "multiclass" / "config.yaml",
                      overrides=["push.tflite.transform=separate"])
    assert training_stage.trainer_custom_config(sep)["tflite"]["transform"] == "separate"


def _transform_of(c, tmp_path, target=None):
    from tfxkit.pipelines import factory

    c = c.model_copy(update={
        "root": str(tmp_path / "root"),
        "metadata": c.metadata.model_copy(update={"sqlite": str(tmp_path / "m.sqlite")})})
    return next(x for x in factory.create_pipeline(c).components if x.id == "Transform")


def test_small_data_gets_the_in_process_transform_executor(cfg, tmp_path):
    """On the local direct runner in memory the Transform runs tfxkit's executor, told
    its size limit in custom_config; beam.in_process_max_mb 0 keeps TFX's executor."""
    import json

    from tfx.components.transform.executor import Executor as Stock

    from tfxkit.components.transform import MAX_BYTES_KEY
    from tfxkit.components.transform.executor import Executor

    t = _transform_of(cfg, tmp_path)
    assert t.executor_spec.executor_class is Executor
    assert json.loads(t.exec_properties["custom_config"])[MAX_BYTES_KEY] == 512_000_000
    off = cfg.model_copy(update={"beam": cfg.beam.model_copy(update={"in_process_max_mb": 0})})
    t = _transform_of(off, tmp_path / "off")
    assert t.executor_spec.executor_class is Stock
    assert MAX_BYTES_KEY not in json.loads(t.exec_properties["custom_config"])


def test_a_remote_transform_keeps_tfxs_executor(cfg):
    import json

    from tfxkit.components.transform import MAX_BYTES_KEY

    custom = training_stage.transform_custom_config(cfg, "vertex")
    assert training_stage.transform_executor(cfg, "vertex", custom) is None
    assert MAX_BYTES_KEY not in custom
    assert MAX_BYTES_KEY not in json.dumps(custom)
