"""Checks of the config against the data itself (columns, types, emptiness, labels),
before any component runs; every problem found is reported at once. The checks of
values (numbers, a bandit's columns) are in ``value_checks.py``. DuckDB and TensorFlow are imported inside the functions
that read data, never when this module is imported."""
from __future__ import annotations

import difflib
import glob
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .base import SPAN_TOKENS, ConfigError, is_remote
from .features import ConstantImpute
from .pipeline import PipelineConfig
from .value_checks import NUMERIC, check_bandit, check_numbers, q, rejected_rows


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


def _columns_tabular(kind: str, files: List[str], query: Optional[str],
                     null_counts: Sequence[str] = ()) -> Dict[str, Any]:
    """Columns, rows and (``null_counts``) the rows without a value in each of those
    columns (``nulls``), counted in the same scan: every query re-reads the files (a CSV
    is parsed again), which is what the checks cost on large data."""
    import duckdb

    from tfxkit.components.example_gen.ingest import reader_sql

    con = duckdb.connect()
    con.execute(f"CREATE TEMP VIEW source AS SELECT * FROM {reader_sql(kind, files)}")
    con.execute(f"CREATE TEMP VIEW data AS {query or 'SELECT * FROM source'}")
    rel = con.sql("SELECT * FROM data")
    cols = dict(zip(rel.columns, [str(t) for t in rel.types]))
    nulls = [c for c in dict.fromkeys(null_counts) if c in cols]
    counts = con.sql("SELECT " + ", ".join(
        ["count(*)"] + [f"count(*) FILTER (WHERE {q(c)} IS NULL)" for c in nulls])
        + " FROM data").fetchone()
    return {"columns": cols, "rows": counts[0], "con": con, "reader": "data",
            "nulls": dict(zip(nulls, counts[1:]))}


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


def closest(name: str, names: List[str]) -> str:
    """``; did you mean 'x'?`` for the closest of ``names`` (difflib), or ""."""
    close = difflib.get_close_matches(name, list(names), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def column_refs(cfg: PipelineConfig) -> List[Tuple[str, str]]:
    """(field, column) for every column the config names in the training data."""
    f = cfg.features
    refs = [("label", cfg.label)]
    if cfg.bandit is not None:
        refs += [("bandit.action", cfg.bandit.action),
                 ("bandit.propensity", cfg.bandit.propensity)]
    for group in ("dense", "bucket", "vocab", "categorical_int", "hash", "impute"):
        refs += [(f"features.{group}.{n}" if group != "dense" else "features.dense", n)
                 for n in getattr(f, group)]
    if isinstance(f.scale, dict):
        refs += [(f"features.scale.{n}", n) for n in f.scale]
    if cfg.data.split.key:
        refs.append(("data.split.key", cfg.data.split.key))
    for i, sl in enumerate(cfg.eval.slices):
        refs += [(f"eval.slices[{i}]", n) for n in ([sl] if isinstance(sl, str) else sl)]
    for i, m in enumerate(cfg.eval.metrics):
        refs += [(f"eval.metrics[{i}].slices.{n}", n) for n in m.slices]
    if cfg.eval.fairness is not None:
        refs += [(f"eval.fairness.features[{i}]", n)
                 for i, n in enumerate(cfg.eval.fairness.features)]
    return refs


def check_data(cfg: PipelineConfig) -> Dict[str, Any]:
    """Checks the config against the data before anything runs.

    Returns a small summary (files, rows, columns; ``bad_values``: {column: rows} whose
    value is not a number, rejected with ``data.on_bad_value: reject``). Raises one
    ConfigError holding every problem, each naming the field and the reason: a path that
    matches nothing, empty data, a column the config names that is not in the data (with
    the closest column name), a value that is not a number in a numeric column (its file,
    row and value), a numeric transform on a text column, labels that are missing; for a
    bandit a reward that is not numeric, a propensity outside (0, 1] or a logged action
    not in ``bandit.actions`` (named with its file and data row).
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
                else _columns_tabular(kind, files, cfg.data.source.query,
                                      [c for c in (cfg.data.split.key, cfg.label) if c]))
    except Exception as e:  # duckdb / tf parse errors
        what = "data.source.query" if cfg.data.source.query else src_field
        msg = str(e).strip().splitlines()[0]
        raise ConfigError(file, what, f"cannot read {files[0]}"
                          f"{' with the query' if cfg.data.source.query else ''}: {msg}") from None
    cols, rows = info["columns"], info["rows"]
    if rows == 0:
        raise ConfigError(file, src_field, f"the data is empty (no rows in {len(files)} "
                          f"file(s), e.g. {files[0]})")
    problems: List[ConfigError] = []

    def problem(field: str, reason: str) -> None:
        problems.append(ConfigError(file, field, reason))

    absent = set()
    for field, name in column_refs(cfg):
        if name not in cols and name not in absent:
            absent.add(name)
            problem(field, f"column {name!r} is not in the data{closest(name, list(cols))} "
                    f"(columns: {', '.join(cols)})")
    bad_numbers, bad_values = check_numbers(cfg, file, files, info)
    problems += bad_numbers
    shown = set(bad_values) if cfg.data.on_bad_value == "fail" else set()
    f = cfg.features
    numeric_groups = {"dense": f.dense, "bucket": list(f.bucket),
                      "scale": list(f.scale) if isinstance(f.scale, dict) else []}
    for group, names in numeric_groups.items():
        for name in names:
            if name in cols and name not in shown and not NUMERIC.match(cols[name]):
                shown.add(name)
                problem(f"features.{group}", f"column {name!r} is {cols[name]}, a numeric "
                        "column is needed (use vocab or hash for text)")
    for name in f.categorical_int:
        if name in cols and name not in shown and not _INTEGER.match(cols[name]):
            problem(f"features.categorical_int.{name}", f"column {name!r} is {cols[name]}, "
                    "an integer column is needed (use vocab for text)")
    for imp_name, how in f.impute.items():
        if imp_name not in cols or imp_name in shown:
            continue
        numeric = bool(NUMERIC.match(cols[imp_name]))
        if how in ("mean", "median") and not numeric:
            problem(f"features.impute.{imp_name}",
                    f"{how} needs a numeric column, {imp_name!r} is {cols[imp_name]}")
        if isinstance(how, ConstantImpute) and numeric and isinstance(how.constant, str):
            problem(f"features.impute.{imp_name}", f"constant {how.constant!r} is text, "
                    f"{imp_name!r} is {cols[imp_name]}")
    key = cfg.data.split.key
    if key in cols and "con" in info and cfg.data.split.on_null_key == "fail":
        nulls = _nulls(info, key)
        if nulls:
            problem("data.split.key", f"{nulls} row(s) have no {key!r} value; fill them or "
                    "set data.split.on_null_key: reject")
    if cfg.data.split.predicates:
        if kind == "tfrecord":
            problem("data.split.predicates", "predicates need a csv or parquet source")
        for name, pred in (cfg.data.split.predicates.items() if kind != "tfrecord" else ()):
            try:
                info["con"].execute(f"SELECT count(*) FROM data WHERE ({pred})").fetchone()
            except Exception as e:
                problem(f"data.split.predicates.{name}",
                        f"not a valid condition: {str(e).splitlines()[0]}")
    if cfg.label in cols:
        if cfg.task == "regression" and cfg.label not in shown \
                and not NUMERIC.match(cols[cfg.label]):
            problem("label", f"a regression label must be numeric, {cfg.label!r} is "
                    f"{cols[cfg.label]}")
        if cfg.bandit is not None and not absent & {cfg.bandit.action, cfg.bandit.propensity}:
            problems += [p for p in check_bandit(cfg, file, files, info)
                         if not (p.field == "label" and cfg.label in shown)]
        if "con" in info:
            problems += _check_labels(cfg, file, info)
    for mod_field, mod in (("features.module", f.module), ("model.module", cfg.model.module)):
        if mod and not os.path.isfile(cfg.resolve(mod)):
            problem(mod_field, f"no such file {cfg.resolve(mod)}")
    if cfg.validation.schema_file and not os.path.isfile(cfg.resolve(cfg.validation.schema_file)):
        problem("validation.schema", f"no such file {cfg.resolve(cfg.validation.schema_file)}")
    if problems:
        raise ConfigError.of(problems)
    out = {"files": files, "rows": rows, "columns": cols}
    if bad_values:
        out["bad_values"] = bad_values
        out["rejected_rows"] = rejected_rows(info["con"], list(bad_values))
    return out


def _nulls(info: Dict[str, Any], column: str) -> int:
    """Rows of the data without a value in ``column`` (counted with the rows where asked)."""
    if column in info.get("nulls", {}):
        return info["nulls"][column]
    return info["con"].sql(f'SELECT count(*) FROM {info["reader"]} WHERE {q(column)} IS NULL'
                           ).fetchone()[0]


def _check_labels(cfg: PipelineConfig, file: str, info: Dict[str, Any]) -> List[ConfigError]:
    """Missing labels; a classification label's type and values."""
    con, reader, cols, rows = info["con"], info["reader"], info["columns"], info["rows"]
    missing = _nulls(info, cfg.label)
    if missing:
        return [ConfigError(file, "label", f"{missing} of {rows} rows have no {cfg.label!r} "
                            "value; drop or fill them first")]
    label_type = cols[cfg.label]
    if cfg.task in ("binary", "multiclass") and label_type in ("FLOAT", "DOUBLE", "REAL") \
            or label_type.startswith("DECIMAL") and cfg.task in ("binary", "multiclass"):
        return [ConfigError(file, "label", f"a {cfg.task} label must be text or integer, "
                            f"{cfg.label!r} is {label_type}")]
    if cfg.label_classes is None and cfg.task not in ("binary", "multiclass"):
        return []  # a regression (or bandit) label's values are checked as numbers
    seen = {str(r[0]) for r in con.sql(
        f'SELECT DISTINCT {q(cfg.label)} FROM {reader} LIMIT 1001').fetchall()}
    if cfg.label_classes is not None:
        extra = seen - set(cfg.label_classes)
        if extra:
            return [ConfigError(file, "label_classes", f"the data has label values not "
                                f"listed: {sorted(extra)[:5]}")]
    elif cfg.task == "binary":
        if len(seen) != 2:
            return [ConfigError(file, "label", f"a binary label needs exactly 2 values, "
                                f"{cfg.label!r} has {len(seen)}: {sorted(seen)[:5]}")]
        if _INTEGER.match(label_type) and seen != {"0", "1"}:
            return [ConfigError(file, "label", f"integer binary labels must be 0 and 1, got "
                                f"{sorted(seen)}; or name the order in label_classes")]
        if not _INTEGER.match(label_type):
            return [ConfigError(file, "label_classes", f"text binary labels {sorted(seen)} "
                                "need label_classes: [negative, positive]")]
    elif cfg.task == "multiclass" and len(seen) < 2:
        return [ConfigError(file, "label", f"multiclass needs at least 2 label values, "
                            f"{cfg.label!r} has {len(seen)}")]
    return []
