"""The training stage of the training pipeline: Transform -> Trainer -> the baseline
resolver (``training_nodes``).

Transform and Trainer are given import paths (``TRANSFORM_FN``, ``RUN_FN``) and a
``custom_config`` rather than a module file, so no user-module wheel is built and an
unrelated file never invalidates the cache; the config part they read, tfxkit's version
and the content hashes of any user module are in that ``custom_config`` so a change to
any of them does.
"""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from tfxkit.pipelines import compat
from tfxkit.pipelines.component_ids import (BASELINE_RESOLVER, HYPERPARAMETERS_GEN, LOCAL,
                                           TRAINER, TRANSFORM, TUNER,
                                           WARM_START_RESOLVER)
from tfxkit.pipelines.config import PipelineConfig
from tfxkit.pipelines.data_stage import DataNodes, file_sha

TRANSFORM_FN = "tfxkit.pipelines.transform.preprocessing_fn"
RUN_FN = "tfxkit.pipelines.run_fn.run_fn"
TUNER_FN = "tfxkit.pipelines.tuner_fn.tuner_fn"


def _code_marker(paths: List[str]) -> Dict[str, str]:
    import tfxkit

    marker = {"tfxkit": tfxkit.__version__}
    for p in paths:
        marker[os.path.basename(p)] = file_sha(p)
    return marker


def image_path(cfg: PipelineConfig, local_path: str) -> str:
    """Where a file of the use-case folder is inside the container image
    (``deploy.workdir``, where infra/deploy/docker/Dockerfile copies the folder)."""
    rel = os.path.relpath(local_path, cfg.base_dir)
    workdir = cfg.deploy.workdir if cfg.deploy else "/pipeline"
    return posixpath.join(workdir, *rel.split(os.sep))


def _custom_config(cfg: PipelineConfig, section: str, values: Dict[str, Any],
                   module: Optional[str], target: str) -> Dict[str, Any]:
    """A component's ``custom_config``: the task, the label and one config section
    (``values``) whose user ``module`` is resolved (inside the image for a remote
    ``target``), with the code marker of that module and tfxkit's version."""
    if module:
        values["module"] = cfg.resolve(module)
    code = _code_marker([values["module"]] if module else [])
    if module and target != LOCAL:
        values["module"] = image_path(cfg, values["module"])
    out = {"task": cfg.task, "label": cfg.label, "label_classes": cfg.label_classes,
           section: values, "code": code}
    bandit = cfg.bandit  # task bandit: the transform and the policy read it
    if bandit is not None:
        out["bandit"] = bandit.model_dump(mode="json")
    return out


def transform_custom_config(cfg: PipelineConfig, target: str = LOCAL) -> Dict[str, Any]:
    return _custom_config(cfg, "features", cfg.features.model_dump(mode="json"),
                          cfg.features.module, target)


def trainer_custom_config(cfg: PipelineConfig, target: str = LOCAL) -> Dict[str, Any]:
    model = cfg.model.model_dump(mode="json")
    # resolved here: the run's cache key and the Trainer both see the Keras it builds with
    model["keras"] = compat.keras_version(cfg.model.keras)
    if cfg.model.warm_start != "none":
        # where run_fn looks up the registry version of the base model (only then, so the
        # cache key of a run without warm start does not depend on the registry's place)
        model["registry"] = cfg.registry_path
    out = _custom_config(cfg, "model", model, cfg.model.module, target)
    if cfg.push.tflite.enabled:  # run_fn exports the signature the TFLite model comes from
        out["tflite"] = {"transform": cfg.push.tflite.transform,
                         # the raw features it takes: those the config's transform reads
                         # (every raw feature of the schema with a preprocessing module)
                         "features": None if cfg.features.module
                         else sorted(cfg.features.raw_columns())}
    return out


def tuner_custom_config(cfg: PipelineConfig, target: str = LOCAL) -> Dict[str, Any]:
    """The Tuner's ``custom_config``: the model section without the Trainer's own settings
    (``epochs``, ``steps``, ``early_stopping``: a change of them re-runs the Trainer only,
    the Tuner is cached) and ``tune`` beside it."""
    from tfxkit.pipelines.tuner_fn import TRAINER_ONLY

    model = cfg.model.model_dump(mode="json")
    tune = model.pop("tune")
    for key in TRAINER_ONLY:
        model.pop(key, None)
    model["keras"] = compat.keras_version(cfg.model.keras)
    out = _custom_config(cfg, "model", model, cfg.model.module, target)
    out["tune"] = tune
    return out


def runtime_parameters(cfg: PipelineConfig) -> Dict[str, Any]:
    """The per-run parameters of a Kubeflow V2 / Vertex pipeline (defaults: the config's
    values; ``train_steps`` 0 = train ``epochs`` full epochs)."""
    from tfx.orchestration import data_types

    return {
        "epochs": data_types.RuntimeParameter(name="epochs", ptype=int,
                                              default=cfg.model.epochs),
        "train_steps": data_types.RuntimeParameter(name="train_steps", ptype=int,
                                                   default=cfg.model.steps or 0),
        "learning_rate": data_types.RuntimeParameter(name="learning_rate", ptype=float,
                                                     default=float(cfg.model.learning_rate)),
    }


@dataclass
class TrainingNodes:
    transform: Any
    trainer: Any
    baseline: Any  # the resolver of the model the Evaluator compares with
    hyperparameters: Optional[Any] = None  # HyperparametersGen (``hyperparameters:``)
    tuner: Optional[Any] = None  # TFX's Tuner (``model.tune:``)
    warm_start: Optional[Any] = None  # the resolver of the Trainer's base_model
                                      # (``model.warm_start: latest_blessed``)

    def nodes(self) -> List[Any]:
        return [n for n in (self.transform, self.hyperparameters, self.tuner,
                            self.warm_start, self.trainer, self.baseline) if n is not None]


def warm_start_resolver(cfg: PipelineConfig) -> Optional[Any]:
    """With ``model.warm_start: latest_blessed``: a Resolver of the pipeline's latest
    blessed model (TFX's LatestBlessedModelStrategy, run before the Trainer, so the
    candidate of this run is never its own base), whose ``model`` output is the Trainer's
    ``base_model``; None otherwise. With no blessed model yet it resolves nothing and the
    Trainer trains cold (``run_fn`` records why)."""
    if cfg.model.warm_start != "latest_blessed":
        return None
    from tfx.dsl.components.common.resolver import Resolver
    from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
        LatestBlessedModelStrategy)
    from tfx.types import Channel, standard_artifacts

    return Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
    ).with_id(WARM_START_RESOLVER)


def training_nodes(cfg: PipelineConfig, data: DataNodes, target: str = LOCAL) -> TrainingNodes:
    """The training stage on the data stage's channels. For ``vertex`` / ``kubeflow``:
    tfxkit's Trainer with per-run parameters and TFX's LatestBlessedModelStrategy baseline
    (Kubeflow V2 compiles only TFX's own resolver strategies, and exposes only top-level
    RuntimeParameters as pipeline parameters)."""
    from tfxkit.pipelines.compat import tfx_components

    (Transform,) = tfx_components("Transform")
    custom = transform_custom_config(cfg, target)
    spec = transform_executor(cfg, target, custom)
    transform = Transform(
        examples=data.training_examples, schema=data.schema, preprocessing_fn=TRANSFORM_FN,
        custom_config=custom,
        # StatisticsGen already has the statistics; the analyzer cache pays off only
        # across spans. Both cost seconds on every run.
        disable_statistics=True, disable_analyzer_cache=True,
        force_tf_compat_v1=cfg.features.transform_in_tf1()).with_id(TRANSFORM)
    if spec is not None:
        transform.executor_spec = spec
    transform.add_upstream_node(data.gate)
    inputs = dict(run_fn=RUN_FN, examples=transform.outputs["transformed_examples"],
                  transform_graph=transform.outputs["transform_graph"], schema=data.schema,
                  custom_config=trainer_custom_config(cfg, target))
    hparams = None
    if cfg.hyperparameters is not None:
        from tfxkit.components.hyperparameters_gen.component import HyperparametersGen

        hparams = HyperparametersGen(
            cfg.hyperparameters.values, cfg.hyperparameters.search,
            examples=data.training_examples).with_id(HYPERPARAMETERS_GEN)
        inputs["hyperparameters"] = hparams.outputs["hyperparameters"]
    tuner = None
    if cfg.model.tune is not None:  # model.tune: TFX's Tuner; its best values -> Trainer
        tuner = _tuner(cfg, transform, target)
        inputs["hyperparameters"] = tuner.outputs["best_hyperparameters"]
    warm = warm_start_resolver(cfg)
    if warm is not None:
        inputs["base_model"] = warm.outputs["model"]
    if target == LOCAL:
        trainer, baseline = _local_trainer(inputs)
    else:
        trainer, baseline = _remote_trainer(cfg, inputs)
    return TrainingNodes(transform, trainer, baseline, hparams, tuner, warm)


def transform_executor(cfg: PipelineConfig, target: str, custom_config: Dict[str, Any]):
    """Small data on the local direct runner: tfxkit's Transform executor, which runs
    tf.Transform's analysis in its own process (``components/transform``), with the
    limit in ``custom_config`` (so a change of it re-runs Transform); None (TFX's
    executor, Beam) otherwise."""
    from tfxkit.components.transform import MAX_BYTES_KEY
    from tfxkit.pipelines.beam_args import transform_in_process_bytes

    limit = transform_in_process_bytes(cfg) if target == LOCAL else 0
    if not limit:
        return None
    from tfx.dsl.components.base import executor_spec

    from tfxkit.components.transform.executor import Executor

    custom_config[MAX_BYTES_KEY] = limit
    return executor_spec.BeamExecutorSpec(Executor)


def _tuner(cfg: PipelineConfig, transform: Any, target: str):
    """TFX's Tuner on the transformed examples (train split; trials scored on eval)."""
    from tfxkit.pipelines.compat import tfx_components

    from tfx.dsl.components.base import executor_spec

    from tfxkit.pipelines.tuner_executor import Executor

    (Tuner,) = tfx_components("Tuner")
    tuner = Tuner(examples=transform.outputs["transformed_examples"],
                  transform_graph=transform.outputs["transform_graph"], tuner_fn=TUNER_FN,
                  custom_config=tuner_custom_config(cfg, target)).with_id(TUNER)
    # TFX's executor, then the outcome as custom properties (tuner_executor.record)
    tuner.executor_spec = executor_spec.ExecutorClassSpec(Executor)
    return tuner


def _local_trainer(inputs: Dict[str, Any]):
    """TFX's Trainer, and tfxkit's LatestBlessedBaselineStrategy (given the candidate)."""
    from tfxkit.pipelines.compat import tfx_components

    (Trainer,) = tfx_components("Trainer")
    from tfx.dsl.components.common.resolver import Resolver
    from tfx.types import Channel, standard_artifacts

    from tfxkit.components.baseline_resolver.strategy import LatestBlessedBaselineStrategy

    trainer = Trainer(**inputs).with_id(TRAINER)
    baseline = Resolver(
        strategy_class=LatestBlessedBaselineStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
        candidate=trainer.outputs["model"]).with_id(BASELINE_RESOLVER)
    return trainer, baseline


def _remote_trainer(cfg: PipelineConfig, inputs: Dict[str, Any]):
    """tfxkit's Trainer with per-run parameters, and TFX's LatestBlessedModelStrategy."""
    from tfx.dsl.components.common.resolver import Resolver
    from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
        LatestBlessedModelStrategy)
    from tfx.types import Channel, standard_artifacts

    from tfxkit.components.trainer.component import Trainer as RunParamTrainer

    trainer = RunParamTrainer(**inputs, **runtime_parameters(cfg)).with_id(TRAINER)
    baseline = Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing),
    ).with_id(BASELINE_RESOLVER)
    return trainer, baseline
