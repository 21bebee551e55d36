"""Checks of the ``inference:`` and ``serving:`` sections before anything runs (``tfxkit
validate``): the inference source matches files that have the key and every raw column
each model reads (never the label), numbers where the model reads numbers; the store's
DSN or URL parses. Every problem is returned (one ConfigError each), none raised, so
that ``check_use_case`` reports them with the data's in one message."""
from __future__ import annotations

import difflib
import re
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from .base import ConfigError, is_remote
from .pipeline import PipelineConfig


def check_inference(cfg: PipelineConfig) -> Tuple[Dict[str, Any], List[ConfigError]]:
    """(what was checked, problems) of the inference section: its files, rows, columns
    and {model: the columns it reads}; {} without an inference section."""
    from .checks import closest, files_of, reader_columns
    from .loader import load_config
    from .value_checks import NUMERIC, numeric_columns

    file, inf = cfg.config_path or "<config>", cfg.inference
    if inf is None:
        return {}, []
    field = f"inference.source.{inf.source.kind}"
    if is_remote(inf.source.path):
        return {"note": f"{inf.source.path} is remote: inference data not checked"}, []
    files = files_of(cfg, inf.source.path)
    if not files:
        return {}, [ConfigError(file, field, f"path {inf.source.path!r} matches no file "
                                f"(resolved to {cfg.resolve(inf.source.path)})")]
    try:
        cols, rows = reader_columns(inf.source.kind, files, inf.source.query)
    except Exception as e:  # duckdb / tf parse errors
        return {}, [ConfigError(file, field, f"cannot read {files[0]}: "
                                f"{str(e).strip().splitlines()[0]}")]
    if rows == 0:
        return {}, [ConfigError(file, field, f"the inference data is empty ({files[0]})")]
    problems: List[ConfigError] = []
    listing = f"(columns: {', '.join(cols)})"
    if inf.key not in cols:
        problems.append(ConfigError(file, "inference.key", f"column {inf.key!r} is not in the "
                                    f"inference data{closest(inf.key, list(cols))} {listing}"))
    models: Dict[str, List[str]] = {}
    for m in cfg.inference_models:
        mcfg = cfg
        if m.config is not None:
            try:
                mcfg = load_config(cfg.resolve(m.config))
            except ConfigError as e:
                problems.append(ConfigError(file, f"inference.models.{m.name}.config",
                                            f"{cfg.resolve(m.config)} does not load: "
                                            f"{e.field + ': ' if e.field else ''}{e.reason}"))
                continue
        need = [c for c in mcfg.features.raw_columns() if c not in m.inputs and c != mcfg.label]
        models[m.name] = need
        missing = [c for c in need if c not in cols]
        if missing:
            shown = ", ".join(repr(c) + _near(c, list(cols)) for c in missing)
            problems.append(ConfigError(file, field, f"the inference data lacks column(s) "
                                        f"{shown} that model {m.name!r} reads {listing}"))
        for c, _ in numeric_columns(mcfg).items():
            if c in need and c in cols and not NUMERIC.match(cols[c]):
                problems.append(ConfigError(file, field, f"column {c!r} is {cols[c]} in the "
                                            f"inference data; model {m.name!r} reads it as a "
                                            "number"))
    return {"files": files, "rows": rows, "columns": cols, "models": models}, problems


def _near(name: str, names: List[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_serving(cfg: PipelineConfig) -> List[ConfigError]:
    """The prediction store's target parses (no connection is made)."""
    file = cfg.config_path or "<config>"
    if cfg.inference is None:
        return []
    store = cfg.inference.store
    where = f"inference.store.{store.kind}"
    reason = _store_target_problem(store.kind, getattr(store, store.kind))
    return [ConfigError(file, where, reason)] if reason else []


def _store_target_problem(kind: str, target: str) -> Optional[str]:
    if kind == "sqlite":
        return (f"{target!r} is a URL; sqlite needs a local file path" if is_remote(target)
                else None)
    if kind == "redis":
        u = urlsplit(target)
        if u.scheme not in ("redis", "rediss", "unix"):
            return f"{target!r} is not a Redis URL (redis://HOST:PORT/DB, rediss:// or unix://)"
        if u.scheme != "unix" and not u.hostname:
            return f"{target!r} names no host (redis://HOST:PORT/DB)"
        if u.path.strip("/") and not u.path.strip("/").isdigit():
            return f"{target!r}: the database {u.path.strip('/')!r} is not a number"
        return _port_problem(target, u)
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(target)
    except Exception as e:  # psycopg.ProgrammingError: libpq's own parse error
        return (f"{target!r} is not a PostgreSQL DSN (postgresql://USER@HOST:PORT/DB or "
                f"'host=... dbname=...'): {str(e).strip().splitlines()[0]}")
    if not re.fullmatch(r"\d*", str(info.get("port") or "")):
        return f"{target!r}: port {info['port']!r} is not a number"
    return None


def _port_problem(target: str, u) -> Optional[str]:
    try:
        u.port
    except ValueError:
        return f"{target!r}: the port is not a number"
    return None


def check_use_case(cfg: PipelineConfig) -> Dict[str, Any]:
    """``check_data`` and the inference and serving checks: one ConfigError with every
    problem of all three (one line each), or {"data": ..., "inference": ...}."""
    from .checks import check_data

    problems: List[ConfigError] = []
    data: Dict[str, Any] = {}
    try:
        data = check_data(cfg)
    except ConfigError as e:
        problems.append(e)
    inference, more = check_inference(cfg)
    problems += more + check_serving(cfg)
    if problems:
        raise ConfigError.of(problems)
    return {"data": data, "inference": inference}
