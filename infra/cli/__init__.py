"""The ``tfxkit`` command.

Nothing heavy is imported at module level: ``tfxkit --help`` and ``tfxkit validate``
never import TensorFlow or TFX.
"""
from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import click

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"


def _templates():
    return sorted(p.name for p in TEMPLATES_DIR.iterdir()
                  if (p / "config.yaml").is_file())


def _config(config, profile, sets):
    """The config with its profile and --set overrides; a bad one exits 2 naming the file,
    the field and the reason."""
    from tfxkit.pipelines.config import ConfigError, load_config

    try:
        return load_config(config, profile=profile, overrides=list(sets))
    except ConfigError as e:
        click.secho(f"config error: {e}", fg="red", err=True)
        sys.exit(2)


def _load(config, profile, sets, check=True):
    """The config and (``check``) what ``check_data`` found in its data (exit 2 if bad)."""
    from tfxkit.pipelines.config import ConfigError, check_data

    cfg = _config(config, profile, sets)
    try:
        return cfg, (check_data(cfg) if check else None)
    except ConfigError as e:
        click.secho(f"config error: {e}", fg="red", err=True)
        sys.exit(2)


def _check_metadata(cfg):
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


def _load_with_metadata(config, profile, sets):
    """The config of a use case whose ML Metadata already exists (exit 2 on a bad config,
    1 when nothing has run yet or the metadata server is unreachable)."""
    from tfxkit.pipelines import mlmd

    cfg = _config(config, profile, sets)
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


# What TensorFlow reads when it is imported: tf.keras is Keras 2 (tf.Transform's layers
# need it, on both stacks; Keras 3 is ``import keras``) and its C++ INFO logs stay off.
# The command sets them (a value already set wins) before any command imports TensorFlow;
# importing tfxkit never does. Beam workers and the InfraValidator's subprocess inherit them.
TF_ENVIRONMENT = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tfxkit")
def main():
    """tfxkit: one YAML config becomes a production TFX pipeline."""
    for name, value in TF_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


@main.command()
def templates():
    """List the use-case templates."""
    import yaml

    for name in _templates():
        readme = TEMPLATES_DIR / name / "README.md"
        title = readme.read_text().splitlines()[0].lstrip("# ").strip() if readme.is_file() else ""
        task = yaml.safe_load((TEMPLATES_DIR / name / "config.yaml").read_text()).get("task", "")
        click.echo(f"{name:<12} {task:<11} {title}")


@main.command()
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


@main.command()
@config_options
def validate(config, profile, sets):
    """Check a config and its data without running anything."""
    cfg, info = _load(config, profile, sets)
    rows = info.get("note") or f"{info['rows']} rows in {len(info['files'])} file(s)"
    click.echo(f"{config}: OK  pipeline {cfg.name} ({cfg.task}), label {cfg.label}, {rows}, "
               f"{len(cfg.features.raw_columns())} features")


def _quiet(verbose: bool) -> None:
    """Keeps the terminal for progress: library warnings and INFO logs only with -v."""
    if verbose:
        return
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)


def _print_node(nr, width=18):
    colors = {"ran": "green", "cached": "cyan", "resolved": "cyan", "failed": "red",
              "skipped": "yellow", "reused": "cyan"}
    click.echo(f"  {nr.node_id:<{width}} ", nl=False)
    click.secho(f"{nr.state:<8}", fg=colors.get(nr.state), nl=False)
    click.echo(f" {nr.elapsed:6.1f} s")


@main.command()
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
    cfg, info = _load(config, profile, sets)
    _check_metadata(cfg)
    _quiet(verbose)
    rows = f"{info['rows']} rows" if info["rows"] is not None else "BigQuery source"
    click.echo(f"tfxkit run {cfg.name}: {rows}, pipeline root {cfg.pipeline_root}")
    click.echo("  loading TFX ...", nl=False)
    from tfxkit.infra.run.properties import run_properties
    from tfxkit.infra.run.local_runner import (NoPreviousRun, RunCanceled, RunFailed,
                                           UnknownComponent, run_pipeline)
    from tfxkit.infra.run.state import stale_text
    from tfxkit.infra.run.summary import build_summary, format_summary
    from tfxkit.pipelines import mlmd
    from tfxkit.pipelines.factory import PUSHER, create_pipeline

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
        result = run_pipeline(pipeline, on_start=on_start, on_done=_print_node,
                              from_nodes=[from_node] if from_node else None,
                              run_properties=props, on_stale=on_stale)
    except RunFailed as e:
        click.secho(f"Run failed in {e.node.node_id}: {e.node.error}", fg="red", err=True)
        if with_report:
            _write_run_report(cfg, cfg.name, e.result, [c.id for c in pipeline.components])
        sys.exit(1)
    except RunCanceled as e:
        where = f" in {e.node.node_id}" if e.node else ""
        click.secho(f"Run canceled{where} ({e.signal_name})", fg="yellow", err=True)
        if with_report:
            _write_run_report(cfg, cfg.name, e.result, [c.id for c in pipeline.components])
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
        _write_run_report(cfg, cfg.name, result, [c.id for c in pipeline.components])


def _write_run_report(cfg, pipeline_name, result, planned):
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


@main.command()
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
    cfg = _load_with_metadata(config, profile, sets)
    from tfxkit.pipelines import mlmd

    _quiet(False)
    from tfxkit.infra.metadata.report import ReportError, write_report
    from tfxkit.infra.run.state import stale_text

    def on_stale(stale):  # a run whose process is gone (kill -9): now marked FAILED
        click.secho(stale_text(stale), fg="yellow", err=True)

    try:
        path = write_report(cfg, run_id=run_id, output=output, on_stale=on_stale)
    except (ReportError, mlmd.MetadataError) as e:
        click.secho(str(e), fg="red", err=True)
        sys.exit(1)
    click.echo(f"Report: {path}")


@main.command()
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
    cfg = _load_with_metadata(config, profile, sets)
    from tfxkit.pipelines import mlmd

    _quiet(False)
    from tfxkit.infra.metadata import lineage as lin

    try:
        result = lin.model_lineage(mlmd.open_store(cfg, readonly=True), cfg.name, version)
    except lin.LineageError as e:
        click.secho(str(e), fg="red", err=True)
        sys.exit(1)
    text = {"json": lambda: lin.to_json(result) + "\n", "svg": lambda: lin.render_svg(result),
            "text": lambda: "\n".join(lin.render_text(result)) + "\n"}[fmt]()
    if output:
        tmp = f"{output}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, output)
        click.echo(f"wrote the lineage of {cfg.name} model {result.model_version} to {output}")
    else:
        click.echo(text, nl=False)


def _open_registry(config, profile, sets, repair=False):
    """The config and its model registry (exit 2 on a bad config, 1 when nothing was
    published yet or its index is missing or broken: one line naming the file and why,
    and ``tfxkit models CONFIG --repair``). Reads no data and imports no TensorFlow."""
    from tfxkit.components.registry.registry import IndexBroken, Registry

    cfg = _config(config, profile, sets)
    reg = Registry(cfg.registry_path, name=cfg.name)
    fix = f"tfxkit models {config} --repair"
    if not reg.exists():
        folders = reg.version_folders()
        if repair and folders:
            return cfg, reg
        if folders:
            click.secho(f"{cfg.name}: {reg.index_path} is missing but the registry has "
                        f"{len(folders)} version folder(s) ({', '.join(folders)}): {fix} "
                        "rebuilds the index from their records", fg="red", err=True)
        else:
            click.secho(f"{cfg.name}: no model registry at {cfg.registry_path} yet: run "
                        f"tfxkit run {config} until a model is blessed and pushed",
                        fg="red", err=True)
        sys.exit(1)
    if not repair:
        try:
            reg.index()
        except IndexBroken as e:
            click.secho(f"{cfg.name}: broken model registry index {e.path}: {e.reason}; "
                        f"{fix} rebuilds it from the version folders' records (the broken "
                        "file is kept)", fg="red", err=True)
            sys.exit(1)
    return cfg, reg


@main.command()
@config_options
@click.option("--history", "show_history", default=5, show_default=True, metavar="N",
              help="Show the last N registry events (push, rollback, trim).")
@click.option("--repair", is_flag=True,
              help="Rebuild a missing or broken registry index from the version folders "
                   "and the records beside them (metrics, config hashes, history); the old "
                   "index is kept as registry.json.broken-TIME.")
@click.option("--no-verify", "no_verify", is_flag=True,
              help="Check only that each version's folder is there, not its content hash.")
def models(config, profile, sets, show_history, repair, no_verify):
    """List the model versions in CONFIG's registry: metrics, config hash, git commit,
    training data, and which one serves (*). Each version's folder is checked (there,
    same content hash as at publish); exits 1 when the serving version cannot be served."""
    from tfxkit.components.registry.registry import RegistryError, default_by

    cfg, reg = _open_registry(config, profile, sets, repair=repair)
    if repair:
        try:
            done = reg.repair(by=f"{default_by()} (tfxkit models --repair)")
        except RegistryError as e:
            click.secho(f"{cfg.name}: repair: {e}", fg="red", err=True)
            sys.exit(1)
        was = (f"it was broken ({done['was']}); kept as {done['backup']}" if done["was"]
               else f"the old one is kept as {done['backup']}" if done["backup"]
               else "there was none")
        click.echo(f"{cfg.name}: rebuilt {reg.index_path} from {len(done['versions'])} "
                   f"version folder(s) and their records; {was}")
        if done["serving"] is not None:
            click.echo(f"  serving {done['serving']}: {done['how']}")
        for note in done["notes"]:
            click.secho(f"  note: {note}", fg="yellow")
    index = reg.index()
    problems = reg.check(verify=not no_verify, index=index)
    by_version = {}
    for p in problems:
        by_version.setdefault(p.version, []).append(p)
    serving = index["serving"]
    click.echo(f"{cfg.name}: registry {reg.path}, serving version {serving}")
    for p in problems:
        if p.kind == "unknown-serving":
            click.secho(f"  WARNING: {p.message}: nothing is served from this registry; "
                        f"tfxkit rollback {config} --to VERSION, or tfxkit models {config} --repair",
                        fg="red")
    for v in sorted(index["versions"], key=int, reverse=True):
        rec = index["versions"][v]
        metrics = "  ".join(f"{k} {val:.4f}" for k, val in sorted((rec.get("metrics") or {}).items())
                            if isinstance(val, (int, float)) and k != "example_count")
        data = rec.get("data") or {}
        rows = f"{data['rows']} rows" if data.get("rows") else ""
        spans = f"span {','.join(map(str, data['spans']))}" if data.get("spans") else ""
        commit = str(rec.get("git_commit") or "unknown")[:10]
        click.echo(f"  {'*' if v == serving else ' '} {v}  {rec.get('created_at') or '':<25} "
                   f"{metrics or 'no metrics recorded'}")
        click.echo(f"      config {rec.get('config_hash') or 'unknown'}  commit {commit}"
                   + (f"  {rows}" if rows else "") + (f"  {spans}" if spans else "")
                   + (f"  run {rec['pipeline_run']}" if rec.get("pipeline_run") else ""))
        for p in by_version.get(v, []):
            if p.kind == "unindexed":
                continue
            harm = ("nothing can be served from it" if p.kind == "missing"
                    else "it is not the model that was pushed")
            fix = ("" if p.kind == "unhashed" or not p.serving else
                   f": the serving version is broken ({harm}); the next push of this model "
                   f"restores it, or tfxkit rollback {config} --to VERSION")
            click.secho(f"      WARNING: {p.message}{fix}", fg="red" if p.serving else "yellow")
    for p in problems:
        if p.kind == "unindexed":
            click.secho(f"  WARNING: version {p.version}: {p.message} (tfxkit models {config} "
                        "--repair takes it in)", fg="yellow")
    if show_history and index["history"]:
        click.echo("History:")
        for h in index["history"][-show_history:]:
            extra = f" from {h['previous']}" if h.get("previous") else ""
            why = f": {h['reason']}" if h.get("reason") else ""
            click.echo(f"  {h.get('at')}  {h.get('action'):<8} {h.get('version')}{extra} "
                       f"by {h.get('by')}{why}")
    if any(p.serving and p.kind != "unhashed" for p in problems):
        sys.exit(1)


@main.command()
@config_options
@click.option("--to", "to_version", required=True, metavar="VERSION",
              help="The registry version to serve (see tfxkit models).")
@click.option("--reason", default="", help="Why (recorded in the registry's history).")
def rollback(config, profile, sets, to_version, reason):
    """Serve an earlier model VERSION of CONFIG's registry (batch inference and serving
    use the registry's serving version). The version's folder must be there, with the
    content hash recorded at publish."""
    from tfxkit.components.registry.registry import RegistryError, UnknownVersion

    cfg, reg = _open_registry(config, profile, sets)
    try:
        before = reg.serving()
        serving = reg.set_serving(to_version, reason=reason or "tfxkit rollback", verify=True)
    except UnknownVersion as e:
        click.secho(f"rollback: {e}", fg="red", err=True)
        sys.exit(2)
    except RegistryError as e:
        click.secho(f"rollback: {e}", fg="red", err=True)
        sys.exit(1)
    click.echo(f"{cfg.name}: now serving version {serving.version} (was "
               f"{before.version if before else 'none'}) from {serving.path}")


def _load_with_inference(config, profile, sets):
    """The config, which must have an ``inference:`` section (exit 2 naming it if not)."""

    cfg = _config(config, profile, sets)
    if cfg.inference is None:
        click.secho(f"config error: {config}: inference: this config has no inference "
                    "section", fg="red", err=True)
        sys.exit(2)
    return cfg


def _load_inference(config, profile, sets, check_store=True):
    """The config and everything batch inference needs, checked before TFX loads: the
    inference data and its columns, a pushed model per model, the store."""
    from tfxkit.components.prediction_store.store import StoreError
    from tfxkit.pipelines.config import ConfigError
    from tfxkit.pipelines.inference import InferenceError, check_inference

    cfg = _config(config, profile, sets)
    try:
        _check_metadata(cfg)  # an unreachable MySQL exits 1 naming host:port
        info = check_inference(cfg, check_store=check_store)
    except ConfigError as e:
        click.secho(f"config error: {e}", fg="red", err=True)
        sys.exit(2)
    except InferenceError as e:
        click.secho(f"cannot run batch inference: {e}", fg="red", err=True)
        sys.exit(1)
    except StoreError as e:
        click.secho(f"prediction store unreachable, nothing was run (the current predictions "
                    f"keep serving): {e}", fg="red", err=True)
        sys.exit(1)
    return cfg, info


@main.command()
@config_options
@click.option("--verbose", "-v", is_flag=True, help="Show the components' own logs.")
@click.option("--force", is_flag=True,
              help="Store the predictions again even when nothing changed (the storing "
                   "step re-runs without the cache; scoring stays cached).")
def predict(config, profile, sets, verbose, force=False):
    """Run the batch-inference pipeline of CONFIG: score the inference data with the latest
    pushed model(s) and store the predictions by key.

    When the storing step is cached (nothing changed), the store is checked: a store that
    no longer serves what ML Metadata says was stored (emptied by hand, a Redis restarted
    without persistence) gets the predictions again."""
    t0 = time.monotonic()
    cfg, info = _load_inference(config, profile, sets)
    _quiet(verbose)
    models = info["models"]
    click.echo(f"tfxkit predict {cfg.name}: {info['rows']} rows, store "
               f"{cfg.inference.store.kind}, model(s) "
               + ", ".join(f"{n} {m.version}" for n, m in models.items()))
    click.echo("  loading TFX ...", nl=False)
    from tfxkit.infra.run.local_runner import RunCanceled, RunFailed, run_pipeline
    from tfxkit.pipelines.inference import create_inference_pipeline

    pipeline = create_inference_pipeline(cfg, models)
    click.echo(f" {time.monotonic() - t0:.1f} s")
    width = max(18, max(len(n.id) for n in pipeline.components) + 1)
    planned = [c.id for c in pipeline.components]
    try:
        result = run_pipeline(pipeline, on_done=lambda nr: _print_node(nr, width))
    except RunFailed as e:
        click.secho(f"Run failed in {e.node.node_id}: {e.node.error}", fg="red", err=True)
        sys.exit(1)
    except RunCanceled as e:  # Ctrl-C or SIGTERM: the run is recorded as CANCELED
        where = f" in {e.node.node_id}" if e.node else ""
        click.secho(f"Run canceled{where} ({e.signal_name})", fg="yellow", err=True)
        sys.exit(130 if e.signal_name == "SIGINT" else 143)
    ran = sum(n.state == "ran" for n in result.nodes)
    cached = sum(n.state == "cached" for n in result.nodes)
    click.echo(f"Run {result.run_id}: {ran} ran, {cached} cached, "
               f"{result.elapsed:.1f} s in components, {time.monotonic() - t0:.1f} s in all")
    again = _stored_runs(cfg, result, force)
    _write_run_report(cfg, cfg.inference_name, result, planned)
    if again:
        click.echo(f"  storing again: {', '.join(again)} (the storing step without the "
                   "cache, on this run's scores)")
        try:
            result = run_pipeline(pipeline, from_nodes=again,
                                  on_done=lambda nr: nr.state != "reused"
                                  and _print_node(nr, width))
        except RunFailed as e:
            click.secho(f"Storing again failed in {e.node.node_id}: {e.node.error}", fg="red",
                        err=True)
            sys.exit(1)
        except Exception as e:  # pylint: disable=broad-except - NoPreviousRun and the like
            click.secho(f"Storing again failed: {e}", fg="red", err=True)
            sys.exit(1)
        _stored_runs(cfg, result, force=False, check=False)
        _write_run_report(cfg, cfg.inference_name, result, planned)
    click.echo(f"  serve them: tfxkit serve {config}")


def _stored_runs(cfg, result, force, check=True):
    """Prints what each PredictionStorer of ``result`` stored; returns the ids of the cached
    ones whose predictions must be stored again (``force``, or the store lost them)."""
    from tfxkit.components.prediction_store.store import StoreError
    from tfxkit.infra.run.summary import output_artifacts
    from tfxkit.pipelines import mlmd
    from tfxkit.pipelines.inference import (check_stored_run, last_stored_runs,
                                            open_configured_store)

    conn = mlmd.connection_config(cfg)
    again, store, last = [], None, None
    try:
        for nr in result.nodes:
            if not nr.node_id.startswith("PredictionStorer") or not nr.execution_id:
                continue
            for a in output_artifacts(conn, nr.execution_id).get("prediction_run", []):
                p = {k: v.string_value or v.int_value
                     for k, v in a.mlmd_artifact.custom_properties.items()}
                line = (f"  {p.get('use_case')}: {p.get('rows')} predictions, model "
                        f"{p.get('model_version')}, run {p.get('run_id')} in {p.get('store')}")
                if nr.state == "ran":
                    click.echo(line)
                    continue
                if force:
                    click.echo(line + " (cached; --force: storing again)")
                    again.append(nr.node_id)
                    continue
                if not check:
                    click.echo(line + " (cached)")
                    continue
                if store is None:
                    store, last = open_configured_store(cfg), last_stored_runs(cfg)
                use_case = str(p.get("use_case"))
                stored = last.get((use_case, p.get("store"))) or p
                chk = check_stored_run(store, use_case, str(stored.get("run_id")),
                                       stored.get("sample_key") or None)
                if chk.store_again:
                    click.secho(line + f" (cached) - but {chk.reason}: storing again",
                                fg="yellow")
                    again.append(nr.node_id)
                else:
                    click.echo(line + f" (cached: nothing new stored; {chk.reason})")
    except StoreError as e:
        click.secho(f"prediction store: cannot check what it serves: {e}", fg="red", err=True)
        sys.exit(1)
    finally:
        if store is not None:
            store.close()
    return again


@main.command()
@config_options
@click.option("--model", "model_name", default=None, help="Which model of the inference job.")
@click.option("--rollback", "rollback_to", default=None, is_flag=False, flag_value="",
              metavar="[RUN_ID]", help="Serve an earlier stored run (default: the previous).")
@click.option("--sweep", is_flag=True,
              help="Remove the rows or keys of runs whose write never finished (left by "
                   "a writer that died, e.g. a Redis killed mid-write).")
def predictions(config, profile, sets, model_name, rollback_to, sweep=False):
    """List CONFIG's stored prediction runs per model; --rollback serves an earlier one;
    --sweep removes what writes that never finished left behind."""
    from tfxkit.components.prediction_store.store import StoreError
    from tfxkit.pipelines.inference import open_configured_store

    cfg = _load_with_inference(config, profile, sets)
    names = [m.name for m in cfg.inference_models]
    if model_name and model_name not in names:
        raise click.UsageError(f"unknown model {model_name!r}; known: {', '.join(names)}")
    store = None
    try:
        store = open_configured_store(cfg)
        if rollback_to is not None:
            name = model_name or names[0]
            info = store.rollback(name, rollback_to or None)
            click.echo(f"{name}: now serving run {info.run_id} (model {info.model_version}, "
                       f"{info.rows} predictions)")
            return
        if sweep:
            for name in ([model_name] if model_name else names):
                n = store.sweep(name)
                click.echo(f"{name}: removed {n} rows or keys of runs that never finished "
                           f"from {store.description}")
            return
        for name in ([model_name] if model_name else names):
            runs = store.runs(name)
            click.echo(f"{name}:" + ("" if runs else " no stored run"))
            for r in runs:
                mark = "*" if r.current else " "
                click.echo(f"  {mark} {r.run_id}  model {r.model_version}  {r.rows} rows  "
                           f"{r.created_at}")
    except StoreError as e:
        click.secho(f"prediction store: {e}", fg="red", err=True)
        sys.exit(1)
    except Exception as e:  # pylint: disable=broad-except - one line, never a traceback
        what = store.description if store is not None else f"{cfg.inference.store.kind} store"
        click.secho(f"prediction store: {what}: {type(e).__name__}: {e}", fg="red", err=True)
        sys.exit(1)
    finally:
        if store is not None:
            store.close()


@main.command()
@config_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--online/--no-online", default=True, show_default=True,
              help="Also answer POST /predict (raw features) with the registry's serving "
                   "version, with a canary rollout of new versions when serving.canary is set.")
@click.option("--model-dir", default=None, type=click.Path(file_okay=False, exists=True),
              help="Serve POST /predict from this SavedModel instead of the registry.")
def serve(config, profile, sets, host, port, online, model_dir):
    """Serve CONFIG over HTTP: stored batch predictions by key (GET /predictions/KEY) and
    online predictions (POST /predict, POST /feedback, GET /canary); GET /health/live
    and /health/ready for probes. Limits (body size, instances, requests in flight,
    connections, header and body timeouts) are serving: fields of the config."""

    cfg = _config(config, profile, sets)
    if cfg.inference is None and not online:
        click.secho(f"config error: {config}: inference: this config has no inference "
                    "section (nothing to serve with --no-online)", fg="red", err=True)
        sys.exit(2)
    from tfxkit.infra.serving.http_server import serve as run_server

    if cfg.inference is not None:
        models = [m.name for m in cfg.inference_models]
        click.echo(f"serving {', '.join(models)} from {cfg.inference.store.kind} on "
                   f"http://{host}:{port}  (GET /predictions/KEY, /health, /models)")
    if online:
        src = model_dir or f"registry {cfg.registry_path}"
        canary = "canary rollout on" if cfg.serving.canary and not model_dir else "no canary"
        click.echo(f"online: POST http://{host}:{port}/predict from {src} ({canary}; "
                   f"POST /feedback, GET /canary)")
    s = cfg.serving
    click.echo(f"limits: body {s.max_body_mb:g} MB, {s.max_instances} instances a request, "
               f"{s.max_inflight} requests in flight, {s.max_connections} connections, "
               f"headers within {s.header_timeout_s:g} s  (GET /health/live, /health/ready)")
    run_server(cfg, host, port, online=online, model_dir=model_dir)


@main.command()
@config_options
@click.argument("what", type=click.Choice(["status", "history"]), default="status")
@click.option("--json", "as_json", is_flag=True, help="Print the records as JSON lines.")
@click.option("--last", default=0, metavar="N", help="history: only the last N decisions.")
def canary(config, profile, sets, what, as_json, last):
    """Canary rollouts of CONFIG's online serving: the running one (status) or every
    decision with its evidence (history), from the decision log."""
    import json

    from tfxkit.infra.canary.decision_log import DecisionLog, current
    from tfxkit.infra.canary.decision_log import decision_log_path

    cfg = _config(config, profile, sets)
    log = DecisionLog(decision_log_path(cfg))
    records = log.records()
    if what == "status":
        run = current(records)
        if as_json:
            click.echo(json.dumps({"running": run, "last": records[-1] if records else None}))
            return
        if not records:
            click.echo(f"{cfg.name}: no canary decisions yet ({log.path})")
            return
        if run is None:
            last_rec = records[-1]
            click.echo(f"{cfg.name}: no canary running; last decision: "
                       + _canary_line(last_rec))
            return
        click.echo(f"{cfg.name}: canary {run.get('canary')} at {run.get('next_share', 0):.0%} "
                   f"of requests (stable {run.get('stable')}), step {run.get('step')}")
        click.echo("  last: " + _canary_line(run))
        for arm in ("stable", "canary"):
            ev = (run.get("evidence") or {}).get(arm)
            if ev:
                click.echo(f"  {arm:<7}" + _canary_arm(ev))
        return
    shown = records[-last:] if last else records
    for r in shown:
        if as_json:
            click.echo(json.dumps(r, sort_keys=True))
            continue
        click.echo(_canary_line(r))
        for arm in ("stable", "canary"):
            ev = (r.get("evidence") or {}).get(arm)
            if ev:
                click.echo(f"      {arm:<7}" + _canary_arm(ev))
    if not records and not as_json:
        click.echo(f"{cfg.name}: no canary decisions yet ({log.path})")


def _canary_line(r):
    share = (f" {r['share']:.0%}->{r['next_share']:.0%}"
             if r.get("share") is not None and r.get("next_share") is not None else "")
    who = f"canary {r['canary']} vs {r.get('stable')}" if r.get("canary") \
        else f"stable {r.get('stable')}"
    return (f"{r.get('at', '')}  {r.get('action', ''):<8} {who}{share}: "
            + "; ".join(r.get("reasons") or []))


def _canary_arm(ev):
    def f(v, fmt):
        return "-" if v is None else format(v, fmt)
    return (f" {ev.get('version')}: {ev.get('requests')} requests, error rate "
            f"{f(ev.get('error_rate'), '.4f')}, p50 {f(ev.get('p50_ms'), '.2f')} ms, "
            f"p99 {f(ev.get('p99_ms'), '.2f')} ms, quality {f(ev.get('quality'), '.4f')} "
            f"on {ev.get('feedback')} labels")


@main.command()
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


def _deploy_step(fn, *args, **kwargs):
    """Runs an infra/deploy step; a config that cannot compile for the target exits 2."""
    from tfxkit.pipelines.config import ConfigError

    try:
        return fn(*args, **kwargs)
    except ConfigError as e:
        click.secho(f"config error: {e}", fg="red", err=True)
        sys.exit(2)


@main.command("compile")
@config_options
@click.option("--target", "-t", required=True, type=click.Choice(["vertex", "kubeflow"]),
              help="vertex: a PipelineJob JSON; kubeflow: the PipelineSpec JSON (KFP 2).")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
              help="Where to write it (default .tfxkit/compiled/NAME-TARGET.json).")
def compile_cmd(config, profile, sets, target, output):
    """Compile CONFIG's training pipeline for Kubeflow V2 / Vertex AI Pipelines."""
    import json

    from tfxkit.infra.deploy import compiler

    cfg, _ = _load(config, profile, sets)
    _deploy_step(compiler.check_target, cfg, target)
    _quiet(False)
    path = _deploy_step(compiler.compile_pipeline, cfg, target, output)
    params = compiler.pipeline_parameters(json.loads(Path(path).read_text()))
    click.echo(f"{path}: {cfg.name} for {target}, image {cfg.deploy.image}, pipeline root "
               f"{compiler.remote_pipeline_root(cfg)}; parameters "
               + ", ".join(f"{k}={v}" for k, v in sorted(params.items())))


@main.command("deploy")
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

    cfg, _ = _load(config, profile, sets)
    values = {}
    for p in params:
        if "=" not in p:
            raise click.UsageError(f"--param expects NAME=VALUE, got {p!r}")
        k, v = p.split("=", 1)
        values[k.strip()] = v
    _deploy_step(compiler.check_target, cfg, target, submitting=True)
    _quiet(False)
    path, res = _deploy_step(submit.deploy, cfg, output, schedule=schedule, parameters=values)
    what = "schedule" if schedule else "pipeline job"
    click.echo(f"{path}: submitted {what} {getattr(res, 'resource_name', res)}")
    if wait_ and not schedule:
        try:
            submit.wait(res, echo=click.echo)
        except submit.JobFailed as e:
            click.secho(str(e), fg="red", err=True)
            sys.exit(1)

