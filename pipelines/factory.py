"""The training pipeline factory: PipelineConfig -> tfx.dsl.Pipeline (a pure function).

ExampleGen -> StatisticsGen -> SchemaGen (or a curated schema) -> ExampleValidator ->
ValidationGate -> Transform -> Trainer -> baseline resolver -> Evaluator, InfraValidator
-> Pusher (tfxkit's RegistryPusher: pushes only with both blessings; the stock Pusher on
Kubeflow / Vertex).

Transform and Trainer are given import paths (``preprocessing_fn``, ``run_fn``) and a
``custom_config`` rather than a module file, so no user-module wheel is built and an
unrelated file never invalidates the cache; the config part they read, tfxkit's version
and the content hashes of any user module are in that ``custom_config`` so a change to
any of them does.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
from typing import Any, Dict, List, Mapping, Optional, Tuple

from tfxkit.pipelines import compat
from tfxkit.pipelines.config import PipelineConfig

TRANSFORM_FN = "tfxkit.pipelines.transform.preprocessing_fn"
RUN_FN = "tfxkit.pipelines.run_fn.run_fn"
LOCAL = "local"  # create_components' target for the local runner (else vertex, kubeflow)

# Component ids, in pipeline order (the CLI and tests refer to them).
EXAMPLE_GEN = "ExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "SchemaGen"
SCHEMA_IMPORTER = "SchemaImporter"
EXAMPLE_VALIDATOR = "ExampleValidator"
VALIDATION_GATE = "ValidationGate"
SPAN_WINDOW = "SpanWindow"
TRANSFORM = "Transform"
TRAINER = "Trainer"
BASELINE_RESOLVER = "BaselineResolver"
EVALUATOR = "Evaluator"
INFRA_VALIDATOR = "InfraValidator"
PUSHER = "Pusher"


def _sha(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def _code_marker(paths: List[str]) -> Dict[str, str]:
    import tfxkit

    marker = {"tfxkit": tfxkit.__version__}
    for p in paths:
        marker[os.path.basename(p)] = _sha(p)
    return marker


def image_path(cfg: PipelineConfig, local_path: str) -> str:
    """Where a file of the use-case folder is inside the container image
    (``deploy.workdir``, where infra/docker/Dockerfile copies the folder)."""
    rel = os.path.relpath(local_path, cfg.base_dir)
    workdir = cfg.deploy.workdir if cfg.deploy else "/pipeline"
    return posixpath.join(workdir, *rel.split(os.sep))


def transform_custom_config(cfg: PipelineConfig, target: str = LOCAL) -> Dict[str, Any]:
    features = cfg.features.model_dump(mode="json")
    if cfg.features.module:
        features["module"] = cfg.resolve(cfg.features.module)
    code = _code_marker([features["module"]] if cfg.features.module else [])
    if cfg.features.module and target != LOCAL:
        features["module"] = image_path(cfg, features["module"])
    return {"task": cfg.task, "label": cfg.label, "label_classes": cfg.label_classes,
            "features": features, "code": code}


def trainer_custom_config(cfg: PipelineConfig, target: str = LOCAL) -> Dict[str, Any]:
    model = cfg.model.model_dump(mode="json")
    # resolved here: the run's cache key and the Trainer both see the Keras it builds with
    model["keras"] = compat.keras_version(cfg.model.keras)
    if cfg.model.module:
        model["module"] = cfg.resolve(cfg.model.module)
    code = _code_marker([model["module"]] if cfg.model.module else [])
    if cfg.model.module and target != LOCAL:
        model["module"] = image_path(cfg, model["module"])
    return {"task": cfg.task, "label": cfg.label, "label_classes": cfg.label_classes,
            "model": model, "code": code}


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


def remote_schema_uri(cfg: PipelineConfig) -> str:
    """Where a remote run imports the curated schema from (``tfxkit deploy`` uploads it):
    a content-addressed folder under ``deploy.pipeline_root``."""
    src = cfg.resolve(cfg.validation.schema_file)
    return posixpath.join(cfg.deploy.pipeline_root, cfg.name, "curated_schema", _sha(src))


def split_input(path: str) -> Tuple[str, str]:
    """(input_base, pattern) for a file, a folder, or a glob (or span pattern)."""
    if os.path.isdir(path):
        return path, "*"
    if any(ch in path for ch in "*?[{"):
        parts = path.split(os.sep)
        i = next(i for i, part in enumerate(parts) if any(ch in part for ch in "*?[{"))
        return os.sep.join(parts[:i]) or os.sep, os.sep.join(parts[i:])
    return os.path.dirname(path), os.path.basename(path)


# Beam options that tell TFX the workers already have their Python dependencies; without
# one, every Beam-based executor rebuilds TFX as an sdist (~4 s, tfx/utils/dependency_utils).
_DEPENDENCY_OPTIONS = ("--extra_package", "--extra_packages", "--setup_file",
                       "--requirements_file", "--sdk_container_image",
                       "--worker_harness_container_image")


def tfxkit_setup_file() -> str:
    """tfxkit's own setup.py (installs tfxkit and, through it, tfx): what remote Beam
    workers need to run tfxkit's and TFX's executors when no container image has them."""
    import tfxkit

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(tfxkit.__file__))),
                        "setup.py")


def _opt(args: List[str], name: str, value) -> None:
    if value is not None and value != "":
        args.append(f"--{name}={value}")


def _portable_args(r, args: List[str]) -> None:
    _opt(args, "environment_type", r.environment_type)
    _opt(args, "environment_config", r.environment_config)
    _opt(args, "sdk_container_image", r.sdk_container_image)
    _opt(args, "setup_file", r.setup_file)
    _opt(args, "sdk_worker_parallelism", r.sdk_worker_parallelism)


def beam_pipeline_args(cfg: PipelineConfig) -> List[str]:
    """Beam arguments from ``cfg.beam``.

    - direct, in_memory, nothing extra: no arguments at all (TFX's default in-process
      Beam; any argument would make TFX rebuild itself as an sdist per Beam component).
    - direct with a mode or workers: ``--direct_running_mode``/``--direct_num_workers``
      plus ``--setup_file`` (tfxkit's setup.py). The DirectRunner stages nothing (its
      workers are this process or subprocesses of this Python), so the flag costs nothing;
      it only tells TFX's ``make_beam_dependency_flags`` that dependencies are handled.
    - dataflow / flink / spark: the runner and its options; when no container image or
      package option is given, ``--setup_file`` with tfxkit's setup.py, so the workers
      install tfxkit (and tfx) instead of TFX's ephemeral sdist without tfxkit.
    ``extra_args`` come last (Beam takes the last value of a repeated option).
    """
    b = cfg.beam
    args: List[str] = []
    if b.runner == "direct":
        if b.mode != "in_memory" or b.workers:
            args.append(f"--direct_running_mode={b.mode}")
            args.append(f"--direct_num_workers={b.workers}")
    elif b.runner == "dataflow":
        d = b.dataflow
        args.append("--runner=DataflowRunner")
        _opt(args, "project", d.project)
        _opt(args, "region", d.region)
        _opt(args, "temp_location", d.temp_location)
        _opt(args, "staging_location", d.staging_location)
        _opt(args, "machine_type", d.machine_type)
        _opt(args, "num_workers", d.num_workers)
        _opt(args, "max_num_workers", d.max_workers)
        _opt(args, "sdk_container_image", d.sdk_container_image)
        _opt(args, "setup_file", d.setup_file)
        _opt(args, "service_account_email", d.service_account_email)
        _opt(args, "network", d.network)
        _opt(args, "subnetwork", d.subnetwork)
        args += [f"--experiments={e}" for e in d.experiments]
    elif b.runner == "flink":
        f = b.flink
        if f.flink_master:
            args += ["--runner=FlinkRunner", f"--flink_master={f.flink_master}"]
            _opt(args, "flink_version", f.flink_version)
        else:
            args += ["--runner=PortableRunner", f"--job_endpoint={f.job_endpoint}"]
        _opt(args, "parallelism", f.parallelism)
        _portable_args(f, args)
    elif b.runner == "spark":
        s = b.spark
        if s.spark_master_url:
            args += ["--runner=SparkRunner", f"--spark_master_url={s.spark_master_url}"]
            _opt(args, "spark_rest_url", s.spark_rest_url)
            _opt(args, "spark_version", s.spark_version)
        else:
            args += ["--runner=PortableRunner", f"--job_endpoint={s.job_endpoint}"]
        _portable_args(s, args)
    args += list(b.extra_args)
    if args and not any(a.split("=", 1)[0] in _DEPENDENCY_OPTIONS for a in args):
        setup_file = tfxkit_setup_file()
        if b.runner != "direct" and not os.path.isfile(setup_file):
            raise ValueError(f"beam.{b.runner}: the workers need tfx and tfxkit; give "
                             "sdk_container_image (an image with both) or setup_file "
                             f"(tfxkit is installed without its setup.py, no {setup_file})")
        args.append(f"--setup_file={setup_file}")
    return args


def bigquery_split_queries(query: str, split) -> Dict[str, str]:
    """Per-split BigQuery queries (Waze's BigQuery-based train/eval split): a
    FARM_FINGERPRINT hash bucket of the key (or of the whole row), or the predicates."""
    if split.predicates:
        ev = split.predicates["eval"]
        return {"train": f"SELECT * FROM ({query}) WHERE NOT ({ev})",
                "eval": f"SELECT * FROM ({query}) WHERE ({ev})"}
    total = split.train + split.eval
    what = f"CAST(`{split.key}` AS STRING)" if split.key else "TO_JSON_STRING(t)"
    bucket = f"MOD(ABS(FARM_FINGERPRINT({what})), {total})"
    return {"train": f"SELECT * FROM ({query}) AS t WHERE {bucket} < {split.train}",
            "eval": f"SELECT * FROM ({query}) AS t WHERE {bucket} >= {split.train}"}


def _example_gen(cfg: PipelineConfig):
    """ArrowExampleGen (DuckDB + tfx_bsl) for CSV and Parquet; ImportExampleGen for TFRecord;
    BigQueryExampleGen with a generated per-split query for BigQuery."""
    from tfxkit.components.example_gen.component import ArrowExampleGen

    if cfg.data.source.kind == "bigquery":
        from tfx.extensions.google_cloud_big_query.example_gen.component import (
            BigQueryExampleGen)
        from tfx.proto import example_gen_pb2 as eg

        queries = bigquery_split_queries(cfg.data.source.bigquery.query, cfg.data.split)
        return BigQueryExampleGen(input_config=eg.Input(splits=[
            eg.Input.Split(name=name, pattern=q) for name, q in queries.items()])
        ).with_id(EXAMPLE_GEN)

    base, pattern = split_input(cfg.resolve(cfg.data.source.path))
    split = cfg.data.split
    kind = cfg.data.source.kind
    if kind in ("csv", "parquet"):
        predicates = list(split.predicates.items()) if split.predicates else None
        if predicates:  # eval first when both could match (eval: "<cond>", train: "true")
            predicates.sort(key=lambda kv: kv[0] != "eval")
        range_config = None
        if cfg.data.span is not None:
            from tfx.proto import range_config_pb2

            range_config = range_config_pb2.RangeConfig(
                static_range=range_config_pb2.StaticRange(
                    start_span_number=cfg.data.span, end_span_number=cfg.data.span))
        return ArrowExampleGen(
            input_base=base, pattern=pattern, kind=kind, range_config=range_config,
            splits=[("train", split.train), ("eval", split.eval)], key=split.key,
            query=cfg.data.source.query, predicates=predicates,
            on_null_key=split.on_null_key).with_id(EXAMPLE_GEN)
    from tfx.components import ImportExampleGen
    from tfx.proto import example_gen_pb2 as eg

    split_config = eg.SplitConfig(
        splits=[eg.SplitConfig.Split(name="train", hash_buckets=split.train),
                eg.SplitConfig.Split(name="eval", hash_buckets=split.eval)])
    if split.key:
        split_config.partition_feature_name = split.key
    return ImportExampleGen(
        input_base=base, input_config=eg.Input(splits=[eg.Input.Split(name="all",
                                                                      pattern=pattern)]),
        output_config=eg.Output(split_config=split_config)).with_id(EXAMPLE_GEN)


def _curated_schema_dir(cfg: PipelineConfig) -> str:
    """Copies the curated schema into a content-addressed folder (what an Importer
    reads: ``schema.pbtxt``), so an edit to it is a new artifact and an unchanged
    schema stays cached."""
    src = cfg.resolve(cfg.validation.schema_file)
    dst = os.path.join(cfg.pipeline_root, "curated_schema", _sha(src))
    if not os.path.isfile(os.path.join(dst, "schema.pbtxt")):
        os.makedirs(dst, exist_ok=True)
        tmp = os.path.join(dst, ".schema.pbtxt.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, os.path.join(dst, "schema.pbtxt"))
    return dst


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


def create_components(cfg: PipelineConfig, target: str = LOCAL,
                      run_properties: Optional[Mapping[str, str]] = None) -> list:
    """The components of the training pipeline. ``target`` ``vertex`` / ``kubeflow`` (see
    infra/deploy/compiler.py, which checks the config for it first) swaps in what the
    Kubeflow V2 compiler supports: TFX's LatestBlessedModelStrategy baseline, tfxkit's
    Trainer with per-run parameters, module paths inside the image, the schema under the
    remote root.
    ``run_properties``: the run's recorded properties (``pusher_run_properties``)."""
    # Direct imports, not tfx.v1: that one also imports the Google Cloud extensions (~10 s).
    from tfxkit.pipelines.compat import tfx_components

    (Evaluator, ExampleValidator, Pusher, SchemaGen, StatisticsGen, Trainer,
     Transform) = tfx_components("Evaluator", "ExampleValidator", "Pusher", "SchemaGen",
                                 "StatisticsGen", "Trainer", "Transform")
    from tfx.dsl.components.common.importer import Importer
    from tfx.dsl.components.common.resolver import Resolver
    from tfx.proto import pusher_pb2
    from tfx.types import Channel, standard_artifacts

    from tfxkit.components.baseline_resolver.strategy import LatestBlessedBaselineStrategy
    from tfxkit.components.validation_gate.component import ValidationGate
    from tfxkit.pipelines.metrics import eval_config_from

    example_gen = _example_gen(cfg)
    examples = example_gen.outputs["examples"]
    statistics_gen = StatisticsGen(examples=examples).with_id(STATISTICS_GEN)
    if cfg.validation.schema_file:
        schema_node = Importer(source_uri=(_curated_schema_dir(cfg) if target == LOCAL
                                           else remote_schema_uri(cfg)),
                                       artifact_type=standard_artifacts.Schema
                                       ).with_id(SCHEMA_IMPORTER)
        schema = schema_node.outputs["result"]
    else:
        # Shapes are not inferred: every feature may be absent, so a missing value
        # parses as an empty sparse value (training and serving) instead of failing.
        schema_node = SchemaGen(statistics=statistics_gen.outputs["statistics"],
                                               infer_feature_shape=False).with_id(SCHEMA_GEN)
        schema = schema_node.outputs["schema"]
    validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema).with_id(EXAMPLE_VALIDATOR)
    gate = ValidationGate(anomalies=validator.outputs["anomalies"],
                          on_anomalies=cfg.validation.on_anomalies).with_id(VALIDATION_GATE)
    window = None
    if cfg.data.rolling_window and target != LOCAL:
        raise ValueError("data.rolling_window: the Kubeflow V2 compiler supports no custom "
                         "resolver strategy")
    if cfg.data.rolling_window:
        from tfxkit.components.span_window.strategy import LatestSpansStrategy

        window = Resolver(
            strategy_class=LatestSpansStrategy,
            # a past span (data.span, tfxkit run --span N): the window ends at that span
            config={"num_spans": cfg.data.rolling_window,
                    **({} if cfg.data.span is None else {"max_span": cfg.data.span})},
            examples=Channel(type=standard_artifacts.Examples,
                             producer_component_id=EXAMPLE_GEN, output_key="examples"),
        ).with_id(SPAN_WINDOW)
        window.add_upstream_node(example_gen)  # resolve after this run's ingestion
    transform = Transform(
        examples=window.outputs["examples"] if window else examples, schema=schema, preprocessing_fn=TRANSFORM_FN,
        custom_config=transform_custom_config(cfg, target),
        # StatisticsGen already has the statistics; the analyzer cache pays off only
        # across spans. Both cost seconds on every run.
        disable_statistics=True, disable_analyzer_cache=True).with_id(TRANSFORM)
    transform.add_upstream_node(gate)
    if target == LOCAL:
        trainer = Trainer(
            run_fn=RUN_FN, examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"], schema=schema,
            custom_config=trainer_custom_config(cfg)).with_id(TRAINER)
        baseline = Resolver(
            strategy_class=LatestBlessedBaselineStrategy,
            model=Channel(type=standard_artifacts.Model),
            model_blessing=Channel(type=standard_artifacts.ModelBlessing),
            candidate=trainer.outputs["model"]).with_id(BASELINE_RESOLVER)
    else:
        # Kubeflow V2 compiles only TFX's own resolver strategies, and exposes only
        # top-level RuntimeParameters as pipeline parameters.
        from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
            LatestBlessedModelStrategy)

        from tfxkit.components.trainer.component import Trainer as RunParamTrainer

        trainer = RunParamTrainer(
            run_fn=RUN_FN, examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"], schema=schema,
            custom_config=trainer_custom_config(cfg, target),
            **runtime_parameters(cfg)).with_id(TRAINER)
        baseline = Resolver(
            strategy_class=LatestBlessedModelStrategy,
            model=Channel(type=standard_artifacts.Model),
            model_blessing=Channel(type=standard_artifacts.ModelBlessing),
        ).with_id(BASELINE_RESOLVER)
    eval_config = eval_config_from(cfg)
    evaluator = Evaluator(
        examples=examples, model=trainer.outputs["model"],
        baseline_model=baseline.outputs["model"], schema=schema,
        eval_config=eval_config).with_id(EVALUATOR)
    if eval_config.cross_slicing_specs:
        # a gated fairness gap: the executor that fixes TFMA's cross-slice validation for
        # its run (pipelines/evaluator.py); without one, the stock executor (same cache key)
        from tfxkit.pipelines import evaluator as fair_evaluator

        evaluator.executor_spec = fair_evaluator.executor_spec()
    infra = None
    if target == LOCAL:
        from tfxkit.components.infra_validator.component import InfraValidator
        from tfxkit.components.registry.component import RegistryPusher

        iv = cfg.push.infra_validation
        infra = InfraValidator(
            model=trainer.outputs["model"], examples=examples, split="eval",
            num_examples=iv.examples, requests=iv.requests, max_latency_ms=iv.max_latency_ms,
            timeout_s=iv.timeout_s).with_id(INFRA_VALIDATOR)
        infra.add_upstream_node(evaluator)  # after the evaluation in the run's order
        # both blessings are required: a missing or unblessed one is recorded as a refusal
        pusher = RegistryPusher(
            model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
            infra_blessing=infra.outputs["blessing"],
            evaluation=evaluator.outputs["evaluation"],
            examples=window.outputs["examples"] if window else examples,
            registry=cfg.registry_path, keep_versions=cfg.push.keep_versions,
            model_name=cfg.name, **pusher_run_properties(cfg, run_properties)).with_id(PUSHER)
    else:
        pusher = Pusher(
            model=trainer.outputs["model"], model_blessing=evaluator.outputs["blessing"],
            push_destination=pusher_pb2.PushDestination(
                filesystem=pusher_pb2.PushDestination.Filesystem(
                    base_directory=cfg.registry_path))).with_id(PUSHER)
    return [c for c in (example_gen, statistics_gen, schema_node, validator, gate, window,
                        transform, trainer, baseline, evaluator, infra, pusher)
            if c is not None]


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
