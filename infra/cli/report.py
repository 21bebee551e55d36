"""``tfxkit report`` (a run's HTML report) and ``tfxkit lineage`` (how a pushed model
was made), from ML Metadata."""
from __future__ import annotations

import os
import sys

import click

from tfxkit.infra.cli.common import config_options, load_with_metadata, quiet_logs


@click.command()
@config_options
@click.option("--run", "run_id", default=None, metavar="ID",
              help="The run (pipeline_run id, as `tfxkit run` prints it); default the latest "
                   "run of the training or batch-inference pipeline.")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Where to write the HTML (default PIPELINE_ROOT/reports/run-ID.html).")
def report(config, profile, sets, run_id, output):
    """Write the report of a run of CONFIG: one self-contained HTML page (components and
    timeline, data statistics and drift, anomalies, schema, training curves, evaluation
    per slice and blessing, lineage; predictions for batch-inference runs)."""
    cfg = load_with_metadata(config, profile, sets)
    from tfxkit.pipelines import lazy_imports, mlmd

    quiet_logs(False)
    lazy_imports.startup(cfg)  # TFMA (an evaluation) imports Beam: its GCP I/O when used
    from tfxkit.infra.metadata.report import write_report
    from tfxkit.infra.metadata.report.model import ReportError
    from tfxkit.infra.run.state import stale_text

    def on_stale(stale):  # a run whose process is gone (kill -9): now marked FAILED
        click.secho(stale_text(stale), fg="yellow", err=True)

    try:
        path = write_report(cfg, run_id=run_id, output=output, on_stale=on_stale)
    except (ReportError, mlmd.MetadataError) as e:
        click.secho(str(e), fg="red", err=True)
        sys.exit(1)
    click.echo(f"Report: {path}")


@click.command()
@config_options
@click.option("--model", "version", default=None, metavar="VERSION",
              help="Pushed model version (default: the latest pushed).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "svg"]), default="text",
              show_default=True)
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Write to this file instead of stdout.")
def lineage(config, profile, sets, version, fmt, output):
    """Show how a pushed model of CONFIG was made: data, validation, transform, training,
    evaluation, push, config hash and git commit (from ML Metadata)."""
    cfg = load_with_metadata(config, profile, sets)
    from tfxkit.pipelines import mlmd

    quiet_logs(False)
    from tfxkit.infra.metadata.lineage import render
    from tfxkit.infra.metadata.lineage.model import LineageError
    from tfxkit.infra.metadata.lineage.walk import model_lineage

    try:
        result = model_lineage(mlmd.open_store(cfg, readonly=True), cfg.name, version)
    except LineageError as e:
        click.secho(str(e), fg="red", err=True)
        sys.exit(1)
    text = {"json": lambda: render.to_json(result) + "\n",
            "svg": lambda: render.render_svg(result),
            "text": lambda: "\n".join(render.render_text(result)) + "\n"}[fmt]()
    if output:
        tmp = f"{output}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, output)
        click.echo(f"wrote the lineage of {cfg.name} model {result.model_version} to {output}")
    else:
        click.echo(text, nl=False)
