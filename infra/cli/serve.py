"""``tfxkit serve`` (the HTTP server) and ``tfxkit canary`` (its canary rollouts, from the
decision log)."""
from __future__ import annotations

import sys

import click

from tfxkit.infra.cli.common import config_options, config_or_exit


@click.command()
@config_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--online/--no-online", default=True, show_default=True,
              help="Also answer POST /predict (raw features) with the registry's serving "
                   "version, with a canary rollout of new versions when serving.canary is set.")
@click.option("--model-dir", default=None, type=click.Path(file_okay=False, exists=True),
              help="Serve POST /predict from this SavedModel instead of the registry.")
@click.option("--token-env", default=None, metavar="NAME",
              help="Require 'Authorization: Bearer <token>' on POST /predict, /feedback "
                   "and every write route, the token read from the environment variable "
                   "NAME (as serving.auth_token_env; never the token itself in the config).")
@click.option("--alias", "alias", default=None, metavar="NAME",
              help="Serve the registry version the alias NAME names (tfxkit models alias), "
                   "followed as it moves, instead of the serving pointer (no canary); "
                   "the same as --set serving.alias=NAME.")
def serve(config, profile, sets, host, port, online, model_dir, token_env, alias=None):
    """Serve CONFIG over HTTP: stored batch predictions by key (GET /predictions/KEY) and
    online predictions (POST /predict, POST /feedback, GET /canary); GET /health/live
    and /health/ready for probes. Limits (body size, instances, requests in flight,
    connections, header and body timeouts) are serving: fields of the config."""

    if alias is not None:
        sets = tuple(sets) + (f"serving.alias={alias}",)
    cfg = config_or_exit(config, profile, sets)
    if cfg.serving.alias and online and not model_dir:
        _check_alias(cfg)
    if cfg.inference is None and not online:
        click.secho(f"config error: {config}: inference: this config has no inference "
                    "section (nothing to serve with --no-online)", fg="red", err=True)
        sys.exit(2)
    if token_env:
        cfg.serving.auth_token_env = token_env
    if cfg.serving.auth_token_env:
        from tfxkit.infra.serving.auth import TokenMissing, token_from_env

        try:
            token_from_env(cfg.serving.auth_token_env)
        except TokenMissing as e:
            click.secho(f"config error: {config}: serving.auth_token_env: {e}", fg="red",
                        err=True)
            sys.exit(2)
    from tfxkit.infra.serving.http_server import serve as run_server

    if cfg.inference is not None:
        models = [m.name for m in cfg.inference_models]
        click.echo(f"serving {', '.join(models)} from {cfg.inference.store.kind} on "
                   f"http://{host}:{port}  (GET /predictions/KEY, /health, /models)")
    if online:
        src = model_dir or f"registry {cfg.registry_path}"
        if cfg.serving.alias and not model_dir:
            src += f", alias {cfg.serving.alias}"
        canary = ("canary rollout on" if cfg.serving.canary and not model_dir
                  and not cfg.serving.alias else "no canary")
        click.echo(f"online: POST http://{host}:{port}/predict from {src} ({canary}; "
                   f"POST /feedback, GET /canary)")
    s = cfg.serving
    click.echo(f"limits: body {s.max_body_mb:g} MB, {s.max_instances} instances a request, "
               f"{s.max_inflight} requests in flight, {s.max_connections} connections, "
               f"headers within {s.header_timeout_s:g} s  (GET /health/live, /health/ready)")
    click.echo("auth: " + (f"bearer token from ${s.auth_token_env} on POST/PUT/DELETE"
                           + (" and reads" if s.auth_reads else "")
                           + " (health and /metrics open)" if s.auth_token_env else
                           "none (serving.auth_token_env or --token-env to require one)")
               + f"; GET http://{host}:{port}/metrics (Prometheus)")
    run_server(cfg, host, port, online=online, model_dir=model_dir)


def _check_alias(cfg) -> None:
    """Exit 2 when the registry has an index and ``serving.alias`` is none of its aliases
    (naming the ones it has); a registry not written yet is waited for, as without it."""
    from tfxkit.components.registry.errors import RegistryError
    from tfxkit.components.registry.registry import Registry

    reg = Registry(cfg.registry_path, name=cfg.name)
    try:
        if reg.exists():
            reg.resolve(cfg.serving.alias)
    except RegistryError as e:
        click.secho(f"serve --alias: {e}", fg="red", err=True)
        sys.exit(2)


@click.command()
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

    cfg = config_or_exit(config, profile, sets)
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
