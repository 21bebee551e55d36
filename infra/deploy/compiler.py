"""Kubeflow V2 / Vertex AI Pipelines: compile a config's training pipeline.

``compile_pipeline`` turns a config into the pipeline spec JSON with TFX's
``KubeflowV2DagRunner`` (the same components as the local runner, with what the V2
compiler needs swapped in: see ``pipelines.factory.create_components(cfg, target)``);
``submit.py`` sends it to Vertex.

Where the pipeline runs comes from the config's ``deploy:`` section (usually a profile,
``--profile vertex``): the image (infra/deploy/docker/Dockerfile), project, region, a remote
``pipeline_root`` and the run's service account. A config that cannot run there fails
in ``check_target`` with a ConfigError naming the field, before anything is compiled.

Nothing secret goes into a compiled spec: the spec holds the components' exec properties,
and tfxkit puts no connection settings (MLMD, prediction stores) there; Vertex keeps its
own metadata.

Heavy imports (TFX) happen inside the functions.
"""
from __future__ import annotations

import json
import os
import posixpath
import tempfile
from typing import Any, Dict, Optional

from tfxkit.pipelines.config import SPAN_TOKENS, ConfigError, PipelineConfig, is_remote

TARGETS = ("vertex", "kubeflow")
VERTEX, KUBEFLOW = TARGETS


def fail(cfg: PipelineConfig, field: str, reason: str):
    """Raises the ConfigError of ``field`` of ``cfg``."""
    raise ConfigError(cfg.config_path or "<config>", field, reason)


def _remote_ok(target: str, path: str) -> bool:
    """Vertex reads and writes Cloud Storage; Kubeflow any URI its image can (gs://, s3://,
    minio://, hdfs://)."""
    return path.startswith("gs://") if target == VERTEX else is_remote(path)


def _where(target: str) -> str:
    return "a gs:// URI" if target == VERTEX else "a remote URI (gs://, s3://, ...)"


def check_target(cfg: PipelineConfig, target: str, submitting: bool = False) -> None:
    """Raises ConfigError (naming the field) when ``cfg`` cannot compile or, with
    ``submitting``, be submitted for ``target``."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    profile = f" (profile {cfg.profile})" if cfg.profile else ""
    d = cfg.deploy
    if d is None:
        fail(cfg, "deploy", f"compiling for {target} needs a deploy section{profile} with "
              "image and pipeline_root (usually in a profile: --profile vertex)")
    if not d.image:
        fail(cfg, "deploy.image", f"compiling for {target} needs the container image the "
              "steps run in (built from infra/deploy/docker/Dockerfile)")
    if not d.pipeline_root:
        fail(cfg, "deploy.pipeline_root", f"compiling for {target} needs {_where(target)} "
              "where the runs write their artifacts")
    if not _remote_ok(target, d.pipeline_root):
        fail(cfg, "deploy.pipeline_root", f"{d.pipeline_root!r} is a local path; a {target} "
              f"run's steps cannot see it: give {_where(target)}")
    if cfg.data.rolling_window:
        fail(cfg, "data.rolling_window", f"the Kubeflow V2 compiler supports only TFX's "
              f"own resolver strategies, not tfxkit's span window: not for {target}")
    src = cfg.data.source
    if src.kind != "bigquery":
        field = f"data.source.{src.kind}"
        if not _remote_ok(target, src.path):
            fail(cfg, field, f"{src.path!r} is a local path; a {target} run reads its data "
                  f"from {_where(target)} (set it in the profile{profile})")
        if src.kind in ("csv", "parquet") and (
                any(t in src.path for t in SPAN_TOKENS) or cfg.data.span is not None):
            fail(cfg, field if cfg.data.span is None else "data.span",
                  f"spans are resolved by ArrowExampleGen's driver, which Kubeflow V2 does "
                  "not run: give a plain file, folder or glob for " + target)
    if not _remote_ok(target, cfg.push.registry):
        fail(cfg, "push.registry", f"{cfg.push.registry!r} is a local path; a {target} "
              f"run pushes models to {_where(target)}")
    for field, mod in (("features.module", cfg.features.module),
                       ("model.module", cfg.model.module)):
        if mod:
            local = cfg.resolve(mod)
            if os.path.relpath(local, cfg.base_dir).startswith(".."):
                fail(cfg, field, f"{local} is outside the use-case folder "
                      f"{cfg.base_dir}, which is what the image holds")
    if submitting and target == VERTEX:
        if not d.project:
            fail(cfg, "deploy.project", "submitting to Vertex needs a Google Cloud project")
        if not d.region:
            fail(cfg, "deploy.region", "submitting to Vertex needs a region")


def remote_pipeline_root(cfg: PipelineConfig) -> str:
    return posixpath.join(cfg.deploy.pipeline_root.rstrip("/"), cfg.name)


def build_pipeline(cfg: PipelineConfig, target: str):
    """The tfx Pipeline for ``target`` (no metadata connection: the orchestrator has its
    own)."""
    from tfx.orchestration import pipeline as tfx_pipeline

    from tfxkit.pipelines.beam_args import beam_pipeline_args
    from tfxkit.pipelines.factory import create_components

    return tfx_pipeline.Pipeline(
        pipeline_name=cfg.name,
        pipeline_root=remote_pipeline_root(cfg),
        components=create_components(cfg, target=target),
        enable_cache=cfg.deploy.enable_cache,
        beam_pipeline_args=beam_pipeline_args(cfg))


def default_output(cfg: PipelineConfig, target: str) -> str:
    return os.path.join(cfg.base_dir, ".tfxkit", "compiled", f"{cfg.name}-{target}.json")


def compile_spec(cfg: PipelineConfig, target: str) -> Dict[str, Any]:
    """The compiled pipeline as a dict: a PipelineJob (``displayName``, ``pipelineSpec``,
    ``runtimeConfig``) for Vertex; the PipelineSpec itself (what KFP's client and UI
    upload) for Kubeflow, with ``defaultPipelineRoot`` set."""
    check_target(cfg, target)
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner as v2

    from tfxkit.pipelines.training_stage import runtime_parameters

    # Pipeline spec schema 2.1 (parameterType NUMBER_INTEGER, ...), what KFP 2 backends
    # and Vertex read; TFX's compiler leaves out the parameters' defaults, added here.
    runner = v2.KubeflowV2DagRunner(config=v2.KubeflowV2DagRunnerConfig(
        display_name=cfg.name, default_image=cfg.deploy.image, use_pipeline_spec_2_1=True))
    defaults = {p.name: p.default for p in runtime_parameters(cfg).values()}
    job = runner.run(build_pipeline(cfg, target), parameter_values=defaults, write_out=False)
    params = job["pipelineSpec"]["root"].get("inputDefinitions", {}).get("parameters", {})
    for name, spec in params.items():
        if name in defaults:
            spec["defaultValue"] = defaults[name]
            spec["isOptional"] = True
    if target == KUBEFLOW:
        spec = job["pipelineSpec"]
        spec["defaultPipelineRoot"] = remote_pipeline_root(cfg)
        return spec
    return job


def compile_pipeline(cfg: PipelineConfig, target: str, output: Optional[str] = None) -> str:
    """Writes the compiled pipeline JSON (atomically) and returns its path."""
    spec = compile_spec(cfg, target)
    out = os.path.abspath(output or default_output(cfg, target))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".compile-", suffix=".json", dir=os.path.dirname(out))
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(spec, f, sort_keys=True, indent=1)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


def pipeline_parameters(spec: Dict[str, Any]) -> Dict[str, Any]:
    """{name: default} of the runtime parameters of a compiled spec (either form)."""
    ps = spec.get("pipelineSpec", spec)
    params = ps.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    return {name: p.get("defaultValue") for name, p in params.items()}
