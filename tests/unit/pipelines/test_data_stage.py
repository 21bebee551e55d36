"""The data stage (``data_stage.py``): input paths and globs, the curated schema imported,
BigQuery split queries, without running anything."""
import json

from tfxkit.pipelines import data_stage, factory
from tfxkit.pipelines.config import load_config
from tests.unit.pipelines.test_factory import cfg  # noqa: F401 - the fixture


def test_split_input(tmp_path):
    assert data_stage.split_input(str(tmp_path)) == (str(tmp_path), "*")
    assert data_stage.split_input("/data/x/day-*.csv") == ("/data/x", "day-*.csv")
    assert data_stage.split_input("/data/*/x.csv") == ("/data", "*/x.csv")
    assert data_stage.split_input("/data/x.csv") == ("/data", "x.csv")


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


def test_bigquery_split_queries_hash_the_whole_row_without_a_key():
    split = type("S", (), {"predicates": None, "train": 3, "eval": 1, "key": None})()
    q = data_stage.bigquery_split_queries("SELECT a FROM t", split)
    bucket = "MOD(ABS(FARM_FINGERPRINT(TO_JSON_STRING(t))), 4)"
    assert q == {"train": f"SELECT * FROM (SELECT a FROM t) AS t WHERE {bucket} < 3",
                 "eval": f"SELECT * FROM (SELECT a FROM t) AS t WHERE {bucket} >= 3"}
    pred = data_stage.bigquery_split_queries("SELECT 1", type("S", (), {
        "predicates": {"eval": "day >= '2026-01-07'", "train": "true"}})())
    assert pred["train"] == "SELECT * FROM (SELECT 1) WHERE NOT (day >= '2026-01-07')"


def test_a_remote_runs_curated_schema_is_content_addressed(cfg, tmp_path):
    from tfxkit.pipelines.config.deploy import Deploy

    schema = tmp_path / "schema.pbtxt"
    schema.write_text('feature { name: "species" type: BYTES }\n')
    c = cfg.model_copy(update={
        "validation": cfg.validation.model_copy(update={"schema_file": str(schema)}),
        "deploy": Deploy(pipeline_root="gs://b/root")})
    sha = data_stage.file_sha(str(schema))
    assert len(sha) == 16 and int(sha, 16) >= 0
    assert data_stage.remote_schema_uri(c) == f"gs://b/root/penguin-species/curated_schema/{sha}"
    schema.write_text('feature { name: "island" type: BYTES }\n')
    assert data_stage.file_sha(str(schema)) != sha  # a changed schema: another folder
    assert data_stage.remote_schema_uri(c).endswith(data_stage.file_sha(str(schema)))


def test_on_bad_value_reject_hands_the_numeric_columns_to_example_gen(cfg):
    params = json.loads(data_stage.example_gen(cfg).exec_properties["ingest"])
    assert "numeric" not in params and "on_bad_value" not in params  # fail: as before
    data = cfg.data.model_copy(update={"on_bad_value": "reject"})
    params = json.loads(data_stage.example_gen(cfg.model_copy(update={"data": data}))
                        .exec_properties["ingest"])
    assert params["on_bad_value"] == "reject"
    assert set(params["numeric"]) >= set(cfg.features.dense) and params["numeric"]


def test_local_statistics_gen_runs_in_process_with_the_configs_limit(cfg):
    """The local StatisticsGen gets tfxkit's executor and beam.in_process_max_mb as its
    flag; in_process_max_mb 0 and remote targets keep TFX's executor."""
    from tfx.components.statistics_gen.executor import Executor as Stock

    from tfxkit.components.statistics_gen.executor import Executor, max_bytes

    spec = data_stage.data_nodes(cfg).statistics_gen.executor_spec
    assert spec.executor_class is Executor
    assert max_bytes(spec.extra_flags) == 512_000_000
    off = cfg.model_copy(update={"beam": cfg.beam.model_copy(update={"in_process_max_mb": 2})})
    assert max_bytes(data_stage.data_nodes(off).statistics_gen.executor_spec.extra_flags) \
        == 2_000_000
    off = cfg.model_copy(update={"beam": cfg.beam.model_copy(update={"in_process_max_mb": 0})})
    assert data_stage.data_nodes(off).statistics_gen.executor_spec.executor_class is Stock
    assert data_stage.statistics_executor(cfg, "vertex") is None
