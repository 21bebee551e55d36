"""Hand-written stock TFX 1.16 ETA (trip duration) pipeline for the scale benchmark
(LocalDagRunner, SQLite MLMD, a module file), doing the same work as tfxkit's regression
template where stock TFX can:

- CsvExampleGen over every CSV of the data folder, train:eval 8:2 hash buckets on the
  trip_id column (``partition_feature_name``; tfxkit hashes the key's text with md5, TFX
  with farmhash, so the eval rows differ, the shares do not);
- StatisticsGen, SchemaGen (``infer_feature_shape=False``), ExampleValidator;
- Transform with its statistics and analyzer cache off (as tfxkit runs it), Trainer
  (eta_module.py: the template's features and model by hand; epochs and batch size from
  ``custom_config``);
- the latest blessed model as the baseline (TFX's LatestBlessedModelStrategy), Evaluator
  with the template's EvalConfig (ExampleCount, MeanAbsoluteError <= 6.0 and at most 0.5
  above the baseline's, MeanSquaredError; no slices), Pusher to a folder.

``beam_pipeline_args`` are passed as given (none by default: TFX's in-process Beam).

    python pipeline.py DATA_DIR WORK_DIR [EPOCHS BATCH_SIZE]
"""
import os
import sys

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

MODULE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eta_module.py")
NAME = "stock-eta"


def eval_config():
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default",
                                    label_key="duration_min_xf", prediction_key="prediction",
                                    preprocessing_function_names=["transform_features"])],
        slicing_specs=[tfma.SlicingSpec()],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="MeanAbsoluteError", threshold=tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(upper_bound={"value": 6.0}),
                change_threshold=tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.LOWER_IS_BETTER, absolute={"value": 0.5}))),
            tfma.MetricConfig(class_name="MeanSquaredError")])])


def create_pipeline(data_dir, work, epochs=40, batch_size=64, beam_pipeline_args=None):
    example_gen = tfx.components.CsvExampleGen(
        input_base=data_dir,
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name="train", hash_buckets=8),
            tfx.proto.SplitConfig.Split(name="eval", hash_buckets=2)],
            partition_feature_name="trip_id")))
    stats = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema = tfx.components.SchemaGen(statistics=stats.outputs["statistics"],
                                      infer_feature_shape=False)
    validator = tfx.components.ExampleValidator(statistics=stats.outputs["statistics"],
                                                schema=schema.outputs["schema"])
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema.outputs["schema"],
        module_file=MODULE, disable_statistics=True, disable_analyzer_cache=True)
    trainer = tfx.components.Trainer(
        module_file=MODULE, examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"], schema=schema.outputs["schema"],
        custom_config={"epochs": int(epochs), "batch_size": int(batch_size)})
    resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        baseline_model=resolver.outputs["model"], schema=schema.outputs["schema"],
        eval_config=eval_config())
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(filesystem=tfx.proto.PushDestination.Filesystem(
            base_directory=os.path.join(work, "models"))))
    return tfx.dsl.Pipeline(
        pipeline_name=NAME, pipeline_root=os.path.join(work, "root"),
        components=[example_gen, stats, schema, validator, transform, trainer, resolver,
                    evaluator, pusher],
        enable_cache=True, beam_pipeline_args=list(beam_pipeline_args or []),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(work, "metadata.sqlite")))


if __name__ == "__main__":
    data_dir, work = sys.argv[1], sys.argv[2]
    extra = [int(a) for a in sys.argv[3:5]]
    tfx.orchestration.LocalDagRunner().run(create_pipeline(data_dir, work, *extra))
