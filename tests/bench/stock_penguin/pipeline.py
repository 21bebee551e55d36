"""Hand-written stock TFX 1.16 penguin pipeline (LocalDagRunner, SQLite MLMD, a module
file), doing the same work as tfxkit's multiclass template where stock TFX can:

- CsvExampleGen with train:eval 8:2 hash buckets (TFX's default is 2:1; the template has
  no split key, so both sides hash the whole row: stock a fingerprint of the serialized
  example, tfxkit md5 of the row's text, so the eval rows differ, the shares do not);
- StatisticsGen, SchemaGen (``infer_feature_shape=False``), ExampleValidator;
- Transform with its statistics and analyzer cache off (as tfxkit runs it), Trainer
  (penguin_module.py: the template's features and model, by hand);
- the latest blessed model as the baseline (TFX's LatestBlessedModelStrategy), Evaluator
  with the template's EvalConfig and the schema (accuracy >= 0.8 and at most 0.05 below
  the baseline; slices: all, island), Pusher to a folder.

What tfxkit does besides (see tests/bench/bench_pipeline.py for the full list): a
ValidationGate on the anomalies, an InfraValidator, a registry instead of a folder.

    python pipeline.py DATA_DIR WORK_DIR
"""
import os
import sys

import tensorflow_model_analysis as tfma
from tfx import v1 as tfx

MODULE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "penguin_module.py")
NAME = "stock-penguin"


def eval_config():
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(signature_name="serving_default", label_key="species_xf",
                                    prediction_key="probabilities",
                                    preprocessing_function_names=["transform_features"])],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["island"])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            tfma.MetricConfig(class_name="SparseCategoricalAccuracy", threshold=tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 0.8}),
                change_threshold=tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -0.05})))])])


def create_pipeline(data_dir, work):
    example_gen = tfx.components.CsvExampleGen(
        input_base=data_dir,
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name="train", hash_buckets=8),
            tfx.proto.SplitConfig.Split(name="eval", hash_buckets=2)])))
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
        transform_graph=transform.outputs["transform_graph"], schema=schema.outputs["schema"])
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
        enable_cache=True,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(work, "metadata.sqlite")))


if __name__ == "__main__":
    data_dir, work = sys.argv[1], sys.argv[2]
    tfx.orchestration.LocalDagRunner().run(create_pipeline(data_dir, work))
