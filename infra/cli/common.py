"""What the commands share: reading the config (a bad one exits 2 naming the file, the
field and the reason), checking ML Metadata, the config options, quiet logs, a node's
progress line, the run report at the end of a run."""
from __future__ import annotations

import os
import sys

import click


def config_or_exit(config, profile, sets):
    """The config with its profile and --set overrides; a bad one exits 2 naming the file,
    the field and the reason."""
    from tfxkit.pipelines.config import ConfigError, load_config

    try:
        return load_config(config, profile=profile, overrides=list(sets))
    except ConfigError as e:
        click.secho(f"config error: {e}", fg="red", err=True)
        sys.exit(2)


def load_or_exit(config, profile, sets, check=True):
    """The config and (``check``) what ``check_data`` found in its data (exit 2 if bad)."""
    from tfxkit.pipelines.config import ConfigError, check_data

    cfg = config_or_exit(config, profile, sets)
    try:
        return cfg, (check_data(cfg) if check else None)
    except ConfigError as e:
        click.secho(f"config error: {e}", fg="red", err=True)
        sys.exit(2)


def check_metadata_or_exit(cfg):
    """MLMD must be reachable before TFX loads: an unreachable MySQL exits 1 naming
    host:port within metadata.mysql.connect_timeout_s; the database and MLMD's schema are
    created here, once, before any component writes (imports ml_metadata, not TFX)."""
    from tfxkit.pipelines import mlmd

    try:
        mlmd.check(cfg)
        if cfg.metadata.mysql:
            mlmd.prepare(cfg)
    except mlmd.MetadataError as e:
        click.secho(f"metadata error: {e}", fg="red", err=True)
        sys.exit(1)


def load_with_metadata(config, profile, sets):
    """The config of a use case whose ML Metadata already exists (exit 2 on a bad config,
    1 when nothing has run yet or the metadata server is unreachable)."""
    from tfxkit.pipelines import mlmd

    cfg = config_or_exit(config, profile, sets)
    try:
        mlmd.check(cfg)  # reachable; nothing is created for a reader
    except mlmd.MetadataError as e:
        click.secho(f"metadata error: {e}", fg="red", err=True)
        sys.exit(1)
    if not mlmd.exists(cfg):
        click.secho(f"no ML Metadata for {cfg.name} yet ({cfg.metadata_path}): run "
                    f"tfxkit run {config} first", fg="red", err=True)
        sys.exit(1)
    return cfg


_config_options = [
    click.argument("config", type=click.Path(dir_okay=False)),
    click.option("--profile", "-p", default=None, help="Profile to apply (e.g. local, prod)."),
    click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                 help="Override a config value, e.g. --set model.learning_rate=0.003."),
]


def config_options(fn):
    for opt in reversed(_config_options):
        fn = opt(fn)
    return fn


# whether TF_CPP_MIN_LOG_LEVEL came from the user's environment (then -v leaves it)
TF_LOG_LEVEL_GIVEN = False


def quiet_logs(verbose: bool) -> None:
    """Keeps the terminal for progress: library warnings, INFO logs and TensorFlow's C++
    logs only with -v (call it before TensorFlow is imported)."""
    if verbose:
        if not TF_LOG_LEVEL_GIVEN:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)


def print_node(nr, width=18):
    colors = {"ran": "green", "cached": "cyan", "resolved": "cyan", "failed": "red",
              "skipped": "yellow", "reused": "cyan"}
    click.echo(f"  {nr.node_id:<{width}} ", nl=False)
    click.secho(f"{nr.state:<8}", fg=colors.get(nr.state), nl=False)
    click.echo(f" {nr.elapsed:6.1f} s")


def write_run_report(cfg, pipeline_name, result, planned):
    """Writes the run report and prints its path; a report that cannot be written is a
    warning, never a failed run."""
    try:
        from tfxkit.infra.metadata.report import write_report

        path = write_report(cfg, pipeline_name, result.run_id, run_result=result,
                            planned=planned)
        click.echo(f"Report: {path}")
    except Exception as e:  # pylint: disable=broad-except
        click.secho(f"warning: the run report could not be written: {type(e).__name__}: {e}",
                    fg="yellow", err=True)
