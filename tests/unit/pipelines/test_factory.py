"""The pipeline factory: config -> tfx Pipeline, without running it."""
import os
from pathlib import Path

import pytest

from tfxkit.pipelines import beam_args, component_ids, data_stage, factory, training_stage
from tfxkit.pipelines.config import load_config

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


@pytest.fixture(scope="module")
def cfg():
    return load_config(TEMPLATES / "multiclass" / "config.yaml")


def test_split_input(tmp_path):
    assert data_stage.split_input(str(tmp_path)) == (str(tmp_path), "*")
    assert data_stage.split_input("/data/x/day-*.csv") == ("/data/x", "day-*.csv")
    assert data_stage.split_input("/data/*/x.csv") == ("/data", "*/x.csv")
    assert data_stage.split_input("/data/x.csv") == ("/data", "x.csv")


def test_beam_args(cfg):
    assert beam_args.beam_pipeline_args(cfg) == []
    c = cfg.model_copy(update={"beam": cfg.beam.model_copy(
        update={"mode": "multi_processing", "workers": 2})})
    assert beam_args.beam_pipeline_args(c) == ["--direct_running_mode=multi_processing",
                                             "--direct_num_workers=2",
                                             f"--setup_file={beam_args.tfxkit_setup_file()}"]


def test_pipeline_components_in_order(cfg, tmp_path):
    cfg = cfg.model_copy(update={"root": str(tmp_path / "root"),
                                 "metadata": cfg.metadata.model_copy(
                                     update={"sqlite": str(tmp_path / "m.sqlite")})})
    p = factory.create_pipeline(cfg)
    ids = [c.id for c in p.components]
    assert ids == ["ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
                   "ValidationGate", "Transform", "Trainer", "BaselineResolver",
                   "Evaluator", "InfraValidator", "Pusher"]
    assert p.enable_cache and p.beam_pipeline_args == []
    comps = {c.id: c for c in p.components}
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


def test_curated_schema_is_imported(cfg, tmp_path):
    schema = tmp_path / "my_schema.pbtxt"
    schema.write_text('feature { name: "species" type: BYTES }\n')
    cfg = cfg.model_copy(update={"root": str(tmp_path / "root"),
                                 "validation": cfg.validation.model_copy(
                                     update={"schema_file": str(schema)})})
    ids = [c.id for c in factory.create_components(cfg)]
    assert "SchemaImporter" in ids and "SchemaGen" not in ids
    copied = list((tmp_path / "root").rglob("schema.pbtxt"))
    assert len(copied) == 1 and copied[0].read_text() == schema.read_text()


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


def test_bigquery_source_compiles_with_generated_split_queries(tmp_path):
    from tfx.dsl.compiler import compiler

    (tmp_path / "config.yaml").write_text(
        "name: bq-case\ntask: binary\nlabel: churned\n"
        "data:\n  source: {bigquery: {query: 'SELECT * FROM `proj.ds.users`'}}\n"
        "  split: {train: 9, eval: 1, key: user_id}\n"
        "features: {dense: [age]}\neval: {metrics: [{name: auc, lower_bound: 0.7}]}\n")
    cfg = load_config(tmp_path / "config.yaml")
    from tfxkit.pipelines.config import check_data

    assert check_data(cfg)["rows"] is None  # nothing to read from here
    gen = factory.create_components(cfg.model_copy(update={"root": str(tmp_path / "r")}))[0]
    import json

    splits = json.loads(gen.exec_properties["input_config"])["splits"]
    q = {s["name"]: s["pattern"] for s in splits}
    assert q["train"] == ("SELECT * FROM (SELECT * FROM `proj.ds.users`) AS t WHERE "
                          "MOD(ABS(FARM_FINGERPRINT(CAST(`user_id` AS STRING))), 10) < 9")
    assert q["eval"].endswith(">= 9")
    ir = compiler.Compiler().compile(factory.create_pipeline(
        cfg.model_copy(update={"root": str(tmp_path / "r"), "metadata": cfg.metadata.model_copy(
            update={"sqlite": str(tmp_path / "m.sqlite")})})))
    node = ir.nodes[0].pipeline_node
    assert node.node_info.id == "ExampleGen"
    assert "BigQueryExampleGen" in node.node_info.type.name
    pred = data_stage.bigquery_split_queries("SELECT 1", type("S", (), {
        "predicates": {"eval": "day >= '2026-01-07'", "train": "true"}})())
    assert pred["eval"] == "SELECT * FROM (SELECT 1) WHERE (day >= '2026-01-07')"
