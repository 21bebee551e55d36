"""``data:`` (the training source, its split and spans) and ``validation:`` (what
anomalies in the data do)."""
from __future__ import annotations

from typing import Dict, Literal, Optional

from pydantic import ConfigDict, Field, model_validator

from .base import SPAN_TOKENS, _Strict


class BigQuerySource(_Strict):
    query: str


class Source(_Strict):
    """Exactly one of the source kinds; paths may be files, folders or globs."""

    csv: Optional[str] = None
    parquet: Optional[str] = None
    tfrecord: Optional[str] = None
    bigquery: Optional[BigQuerySource] = None
    # DuckDB SQL over the files, which it names ``source`` (CSV and Parquet only), e.g.
    # "SELECT *, distance_km / 60 AS hours FROM source WHERE city <> 'oslo'".
    query: Optional[str] = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("csv", "parquet", "tfrecord", "bigquery") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of csv, parquet, tfrecord, bigquery "
                             f"(got {', '.join(given) or 'none'})")
        if self.query and (self.tfrecord or self.bigquery):
            raise ValueError("query: SQL runs over csv or parquet files (a bigquery source "
                             "has its own query)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("csv", "parquet", "tfrecord", "bigquery") if getattr(self, k))

    @property
    def path(self) -> str:
        return "" if self.bigquery else getattr(self, self.kind)


class Split(_Strict):
    """Hash-bucket split: ``train`` and ``eval`` are bucket counts (8/2 = 80%/20%) of
    md5(key) (of the whole row without a key). Or ``predicates``: SQL conditions tried in
    order, e.g. ``{eval: "day >= '2026-01-07'", train: "true"}`` (CSV/Parquet only)."""

    train: int = Field(8, ge=1)
    eval: int = Field(2, ge=1)
    key: Optional[str] = None
    predicates: Optional[Dict[str, str]] = None
    on_null_key: Literal["fail", "reject"] = "fail"

    @model_validator(mode="after")
    def _predicates(self):
        if self.predicates is not None and set(self.predicates) != {"train", "eval"}:
            raise ValueError(f"predicates: give exactly train and eval "
                             f"(got {', '.join(self.predicates) or 'none'})")
        if self.predicates and self.key:
            raise ValueError("key: a predicate split has no key (give one or the other)")
        return self


class Data(_Strict):
    """``source`` paths may hold ``{SPAN}`` or ``{YYYY}``/``{MM}``/``{DD}``: each run ingests
    the newest span (or ``span: N``), and Transform/Trainer use the latest
    ``rolling_window`` spans. ``on_bad_value``: what a value that is not a number in a
    numeric column does (``fail``, or ``reject``: the row is dropped and counted)."""

    source: Source
    split: Split = Split()
    span: Optional[int] = Field(None, ge=0)
    rolling_window: Optional[int] = Field(None, ge=1)
    # a value that is not a number in a column used as one ('heavy' in a weight): fail
    # names the file, row and value before anything runs; reject drops such rows, counted
    on_bad_value: Literal["fail", "reject"] = "fail"

    @model_validator(mode="after")
    def _spans(self):
        has_span = any(t in self.source.path for t in SPAN_TOKENS)
        if (self.span is not None or self.rolling_window) and not has_span:
            raise ValueError("span / rolling_window need {SPAN} or {YYYY}-{MM}-{DD} in the "
                             "source path")
        return self


class Validation(_Strict):
    on_anomalies: Literal["fail", "warn"] = "fail"
    schema_file: Optional[str] = Field(None, alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
