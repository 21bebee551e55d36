"""Kubeflow V2 / Vertex AI Pipelines: compile a config's training pipeline and submit it.

``compile_pipeline`` turns a config into the pipeline spec JSON with TFX's
``KubeflowV2DagRunner`` (the same components as the local runner, with what the V2
compiler needs swapped in: see ``pipelines.factory.create_components(cfg, target)``);
``build_pipeline_job`` builds the ``aiplatform.PipelineJob`` it would submit (plain, no
network: tests assert on its request); ``submit`` sends it, or creates a schedule.

Where the pipeline runs comes from the config's ``deploy:`` section (usually a profile,
``--profile vertex``): the image (infra/docker/Dockerfile), project, region, a remote
``pipeline_root`` and the run's service account. A config that cannot run there fails
in ``check_target`` with a ConfigError naming the field, before anything is compiled.

Nothing secret goes into a compiled spec: the spec holds the components' exec properties,
and tfxkit puts no connection settings (MLMD, prediction stores) there; Vertex keeps its
own metadata.

Heavy imports (TFX, google-cloud-aiplatform) happen inside the functions.
"""
from __future__ import annotations

import json
import os
import posixpath
import tempfile
from typing import Any, Dict, Optional

from tfxkit.pipelines.config import (SPAN_TOKENS, ConfigError, PipelineConfig, cron_of,
                                     is_remote)

TARGETS = ("vertex", "kubeflow")
VERTEX, KUBEFLOW = TARGETS


def _fail(cfg: PipelineConfig, field: str, reason: str):
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
        _fail(cfg, "deploy", f"compiling for {target} needs a deploy section{profile} with "
              "image and pipeline_root (usually in a profile: --profile vertex)")
    if not d.image:
        _fail(cfg, "deploy.image", f"compiling for {target} needs the container image the "
              "steps run in (built from infra/docker/Dockerfile)")
    if not d.pipeline_root:
        _fail(cfg, "deploy.pipeline_root", f"compiling for {target} needs {_where(target)} "
              "where the runs write their artifacts")
    if not _remote_ok(target, d.pipeline_root):
        _fail(cfg, "deploy.pipeline_root", f"{d.pipeline_root!r} is a local path; a {target} "
              f"run's steps cannot see it: give {_where(target)}")
    if cfg.data.rolling_window:
        _fail(cfg, "data.rolling_window", f"the Kubeflow V2 compiler supports only TFX's "
              f"own resolver strategies, not tfxkit's span window: not for {target}")
    src = cfg.data.source
    if src.kind != "bigquery":
        field = f"data.source.{src.kind}"
        if not _remote_ok(target, src.path):
            _fail(cfg, field, f"{src.path!r} is a local path; a {target} run reads its data "
                  f"from {_where(target)} (set it in the profile{profile})")
        if src.kind in ("csv", "parquet") and (
                any(t in src.path for t in SPAN_TOKENS) or cfg.data.span is not None):
            _fail(cfg, field if cfg.data.span is None else "data.span",
                  f"spans are resolved by ArrowExampleGen's driver, which Kubeflow V2 does "
                  "not run: give a plain file, folder or glob for " + target)
    if not _remote_ok(target, cfg.push.registry):
        _fail(cfg, "push.registry", f"{cfg.push.registry!r} is a local path; a {target} "
              f"run pushes models to {_where(target)}")
    for field, mod in (("features.module", cfg.features.module),
                       ("model.module", cfg.model.module)):
        if mod:
            local = cfg.resolve(mod)
            if os.path.relpath(local, cfg.base_dir).startswith(".."):
                _fail(cfg, field, f"{local} is outside the use-case folder "
                      f"{cfg.base_dir}, which is what the image holds")
    if submitting and target == VERTEX:
        if not d.project:
            _fail(cfg, "deploy.project", "submitting to Vertex needs a Google Cloud project")
        if not d.region:
            _fail(cfg, "deploy.region", "submitting to Vertex needs a region")


def remote_pipeline_root(cfg: PipelineConfig) -> str:
    return posixpath.join(cfg.deploy.pipeline_root.rstrip("/"), cfg.name)


def build_pipeline(cfg: PipelineConfig, target: str):
    """The tfx Pipeline for ``target`` (no metadata connection: the orchestrator has its
    own)."""
    from tfx.orchestration import pipeline as tfx_pipeline

    from tfxkit.pipelines.factory import beam_pipeline_args, create_components

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

    from tfxkit.pipelines.factory import runtime_parameters

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


def parse_parameter_values(cfg: PipelineConfig, spec_path: str, values: Dict[str, str]
                           ) -> Dict[str, Any]:
    """``--param name=value`` strings typed like the spec's parameters; an unknown name or
    a bad value is a ConfigError naming it."""
    with open(spec_path) as f:
        spec = json.load(f)
    ps = spec.get("pipelineSpec", spec)
    types = {k: v.get("parameterType") or v.get("type")
             for k, v in ps["root"].get("inputDefinitions", {}).get("parameters", {}).items()}
    out: Dict[str, Any] = {}
    for name, raw in values.items():
        if name not in types:
            _fail(cfg, f"--param {name}", f"no such pipeline parameter; known: "
                  f"{', '.join(sorted(types)) or '(none)'}")
        kind = types[name]
        try:
            if kind in ("NUMBER_INTEGER", "INT"):
                out[name] = int(raw)
            elif kind in ("NUMBER_DOUBLE", "DOUBLE"):
                out[name] = float(raw)
            else:
                out[name] = raw
        except ValueError:
            _fail(cfg, f"--param {name}", f"{raw!r} is not a {kind.lower()}")
    return out


def build_pipeline_job(cfg: PipelineConfig, spec_path: str,
                       parameter_values: Optional[Dict[str, Any]] = None,
                       job_id: Optional[str] = None, credentials=None):
    """The ``aiplatform.PipelineJob`` ``tfxkit deploy`` submits (built, not sent): its
    ``_gca_resource`` is the PipelineJob of the create request."""
    check_target(cfg, VERTEX, submitting=True)
    from google.cloud import aiplatform

    labels = {"tfxkit-pipeline": cfg.name, "tfxkit-config": cfg.fingerprint()}
    labels.update(cfg.deploy.labels)
    return aiplatform.PipelineJob(
        display_name=cfg.name, template_path=spec_path, job_id=job_id,
        pipeline_root=remote_pipeline_root(cfg), parameter_values=parameter_values or {},
        enable_caching=cfg.deploy.enable_cache, labels=labels,
        project=cfg.deploy.project, location=cfg.deploy.region, credentials=credentials)


def schedule_cron(cfg: PipelineConfig) -> str:
    """The Vertex cron of ``deploy.schedule`` (else the top-level ``schedule``)."""
    schedule = cfg.deploy.schedule or cfg.schedule
    if not schedule:
        _fail(cfg, "deploy.schedule", "--schedule needs a schedule (deploy.schedule or "
              "schedule), e.g. '@daily' or '0 3 * * *'")
    if schedule == "@once":
        _fail(cfg, "schedule", "'@once' is not a schedule; deploy without --schedule to "
              "run once")
    return cron_of(schedule)


def stage_files(cfg: PipelineConfig) -> Optional[str]:
    """Uploads what the remote run imports from the pipeline root (the curated schema)
    unless it is there already; returns its URI."""
    if not cfg.validation.schema_file:
        return None
    from tfx.dsl.io import fileio

    from tfxkit.pipelines.factory import remote_schema_uri

    uri = remote_schema_uri(cfg)
    dst = posixpath.join(uri, "schema.pbtxt")
    if not fileio.exists(dst):
        fileio.makedirs(uri)
        tmp = posixpath.join(uri, ".schema.pbtxt.tmp")
        fileio.copy(cfg.resolve(cfg.validation.schema_file), tmp, overwrite=True)
        fileio.rename(tmp, dst, overwrite=True)
    return uri


def schedule_name(cfg: PipelineConfig) -> str:
    return f"{cfg.name}-schedule"


def submit(cfg: PipelineConfig, job, schedule: bool = False):
    """Sends ``job``: a run now, or (``schedule``) a Vertex schedule that starts one per
    cron tick and replaces the config's earlier schedules (created first, then the old
    ones deleted: a redeploy never leaves two schedules, nor none after a failure).
    Returns the PipelineJob or the PipelineJobSchedule."""
    d = cfg.deploy
    if schedule:
        from google.cloud import aiplatform

        name = schedule_name(cfg)
        old = aiplatform.PipelineJobSchedule.list(
            filter=f'display_name="{name}"', project=d.project, location=d.region,
            credentials=job.credentials)
        new = job.create_schedule(cron=schedule_cron(cfg), display_name=name,
                                  service_account=d.service_account, network=d.network)
        for s in old:
            if s.resource_name != new.resource_name:
                s.delete()
        return new
    job.submit(service_account=d.service_account, network=d.network)
    return job


def deploy(cfg: PipelineConfig, output: Optional[str] = None, schedule: bool = False,
           parameters: Optional[Dict[str, str]] = None, credentials=None):
    """compile -> stage -> submit to Vertex. Returns (spec path, job or schedule)."""
    check_target(cfg, VERTEX, submitting=True)
    if schedule:
        schedule_cron(cfg)  # a bad schedule fails before anything is compiled or sent
    path = compile_pipeline(cfg, VERTEX, output)
    values = parse_parameter_values(cfg, path, parameters or {})
    stage_files(cfg)
    job = build_pipeline_job(cfg, path, values, credentials=credentials)
    return path, submit(cfg, job, schedule=schedule)


class JobFailed(RuntimeError):
    """A submitted pipeline job ended without succeeding: names the job and its error."""


def wait(job, poll_s: float = 30.0, echo=print, sleep=None) -> None:
    """Waits for a submitted PipelineJob, echoing each state change (what an Airflow task
    shows in its log); raises JobFailed with the job's own error when it fails or is
    cancelled."""
    import time

    from google.cloud.aiplatform_v1.types import pipeline_state

    s = pipeline_state.PipelineState
    finished = {s.PIPELINE_STATE_SUCCEEDED, s.PIPELINE_STATE_FAILED,
                s.PIPELINE_STATE_CANCELLED}
    sleep = sleep or time.sleep
    last = None
    while True:
        state = job.state
        if state != last:
            echo(f"{job.resource_name}: {s(state).name}")
            last = state
        if state in finished:
            break
        sleep(poll_s)
    if state != s.PIPELINE_STATE_SUCCEEDED:
        error = job._gca_resource.error.message or s(state).name  # pylint: disable=protected-access
        raise JobFailed(f"Run failed in Vertex pipeline job {job.resource_name}: {error}")
