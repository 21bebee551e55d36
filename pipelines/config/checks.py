"""Checks of the config against the data itself (columns, types, emptiness, labels),
before any component runs. DuckDB and TensorFlow are imported inside the functions
that read data, never when this module is imported."""
from __future__ import annotations

import difflib
import glob
import os
import re
from typing import Any, Dict, List, Optional

from .base import SPAN_TOKENS, ConfigError, is_remote
from .features import ConstantImpute
from .pipeline import PipelineConfig


def source_files(cfg: PipelineConfig) -> List[str]:
    """The files the training source names (see ``files_of``)."""
    return files_of(cfg, cfg.data.source.path)


def reader_columns(kind: str, files: List[str], query: Optional[str] = None):
    """({column: type}, row count) of csv/parquet files (after ``query``) or TFRecords."""
    info = (_columns_tfrecord(files) if kind == "tfrecord"
            else _columns_tabular(kind, files, query))
    return info["columns"], info["rows"]


def files_of(cfg: PipelineConfig, path: str) -> List[str]:
    """The files a source path names: a file, every file in a folder, or a glob (span
    placeholders match any span)."""
    p = cfg.resolve(path)
    for token in SPAN_TOKENS:
        p = p.replace(token, "*")
    if os.path.isdir(p):
        return sorted(os.path.join(p, f) for f in os.listdir(p)
                      if not f.startswith(".") and os.path.isfile(os.path.join(p, f)))
    if any(ch in p for ch in "*?["):
        return sorted(f for f in glob.glob(p) if os.path.isfile(f))
    return [p] if os.path.isfile(p) else []


def _columns_tabular(kind: str, files: List[str], query: Optional[str]) -> Dict[str, Any]:
    import duckdb

    from tfxkit.components.example_gen.ingest import reader_sql

    con = duckdb.connect()
    con.execute(f"CREATE TEMP VIEW source AS SELECT * FROM {reader_sql(kind, files)}")
    con.execute(f"CREATE TEMP VIEW data AS {query or 'SELECT * FROM source'}")
    rel = con.sql("SELECT * FROM data")
    cols = dict(zip(rel.columns, [str(t) for t in rel.types]))
    n_rows = con.sql("SELECT count(*) FROM data").fetchone()[0]
    return {"columns": cols, "rows": n_rows, "con": con, "reader": "data"}


def _columns_tfrecord(files: List[str]) -> Dict[str, Any]:
    import tensorflow as tf  # only for TFRecord sources

    cols: Dict[str, str] = {}
    rows = 0
    comp = "GZIP" if files[0].endswith(".gz") else None
    for raw in tf.data.TFRecordDataset(files, compression_type=comp).take(1000):
        rows += 1
        ex = tf.train.Example.FromString(raw.numpy())
        for name, feat in ex.features.feature.items():
            kind = feat.WhichOneof("kind")
            cols.setdefault(name, {"float_list": "FLOAT", "int64_list": "BIGINT",
                                   "bytes_list": "VARCHAR"}.get(kind, "VARCHAR"))
    return {"columns": cols, "rows": rows}


_INTEGER = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|"
                      r"UINTEGER|UBIGINT)$")
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|"
                      r"UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$")


def check_data(cfg: PipelineConfig) -> Dict[str, Any]:
    """Checks the config against the data before anything runs.

    Returns a small summary (files, rows, columns). Raises ConfigError naming the
    field and the reason: a path that matches nothing, empty data, a label or
    feature that is not a column (with the closest column name), a numeric transform on
    a text column, labels that are missing; for a bandit a reward that is not numeric, a
    propensity outside (0, 1] or a logged action not in ``bandit.actions`` (named with
    its file and data row).
    """
    file = cfg.config_path or "<config>"
    src_field = f"data.source.{cfg.data.source.kind}"
    if cfg.data.source.kind == "bigquery":
        return {"files": [], "rows": None, "columns": {},
                "note": "BigQuery is not reachable from here: data checks skipped"}
    if is_remote(cfg.data.source.path):
        return {"files": [], "rows": None, "columns": {},
                "note": f"{cfg.data.source.path} is remote: data checks skipped"}
    files = source_files(cfg)
    if not files:
        raise ConfigError(file, src_field,
                          f"path {cfg.data.source.path!r} matches no file "
                          f"(resolved to {cfg.resolve(cfg.data.source.path)})")
    kind = cfg.data.source.kind
    try:
        info = (_columns_tfrecord(files) if kind == "tfrecord"
                else _columns_tabular(kind, files, cfg.data.source.query))
    except Exception as e:  # duckdb / tf parse errors
        what = "data.source.query" if cfg.data.source.query else src_field
        msg = str(e).strip().splitlines()[0]
        raise ConfigError(file, what, f"cannot read {files[0]}"
                          f"{' with the query' if cfg.data.source.query else ''}: {msg}") from None
    cols, rows = info["columns"], info["rows"]
    if rows == 0:
        raise ConfigError(file, src_field, f"the data is empty (no rows in {len(files)} "
                          f"file(s), e.g. {files[0]})")

    def need(field: str, name: str):
        if name not in cols:
            close = difflib.get_close_matches(name, list(cols), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(file, field, f"column {name!r} is not in the data{hint} "
                              f"(columns: {', '.join(cols)})")

    need("label", cfg.label)
    if cfg.bandit is not None:
        need("bandit.action", cfg.bandit.action)
        need("bandit.propensity", cfg.bandit.propensity)
    f = cfg.features
    for group in ("dense", "bucket", "vocab", "categorical_int", "hash", "impute"):
        for name in getattr(f, group):
            need(f"features.{group}.{name}" if group != "dense" else "features.dense", name)
    if isinstance(f.scale, dict):
        for name in f.scale:
            need(f"features.scale.{name}", name)
    numeric_groups = {"dense": f.dense, "bucket": list(f.bucket),
                      "scale": list(f.scale) if isinstance(f.scale, dict) else []}
    for group, names in numeric_groups.items():
        for name in names:
            if not _NUMERIC.match(cols[name]):
                raise ConfigError(file, f"features.{group}", f"column {name!r} is "
                                  f"{cols[name]}, a numeric column is needed "
                                  "(use vocab or hash for text)")
    for name in f.categorical_int:
        if not _INTEGER.match(cols[name]):
            raise ConfigError(file, f"features.categorical_int.{name}", f"column {name!r} is "
                              f"{cols[name]}, an integer column is needed (use vocab for text)")
    for imp_name, how in f.impute.items():
        numeric = bool(_NUMERIC.match(cols[imp_name]))
        if how in ("mean", "median") and not numeric:
            raise ConfigError(file, f"features.impute.{imp_name}",
                              f"{how} needs a numeric column, {imp_name!r} is {cols[imp_name]}")
        if isinstance(how, ConstantImpute) and numeric and isinstance(how.constant, str):
            raise ConfigError(file, f"features.impute.{imp_name}", f"constant {how.constant!r} "
                              f"is text, {imp_name!r} is {cols[imp_name]}")
    if cfg.data.split.key:
        need("data.split.key", cfg.data.split.key)
        key = cfg.data.split.key
        if "con" in info and cfg.data.split.on_null_key == "fail":
            nulls = info["con"].sql(f'SELECT count(*) FROM data WHERE "{key}" IS NULL'
                                    ).fetchone()[0]
            if nulls:
                raise ConfigError(file, "data.split.key", f"{nulls} row(s) have no {key!r} "
                                  "value; fill them or set data.split.on_null_key: reject")
    if cfg.data.split.predicates:
        if kind == "tfrecord":
            raise ConfigError(file, "data.split.predicates", "predicates need a csv or "
                              "parquet source")
        for name, pred in cfg.data.split.predicates.items():
            try:
                info["con"].execute(f"SELECT count(*) FROM data WHERE ({pred})").fetchone()
            except Exception as e:
                raise ConfigError(file, f"data.split.predicates.{name}",
                                  f"not a valid condition: {str(e).splitlines()[0]}") from None
    for i, s in enumerate(cfg.eval.slices):
        for name in ([s] if isinstance(s, str) else s):
            need(f"eval.slices[{i}]", name)
    for i, m in enumerate(cfg.eval.metrics):
        for name in m.slices:
            need(f"eval.metrics[{i}].slices.{name}", name)
    if cfg.eval.fairness is not None:
        for i, name in enumerate(cfg.eval.fairness.features):
            need(f"eval.fairness.features[{i}]", name)
    if cfg.task == "regression" and not _NUMERIC.match(cols[cfg.label]):
        raise ConfigError(file, "label", f"a regression label must be numeric, "
                          f"{cfg.label!r} is {cols[cfg.label]}")
    if cfg.bandit is not None:
        _check_bandit(cfg, file, files, info)
    if "con" in info:
        con, reader = info["con"], info["reader"]
        missing = con.sql(f'SELECT count(*) FROM {reader} WHERE "{cfg.label}" IS NULL'
                          ).fetchone()[0]
        if missing:
            raise ConfigError(file, "label", f"{missing} of {rows} rows have no "
                              f"{cfg.label!r} value; drop or fill them first")
        label_type = cols[cfg.label]
        if cfg.task in ("binary", "multiclass") and label_type in ("FLOAT", "DOUBLE", "REAL") \
                or label_type.startswith("DECIMAL") and cfg.task in ("binary", "multiclass"):
            raise ConfigError(file, "label", f"a {cfg.task} label must be text or integer, "
                              f"{cfg.label!r} is {label_type}")
        seen = {str(r[0]) for r in con.sql(
            f'SELECT DISTINCT "{cfg.label}" FROM {reader} LIMIT 1001').fetchall()}
        if cfg.label_classes is not None:
            extra = seen - set(cfg.label_classes)
            if extra:
                raise ConfigError(file, "label_classes", f"the data has label values "
                                  f"not listed: {sorted(extra)[:5]}")
        elif cfg.task == "binary":
            if len(seen) != 2:
                raise ConfigError(file, "label", f"a binary label needs exactly 2 values, "
                                  f"{cfg.label!r} has {len(seen)}: {sorted(seen)[:5]}")
            if _INTEGER.match(label_type) and seen != {"0", "1"}:
                raise ConfigError(file, "label", f"integer binary labels must be 0 and 1, got "
                                  f"{sorted(seen)}; or name the order in label_classes")
            if not _INTEGER.match(label_type):
                raise ConfigError(file, "label_classes", f"text binary labels {sorted(seen)} "
                                  "need label_classes: [negative, positive]")
        elif cfg.task == "multiclass" and len(seen) < 2:
            raise ConfigError(file, "label", f"multiclass needs at least 2 label values, "
                              f"{cfg.label!r} has {len(seen)}")
    for mod_field, mod in (("features.module", f.module), ("model.module", cfg.model.module)):
        if mod and not os.path.isfile(cfg.resolve(mod)):
            raise ConfigError(file, mod_field, f"no such file {cfg.resolve(mod)}")
    if cfg.validation.schema_file and not os.path.isfile(cfg.resolve(cfg.validation.schema_file)):
        raise ConfigError(file, "validation.schema",
                          f"no such file {cfg.resolve(cfg.validation.schema_file)}")
    return {"files": files, "rows": rows, "columns": cols}


def _check_bandit(cfg: PipelineConfig, file: str, files: List[str], info: Dict[str, Any]):
    """The logged bandit columns: a numeric reward, a numeric propensity in (0, 1] on every
    row, and only actions of ``bandit.actions``; a bad value is named with its file and
    data row (1-based, the header not counted)."""
    b, cols = cfg.bandit, info["columns"]
    if not _NUMERIC.match(cols[cfg.label]):
        raise ConfigError(file, "label", f"a bandit's label is its reward and must be "
                          f"numeric (e.g. +1 click, -1 unsubscribe, 0), {cfg.label!r} is "
                          f"{cols[cfg.label]}")
    if not _NUMERIC.match(cols[b.propensity]) and cols[b.propensity] != "VARCHAR":
        raise ConfigError(file, "bandit.propensity", f"column {b.propensity!r} is "
                          f"{cols[b.propensity]}, a number in (0, 1] is needed")
    if "con" not in info:  # TFRecord: the types are checked, the values are not read
        return
    p = _q(b.propensity)
    num = f"TRY_CAST({p} AS DOUBLE)"
    bad = f"({num} IS NULL OR NOT ({num} > 0 AND {num} <= 1))"
    where = _first_bad(cfg, files, info["con"], bad, b.propensity)
    if where is not None:
        place, value, count = where
        shown = "empty" if value is None else repr(value)
        more = f" ({count - 1} more row(s) too)" if count > 1 else ""
        raise ConfigError(file, "bandit.propensity", f"{place}: column {b.propensity!r} is "
                          f"{shown}{more}; a propensity (the probability with which the "
                          "logging policy chose the logged action) must be a number in "
                          "(0, 1]")
    a = _q(b.action)
    listed = ", ".join("'" + x.replace("'", "''") + "'" for x in b.actions)
    bad = f"({a} IS NULL OR CAST({a} AS VARCHAR) NOT IN ({listed}))"
    where = _first_bad(cfg, files, info["con"], bad, b.action)
    if where is not None:
        place, value, count = where
        shown = "empty" if value is None else repr(str(value))
        others = [str(r[0]) for r in info["con"].sql(
            f"SELECT DISTINCT CAST({a} AS VARCHAR) AS v FROM data WHERE {bad} "
            "ORDER BY v NULLS FIRST LIMIT 6").fetchall() if r[0] is not None]
        others = [o for o in others if o != str(value)][:5]
        also = f"; other actions not listed: {others}" if others else ""
        more = f" ({count - 1} more row(s) too)" if count > 1 else ""
        raise ConfigError(file, "bandit.actions", f"{place}: column {b.action!r} is {shown}"
                          f"{more}, not one of bandit.actions{also}")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_bad(cfg: PipelineConfig, files: List[str], con, bad: str, column: str):
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
        hit = con.sql(f"SELECT _row, {_q(column)} FROM (SELECT row_number() OVER () AS _row, * "
                      f"FROM {src}) WHERE {bad} ORDER BY _row LIMIT 1").fetchone()
        if hit is not None:
            return f"{name}, data row {hit[0]}", hit[1], count
    return "the data", None, count
