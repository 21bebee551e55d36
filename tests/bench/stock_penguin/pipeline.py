"""Hand-written stock TFX 1.16 penguin pipeline (LocalDagRunner, SQLite MLMD, module
file), the same data and components as tfxkit's multiclass template.

    python pipeline.py DATA_DIR WORK_DIR
"""
import os
import sys
import time

t0 = time.monotonic()
import tensorflow_model_analysis as tfma  # noqa: E402
from tfx import v1 as tfx  # noqa: E402

MODULE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "penguin_module.py")


def create_pipeline(data_dir, work):
    example_gen = tfx.components.CsvExampleGen(input_base=data_dir)
    stats = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema = tfx.components.SchemaGen(statistics=stats.outputs["statistics"],
                                      infer_feature_shape=False)
    validator = tfx.components.ExampleValidator(statistics=stats.outputs["statistics"],
                                                schema=schema.outputs["schema"])
    transform = tfx.components.Transform(examples=example_gen.outputs["examples"],
                                         schema=schema.outputs["schema"], module_file=MODULE)
    trainer = tfx.components.Trainer(
        module_file=MODULE, examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"], schema=schema.outputs["schema"])
    resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    eval_config = tfma.EvalConfig(
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
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"], model=trainer.outputs["model"],
        baseline_model=resolver.outputs["model"], eval_config=eval_config)
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(filesystem=tfx.proto.PushDestination.Filesystem(
            base_directory=os.path.join(work, "models"))))
    return tfx.dsl.Pipeline(
        pipeline_name="stock-penguin", pipeline_root=os.path.join(work, "root"),
        components=[example_gen, stats, schema, validator, transform, trainer, resolver,
                    evaluator, pusher],
        enable_cache=True,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(work, "metadata.sqlite")))


if __name__ == "__main__":
    data_dir, work = sys.argv[1], sys.argv[2]
    tfx.orchestration.LocalDagRunner().run(create_pipeline(data_dir, work))
    print(f"stock pipeline done in {time.monotonic() - t0:.1f} s")
