"""``tfxkit choices``: a served bandit policy's choice log (``infra/serving/choice_log.py``)
as the next training round's data."""
from __future__ import annotations

import sys

import click

from tfxkit.infra.cli.common import config_options, config_or_exit


@click.group()
def choices():
    """The choices a served bandit policy made (POST /predict) and the rewards fed back
    for them (POST /feedback), logged by tfxkit serve for the next training round."""


def _fills(values):
    out = {}
    for v in values:
        col, eq, val = v.partition("=")
        if not eq or not col:
            raise click.BadParameter(f"{v!r}: give COLUMN=VALUE", param_hint="--fill")
        out[col] = val
    return out


@choices.command("export")
@config_options
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The CSV file to write (a new file: e.g. the next week's span).")
@click.option("--since", metavar="YYYY-MM-DD", help="First day of choices (UTC).")
@click.option("--until", metavar="YYYY-MM-DD", help="Last day of choices (UTC).")
@click.option("--default-reward", default=0.0, show_default=True, type=float,
              help="The reward of a choice no feedback came for.")
@click.option("--drop-unrewarded", is_flag=True,
              help="Leave out choices no feedback came for (instead of --default-reward).")
@click.option("--fill", multiple=True, metavar="COLUMN=VALUE",
              help="A value for a source column the log cannot fill (e.g. week=2026-02-02).")
def export_cmd(config, profile, sets, out, since, until, default_reward, drop_unrewarded,
               fill):
    """Write the logged choices of CONFIG's served policy, joined with their rewards, as
    one CSV file with the source's columns: context features, key, action, propensity
    (the served policy's probability of its choice) and reward."""
    from tfxkit.infra.serving.choice_export import export

    cfg = config_or_exit(config, profile, sets)
    try:
        s = export(cfg, out, since, until, default_reward, drop_unrewarded, _fills(fill))
    except (ValueError, LookupError, FileExistsError) as e:
        click.secho(f"choices export: {e}", fg="red", err=True)
        sys.exit(2)
    click.echo(f"wrote {s['rows']} rows to {s['file']} from {s['choices']} choices in "
               f"{s['log']} (models {', '.join(s['versions'])})")
    click.echo(f"  rewards: {s['rewarded']} fed back, {s['default_reward']} without feedback"
               f" (reward {default_reward:g}), {s['dropped']} left out; mean reward "
               f"{s['reward_mean']:.4f}")
    for col, n in sorted(s["empty_columns"].items()):
        click.echo(f"  column {col}: not in the log, left empty in {n} rows (--fill "
                   f"{col}=VALUE sets it)")
    if s["torn_lines"] or s["repeated_rewards"]:
        click.echo(f"  skipped: {s['torn_lines']} torn lines, {s['repeated_rewards']} "
                   "repeated rewards (the first counts)")
