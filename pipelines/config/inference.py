"""``inference:``: batch inference (its source, key, models and prediction store)."""
from __future__ import annotations

import re
from typing import Dict, List, Literal, Optional

from pydantic import Field, field_validator, model_validator

from .base import _Strict
from .data import Source


class Store(_Strict):
    """Where batch predictions go: exactly one of ``sqlite`` (a file path, the embedded
    default), ``postgres`` (a DSN such as ``postgresql://user@127.0.0.1:5432/db``) or
    ``redis`` (``redis://127.0.0.1:6379/0``). A password never goes in the YAML: name the
    environment variable that holds it in ``password_env``."""

    sqlite: Optional[str] = None
    postgres: Optional[str] = None
    redis: Optional[str] = None
    password_env: Optional[str] = None
    keep_runs: int = Field(2, ge=1)  # the current run and the ones kept for rollback
    timeout_s: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in ("sqlite", "postgres", "redis") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of sqlite, postgres, redis "
                             f"(got {', '.join(given) or 'none'})")
        url = self.postgres or self.redis
        if url and re.match(r"^[a-z+]+://[^/@]*:[^/@]+@", url):
            raise ValueError("the URL holds a password; put it in an environment variable "
                             "and name it in password_env")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("sqlite", "postgres", "redis") if getattr(self, k))


class InferenceModel(_Strict):
    """One model of a batch-inference job: this use case's (``config`` omitted) or another
    use case's latest pushed model. ``inputs`` chains models: ``{feature: "model.output"}``
    feeds another model's output to this one as a feature."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    config: Optional[str] = None
    inputs: Dict[str, str] = {}

    @field_validator("inputs")
    @classmethod
    def _refs(cls, v):
        for feat, ref in v.items():
            if ref.count(".") != 1 or not all(ref.split(".")):
                raise ValueError(f"{feat}: {ref!r} should name a model and one of its "
                                 "outputs, e.g. eta.prediction")
        return v


class Inference(_Strict):
    """Batch inference: score ``source`` with the latest pushed, blessed model(s) and
    store the predictions by ``key`` (a column that is passed through, never fed to a
    model). Duplicate keys fail the run (``on_duplicate_key: fail``) or the last row in
    input order wins (``keep_last``)."""

    source: Source
    key: str
    store: Store = Store(sqlite=".tfxkit/predictions.sqlite")
    batch_size: int = Field(4096, ge=1)  # examples per model call; larger is faster
    on_duplicate_key: Literal["fail", "keep_last"] = "fail"
    models: List[InferenceModel] = []

    @model_validator(mode="after")
    def _models(self):
        if self.source.bigquery:
            raise ValueError("source: batch inference reads csv, parquet or tfrecord files")
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"models: names must be distinct, got {names}")
        known: set = set()
        for m in self.models:  # a chain refers to a model declared before it
            for feat, ref in m.inputs.items():
                up = ref.split(".")[0]
                if up not in known:
                    raise ValueError(f"models.{m.name}.inputs.{feat}: {up!r} is not a model "
                                     "declared before this one")
            known.add(m.name)
        return self
