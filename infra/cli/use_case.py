"""Create and check a use case: ``tfxkit templates``, ``new``, ``validate``, and
``generate`` (a synthetic data set)."""
from __future__ import annotations

import shutil
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
@click.option("--template", "-t", "template", required=True, help="Template to copy.")
@click.option("--dir", "parent", default=".", type=click.Path(file_okay=False),
              help="Folder to create the use case in.")
def new(name, template, parent):
    """Create a use case NAME from a template."""
    import re

    if template not in _templates():
        raise click.UsageError(f"unknown template {template!r}; known: {', '.join(_templates())}")
    if not re.match(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", name):
        raise click.UsageError(f"NAME {name!r} must be lower case letters, digits and dashes")
    dest = Path(parent) / name
    if dest.exists():
        raise click.UsageError(f"{dest} already exists; nothing was changed")
    tmp = Path(parent) / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(TEMPLATES_DIR / template, tmp,
                    ignore=shutil.ignore_patterns("__pycache__", ".tfxkit", "models", "*.pyc"))
    cfg_path = tmp / "config.yaml"
    text = cfg_path.read_text()
    text = re.sub(r"(?m)^name:.*$", f"name: {name}", text, count=1)
    cfg_path.write_text(text)
    tmp.rename(dest)
    click.echo(f"Created {dest} from template {template}.\n"
               f"  edit   {dest / 'config.yaml'}\n  run    tfxkit run {dest / 'config.yaml'}")


@click.command()
@config_options
def validate(config, profile, sets):
    """Check a config and its data without running anything."""
    cfg, info = load_or_exit(config, profile, sets)
    rows = info.get("note") or f"{info['rows']} rows in {len(info['files'])} file(s)"
    click.echo(f"{config}: OK  pipeline {cfg.name} ({cfg.task}), label {cfg.label}, {rows}, "
               f"{len(cfg.features.raw_columns())} features")


@click.command()
@click.argument("kind", type=click.Choice(["eta"]))
@click.option("--rows", default=10_000, show_default=True, help="Rows in all.")
@click.option("--days", default=1, show_default=True, help="One CSV file per day.")
@click.option("--start", default="2026-01-01", show_default=True, help="First day.")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False))
def generate(kind, rows, days, start, seed, out):
    """Generate a synthetic data set (eta: trip durations, one file per day)."""
    from tfxkit.pipelines.datasets import eta

    files = eta.write_days(out, rows=rows, days=days, start=start, seed=seed)
    click.echo(f"wrote {rows} rows in {len(files)} file(s) to {out}")
