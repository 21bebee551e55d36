"""``tfxkit run``: the training pipeline on the local runner (``--from``: a backfill on
the artifacts of the latest run)."""
from __future__ import annotations

import sys
import time

import click

from tfxkit.infra.cli.common import (check_metadata_or_exit, config_options, load_or_exit,
                                     print_node, quiet_logs, write_run_report)


@click.command()
@config_options
@click.option("--verbose", "-v", is_flag=True, help="Show the components' own logs.")
@click.option("--from", "from_node", default=None, metavar="COMPONENT",
              help="Backfill: re-run from this component (e.g. Trainer) on the artifacts of "
                   "the latest run; it and everything downstream execute, upstream is reused.")
@click.option("--span", type=int, default=None, metavar="N",
              help="Ingest and train on span N (a past span) of a span-templated source "
                   "(same as --set data.span=N).")
@click.option("--report/--no-report", "with_report", default=True, show_default=True,
              help="Write the run report (one HTML page) when the run ends.")
def run(config, profile, sets, verbose, from_node, span, with_report=True):
    """Run the training pipeline of CONFIG on the local runner."""
    t0 = time.monotonic()
    if span is not None:
        sets = list(sets) + [f"data.span={span}"]
    cfg, info = load_or_exit(config, profile, sets)
    check_metadata_or_exit(cfg)
    quiet_logs(verbose)
    rows = f"{info['rows']} rows" if info["rows"] is not None else "BigQuery source"
    click.echo(f"tfxkit run {cfg.name}: {rows}, pipeline root {cfg.pipeline_root}")
    click.echo("  loading TFX ...", nl=False)
    from tfxkit.infra.run.properties import run_properties
    from tfxkit.infra.run.local_runner import (NoPreviousRun, RunCanceled, RunFailed,
                                           UnknownComponent, run_pipeline)
    from tfxkit.infra.run.state import stale_text
    from tfxkit.infra.run.summary import build_summary, format_summary
    from tfxkit.pipelines import mlmd
    from tfxkit.pipelines.component_ids import PUSHER
    from tfxkit.pipelines.factory import create_pipeline

    props = run_properties(cfg)
    pipeline = create_pipeline(cfg, run_properties=props)
    click.echo(f" {time.monotonic() - t0:.1f} s")
    if from_node:
        known = [c.id for c in pipeline.components]
        if from_node not in known:
            click.secho(f"--from: unknown component {from_node!r}; this pipeline's "
                        f"components: {', '.join(known)}", fg="red", err=True)
            sys.exit(2)
        click.echo(f"  re-running from {from_node} on the artifacts of the latest run")
    started = {}

    def on_start(node_id):
        started[node_id] = time.monotonic()
        if sys.stdout.isatty():
            click.echo(f"  {node_id:<18} running ...", nl=False)
            click.echo("\r", nl=False)

    def on_stale(stale):  # an earlier run whose process is gone (kill -9)
        click.secho(f"  earlier {stale_text(stale)}", fg="yellow", err=True)

    try:
        result = run_pipeline(pipeline, on_start=on_start, on_done=print_node,
                              from_nodes=[from_node] if from_node else None,
                              run_properties=props, on_stale=on_stale)
    except RunFailed as e:
        click.secho(f"Run failed in {e.node.node_id}: {e.node.error}", fg="red", err=True)
        if with_report:
            write_run_report(cfg, cfg.name, e.result, [c.id for c in pipeline.components])
        sys.exit(1)
    except RunCanceled as e:
        where = f" in {e.node.node_id}" if e.node else ""
        click.secho(f"Run canceled{where} ({e.signal_name})", fg="yellow", err=True)
        if with_report:
            write_run_report(cfg, cfg.name, e.result, [c.id for c in pipeline.components])
        sys.exit(130 if e.signal_name == "SIGINT" else 143)
    except UnknownComponent as e:
        click.secho(f"--from: {e}", fg="red", err=True)
        sys.exit(2)
    except NoPreviousRun as e:
        click.secho(f"--from {from_node}: {e}", fg="red", err=True)
        sys.exit(1)
    conn = mlmd.connection_config(cfg)
    summary = build_summary(result, cfg, conn)
    ran = sum(n.state == "ran" for n in result.nodes)
    cached = sum(n.state == "cached" for n in result.nodes)
    reused = sum(n.state == "reused" for n in result.nodes)
    click.echo(f"Run {result.run_id}: {ran} ran, {cached} cached, "
               + (f"{reused} reused, " if reused else "") +
               f"{result.elapsed:.1f} s in components, {time.monotonic() - t0:.1f} s in all")
    for line in format_summary(summary):
        click.echo(line)
    pusher = result.node(PUSHER)
    if pusher and pusher.state == "cached" and summary.pushed:
        click.echo("  (Pusher cached: nothing new was pushed)")
    if with_report:
        write_run_report(cfg, cfg.name, result, [c.id for c in pipeline.components])
