"""``tfxkit ui``: a local dashboard over ML Metadata and the model registries of one or
more use cases (infra/ui). Reads MLMD read-only; changes the registry (rollback, aliases)
only with --allow-writes."""
from __future__ import annotations

import os
import sys

import click


@click.command("ui")
@click.argument("configs", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--dir", "folder", default=None, type=click.Path(file_okay=False),
              help="Show every use case whose config.yaml is under this folder.")
@click.option("--profile", "-p", default=None, help="Profile to apply to every config.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a config value in every config, e.g. "
                   "--set metadata.mysql.database=tfxkit_prod.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind (the dashboard is local by default).")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--token-env", default=None, metavar="NAME",
              help="Require the token in the environment variable NAME on every request "
                   "(open the dashboard once with ?token=TOKEN, or send Authorization: "
                   "Bearer TOKEN), as `tfxkit serve --token-env`; default each config's "
                   "serving.auth_token_env.")
@click.option("--allow-writes", is_flag=True,
              help="Allow rollback and alias changes from the models page (each asks for "
                   "confirmation and is recorded in the registry's history).")
def ui(configs, folder, profile, sets, host, port, token_env, allow_writes):
    """Start a local web dashboard for CONFIG... (or every use case under --dir): use
    cases, runs and their reports, run comparison, lineage, model registry, canary and
    monitoring. It never writes ML Metadata."""
    from tfxkit.infra.ui.sources import SourceError, load_use_cases

    try:
        cases = load_use_cases(configs, folder, profile, sets)
    except SourceError as e:
        click.secho(f"config error: {e}", fg="red", err=True)
        sys.exit(2)
    names = sorted({token_env} if token_env else
                   {c.cfg.serving.auth_token_env for c in cases if c.cfg.serving.auth_token_env})
    token = None
    if len(names) > 1:
        click.secho("config error: the configs name different serving.auth_token_env ("
                    + ", ".join(names) + "): choose one with --token-env", fg="red", err=True)
        sys.exit(2)
    if names:
        from tfxkit.infra.serving.auth import TokenMissing, token_from_env

        try:
            token = token_from_env(names[0])
        except TokenMissing as e:
            click.secho(f"config error: --token-env: {e}", fg="red", err=True)
            sys.exit(2)
    import uvicorn

    from tfxkit.infra.ui.app import create_app

    app = create_app(cases, allow_writes=allow_writes, token=token, warm=True)
    click.echo(f"tfxkit ui: {', '.join(c.name for c in cases)} on http://{host}:{port}/"
               + (f"  (token from ${names[0]}: open http://{host}:{port}/?token=...)"
                  if token else "")
               + ("  writes allowed" if allow_writes else "  read-only"))
    sys.stdout.flush()
    uvicorn.run(app, host=host, port=port, log_level=os.environ.get("TFXKIT_UI_LOG", "warning"))
