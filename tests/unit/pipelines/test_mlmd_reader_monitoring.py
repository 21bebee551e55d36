"""The reader's monitoring walks (``pipelines/mlmd_reader.py``): a serving version's Model
artifact (by the uri the registry records, else through its PushedModel and Pusher) and
the training statistics and schema of the run that trained it."""
from tests.unit.infra.metadata.mlmd_records import Records
from tfxkit.pipelines.mlmd_reader import model_artifact, training_data_of_model


def _pipeline(with_transform=True, with_stats=True):
    rec = Records()
    run = rec.run("run-1")
    ex = rec.artifact("Examples", "/ex")
    rec.execute(run, "ExampleGen", outputs={"examples": ex})
    if with_stats:
        stats = rec.artifact("ExampleStatistics", "/stats")
        rec.execute(run, "StatisticsGen", inputs={"examples": ex}, outputs={"statistics": stats})
    schema = rec.artifact("Schema", "/schema")
    rec.execute(run, "SchemaGen", outputs={"schema": schema})
    trainer_in = {"examples": ex, "schema": schema}
    if with_transform:
        graph = rec.artifact("TransformGraph", "/graph")
        rec.execute(run, "Transform", inputs={"examples": ex, "schema": schema},
                    outputs={"transform_graph": graph})
        trainer_in = {"transform_graph": graph}
    model = rec.artifact("Model", "/model/7")
    rec.execute(run, "Trainer", inputs=trainer_in, outputs={"model": model})
    pushed = rec.artifact("PushedModel", "/pushed", pushed=1, pushed_version="1700")
    rec.execute(run, "Pusher", inputs={"model": model}, outputs={"pushed_model": pushed})
    return rec, ex, model


def test_the_model_by_uri_or_by_pushed_version():
    rec, _, model = _pipeline()
    assert model_artifact(rec.store, "toy", "/model/7").id == model
    assert model_artifact(rec.store, "toy", "/elsewhere", "1700").id == model
    assert model_artifact(rec.store, "toy", None, "1700").id == model
    assert model_artifact(rec.store, "toy", "/elsewhere", "999") is None
    assert model_artifact(rec.store, "other", None, "1700") is None


def test_training_statistics_through_the_transform_or_the_raw_examples():
    rec, ex, model = _pipeline()
    got = training_data_of_model(rec.store, "toy", model)
    assert (got["examples_id"], got["statistics_uri"], got["schema_uri"]) == (
        ex, "/stats", "/schema")
    assert got["trainer_execution"] is not None
    rec, ex, model = _pipeline(with_transform=False)
    got = training_data_of_model(rec.store, "toy", model)
    assert (got["examples_id"], got["statistics_uri"], got["schema_uri"]) == (
        ex, "/stats", "/schema")
    rec, _, model = _pipeline(with_stats=False)
    assert training_data_of_model(rec.store, "toy", model)["statistics_uri"] is None
    lone = rec.artifact("Model", "/lone")
    assert training_data_of_model(rec.store, "toy", lone) == {
        "trainer_execution": None, "examples_id": None, "statistics_uri": None,
        "schema_uri": None}
