"""``features:``: the config-driven feature engineering (pipelines/transform.py reads it)."""
from __future__ import annotations

from typing import Dict, List, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from .base import _Strict


ScaleKind = Literal["z_score", "min_max", "log", "none"]
ImputeKind = Literal["mean", "median", "most_frequent"]


class Vocab(_Strict):
    top_k: Optional[int] = Field(None, ge=1)
    num_oov_buckets: int = Field(1, ge=1)  # unseen values need an id
    frequency_threshold: Optional[int] = Field(None, ge=1)


class SequenceFeature(_Strict):
    """A variable-length list feature (``features.sequence.<name>``): the last road segments
    or events of a row, from a list column (Parquet) or a delimited string (CSV).

    Each element gets a vocabulary (``vocab``: string or integer elements) or a scaling
    (``scale``: numeric elements); the transform keeps the LAST ``max_length`` elements and
    pads shorter lists (ids with 0, numbers with 0 and a mask) so the ``rnn`` model can mask
    the padding. ``delimiter``: a text value is split on it (a CSV column ``a|b|c``); a list
    column is taken as is. ``dtype``: the elements' type (``string`` with a vocab, ``float``
    with a scale by default); a split text value is parsed as that type.
    """

    max_length: int = Field(20, ge=1)
    vocab: Optional[Vocab] = None
    scale: Optional[ScaleKind] = None
    delimiter: Optional[str] = "|"
    dtype: Optional[Literal["string", "int", "float"]] = None

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, v):
        if v is not None and v == "":
            raise ValueError("an empty delimiter splits nothing: give a character "
                             "(e.g. '|') or null for list columns only")
        return v

    @model_validator(mode="after")
    def _one_encoding(self):
        if self.vocab is not None and self.scale is not None:
            raise ValueError("give vocab (categorical elements) or scale (numeric "
                             "elements), not both")
        if self.vocab is None and self.scale is None:
            if self.dtype == "float":
                self.scale = "z_score"
            else:
                self.vocab = Vocab()
        if self.dtype is None:
            self.dtype = "string" if self.vocab is not None else "float"
        if self.vocab is not None and self.dtype == "float":
            raise ValueError("dtype float with a vocab: float elements are scaled "
                             "(scale: z_score|min_max|log|none); use dtype int or string "
                             "for categories")
        if self.scale is not None and self.dtype == "string":
            raise ValueError("dtype string with a scale: text elements need a vocab")
        return self

    def is_categorical(self) -> bool:
        return self.vocab is not None


class ConstantImpute(_Strict):
    constant: Union[float, int, str]


class Features(_Strict):
    """Config-driven feature engineering (see pipelines/transform.py)."""

    dense: List[str] = []
    scale: Union[ScaleKind, Dict[str, ScaleKind]] = "z_score"
    impute: Dict[str, Union[ImputeKind, ConstantImpute]] = {}
    bucket: Dict[str, int] = {}
    vocab: Dict[str, Vocab] = {}
    categorical_int: Dict[str, int] = {}
    hash: Dict[str, int] = {}
    # variable-length list features (SequenceFeature); only model kind ``rnn`` reads them,
    # the other kinds ignore them
    sequence: Dict[str, SequenceFeature] = {}
    module: Optional[str] = None  # preprocessing.py with its own preprocessing_fn
    # How Transform traces the preprocessing: TF1 graph mode (TFX's force_tf_compat_v1: the
    # same transform, traced into one tf.Graph instead of tf.functions; the penguin
    # template's Transform 14 s -> 10 s) or TF2. ``auto``: TF1 for tfxkit's own
    # config-driven preprocessing (tested in both), TF2 for a ``module`` of your own.
    tf_compat_v1: Union[Literal["auto"], bool] = "auto"

    @field_validator("vocab", mode="before")
    @classmethod
    def _vocab_list(cls, v):
        # `vocab: [island, sex]` is shorthand for default vocabularies.
        if isinstance(v, list):
            return {name: {} for name in v}
        return {k: ({} if val is None else val) for k, val in (v or {}).items()}

    @field_validator("sequence", mode="before")
    @classmethod
    def _sequence_none(cls, v):
        # `sequence: {segments: }` is a default sequence (string elements, a vocabulary).
        return {k: ({} if val is None else val) for k, val in (v or {}).items()}

    @field_validator("bucket", "categorical_int", "hash")
    @classmethod
    def _positive_counts(cls, v):
        for name, n in v.items():
            if n < 1:
                raise ValueError(f"{name}: must be a positive count, got {n}")
        return v

    def transform_in_tf1(self) -> bool:
        """Whether Transform runs with ``force_tf_compat_v1`` (see ``tf_compat_v1``)."""
        if self.tf_compat_v1 == "auto":
            return self.module is None
        return bool(self.tf_compat_v1)

    def scale_for(self, name: str) -> str:
        if isinstance(self.scale, str):
            return self.scale
        return self.scale.get(name, "z_score")

    def raw_columns(self) -> List[str]:
        """Every raw column the transform reads, in a stable order."""
        names: List[str] = []
        for group in (self.dense, self.bucket, self.vocab, self.categorical_int,
                      self.hash, self.impute, self.sequence):
            for n in group:
                if n not in names:
                    names.append(n)
        if isinstance(self.scale, dict):
            names += [n for n in self.scale if n not in names]
        return names
