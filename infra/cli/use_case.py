"""Create and check a use case: ``tfxkit templates``, ``new``, ``validate``, and
``generate`` (a synthetic data set)."""
from __future__ import annotations

from pathlib import Path

import click

from tfxkit.infra.cli.common import config_options, load_or_exit

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def _templates():
    return sorted(p.name for p in TEMPLATES_DIR.iterdir()
                  if (p / "config.yaml").is_file())


@click.command()
def templates():
    """List the use-case templates."""
    import yaml

    for name in _templates():
        readme = TEMPLATES_DIR / name / "README.md"
        title = readme.read_text().splitlines()[0].lstrip("# ").strip() if readme.is_file() else ""
        task = yaml.safe_load((TEMPLATES_DIR / name / "config.yaml").read_text()).get("task", "")
        click.echo(f"{name:<12} {task:<11} {title}")


@click.command()
@click.argument("name")
@click.option("--template", "-t", "template", help="Template to copy.")
@click.option("--data", "data", help="Your data (CSV or Parquet: a file, folder or glob): "
              "profile it and write a use case for it.")
@click.option("--label", help="With --data: the label column.")
@click.option("--task", type=click.Choice(["binary", "multiclass", "regression"]),
              help="With --data: the task, when the label leaves it open.")
@click.option("--key", help="With --data: the row id column (split and inference key).")
@click.option("--dir", "parent", default=".", type=click.Path(file_okay=False),
              help="Folder to create the use case in.")
def new(name, template, data, label, task, key, parent):
    """Create a use case NAME from your data (--data) or from a template (--template)."""
    import re

    if not re.match(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", name):
        raise click.UsageError(f"NAME {name!r} must be lower case letters, digits and dashes")
    if (template is None) == (data is None):
        raise click.UsageError("give --data PATH (your data) or --template T (one of "
                               f"{', '.join(_templates())}), not both")
    if data is None and (label or task or key):
        raise click.UsageError("--label, --task and --key go with --data")
    if template is not None and template not in _templates():
        raise click.UsageError(f"unknown template {template!r}; known: {', '.join(_templates())}")
    dest = Path(parent) / name
    if dest.exists():
        raise click.UsageError(f"{dest} already exists; nothing was changed")
    if data is not None:
        _new_from_data(name, dest, data, label, task, key)
        return
    from tfxkit.pipelines.scaffold.template import copy_template

    copy_template(TEMPLATES_DIR / template, dest, name)
    click.echo(f"Created {dest} from template {template}.\n"
               f"  edit   {dest / 'config.yaml'}\n  run    tfxkit run {dest / 'config.yaml'}")


def _new_from_data(name, dest, data, label, task, key):
    from tfxkit.pipelines.scaffold import PlanError, ProfileError, make_plan, profile
    from tfxkit.pipelines.scaffold.write import write_use_case

    try:
        prof = profile(data)
        plan = make_plan(prof, label=label, task=task, key=key)
        write_use_case(dest, name, prof, plan)
    except (ProfileError, PlanError) as e:
        click.echo(f"tfxkit new: {e}", err=True)
        raise SystemExit(2)
    except FileExistsError as e:
        raise click.UsageError(str(e)) from None
    click.echo(f"{prof.path}: {prof.rows} rows, {len(prof.columns)} columns")
    click.echo(f"label: {plan.label} ({plan.label_why})")
    click.echo(f"task: {plan.task} ({plan.task_why})")
    click.echo(f"key: {plan.key} ({plan.key_why})" if plan.key else f"key: none ({plan.key_why})")
    for col in plan.features:
        click.echo(f"  feature {col}: {plan.why[col]}")
    for col, why in plan.dropped.items():
        click.echo(f"  not a feature {col}: {why}")
    click.echo(plan.gate.line())
    click.echo(f"Created {dest}.\n  check  tfxkit validate {dest / 'config.yaml'}\n"
               f"  run    tfxkit run {dest / 'config.yaml'}")


@click.command()
@config_options
def validate(config, profile, sets):
    """Check a config, its data, its inference data and its store's address without
    running anything; every problem is listed, one line each."""
    import sys

    from tfxkit.pipelines.config import ConfigError
    from tfxkit.pipelines.config.inference_checks import check_use_case

    cfg, _ = load_or_exit(config, profile, sets, check=False)  # the checks: below, all at once
    try:
        found = check_use_case(cfg)
    except ConfigError as e:
        click.secho(f"config error: {e}", fg="red", err=True)  # one line per problem
        sys.exit(2)
    info, inf = found["data"], found["inference"]
    rows = info.get("note") or f"{info['rows']} rows in {len(info['files'])} file(s)"
    click.echo(f"{config}: OK  pipeline {cfg.name} ({cfg.task}), label {cfg.label}, {rows}, "
               f"{len(cfg.features.raw_columns())} features")
    if info.get("bad_values"):
        per = ", ".join(f"{c} {n}" for c, n in info["bad_values"].items())
        click.echo(f"  data: {info['rejected_rows']} row(s) with a value that is not a number "
                   f"will be rejected (data.on_bad_value: reject): {per}")
    if cfg.inference is None:
        click.echo("  inference: none (no inference section)")
        return
    if inf.get("note"):
        click.echo(f"  inference: {inf['note']}")
    else:
        reads = "; ".join(f"model {m} reads {len(c)} column(s)" for m, c in inf["models"].items())
        click.echo(f"  inference: {inf['rows']} rows in {len(inf['files'])} file(s) "
                   f"({cfg.inference.source.path}), key {cfg.inference.key}; {reads}: all present")
    store = cfg.inference.store
    click.echo(f"  store: {store.kind} {getattr(store, store.kind)} (address parses; "
               "not connected)")


# per kind: its options (None: not given) and their defaults
_GENERATE_DEFAULTS = {
    "eta": {"rows": 10_000, "days": 1, "start": "2026-01-01"},
    "newsletter": {"weeks": 4, "users": 10_000, "start": "2026-01-05"},
    "eta-segments": {"rows": 10_000, "format": "parquet"},
}


@click.command()
@click.argument("kind", type=click.Choice(sorted(_GENERATE_DEFAULTS)))
@click.option("--rows", type=int, help="eta: rows in all [10000].")
@click.option("--days", type=int, help="eta: one CSV file per day [1].")
@click.option("--weeks", type=int, help="newsletter: one CSV file per week [4].")
@click.option("--users", type=int, help="newsletter: subscribers, each logged once a week "
              "[10000].")
@click.option("--start", help="First day (eta) [2026-01-01] or week's Monday (newsletter) "
              "[2026-01-05].")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]),
              help="eta-segments: Parquet list columns or CSV '|'-delimited cells [parquet].")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def generate(kind, rows, days, weeks, users, start, fmt, seed, out):
    """Generate a synthetic data set in OUT: eta (trip durations, one file per day) or
    newsletter (a contextual bandit's logged feedback: OUT/weeks/newsletter-YYYY-MM-DD.csv,
    one file per week, and the users to score, OUT/users.csv) or eta-segments (trips as
    their road segments in order, OUT/trips.parquet or OUT/trips.csv: the label depends on
    the order, for ``features.sequence`` and model kind rnn)."""
    import datetime as dt

    given = {"rows": rows, "days": days, "weeks": weeks, "users": users, "start": start,
             "format": fmt}
    defaults = _GENERATE_DEFAULTS[kind]
    for name, value in given.items():
        if value is not None and name not in defaults:
            takes = ", ".join(f"--{o}" for o in defaults)
            raise click.UsageError(f"--{name} is not an option of {kind} (it takes {takes})")
    opts = {name: defaults[name] if given[name] is None else given[name] for name in defaults}
    for name in ("rows", "days", "weeks", "users"):
        if name in opts and opts[name] < 1:
            raise click.UsageError(f"--{name} must be at least 1, got {opts[name]}")
    if kind == "eta-segments":
        from tfxkit.pipelines.datasets import eta

        path = eta.write_sequences(str(Path(out) / f"trips.{opts['format']}"), opts["rows"],
                                   seed=seed)
        click.echo(f"wrote {opts['rows']} trips with their road segments to {path}")
        return
    try:
        first = dt.date.fromisoformat(opts["start"])
    except ValueError:
        raise click.UsageError(f"--start {opts['start']!r} is not a date (YYYY-MM-DD)") from None
    if kind == "eta":
        from tfxkit.pipelines.datasets import eta

        files = eta.write_days(out, rows=opts["rows"], days=opts["days"], start=opts["start"],
                               seed=seed)
        click.echo(f"wrote {opts['rows']} rows in {len(files)} file(s) to {out}")
        return
    if first.weekday() != 0:
        raise click.UsageError(f"--start {opts['start']} is a "
                               f"{first.strftime('%A')}; a newsletter week starts on a Monday")
    from tfxkit.pipelines.datasets import newsletter

    weeks_dir = Path(out) / "weeks"
    files = newsletter.write_weeks(str(weeks_dir), weeks=opts["weeks"],
                                   users_per_week=opts["users"], start=opts["start"], seed=seed)
    users_file = newsletter.write_users(str(Path(out) / "users.csv"), n_users=opts["users"],
                                        seed=seed, weeks=opts["weeks"])
    click.echo(f"wrote {opts['weeks']} week(s) of {opts['users']} users to {weeks_dir} "
               f"({Path(files[0]).name} .. {Path(files[-1]).name}) and the users to score "
               f"to {users_file}")
