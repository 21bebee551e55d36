"""Checks of the values in the data (``check_data`` calls them): a value that is not a
number in a column the config uses as one, and a bandit's logged columns. A bad value is
named with its file and data row (1-based, the header not counted) or, with a query, the
row of the query's result. DuckDB is imported by the caller (``checks.py``)."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

from .base import ConfigError
from .features import ConstantImpute
from .pipeline import PipelineConfig

NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|"
                     r"UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$")


def numeric_columns(cfg: PipelineConfig) -> Dict[str, str]:
    """{column: the config field that uses it as a number}: dense, bucket, scale,
    categorical_int, mean/median or a numeric constant impute, a regression or bandit
    label (its reward)."""
    f = cfg.features
    out: Dict[str, str] = {}
    if cfg.task in ("regression", "bandit"):
        out[cfg.label] = "label"
    for name in f.dense:
        out.setdefault(name, "features.dense")
    for group in ("bucket", "categorical_int"):
        for name in getattr(f, group):
            out.setdefault(name, f"features.{group}.{name}")
    for name in (f.scale if isinstance(f.scale, dict) else {}):
        out.setdefault(name, f"features.scale.{name}")
    for name, how in f.impute.items():
        if how in ("mean", "median") or (isinstance(how, ConstantImpute)
                                         and not isinstance(how.constant, str)):
            out.setdefault(name, f"features.impute.{name}")
    return out


def check_numbers(cfg: PipelineConfig, file: str, files: List[str],
                  info: Dict[str, Any]) -> Tuple[List[ConfigError], Dict[str, int]]:
    """Numeric columns read as text because some values are not numbers: with
    ``data.on_bad_value: fail`` one problem per column naming the first such value, with
    ``reject`` none; either way the column's type in ``info["columns"]`` becomes the one
    its other values have. Returns (problems, {column: rows with such a value}); a column
    with no number at all is left as text (the type checks name it)."""
    from tfxkit.components.example_gen.ingest import bad_number_sql, number_types

    cols, con = info["columns"], info.get("con")
    text = {c: fld for c, fld in numeric_columns(cfg).items() if cols.get(c) == "VARCHAR"}
    if con is None or not text:
        return [], {}
    dirty: Dict[str, int] = {}
    for c in text:
        bad, good = con.sql(f"SELECT count(*) FILTER (WHERE {bad_number_sql(c)}), count(*) "
                            f"FILTER (WHERE TRY_CAST({q(c)} AS DOUBLE) IS NOT NULL) FROM data"
                            ).fetchone()
        if bad and good:
            dirty[c] = bad
    cols.update(number_types(con, "data", list(dirty)))
    if cfg.data.on_bad_value == "reject":
        return [], dirty
    problems = []
    for c, count in dirty.items():
        place, value, _ = first_bad(cfg, files, con, bad_number_sql(c), c)
        rows = f"{count} row{'s' if count > 1 else ''} like it"
        problems.append(ConfigError(file, text[c], f"{place}: column {c!r} is {value!r}, not "
                                    f"a number ({rows}); fix the data, or set "
                                    "data.on_bad_value: reject (drop such rows, counted) "
                                    "\u2014 impute fills missing values only"))
    return problems, dirty


def rejected_rows(con, columns: List[str]) -> int:
    """Rows of ``data`` with a value that is not a number in any of ``columns``."""
    from tfxkit.components.example_gen.ingest import bad_number_sql

    if not columns:
        return 0
    bad = " OR ".join(bad_number_sql(c) for c in columns)
    return con.sql(f"SELECT count(*) FROM data WHERE {bad}").fetchone()[0]


def check_bandit(cfg: PipelineConfig, file: str, files: List[str],
                 info: Dict[str, Any]) -> List[ConfigError]:
    """The logged bandit columns: a numeric reward, a numeric propensity in (0, 1] on every
    row, and only actions of ``bandit.actions``; a bad value is named with its file and
    data row."""
    b, cols = cfg.bandit, info["columns"]
    problems = []
    if not NUMERIC.match(cols[cfg.label]):
        problems.append(ConfigError(file, "label", f"a bandit's label is its reward and must "
                                    "be numeric (e.g. +1 click, -1 unsubscribe, 0), "
                                    f"{cfg.label!r} is {cols[cfg.label]}"))
    if not NUMERIC.match(cols[b.propensity]) and cols[b.propensity] != "VARCHAR":
        return problems + [ConfigError(file, "bandit.propensity", f"column {b.propensity!r} "
                                       f"is {cols[b.propensity]}, a number in (0, 1] is needed")]
    if "con" not in info:  # TFRecord: the types are checked, the values are not read
        return problems
    p = q(b.propensity)
    num = f"TRY_CAST({p} AS DOUBLE)"
    bad = f"({num} IS NULL OR NOT ({num} > 0 AND {num} <= 1))"
    where = first_bad(cfg, files, info["con"], bad, b.propensity)
    if where is not None:
        place, value, count = where
        shown = "empty" if value is None else repr(value)
        more = f" ({count - 1} more row(s) too)" if count > 1 else ""
        problems.append(ConfigError(file, "bandit.propensity", f"{place}: column "
                                    f"{b.propensity!r} is {shown}{more}; a propensity (the "
                                    "probability with which the logging policy chose the "
                                    "logged action) must be a number in (0, 1]"))
    a = q(b.action)
    listed = ", ".join("'" + x.replace("'", "''") + "'" for x in b.actions)
    bad = f"({a} IS NULL OR CAST({a} AS VARCHAR) NOT IN ({listed}))"
    where = first_bad(cfg, files, info["con"], bad, b.action)
    if where is not None:
        place, value, count = where
        shown = "empty" if value is None else repr(str(value))
        others = [str(r[0]) for r in info["con"].sql(
            f"SELECT DISTINCT CAST({a} AS VARCHAR) AS v FROM data WHERE {bad} "
            "ORDER BY v NULLS FIRST LIMIT 6").fetchall() if r[0] is not None]
        others = [o for o in others if o != str(value)][:5]
        also = f"; other actions not listed: {others}" if others else ""
        more = f" ({count - 1} more row(s) too)" if count > 1 else ""
        problems.append(ConfigError(file, "bandit.actions", f"{place}: column {b.action!r} "
                                    f"is {shown}{more}, not one of bandit.actions{also}"))
    return problems


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def first_bad(cfg: PipelineConfig, files: List[str], con, bad: str, column: str):
    """(where, value, rows in all) of the first row matching ``bad``, or None: where is
    ``FILE, data row N`` (1-based), or the row of the query's result with a query."""
    count = con.sql(f"SELECT count(*) FROM data WHERE {bad}").fetchone()[0]
    if not count:
        return None
    from tfxkit.components.example_gen.ingest import reader_sql

    if cfg.data.source.query:
        sources = [("data.source.query's result", "data")]
    else:
        sources = [(f, reader_sql(cfg.data.source.kind, [f])) for f in files]
    for name, src in sources:
        if column not in con.sql(f"SELECT * FROM {src} LIMIT 0").columns:
            return f"{name} (it has no such column)", None, count
        # row_number() over the plain scan: the reader's order (DuckDB keeps insertion order)
        hit = con.sql(f"SELECT _row, {q(column)} FROM (SELECT row_number() OVER () AS _row, * "
                      f"FROM {src}) WHERE {bad} ORDER BY _row LIMIT 1").fetchone()
        if hit is not None:
            return f"{name}, data row {hit[0]}", hit[1], count
    return "the data", None, count
