"""``tfxkit run``: the training pipeline on the local runner (``--from``: a backfill on
the artifacts of the latest run)."""
from __future__ import annotations

import sys
import time

import click

from tfxkit.infra.cli.common import (check_metadata_or_exit, config_options, load_or_exit,
                                     print_node, quiet_logs, write_run_report)
from tfxkit.pipelines import lazy_imports


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
@click.option("--force", is_flag=True,
              help="Run the pipeline even when nothing changed since the last completed run "
                   "(same data, config, modules and tfxkit: by default nothing runs then).")
def run(config, profile, sets, verbose, from_node, span, with_report=True, force=False):
    """Run the training pipeline of CONFIG on the local runner.

    When nothing changed since the last completed run (the same data, config, modules and
    tfxkit), nothing runs and nothing is imported: it says so and exits as that run did
    (--force runs anyway).

    Exit status: 0 the model is blessed (and pushed, or identical to the serving one);
    1 a component failed; 2 the config or data was rejected; 3 the run completed but the
    model was not blessed or failed infra validation (nothing pushed); 130/143 canceled."""
    t0 = time.monotonic()
    if span is not None:
        sets = list(sets) + [f"data.span={span}"]
    cfg, info = load_or_exit(config, profile, sets)
    check_metadata_or_exit(cfg)
    quiet_logs(verbose)
    click.echo(header(cfg, info))
    from tfxkit.infra.run import fast_path
    from tfxkit.pipelines.beam_args import beam_text

    try:
        fingerprint, hit = fast_path.decide(cfg, from_node, force)
    except Exception as e:  # pylint: disable=broad-except  (then the pipeline runs)
        click.secho(f"  (the no-change check could not be made, running: {e})",
                    fg="yellow", err=True)
        fingerprint, hit = None, None
    if hit is not None:  # before TensorFlow and TFX are imported
        click.echo(fast_path.text(hit))
        sys.exit(hit.status)
    click.echo(f"  beam: {beam_text(cfg)}")
    click.echo("  loading TFX ...", nl=False)
    lazy_imports.startup(cfg)  # stock components and Beam's GCP I/O when first used
    from tfxkit.infra.run.properties import run_properties
    from tfxkit.infra.run.local_runner import (NoPreviousRun, RunCanceled, RunFailed,
                                           UnknownComponent, run_pipeline)
    from tfxkit.infra.run.state import stale_text
    from tfxkit.infra.run.summary import build_summary, format_summary
    from tfxkit.infra.run import outcome
    from tfxkit.pipelines import mlmd
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
        outcome.run_alert(cfg, 1, run_id=getattr(e.result, "run_id", None),
                          failed_node=e.node.node_id, error=str(e.node.error))
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
    click.echo(f"Run {result.run_id}: {outcome.counts_text(result)}, "
               f"{result.elapsed:.1f} s in components, {time.monotonic() - t0:.1f} s in all")
    if outcome.nothing_ran(result):
        click.echo(_unchanged(cfg, result, summary, conn))
    else:
        for line in format_summary(summary):
            click.echo(line)
    if with_report:
        write_run_report(cfg, cfg.name, result, [c.id for c in pipeline.components])
    status = outcome.exit_status(summary)
    if status in (0, outcome.NOT_BLESSED) and summary.status == "succeeded":
        try:  # what the next run's fast path compares with
            fast_path.record(cfg, result.run_id, fingerprint, status)
        except Exception as e:  # pylint: disable=broad-except
            click.secho(f"  (cannot record the run's inputs fingerprint: {e})", fg="yellow",
                        err=True)
    if status == outcome.NOT_BLESSED:
        click.secho(f"exit {status}: the run completed but nothing was pushed (the model "
                    f"{'failed infra validation' if summary.blessed else 'was not blessed'})",
                    fg="yellow", err=True)
    outcome.run_alert(cfg, status, run_id=result.run_id, summary=summary,
                      error=f"the run ended {summary.status}")
    sys.exit(status)


def header(cfg, info) -> str:
    """The run's first line: the rows (and the rows ``data.on_bad_value: reject`` drops)."""
    rows = f"{info['rows']} rows" if info["rows"] is not None else "BigQuery source"
    if info.get("rejected_rows"):
        cols = ", ".join(f"{c} {n}" for c, n in sorted(info["bad_values"].items()))
        rows += (f" ({info['rejected_rows']} rejected by data.on_bad_value: reject, a value "
                 f"that is not a number: {cols})")
    return f"tfxkit run {cfg.name}: {rows}, pipeline root {cfg.pipeline_root}"


def _unchanged(cfg, result, summary, conn) -> str:
    """The line of a run in which nothing ran: the earlier run, the serving version."""
    from tfxkit.components.registry.registry import Registry
    from tfxkit.infra.run import outcome
    from tfxkit.pipelines.component_ids import PUSHER

    node = result.node(PUSHER) or next(n for n in reversed(result.nodes)
                                       if n.state == "cached")
    earlier = serving = None
    try:
        if node.execution_id is not None:
            earlier = outcome.earlier_run(conn, result.pipeline_name, node.execution_id)
        current = Registry(cfg.registry_path, name=cfg.name).serving()
        serving = current.version if current else None
    except Exception as e:  # pylint: disable=broad-except  (the line is information only)
        click.secho(f"  (cannot read the earlier run or the registry: {e})", fg="yellow",
                    err=True)
    return outcome.unchanged_text(earlier, summary, serving)
