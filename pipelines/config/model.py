"""``model:``: the model of the zoo (or a ``model.py``) and how it is trained."""
from __future__ import annotations

from typing import List, Literal, Optional

from pydantic import Field

from .base import _Strict
from .tune import Tune


class EarlyStopping(_Strict):
    patience: int = Field(3, ge=1)
    monitor: str = "val_loss"


class Rnn(_Strict):
    """``model.rnn``: the recurrent part of kind ``rnn`` (one per ``features.sequence``)."""

    cell: Literal["gru", "lstm"] = "gru"
    units: int = Field(32, ge=1)
    # attention pooling over the masked steps instead of the last state
    attention: bool = False


class ModelConfig(_Strict):
    # rnn: GRU/LSTM over features.sequence with the dnn tower of the other features;
    # dnn, wide_deep and linear ignore sequence features
    kind: Literal["dnn", "wide_deep", "linear", "rnn"] = "dnn"
    rnn: Rnn = Rnn()
    hidden_units: List[int] = [64, 32]
    optimizer: Literal["adam", "sgd", "rmsprop", "adagrad"] = "adam"
    learning_rate: float = Field(0.001, gt=0)
    batch_size: int = Field(64, ge=1)
    epochs: int = Field(10, ge=1)
    steps: Optional[int] = Field(None, ge=1)  # total steps; overrides full epochs
    dropout: float = Field(0.0, ge=0, lt=1)
    embedding_dim: Optional[int] = Field(None, ge=1)
    early_stopping: Optional[EarlyStopping] = EarlyStopping()
    seed: int = 42
    module: Optional[str] = None  # model.py with build_model(...)
    # Keras 3 or 2 (tf_keras) for the zoo; auto: 3 on TFX 1.21, 2 on TFX 1.16 (compat.py)
    keras: Literal["auto", 2, 3] = "auto"
    tune: Optional[Tune] = None  # a KerasTuner search before the Trainer (config/tune.py)
    # latest_blessed: start from the weights of the pipeline's latest blessed model when
    # its layers (names and weight shapes) match; otherwise (or with none yet) train cold
    # and record why (pipelines/run_fn.py, warm_start.json)
    warm_start: Literal["none", "latest_blessed"] = "none"
