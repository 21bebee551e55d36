"""Batched metrics (``components/evaluator/in_process.py``) against TFX's own Evaluator
executor on the same regression model, examples and thresholds: the same metric keys,
values within float rounding, the same validation result and blessing, with a baseline
too; what it does not cover runs TFMA per example, with the reason recorded."""
import json
import os
import re

import numpy as np
import pytest

ROWS = 300  # more than one TFMA batch is not needed: CombineFn merges are tested below


def _model(path, seed=0, epochs=3, outputs=1):
    """A Keras regressor of ``x`` saved as the Trainer saves one: a serving signature over
    serialized tf.Examples, compiled loss and metrics kept."""
    import tensorflow as tf
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 1)).astype("float32")
    y = 3 * x[:, 0] + 1 + rng.normal(scale=0.5, size=256).astype("float32")
    y = np.stack([y] * outputs, axis=1)
    inp = tf_keras.Input(shape=(1,), name="x")
    out = tf_keras.layers.Dense(outputs)(inp)
    model = tf_keras.Model(inp, out)
    model.compile(optimizer=tf_keras.optimizers.Adam(0.05), loss="mse",
                  metrics=["mae", tf_keras.metrics.RootMeanSquaredError(name="rmse")])
    model.fit(x, y, epochs=epochs, verbose=0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve(serialized):
        parsed = tf.io.parse_example(serialized, {"x": tf.io.FixedLenFeature([1], tf.float32)})
        return {"prediction": model(parsed["x"])}

    model.save(os.path.join(path, "Format-Serving"), save_format="tf",
               signatures={"serving_default": serve})


def _artifacts(tmp, outputs=1):
    import tensorflow as tf
    from tfx.types import standard_artifacts

    model = standard_artifacts.Model()
    model.uri = os.path.join(tmp, "model")
    _model(model.uri, seed=0, epochs=8, outputs=outputs)
    baseline = standard_artifacts.Model()
    baseline.uri = os.path.join(tmp, "baseline")
    _model(baseline.uri, seed=1, epochs=2, outputs=outputs)
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(tmp, "examples")
    examples.split_names = json.dumps(["eval"])
    os.makedirs(os.path.join(examples.uri, "Split-eval"))
    rng = np.random.default_rng(2)
    with tf.io.TFRecordWriter(os.path.join(examples.uri, "Split-eval",
                                           "data_tfrecord-00000-of-00001.gz"), "GZIP") as w:
        for i in range(ROWS):
            x = float(rng.normal())
            w.write(tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[x])),
                "g": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"ab"[i % 2:i % 2 + 1]])),
                "y": tf.train.Feature(float_list=tf.train.FloatList(
                    value=[3 * x + 1 + float(rng.normal(scale=0.5))] * outputs)),
            })).SerializeToString())
    return model, baseline, examples


def _config(baseline=False, slices=None, gated=True,
            metrics=("ExampleCount", "MeanAbsoluteError", "MeanSquaredError")):
    from tensorflow_model_analysis.proto import config_pb2

    configs = []
    for name in metrics:
        mc = config_pb2.MetricConfig(class_name=name)
        if name == "MeanAbsoluteError" and gated:
            mc.threshold.CopyFrom(config_pb2.MetricThreshold(
                value_threshold=config_pb2.GenericValueThreshold(upper_bound={"value": 5.0}),
                change_threshold=config_pb2.GenericChangeThreshold(
                    direction=config_pb2.MetricDirection.LOWER_IS_BETTER,
                    absolute={"value": 0.5})))
        configs.append(mc)
    specs = [config_pb2.ModelSpec(name="candidate" if baseline else "", label_key="y",
                            prediction_key="prediction")]
    if baseline:
        specs.append(config_pb2.ModelSpec(name="baseline", label_key="y",
                                    prediction_key="prediction", is_baseline=True))
    return config_pb2.EvalConfig(model_specs=specs,
                           slicing_specs=slices or [config_pb2.SlicingSpec()],
                           metrics_specs=[config_pb2.MetricsSpec(metrics=configs)])


def _run(executor_cls, tmp, arts, out, config):
    import tensorflow_model_analysis as tfma
    from google.protobuf import json_format
    from tfx.dsl.components.base import base_beam_executor
    from tfx.types import standard_artifacts

    model, baseline, examples = arts
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = os.path.join(tmp, out, "evaluation")
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(tmp, out, "blessing")
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=[], tmp_dir=os.path.join(tmp, out, "tmp"), unique_id="1")
    inputs = {"examples": [examples], "model": [model]}
    if len(config.model_specs) > 1:
        inputs["baseline_model"] = [baseline]
    executor_cls(context).Do(
        inputs, {"evaluation": [evaluation], "blessing": [blessing]},
        {"eval_config": json_format.MessageToJson(config), "example_splits": "null"})
    metrics = {}
    for s in tfma.load_metrics(evaluation.uri):
        for kv in s.metric_keys_and_values:
            v = kv.value
            metrics[(str(s.slice_key).strip(), str(kv.key).replace("\n", " "))] = (
                v.double_value.value if v.HasField("double_value") else str(v))
    validation = tfma.load_validation_result(evaluation.uri)
    files = sorted(os.listdir(evaluation.uri))
    return dict(metrics=metrics, validation=validation, files=files,
                blessed=blessing.get_int_custom_property("blessed"),
                engine=evaluation.get_string_custom_property("evaluation_engine"),
                reason=evaluation.get_string_custom_property("evaluation_engine_reason"))


@pytest.fixture(scope="module")
def arts(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("batched"))
    return tmp, _artifacts(tmp)


def _both(arts, out, config, no_per_example=True):
    import tensorflow_model_analysis as tfma
    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as mpv
    from tfx.components.evaluator.executor import Executor as Stock

    from tfxkit.pipelines.evaluator import Executor

    tmp, a = arts
    stock = _run(Stock, tmp, a, out + "-stock", config)
    original = mpv._ComputationsCombineFn.add_input

    def per_example(*args, **kwargs):
        raise AssertionError("TFMA combined one example at a time")

    if no_per_example:
        mpv._ComputationsCombineFn.add_input = per_example
    entry = tfma.ExtractEvaluateAndWriteResults
    try:
        mine = _run(Executor, tmp, a, out + "-mine", config)
    finally:
        mpv._ComputationsCombineFn.add_input = original
    assert tfma.ExtractEvaluateAndWriteResults is entry  # put back after the run
    return stock, mine


def _same(stock, mine, rel):
    assert set(mine["metrics"]) == set(stock["metrics"])
    for k, v in stock["metrics"].items():
        assert mine["metrics"][k] == pytest.approx(v, rel=rel, abs=1e-9), k
    assert mine["blessed"] == stock["blessed"]
    assert mine["files"] == stock["files"]
    s, m = stock["validation"], mine["validation"]
    assert m.validation_ok == s.validation_ok
    assert len(m.metric_validations_per_slice) == len(s.metric_validations_per_slice)


def test_same_metrics_validation_and_blessing_as_tfma(arts):
    stock, mine = _both(arts, "one", _config())
    assert mine["engine"] == "batched" and not mine["reason"]
    _same(stock, mine, rel=1e-6)
    names = {k[1].split('"')[1] for k in mine["metrics"]}
    # TFMA's metrics and the Keras model's compiled loss and metrics
    assert names == {"example_count", "mean_absolute_error", "mean_squared_error",
                     "loss", "mae", "rmse"}
    count = [v for k, v in mine["metrics"].items() if '"example_count"' in k[1]]
    assert count == [ROWS]
    assert mine["blessed"] == 1


def test_with_a_baseline_the_diffs_and_change_threshold_match(arts):
    stock, mine = _both(arts, "baseline", _config(baseline=True))
    assert mine["engine"] == "batched"
    _same(stock, mine, rel=1e-6)
    assert any("is_diff: true" in k[1] for k in mine["metrics"])
    assert any("baseline" in k[1] for k in mine["metrics"])


def test_feature_slices_run_tfma_per_example_with_the_reason(arts):
    from tensorflow_model_analysis.proto import config_pb2

    config = _config(slices=[config_pb2.SlicingSpec(), config_pb2.SlicingSpec(feature_keys=["g"])])
    stock, mine = _both(arts, "sliced", config, no_per_example=False)
    assert mine["engine"] == "tfma"
    assert mine["reason"] == "slicing other than the overall slice"
    _same(stock, mine, rel=1e-9)


def test_another_metric_runs_tfma_per_example_naming_its_combiner(arts):
    # Keras's RootMeanSquaredError, which TFMA wraps (it has none of its own)
    stock, mine = _both(arts, "other", _config(metrics=("ExampleCount", "RootMeanSquaredError")),
                        no_per_example=False)
    assert mine["engine"] == "tfma"
    assert mine["reason"] == "metric combiner _CompilableMetricsCombiner"
    _same(stock, mine, rel=1e-9)


def test_two_values_per_example_found_while_running_restart_on_tfma(tmp_path):
    """The batched combine refuses a label and prediction of two values per example; the
    executor clears what was written and runs TFMA per example, as the stock one does."""
    arts = (str(tmp_path), _artifacts(str(tmp_path), outputs=2))
    stock, mine = _both(arts, "two", _config(gated=False), no_per_example=False)
    assert mine["engine"] == "tfma"
    # TFMA's first batches are small (Beam's adaptive batching): the first one is refused
    found = re.fullmatch(r"label: (\d+) values for (\d+) examples", mine["reason"])
    assert found and int(found[1]) == 2 * int(found[2]), mine["reason"]
    _same(stock, mine, rel=1e-9)


def _extract(labels, predictions):
    return {"labels": np.asarray(labels, dtype=np.float32).reshape(-1, 1),
            "predictions": np.asarray(predictions, dtype=np.float32).reshape(-1, 1)}


def _tfma_per_example(computation, config, extracts):
    """TFMA's own combiner, fed one example at a time as its evaluator feeds it."""
    from tensorflow_model_analysis.metrics import metric_types

    combiner = computation.combiner
    acc = combiner.create_accumulator()
    for e in extracts:
        for label, prediction in zip(e["labels"], e["predictions"]):
            acc = combiner.add_input(acc, metric_types.StandardMetricInputs(
                labels=label, predictions=prediction, example_weights=None))
    return combiner.extract_output(acc)


def test_the_combine_equals_tfma_per_example_with_nans_and_merges():
    from tfxkit.components.evaluator import in_process

    config = _config(gated=False)
    config = in_process.updated_config(config, None)
    comps, _ = in_process.computations(config, {})
    rng = np.random.default_rng(3)
    batches = [_extract(rng.normal(size=n) * 10, rng.normal(size=n) * 10) for n in (7, 1, 50)]
    batches[0]["labels"][2, 0] = np.nan  # skipped by MAE/MSE, counted by ExampleCount
    fn = in_process.BatchedComputationsCombineFn(comps, config)
    accs = [fn.add_input(fn.create_accumulator(), b) for b in batches]
    got = fn.extract_output(fn.merge_accumulators(accs))
    want = {}
    for c in comps:
        want.update(_tfma_per_example(c, config, batches))
    assert set(got) == set(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k
    assert [v for k, v in got.items() if k.name == "example_count"] == [58.0]


def test_a_batch_with_two_values_per_example_is_refused_by_name():
    from tfxkit.components.evaluator import in_process

    config = in_process.updated_config(_config(gated=False, metrics=("MeanAbsoluteError",)),
                                        None)
    comps, _ = in_process.computations(config, {})
    fn = in_process.BatchedComputationsCombineFn(comps, config)
    bad = {"labels": np.zeros((4, 1), np.float32), "predictions": np.zeros((4, 2), np.float32)}
    with pytest.raises(in_process.Unsupported, match="prediction: 8 values for 4 examples"):
        fn.add_input(fn.create_accumulator(), bad)


def test_why_not_names_what_it_does_not_cover():
    from tensorflow_model_analysis.proto import config_pb2

    from tfxkit.components.evaluator import in_process

    assert in_process.supported_here() is None
    assert in_process.why_not(None, None) == "no eval config"
    ci = _config(gated=False)
    ci.options.compute_confidence_intervals.value = True
    weighted = _config(gated=False)
    weighted.model_specs[0].example_weight_key = "w"
    cross = _config(gated=False)
    cross.cross_slicing_specs.add()
    for config, reason in ((ci, "confidence intervals"),
                           (weighted, "example weights (model '')"),
                           (cross, "cross-slicing specs")):
        # the config is refused before any model is needed
        assert in_process.why_not(config, _model_unloaded()) == reason, reason
    sliced = _config(gated=False, slices=[config_pb2.SlicingSpec(feature_keys=["g"])])
    assert in_process.why_not(sliced, _model_unloaded()) == "slicing other than the overall slice"


def _model_unloaded():
    """An EvalSharedModel that fails if anything loads it."""
    import tensorflow_model_analysis as tfma

    return tfma.types.EvalSharedModel(model_path="/nowhere", model_type="tf_generic",
                                      include_default_metrics=False, model_loader=None)


def test_a_batch_without_labels_or_predictions_is_refused():
    from tfxkit.components.evaluator import in_process

    config = in_process.updated_config(_config(gated=False, metrics=("ExampleCount",)), None)
    comps, _ = in_process.computations(config, {})
    fn = in_process.BatchedComputationsCombineFn(comps, config)
    with pytest.raises(in_process.Unsupported, match="a batch without labels or predictions"):
        fn.add_input(fn.create_accumulator(), {"features": {}})


def test_a_failing_check_leaves_tfma_as_is_with_the_reason(monkeypatch):
    """``batched_metrics`` swaps TFMA's entry point; when the check itself fails, the
    call goes to TFMA unchanged and the outcome says why."""
    import tensorflow_model_analysis as tfma

    from tfxkit.components.evaluator import in_process
    from tfxkit.pipelines.evaluator import batched_metrics

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(in_process, "plan", broken)
    entry = tfma.ExtractEvaluateAndWriteResults
    outcome = {}
    with batched_metrics(outcome):
        assert tfma.ExtractEvaluateAndWriteResults is not entry
        transform = tfma.ExtractEvaluateAndWriteResults(
            eval_config=_config(gated=False), eval_shared_model=None, output_path="/x")
    assert tfma.ExtractEvaluateAndWriteResults is entry
    assert transform is not None
    assert outcome == {"engine": "tfma", "reason": "the check failed: KeyError: 'boom'"}
