"""``tfxkit monitor``: the served traffic's skew against the serving model's training
data and its drift since the window before (``infra/monitoring``).

Exit status: 0 nothing crossed a threshold (also: no traffic in the window, or too few
rows to judge), 4 a threshold was crossed (skew, drift or prediction drift), 1 monitoring
failed (no serving model, no statistics in ML Metadata, ...), 2 a bad config or option."""
from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from tfxkit.infra.cli.common import config_options, load_with_metadata, quiet_logs

EXIT_CROSSED = 4


def parse_time(text: str) -> float:
    """Epoch seconds, or an ISO time (``2026-12-01T03:00``; UTC unless it names an
    offset)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither epoch seconds nor an ISO time "
                                 "(e.g. 2026-12-01T03:00)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def _alert(cfg, result) -> None:
    """Called after a monitoring run whose result ``crossed`` a threshold: one ``skew``
    alert naming the features over their skew threshold and one ``drift`` alert for drift
    and prediction drift (``alerts:`` in the config; ``infra/alerts``: never raises, a
    target that fails is one line on stderr)."""
    from tfxkit.infra.alerts import fire

    flagged = [dict(f, window_end=w.as_dict()["end_utc"], model_version=w.model_version)
               for w in result.windows for f in w.flagged]
    for kind, kinds in (("skew", {"skew"}), ("drift", {"drift", "prediction_drift"})):
        mine = [f for f in flagged if f["kind"] in kinds]
        if not mine:
            continue
        names = sorted({f["feature"] for f in mine})
        lines = [f"{f['feature']} ({f['kind']}): {f['value']:.4f} > {f['threshold']:g} "
                 f"in the window ending {f['window_end']}" for f in mine]
        fire(cfg.alerts, kind, f"{kind} on {len(names)} feature(s): {', '.join(names)}",
             "\n".join(lines), details={"flagged": mine, "log": result.log_path},
             use_case=cfg.name, model_version=result.model_version)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def print_result(result) -> None:
    click.echo(f"{result.pipeline}: serving version {result.model_version}; request log "
               f"{result.log_path}")
    for w in result.windows:
        head = f"window {w.as_dict()['start_utc']} .. {w.as_dict()['end_utc']}: {w.rows} rows"
        if w.status != "judged":
            click.echo(f"{head}: {w.message}")
            continue
        click.echo(head + (f" ({w.skipped_lines} unreadable lines skipped)"
                           if w.skipped_lines else ""))
        rows = {}
        for d in w.features:
            rows.setdefault(d.feature, {})[d.kind] = d
        click.echo(f"  {'feature':<20} {'measure':<8} {'skew':>8} {'thresh':>7} "
                   f"{'drift':>8} {'thresh':>7}  flags")
        for name, kinds in rows.items():
            s, dr = kinds.get("skew"), kinds.get("drift")
            measure = "L-inf" if (s or dr).measure == "L_INFTY" else "JS"
            flags = " ".join(f for f, d in (("SKEW", s), ("DRIFT", dr)) if d and d.flagged)
            click.echo(f"  {name:<20} {measure:<8} {_fmt(s and s.value):>8} "
                       f"{_fmt(s and s.threshold):>7} {_fmt(dr and dr.value):>8} "
                       f"{_fmt(dr and dr.threshold):>7}  {flags}")
        for d in w.predictions:
            measure = "L-inf" if d.measure == "L_INFTY" else "JS"
            click.echo(f"  {'output ' + d.feature:<20} {measure:<8} {'':>8} {'':>7} "
                       f"{_fmt(d.value):>8} {_fmt(d.threshold):>7}  "
                       f"{'PREDICTION DRIFT' if d.flagged else ''}")
        notes = sorted({d.note for d in w.features + w.predictions if d.note})
        for n in notes:
            click.echo(f"  note: {n}")
        for name, n in sorted(w.unparsable.items()):
            click.echo(f"  note: {name}: {n} values not of the schema's type, counted missing")
        if w.result_path:
            click.echo(f"  result: {w.result_path} (ML Metadata execution {w.execution_id})")
    if not result.windows:
        click.echo(f"no traffic: the request log {result.log_path} has no window to judge")
    crossed = [(w, f) for w in result.windows for f in w.flagged]
    if crossed:
        click.secho("Threshold crossed: " + "; ".join(
            f"{f['kind'].upper()} {f['feature']} {f['value']:.4f} > {f['threshold']:g}"
            for _, f in crossed), fg="red")
        if result.retrain_suggested:
            click.echo("monitoring.retrain_on_drift: a new training run is due")


@click.command()
@config_options
@click.option("--window-end", default=None, metavar="TIME",
              help="End of the window to judge (ISO time, UTC unless it names an offset, "
                   "or epoch seconds); default the last complete window.")
@click.option("--all-windows", is_flag=True,
              help="Judge every window the request log holds.")
@click.option("--verbose", "-v", is_flag=True, help="Show library logs.")
def monitor(config, profile, sets, window_end, all_windows, verbose):
    """Compare the served traffic of CONFIG (the request log) with the serving model's
    training statistics (skew) and with the window before (drift), by TFDV; record the
    result (JSON and ML Metadata). Exit 4 when a threshold is crossed."""
    end = parse_time(window_end) if window_end is not None else None
    if end is not None and all_windows:
        raise click.UsageError("give --window-end or --all-windows, not both")
    cfg = load_with_metadata(config, profile, sets)
    quiet_logs(verbose)
    from tfxkit.infra.monitoring.monitor import MonitorError, monitor as run_monitor
    from tfxkit.pipelines import mlmd

    try:
        result = run_monitor(cfg, window_end=end, all_windows=all_windows)
    except (MonitorError, mlmd.MetadataError) as e:
        click.secho(f"monitor failed: {e}", fg="red", err=True)
        sys.exit(1)
    print_result(result)
    if result.crossed:
        _alert(cfg, result)
        sys.exit(EXIT_CROSSED)
