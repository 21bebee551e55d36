"""The model registry: ``tfxkit models`` (its versions, checked; ``--repair``; ``tfxkit
models alias`` names versions) and ``tfxkit rollback``."""
from __future__ import annotations

import sys

import click

from tfxkit.infra.cli.common import config_options, config_or_exit


def _open_registry(config, profile, sets, repair=False):
    """The config and its model registry (exit 2 on a bad config, 1 when nothing was
    published yet or its index is missing or broken: one line naming the file and why,
    and ``tfxkit models CONFIG --repair``). Reads no data and imports no TensorFlow."""
    from tfxkit.components.registry.errors import IndexBroken
    from tfxkit.components.registry.registry import Registry

    cfg = config_or_exit(config, profile, sets)
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


class _WithAlias(click.Command):
    """``tfxkit models CONFIG`` (the listing), with ``tfxkit models alias ...`` beside it:
    a first argument ``alias`` runs that command instead."""

    def make_context(self, info_name, args, parent=None, **extra):
        if args and args[0] == "alias":
            return alias.make_context(f"{info_name} alias", list(args[1:]), parent=parent,
                                      **extra)
        return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx):
        if ctx.command is not self:
            return ctx.command.invoke(ctx)
        return super().invoke(ctx)


@click.command(cls=_WithAlias)
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
    training data, which one serves (*) and its aliases. Each version's folder is checked
    (there, same content hash as at publish); exits 1 when the serving version cannot be
    served. `tfxkit models alias CONFIG NAME VERSION` names a version (see its --help)."""
    from tfxkit.components.registry.errors import RegistryError
    from tfxkit.components.registry.history import default_by

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
    named = {}
    for a, v in sorted((index.get("aliases") or {}).items()):
        named.setdefault(v, []).append(a)
    click.echo(f"{cfg.name}: registry {reg.path}, serving version {serving}")
    if named:
        click.echo("  aliases: " + ", ".join(f"{a} -> {v}" for a, v in
                                             sorted((index.get("aliases") or {}).items())))
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
        tags = f"  [{', '.join(named[v])}]" if v in named else ""
        click.echo(f"  {'*' if v == serving else ' '} {v}  {rec.get('created_at') or '':<25} "
                   f"{metrics or 'no metrics recorded'}{tags}")
        click.echo(f"      config {rec.get('config_hash') or 'unknown'}  commit {commit}"
                   + (f"  {rows}" if rows else "") + (f"  {spans}" if spans else "")
                   + (f"  run {rec['pipeline_run']}" if rec.get("pipeline_run") else ""))
        if rec.get("model_card"):
            click.echo(f"      card {reg.fs.join(reg.version_path(v), rec['model_card'])}")
        t = rec.get("tflite")
        if isinstance(t, dict) and t.get("path"):
            diff = t.get("max_abs_diff")
            click.echo(f"      tflite {reg.fs.join(reg.version_path(v), t['path'])}  "
                       f"{t.get('size_bytes', '?')} bytes  {t.get('signature', '')}"
                       + (f"  max abs diff {diff:.3g} on {t.get('rows')} eval rows"
                          if isinstance(diff, (int, float)) else ""))
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
            if h.get("alias"):
                extra = f" as {h['alias']}" + extra
            why = f": {h['reason']}" if h.get("reason") else ""
            click.echo(f"  {h.get('at')}  {h.get('action'):<8} {h.get('version')}{extra} "
                       f"by {h.get('by')}{why}")
    if any(p.serving and p.kind != "unhashed" for p in problems):
        sys.exit(1)


@click.command()
@config_options
@click.option("--to", "to_version", required=True, metavar="VERSION",
              help="The registry version to serve (see tfxkit models).")
@click.option("--reason", default="", help="Why (recorded in the registry's history).")
def rollback(config, profile, sets, to_version, reason):
    """Serve an earlier model VERSION of CONFIG's registry (batch inference and serving
    use the registry's serving version). The version's folder must be there, with the
    content hash recorded at publish."""
    from tfxkit.components.registry.errors import RegistryError, UnknownVersion

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


@click.command()
@config_options
@click.argument("name", required=False)
@click.argument("version", required=False)
@click.option("--remove", "remove", default=None, metavar="NAME",
              help="Remove the alias NAME instead.")
@click.option("--reason", default="", help="Why (recorded in the registry's history).")
def alias(config, profile, sets, name, version, remove, reason):
    """Point the alias NAME (e.g. champion, challenger: lower case, starting with a letter)
    at VERSION of CONFIG's registry (a version, or another alias). Aliases never move the
    serving pointer; `tfxkit predict --model-ref NAME` scores with one, `tfxkit serve
    --alias NAME` serves one, TF Serving gets them as version labels (serving.config and
    /v1/models/NAME/labels/ALIAS), and trimming keeps aliased versions."""
    from tfxkit.components.registry.errors import RegistryError, UnknownAlias, UnknownVersion

    if remove is not None and (name or version):
        click.secho("models alias: give NAME VERSION, or --remove NAME, not both",
                    fg="red", err=True)
        sys.exit(2)
    if remove is None and not (name and version):
        click.secho("models alias: give NAME VERSION (or --remove NAME)", fg="red", err=True)
        sys.exit(2)
    cfg, reg = _open_registry(config, profile, sets)
    try:
        if remove is not None:
            was = reg.remove_alias(remove, reason=reason or "tfxkit models alias --remove")
            click.echo(f"{cfg.name}: removed alias {remove} (was version {was})")
            return
        before = reg.aliases().get(name)
        v = reg.set_alias(name, version, reason=reason or "tfxkit models alias")
    except (UnknownAlias, UnknownVersion) as e:
        click.secho(f"models alias: {e}", fg="red", err=True)
        sys.exit(2)
    except RegistryError as e:
        click.secho(f"models alias: {e}", fg="red", err=True)
        sys.exit(2 if "not a valid name" in str(e) else 1)
    moved = f" (was {before})" if before and before != v else ""
    click.echo(f"{cfg.name}: alias {name} -> version {v}{moved}")
