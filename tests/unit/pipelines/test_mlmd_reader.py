"""The one MLMD reader (pipelines/mlmd_reader.py) on a fake store: property values (a
``struct_value`` read as TFX reads it), run contexts, events, producers and consumers."""
import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

from tests.unit.infra.metadata.mlmd_records import PIPELINE, Records
from tfxkit.pipelines import mlmd_reader as reader


@pytest.fixture
def rec():
    return Records()


def test_scalar_values_and_custom_over_plain_properties():
    a = pb.Artifact()
    a.properties["span"].int_value = 1
    a.custom_properties["span"].int_value = 7
    a.custom_properties["uri"].string_value = "/x"
    a.custom_properties["loss"].double_value = 0.5
    a.custom_properties["unset"].SetInParent()
    assert reader.properties(a) == {"span": 7, "uri": "/x", "loss": 0.5, "unset": None}


@pytest.mark.parametrize("value", [{"a": [1.0, "b"], "c": {"d": True}}, ["x", "y"], 3.0, "text"])
def test_struct_value_reads_as_the_json_tfx_stored(value):
    """Where the old readers disagreed: lineage read a struct_value as its protobuf text
    (``fields { key: ... }``), the report as the Struct message itself. TFX stores a JSON
    property in a struct_value (a non-object wrapped as ``{"__value__": ...}``) and reads it
    back as that JSON value: so does the reader."""
    from tfx.types import standard_artifacts

    art = standard_artifacts.Examples()
    art.set_json_value_custom_property("j", value)
    msg = art.mlmd_artifact
    assert msg.custom_properties["j"].WhichOneof("value") == "struct_value"
    assert reader.properties(msg)["j"] == art.get_json_value_custom_property("j") == value


def test_proto_value_reads_as_its_text():
    v = pb.Value()
    v.proto_value.Pack(pb.Artifact(uri="/m"))
    text = reader.property_value(v)
    assert isinstance(text, str) and "/m" in text


def test_json_or_decodes_objects_and_lists_only():
    assert reader.json_or('{"a": 1}') == {"a": 1}
    assert reader.json_or(' ["x"]') == ["x"]
    assert reader.json_or("{not json") == "{not json"
    assert reader.json_or("12") == "12" and reader.json_or(12) == 12
    a = pb.Artifact()
    a.custom_properties["files"].string_value = '["a.csv"]'
    a.custom_properties["tfx_version"].string_value = "1.16"
    assert reader.decoded_properties(a, skip=("tfx_version",)) == {"files": ["a.csv"]}


def test_pipeline_runs_oldest_first_and_the_latest_among_pipelines(rec):
    assert reader.pipeline_runs(rec.store, PIPELINE) == []
    r1, r2 = rec.run("run-1"), rec.run("run-2")
    r3 = Records("other", rec.store).run("run-3")  # a second pipeline in the same store
    assert [c.name for c in reader.pipeline_runs(rec.store, PIPELINE)] == [r1.name, r2.name]
    assert [c.name for c in reader.pipeline_runs(rec.store, "other")] == [r3.name]
    assert reader.pipeline_runs(rec.store, "missing") == []
    assert reader.latest_run(rec.store, [PIPELINE, "other"]) == ("other", "run-3")
    assert reader.latest_run(rec.store, [PIPELINE]) == (PIPELINE, "run-2")
    assert reader.latest_run(rec.store, ["missing"]) is None


def test_runs_of_older_records_without_parent_contexts(rec):
    lone = rec.context("pipeline_run", "old-run")  # no ParentContext: found by its executions
    rec.execute(lone, "ExampleGen")
    assert [c.name for c in reader.pipeline_runs(rec.store, PIPELINE)] == ["old-run"]


def test_events_producer_consumer_and_run_executions(rec):
    run = rec.run("run-1", config_fingerprint="h")
    ex = rec.artifact("Examples", "/ex", rows_train=3)
    stats = rec.artifact("ExampleStatistics", "/stats")
    schema = rec.artifact("Schema", "/schema")
    gen = rec.execute(run, "ExampleGen", {}, {"examples": ex}, input_base="/data")
    failed = rec.execute(run, "StatisticsGen", {"examples": ex}, {},
                         state=pb.Execution.FAILED)
    st = rec.execute(run, "StatisticsGen", {"examples": ex}, {"statistics": stats},
                     custom_config='{"a": 1}')
    val = rec.execute(run, "ExampleValidator", {"statistics": stats, "schema": schema}, {})
    r = reader.Reader(rec.store, PIPELINE)
    assert r.io(st) == ({"examples": [ex]}, {"statistics": [stats]})
    assert r.producer(ex) == gen and r.producer(schema) is None
    # the COMPLETE execution did the work, not the failed one
    assert r.consumer(ex, "StatisticsGen") == st and failed < st
    assert r.consumer(stats, "ExampleValidator", also_consumed=schema) == val
    assert r.consumer(stats, "ExampleValidator", also_consumed=ex) is None
    node, run_ctx = r.node_and_run(st)
    assert node == "StatisticsGen" and run_ctx.name == "run-1"
    assert reader.properties(run_ctx) == {"config_fingerprint": "h"}
    assert r.exec_props(st) == {"custom_config": {"a": 1}}
    assert r.artifact(ex).uri == "/ex" and r.artifact_type(r.artifact(ex)) == "Examples"
    assert r.execution_type(r.execution(gen)) == "tfx.components.ExampleGen"
    assert [(n, e.id) for n, e in r.run_executions(run)] == [
        ("ExampleGen", gen), ("StatisticsGen", failed), ("StatisticsGen", st),
        ("ExampleValidator", val)]


def test_executions_of_other_pipelines_are_not_this_ones(rec):
    run = rec.run("run-1")
    rec.execute(run, "ExampleGen")
    foreign = rec.context("node", "elsewhere.Trainer")
    eid, _, _ = rec.store.put_execution(
        pb.Execution(type_id=rec.type_id("execution", "Trainer")), [], [run, foreign])
    r = reader.Reader(rec.store, PIPELINE)
    assert r.node_of(eid) is None
    assert [n for n, _ in r.run_executions(run)] == ["ExampleGen"]
