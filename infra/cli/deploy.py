"""``tfxkit compile`` (Kubeflow V2 / Vertex AI Pipelines) and ``tfxkit deploy`` (submit
to Vertex)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from tfxkit.infra.cli.common import config_options, load_or_exit, quiet_logs


def _deploy_step(fn, *args, **kwargs):
    """Runs an infra/deploy step; a config that cannot compile for the target exits 2."""
    from tfxkit.pipelines.config import ConfigError

    try:
        return fn(*args, **kwargs)
    except ConfigError as e:
        click.secho(f"config error: {e}", fg="red", err=True)
        sys.exit(2)


@click.command("compile")
@config_options
@click.option("--target", "-t", required=True, type=click.Choice(["vertex", "kubeflow"]),
              help="vertex: a PipelineJob JSON; kubeflow: the PipelineSpec JSON (KFP 2).")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Where to write it (default .tfxkit/compiled/NAME-TARGET.json).")
def compile_cmd(config, profile, sets, target, output):
    """Compile CONFIG's training pipeline for Kubeflow V2 / Vertex AI Pipelines."""
    import json

    from tfxkit.infra.deploy import compiler

    cfg, _ = load_or_exit(config, profile, sets)
    _deploy_step(compiler.check_target, cfg, target)
    quiet_logs(False)
    path = _deploy_step(compiler.compile_pipeline, cfg, target, output)
    params = compiler.pipeline_parameters(json.loads(Path(path).read_text()))
    click.echo(f"{path}: {cfg.name} for {target}, image {cfg.deploy.image}, pipeline root "
               f"{compiler.remote_pipeline_root(cfg)}; parameters "
               + ", ".join(f"{k}={v}" for k, v in sorted(params.items())))


@click.command("deploy")
@config_options
@click.option("--target", "-t", default="vertex", show_default=True,
              type=click.Choice(["vertex"]))
@click.option("--schedule", is_flag=True,
              help="Create a Vertex schedule (deploy.schedule or schedule) instead of one run.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A pipeline parameter for this run, e.g. --param epochs=5.")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Where to write the compiled spec.")
@click.option("--wait", "wait_", is_flag=True,
              help="Wait for the run to finish, printing its state; exit 1 if it fails.")
def deploy_cmd(config, profile, sets, target, schedule, params, output, wait_):
    """Compile CONFIG and submit it to Vertex AI Pipelines (a run, or a schedule)."""
    from tfxkit.infra.deploy import compiler, submit

    cfg, _ = load_or_exit(config, profile, sets)
    values = {}
    for p in params:
        if "=" not in p:
            raise click.UsageError(f"--param expects NAME=VALUE, got {p!r}")
        k, v = p.split("=", 1)
        values[k.strip()] = v
    _deploy_step(compiler.check_target, cfg, target, submitting=True)
    quiet_logs(False)
    path, res = _deploy_step(submit.deploy, cfg, output, schedule=schedule, parameters=values)
    what = "schedule" if schedule else "pipeline job"
    click.echo(f"{path}: submitted {what} {getattr(res, 'resource_name', res)}")
    if wait_ and not schedule:
        try:
            submit.wait(res, echo=click.echo)
        except submit.JobFailed as e:
            click.secho(str(e), fg="red", err=True)
            sys.exit(1)
