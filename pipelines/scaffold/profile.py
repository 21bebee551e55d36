"""Profiles a data set with DuckDB (``tfxkit new --data``): per column its type, missing and
distinct counts, numeric summary (min, max, mean, median, skewness), the most frequent
values of low-cardinality columns, and whether it looks like a row id. DuckDB reads the
files as tfxkit's ExampleGen does (``reader_sql``), so the types are the pipeline's."""
from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

TOP_VALUES = 20  # columns with at most this many distinct values keep their value counts
_EXT = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_ID_NAME = re.compile(r"(^|_)(id|key|uuid|guid)$|^(id|row|index|idx|rowid)(_|$)", re.I)
_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT")
_FLOAT = ("FLOAT", "DOUBLE", "REAL")


class ProfileError(ValueError):
    """The data cannot be profiled (no file, unreadable, no rows): the message says why."""


@dataclass
class Column:
    name: str
    dtype: str                 # DuckDB's type
    kind: str                  # int | float | string | bool | other
    rows: int
    missing: int
    distinct: int
    min: Optional[float] = None
    max: Optional[float] = None
    mean: Optional[float] = None
    median: Optional[float] = None
    skew: Optional[float] = None
    mae_mean: Optional[float] = None   # mean |x - mean|: the MAE of predicting the mean
    top: List[Tuple[str, int]] = field(default_factory=list)  # (value, count), most first

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")

    @property
    def unique(self) -> bool:
        """Every row has its own value, none missing."""
        return self.missing == 0 and self.distinct == self.rows

    @property
    def id_like(self) -> bool:
        """A row id: unique, and a string, or an integer named like an id or numbering
        the rows (a float that is unique is a measurement, not an id)."""
        if not self.unique or self.rows < 2:
            return False
        if self.kind == "string" or (_ID_NAME.search(self.name) and self.kind == "int"):
            return True
        return self.kind == "int" and self.max - self.min + 1 == self.rows

    @property
    def integral(self) -> bool:
        """Numeric with whole values only (an int column, or floats such as 1.0, 2.0)."""
        if self.kind == "int":
            return True
        return self.kind == "float" and all(float(v).is_integer() for v, _ in self.top) \
            and len(self.top) == self.distinct


@dataclass
class Profile:
    path: str                  # as given
    kind: str                  # csv | parquet
    files: List[str]
    rows: int
    columns: Dict[str, Column]


def _kind_of(f: str) -> Optional[str]:
    name = f.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return _EXT.get(os.path.splitext(name)[1])


def resolve(path: str) -> Tuple[str, List[str]]:
    """(csv | parquet, files) for a file, a folder (its files) or a glob."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path)
                       if not f.startswith(".") and os.path.isfile(os.path.join(path, f)))
    elif any(ch in path for ch in "*?["):
        files = sorted(f for f in glob.glob(path) if os.path.isfile(f))
    elif os.path.isfile(path):
        files = [path]
    else:
        raise ProfileError(f"{path}: no such file or folder")
    if not files:
        raise ProfileError(f"{path}: no files found there")
    kinds = {_kind_of(f) for f in files}
    if None in kinds:
        odd = next(f for f in files if _kind_of(f) is None)
        raise ProfileError(f"{odd}: not a .csv or .parquet file (tfxkit new reads CSV or "
                           "Parquet)")
    if len(kinds) > 1:
        raise ProfileError(f"{path}: mixes CSV and Parquet files; give one kind")
    return kinds.pop(), files


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _kind(dtype: str) -> str:
    if dtype in _INTEGER:
        return "int"
    if dtype in _FLOAT or dtype.startswith("DECIMAL"):
        return "float"
    if dtype == "VARCHAR":
        return "string"
    if dtype == "BOOLEAN":
        return "bool"
    return "other"


def _column(con, name: str, dtype: str, rows: int) -> Column:
    c = _q(name)
    present, distinct = con.execute(
        f"SELECT count({c}), count(DISTINCT {c}) FROM data").fetchone()
    col = Column(name, dtype, _kind(dtype), rows, rows - present, distinct)
    if col.numeric and present:
        (col.min, col.max, col.mean, col.median, col.skew, col.mae_mean) = (
            None if v is None else float(v) for v in con.execute(
                f"SELECT min({c}), max({c}), avg({c}), median({c}), skewness({c}), "
                f"avg(abs({c} - (SELECT avg({c}) FROM data))) FROM data").fetchone())
    if 0 < distinct <= TOP_VALUES:
        col.top = [(str(v), int(n)) for v, n in con.execute(
            f"SELECT {c}, count(*) AS n FROM data WHERE {c} IS NOT NULL "
            f"GROUP BY {c} ORDER BY n DESC, {c}").fetchall()]
    return col


def profile(path: str) -> Profile:
    """Profiles the data at ``path`` (a CSV or Parquet file, folder or glob)."""
    import duckdb

    from tfxkit.components.example_gen.ingest import reader_sql

    kind, files = resolve(path)
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TEMP VIEW data AS SELECT * FROM {reader_sql(kind, files)}")
        rel = con.sql("SELECT * FROM data")
        names, types = rel.columns, [str(t) for t in rel.types]
        rows = con.execute("SELECT count(*) FROM data").fetchone()[0]
        if not rows:
            raise ProfileError(f"{path}: no rows (only a header?)")
        columns = {n: _column(con, n, t, rows) for n, t in zip(names, types)}
    except duckdb.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ProfileError(f"{path}: cannot read it as {kind}: {first}") from None
    finally:
        con.close()
    return Profile(path, kind, files, rows, columns)


def write_sample(prof: Profile, out: str, drop: List[str], n: int = 50,
                 add_key: Optional[str] = None) -> int:
    """Writes the first ``n`` rows without the ``drop`` columns to the CSV ``out`` (with a
    row-number column ``add_key`` first when given); returns the rows written."""
    import duckdb

    from tfxkit.components.example_gen.ingest import reader_sql

    con = duckdb.connect()
    try:
        con.execute(f"CREATE TEMP VIEW data AS SELECT * FROM {reader_sql(prof.kind, prof.files)}")
        keep = ", ".join(_q(c) for c in prof.columns if c not in drop)
        head = f"row_number() OVER () AS {_q(add_key)}, " if add_key else ""
        target = out.replace("'", "''")
        con.execute(f"COPY (SELECT {head}{keep} FROM (SELECT * FROM data LIMIT {int(n)})) "
                    f"TO '{target}' (HEADER, DELIMITER ',')")
        return con.execute(f"SELECT count(*) FROM read_csv('{target}')").fetchone()[0]
    finally:
        con.close()
