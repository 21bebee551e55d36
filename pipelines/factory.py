"""The training pipeline factory: PipelineConfig -> tfx.dsl.Pipeline (a pure function).

ExampleGen -> StatisticsGen -> SchemaGen (or a curated schema) -> ExampleValidator ->
ValidationGate (the data stage, ``data_stage.py``) -> Transform -> Trainer -> baseline
resolver (the training stage, ``training_stage.py``) -> Evaluator, InfraValidator ->
Pusher (the evaluation and push stage, here: tfxkit's RegistryPusher pushes only with both
blessings; the stock Pusher on Kubeflow / Vertex). The component ids are in
``component_ids.py``, the Beam arguments in ``beam_args.py``.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional

from tfxkit.pipelines.beam_args import beam_pipeline_args
from tfxkit.pipelines.component_ids import EVALUATOR, INFRA_VALIDATOR, LOCAL, PUSHER
from tfxkit.pipelines.config import PipelineConfig
from tfxkit.pipelines.data_stage import DataNodes, data_nodes
from tfxkit.pipelines.training_stage import TrainingNodes, training_nodes


def create_components(cfg: PipelineConfig, target: str = LOCAL,
                      run_properties: Optional[Mapping[str, str]] = None) -> list:
    """The components of the training pipeline. ``target`` ``vertex`` / ``kubeflow`` (see
    infra/deploy/compiler.py, which checks the config for it first) swaps in what the
    Kubeflow V2 compiler supports: TFX's LatestBlessedModelStrategy baseline, tfxkit's
    Trainer with per-run parameters, module paths inside the image, the schema under the
    remote root.
    ``run_properties``: the run's recorded properties (``pusher_run_properties``)."""
    data = data_nodes(cfg, target)
    training = training_nodes(cfg, data, target)
    return [c for c in (*data.nodes(), *training.nodes(),
                        *_evaluate_and_push(cfg, target, data, training, run_properties))
            if c is not None]


def _evaluate_and_push(cfg: PipelineConfig, target: str, data: DataNodes,
                       training: TrainingNodes, run_properties) -> list:
    """The Evaluator (against the baseline), the InfraValidator (local runs) and the pusher."""
    from tfxkit.pipelines.compat import tfx_components

    Evaluator, Pusher = tfx_components("Evaluator", "Pusher")
    from tfx.proto import pusher_pb2

    from tfxkit.pipelines.metrics import eval_config_from

    examples, trainer = data.examples, training.trainer
    if cfg.task == "bandit":
        evaluator = _policy_evaluator(cfg, data, training)
    else:
        eval_config = eval_config_from(cfg)
        evaluator = Evaluator(
            examples=examples, model=trainer.outputs["model"],
            baseline_model=training.baseline.outputs["model"], schema=data.schema,
            eval_config=eval_config).with_id(EVALUATOR)
        if target == LOCAL or eval_config.cross_slicing_specs:
            # TFX's executor with, for its run, TFMA's cross-slice validation fixed where
            # a fairness gap is gated and one Keras load per model on the in-memory
            # runner (pipelines/evaluator.py); elsewhere the stock executor (same cache key)
            from tfxkit.pipelines import evaluator as tfxkit_evaluator

            evaluator.executor_spec = tfxkit_evaluator.executor_spec()
    infra = None
    if target == LOCAL:
        from tfxkit.components.serving_check.component import InfraValidator
        from tfxkit.components.registry.component import RegistryPusher

        iv = cfg.push.infra_validation
        infra = InfraValidator(
            model=trainer.outputs["model"], examples=examples, split="eval",
            num_examples=iv.examples, requests=iv.requests, max_latency_ms=iv.max_latency_ms,
            timeout_s=iv.timeout_s, tflite=tflite_property(cfg)).with_id(INFRA_VALIDATOR)
        # no order against the Evaluator: both need only the Trainer's model, and the
        # local runner runs InfraValidator beside it (RUNS_BESIDE)
        # both blessings are required: a missing or unblessed one is recorded as a refusal
        pusher = RegistryPusher(
            model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
            infra_blessing=infra.outputs["blessing"],
            evaluation=evaluator.outputs.get("evaluation"),  # none from a bandit's gate
            examples=data.training_examples,
            statistics=data.statistics_gen.outputs["statistics"],
            registry=cfg.registry_path, keep_versions=cfg.push.keep_versions,
            model_name=cfg.name, card=card_property(cfg),
            **pusher_run_properties(cfg, run_properties)).with_id(PUSHER)
    else:
        pusher = Pusher(
            model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
            push_destination=pusher_pb2.PushDestination(
                filesystem=pusher_pb2.PushDestination.Filesystem(
                    base_directory=cfg.registry_path))).with_id(PUSHER)
    return [evaluator, infra, pusher]


def _policy_evaluator(cfg: PipelineConfig, data: DataNodes, training: TrainingNodes):
    """A bandit's Evaluator (issue 16): the off-policy gate on the raw logged eval split
    (of every span the policy was trained on, with ``data.rolling_window``),
    the candidate against the latest blessed policy, under the node id ``Evaluator`` (the
    run summary, the report and the baseline resolver find its blessing there)."""
    from tfxkit.components.policy_evaluator.component import PolicyEvaluator

    return PolicyEvaluator(
        # the eval split of every span in the window
        examples=data.training_examples, model=training.trainer.outputs["model"],
        baseline_model=training.baseline.outputs["model"],
        bandit=cfg.bandit.model_dump(mode="json"), label=cfg.label,
        thresholds=[m.model_dump(mode="json") for m in cfg.eval.metrics],
        bootstrap=cfg.bandit.bootstrap.model_dump(mode="json")).with_id(EVALUATOR)


def tflite_property(cfg: PipelineConfig) -> Optional[str]:
    """The InfraValidator's ``tflite`` execution property (JSON of ``push.tflite``), or
    None when it is off (then the validator's cache key is the same as without it)."""
    import json

    t = cfg.push.tflite
    if not t.enabled:
        return None
    return json.dumps({"transform": t.transform, "select_tf_ops": t.select_tf_ops,
                       "tolerance": t.tolerance}, sort_keys=True)


def card_property(cfg: PipelineConfig) -> str:
    """The RegistryPusher's ``card`` execution property (JSON): the config's ``card:``
    section and, when configured, ``eval.fairness`` (the model card lists its rates)."""
    import json

    doc = {"card": cfg.card.model_dump(mode="json") if cfg.card else {}}
    if cfg.eval.fairness is not None:
        doc["fairness"] = cfg.eval.fairness.model_dump(mode="json")
    return json.dumps(doc, sort_keys=True)


def pusher_run_properties(cfg: PipelineConfig,
                          run_properties: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """What the RegistryPusher records of the run, as its execution properties: the
    config's hash (``cfg.fingerprint()``) and the git commit, from ``run_properties`` (what
    the run records on its pipeline_run context, ``infra/run/properties.run_properties``: keys
    ``config_fingerprint``, ``git_commit``) where given, else "unknown" (the factory runs
    no git). Both are part of the Pusher's cache key: the same config at the same commit
    is cached; a new commit or another config with the same model re-executes the Pusher,
    which then finds the model identical to the serving version and pushes nothing."""
    props = run_properties or {}
    return {"config_hash": str(props.get("config_fingerprint") or cfg.fingerprint()),
            "git_commit": str(props.get("git_commit") or "unknown")}


def create_pipeline(cfg: PipelineConfig, run_properties: Optional[Mapping[str, str]] = None):
    """The training pipeline of a config, with caching on and MLMD where the config says.
    ``run_properties``: what the run records (``infra/run/properties.run_properties``); the
    RegistryPusher records its config hash and git commit (``pusher_run_properties``)."""
    from tfx.orchestration import pipeline as tfx_pipeline

    from tfxkit.pipelines import mlmd

    mlmd.prepare(cfg)
    pipeline = tfx_pipeline.Pipeline(
        pipeline_name=cfg.name,
        pipeline_root=cfg.pipeline_root,
        components=create_components(cfg, run_properties=run_properties),
        enable_cache=True,
        # no password here: the IR (and so MLMD) never holds it; the local runner asks
        # runtime_connection for the full connection when it runs
        metadata_connection_config=mlmd.connection_config(cfg, secrets=False),
        beam_pipeline_args=beam_pipeline_args(cfg))
    pipeline.runtime_connection = mlmd.runtime_connection(cfg)
    return pipeline
