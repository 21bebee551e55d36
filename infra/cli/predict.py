"""Batch inference: ``tfxkit predict`` (score and store) and ``tfxkit predictions`` (the
stored runs; roll back, sweep)."""
from __future__ import annotations

import sys
import time

import click

from tfxkit.infra.cli.common import (check_metadata_or_exit, config_options, config_or_exit,
                                     print_node, quiet_logs, write_run_report)
from tfxkit.pipelines import lazy_imports


def _load_with_inference(config, profile, sets):
    """The config, which must have an ``inference:`` section (exit 2 naming it if not)."""

    cfg = config_or_exit(config, profile, sets)
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

    cfg = config_or_exit(config, profile, sets)
    try:
        check_metadata_or_exit(cfg)  # an unreachable MySQL exits 1 naming host:port
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


@click.command()
@config_options
@click.option("--verbose", "-v", is_flag=True, help="Show the components' own logs.")
@click.option("--force", is_flag=True,
              help="Store the predictions again even when nothing changed (the storing "
                   "step re-runs without the cache; scoring stays cached).")
@click.option("--model-ref", "model_ref", default=None, metavar="ALIAS|VERSION",
              help="Score with this version of the registry (a version number, or an alias "
                   "set by tfxkit models alias) instead of its serving version.")
def predict(config, profile, sets, verbose, force=False, model_ref=None):
    """Run the batch-inference pipeline of CONFIG: score the inference data with the latest
    pushed model(s) and store the predictions by key.

    When the storing step is cached (nothing changed), the store is checked: a store that
    no longer serves what ML Metadata says was stored (emptied by hand, a Redis restarted
    without persistence) gets the predictions again."""
    t0 = time.monotonic()
    cfg, info = _load_inference(config, profile, sets)
    quiet_logs(verbose)
    models = info["models"]
    if model_ref is not None:
        models = with_model_ref(cfg, models, model_ref)
    click.echo(f"tfxkit predict {cfg.name}: {info['rows']} rows, store "
               f"{cfg.inference.store.kind}, model(s) "
               + ", ".join(f"{n} {m.version}" for n, m in models.items()))
    from tfxkit.pipelines.beam_args import beam_text

    click.echo(f"  beam: {beam_text(cfg, cfg.inference.source)}")
    click.echo("  loading TFX ...", nl=False)
    lazy_imports.startup(cfg)  # stock components and Beam's GCP I/O when first used
    from tfxkit.infra.run.local_runner import RunCanceled, RunFailed, run_pipeline
    from tfxkit.pipelines.inference import create_inference_pipeline

    pipeline = create_inference_pipeline(cfg, models)
    click.echo(f" {time.monotonic() - t0:.1f} s")
    width = max(18, max(len(n.id) for n in pipeline.components) + 1)
    planned = [c.id for c in pipeline.components]
    try:
        result = run_pipeline(pipeline, on_done=lambda nr: print_node(nr, width))
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
    write_run_report(cfg, cfg.inference_name, result, planned)
    if again:
        click.echo(f"  storing again: {', '.join(again)} (the storing step without the "
                   "cache, on this run's scores)")
        try:
            result = run_pipeline(pipeline, from_nodes=again,
                                  on_done=lambda nr: nr.state != "reused"
                                  and print_node(nr, width))
        except RunFailed as e:
            click.secho(f"Storing again failed in {e.node.node_id}: {e.node.error}", fg="red",
                        err=True)
            sys.exit(1)
        except Exception as e:  # pylint: disable=broad-except - NoPreviousRun and the like
            click.secho(f"Storing again failed: {e}", fg="red", err=True)
            sys.exit(1)
        _stored_runs(cfg, result, force=False, check=False)
        write_run_report(cfg, cfg.inference_name, result, planned)
    click.echo(f"  serve them: tfxkit serve {config}")


def pushed_ref(cfg, ref: str):
    """The ``PushedModel`` of ``ref`` (a version or an alias) in ``cfg``'s registry; exit 2
    naming the versions and aliases there are when it is neither, 1 when there is no
    registry or the version's folder is gone."""
    from tfxkit.components.registry.errors import RegistryError, UnknownAlias, UnknownVersion
    from tfxkit.components.registry.registry import Registry
    from tfxkit.pipelines.inference import PushedModel
    from tfxkit.pipelines.inference import _model_id as model_id  # the MLMD id, for lineage

    reg = Registry(cfg.registry_path, name=cfg.name)
    if not reg.exists():
        click.secho(f"--model-ref {ref}: {cfg.name} has no model registry at "
                    f"{cfg.registry_path} yet", fg="red", err=True)
        sys.exit(1)
    try:
        version = reg.resolve(ref)
        rec = reg.get(version)
    except (UnknownAlias, UnknownVersion) as e:
        click.secho(f"--model-ref: {e}", fg="red", err=True)
        sys.exit(2)
    except RegistryError as e:
        click.secho(f"--model-ref {ref}: {e}", fg="red", err=True)
        sys.exit(1)
    if not reg.fs.isdir(rec["path"]):
        click.secho(f"--model-ref {ref}: version {version}'s folder {rec['path']} is gone from "
                    "the registry", fg="red", err=True)
        sys.exit(1)
    uri = rec.get("model_uri") or ""
    return PushedModel(cfg.name, rec["path"], version, uri, model_id(cfg, uri))


def with_model_ref(cfg, models, ref: str):
    """``models`` with this config's own model (the inference models that name no other
    config) scored by ``ref``'s version."""
    own = [m.name for m in cfg.inference_models if m.config is None]
    if not own:
        click.secho(f"--model-ref {ref}: every inference model of {cfg.name} comes from "
                    "another config (inference.models[].config): set it there",
                    fg="red", err=True)
        sys.exit(2)
    pushed = pushed_ref(cfg, ref)
    return {name: (pushed if name in own else m) for name, m in models.items()}


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


@click.command()
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
