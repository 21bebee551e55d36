"""tfxkit's Evaluator executor (``pipelines/evaluator.py``): one Keras load per model on
the in-memory runner, with the stock executor's metrics and blessing on the same model,
examples and thresholds; nothing patched outside its run."""
import json
import os

import numpy as np
import pytest


def _model(path):
    """A Keras classifier of feature ``x`` (2 classes) saved as the Trainer saves one:
    a serving signature over serialized tf.Examples, compiled metrics kept."""
    import tensorflow as tf
    import tf_keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 1)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    inp = tf_keras.Input(shape=(1,), name="x")
    out = tf_keras.layers.Dense(2, activation="softmax")(inp)
    model = tf_keras.Model(inp, out)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    model.fit(x, y, epochs=3, verbose=0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        parsed = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})
        return {"output_0": model(parsed["x"])}

    model.save(os.path.join(path, "Format-Serving"), save_format="tf",
               signatures={"serving_default": serve})


def _inputs(tmp):
    import tensorflow as tf
    from tfx.types import standard_artifacts

    model = standard_artifacts.Model()
    model.uri = os.path.join(tmp, "model")
    _model(model.uri)
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(tmp, "examples")
    examples.split_names = json.dumps(["eval"])
    os.makedirs(os.path.join(examples.uri, "Split-eval"))
    rng = np.random.default_rng(1)
    with tf.io.TFRecordWriter(os.path.join(examples.uri, "Split-eval",
                                           "data_tfrecord-00000-of-00001.gz"), "GZIP") as w:
        for i in range(40):
            x = float(rng.normal())
            w.write(tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x])),
                "g": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"ab"[i % 2:i % 2 + 1]])),
                "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(x > 0)])),
            })).SerializeToString())
    return model, examples


def _run(executor_cls, tmp, model, examples, out):
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import standard_artifacts

    config = tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(label_key="y")],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["g"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="SparseCategoricalAccuracy",
                              threshold=tfma.MetricThreshold(
                                  value_threshold=tfma.GenericValueThreshold(
                                      lower_bound={"value": 0.5})))])])
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = os.path.join(tmp, out, "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(tmp, out, "blessing")
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=[], tmp_dir=os.path.join(tmp, out, "tmp"), unique_id="1")
    executor_cls(context).Do(
        {"examples": [examples], "model": [model]},
        {"evaluation": [evaluation], "blessing": [blessing]},
        {"eval_config": json_format.MessageToJson(config), "example_splits": "null"})
    metrics = {}
    for s in tfma.load_metrics(evaluation.uri):
        for kv in s.metric_keys_and_values:
            v = kv.value
            metrics[(str(s.slice_key).strip(), kv.key.name)] = (
                v.double_value.value if v.HasField("double_value") else str(v))
    return metrics, blessing.get_int_custom_property("blessed")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    import tensorflow as tf
    from tfx.components.evaluator.executor import Executor as Stock

    from tfxkit.pipelines.evaluator import Executor

    tmp = str(tmp_path_factory.mktemp("evaluator"))
    model, examples = _inputs(tmp)
    loads = []
    original = tf.keras.models.load_model

    def counting(path, *a, **k):
        loads.append(str(path))
        return original(path, *a, **k)

    tf.keras.models.load_model = counting
    try:
        stock = _run(Stock, tmp, model, examples, "stock")
        stock_loads = len(loads)
        del loads[:]
        mine = _run(Executor, tmp, model, examples, "mine")
    finally:
        tf.keras.models.load_model = original
    return stock, mine, stock_loads, loads


def test_one_keras_load_per_model(runs):
    _, _, stock_loads, loads = runs
    assert stock_loads >= 3  # TFMA's own count (8 on the penguin template)
    assert len(loads) == 1, loads
    assert loads[0].endswith(os.path.join("model", "Format-Serving"))


def test_same_metrics_and_blessing_as_the_stock_executor(runs):
    (stock, stock_blessed), (mine, blessed), _, _ = runs
    assert blessed == stock_blessed
    assert set(mine) == set(stock)
    assert {k[1] for k in mine} >= {"sparse_categorical_accuracy", "example_count", "loss"}
    assert len({k[0] for k in mine}) == 3  # overall, g=a, g=b
    for k, v in stock.items():
        assert mine[k] == pytest.approx(v, abs=1e-6), k


def test_load_model_is_put_back_and_other_paths_load_as_usual(tmp_path):
    import tensorflow as tf

    from tfxkit.pipelines.evaluator import one_load_per_model

    original = tf.keras.models.load_model
    _model(str(tmp_path / "a"))
    _model(str(tmp_path / "b"))
    a, b = str(tmp_path / "a" / "Format-Serving"), str(tmp_path / "b" / "Format-Serving")
    with one_load_per_model([a + "/"]) as cache:
        first = tf.keras.models.load_model(a)
        assert tf.keras.models.load_model(a) is first and cache == {a: first}
        assert tf.keras.models.load_model(b) is not tf.keras.models.load_model(b)
    assert tf.keras.models.load_model is original
