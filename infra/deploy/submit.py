"""Vertex AI Pipelines: submit a compiled pipeline, as one run or a schedule, and wait
for a run.

``build_pipeline_job`` builds the ``aiplatform.PipelineJob`` ``deploy`` would submit
(plain, no network: tests assert on its request); ``submit`` sends it, or creates a
schedule; ``deploy`` does it all (compile, stage, submit) and ``wait`` follows a run.
Where it runs comes from the config's ``deploy:`` section (``compiler.py``).

Heavy imports (TFX, google-cloud-aiplatform) happen inside the functions.
"""
from __future__ import annotations

import json
import posixpath
from typing import Any, Dict, Optional

from tfxkit.infra.deploy.compiler import (VERTEX, check_target, compile_pipeline, fail,
                                          remote_pipeline_root)
from tfxkit.pipelines.config import PipelineConfig, cron_of


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
            fail(cfg, f"--param {name}", f"no such pipeline parameter; known: "
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
            fail(cfg, f"--param {name}", f"{raw!r} is not a {kind.lower()}")
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
        fail(cfg, "deploy.schedule", "--schedule needs a schedule (deploy.schedule or "
              "schedule), e.g. '@daily' or '0 3 * * *'")
    if schedule == "@once":
        fail(cfg, "schedule", "'@once' is not a schedule; deploy without --schedule to "
              "run once")
    return cron_of(schedule)


def stage_files(cfg: PipelineConfig) -> Optional[str]:
    """Uploads what the remote run imports from the pipeline root (the curated schema)
    unless it is there already; returns its URI."""
    if not cfg.validation.schema_file:
        return None
    from tfx.dsl.io import fileio

    from tfxkit.pipelines.data_stage import remote_schema_uri

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
