"""``model.tune:``: a KerasTuner search run by TFX's Tuner before the Trainer (issue 20).

``space`` maps model keys to a list of choices or a range ``{min, max, sampling:
linear|log, step}``; ``algorithm`` is KerasTuner's ``random``, ``bayesian`` or
``hyperband``; ``trials`` bounds the trials (for hyperband: the budget of trials it may
create), each ``epochs_per_trial`` long; ``objective`` names a gated metric of
``eval.metrics`` (checked by ``PipelineConfig``, ``check_objective``), scored on the eval
split as the Keras metric the model compiles (``keras_objective``); ``parallel`` > 1 runs
the trials in that many worker processes (KerasTuner's chief/worker mode,
``pipelines/tuner_parallel.py``).
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Dict, List, Literal, Optional, Tuple, Union

from pydantic import Field, model_validator

from .base import _Strict

# the model keys a trial may vary; the others fix what a trial is (epochs, steps,
# early_stopping: its length), where the model comes from (module, keras) or its seed
TUNABLE = ("kind", "hidden_units", "optimizer", "learning_rate", "batch_size", "dropout",
           "embedding_dim")
_NOT_TUNABLE = {"epochs": "a trial trains epochs_per_trial epochs; the Trainer model.epochs",
                "steps": "a trial trains epochs_per_trial epochs",
                "early_stopping": "trials run without early stopping",
                "module": "one model builder per run", "keras": "one Keras per run",
                "seed": "every trial starts from model.seed", "tune": "not a model value"}

# gated metric -> (Keras metric the zoo compiles, direction); None: no Keras equivalent
KERAS_METRICS: Dict[str, Dict[str, Optional[Tuple[str, str]]]] = {
    "multiclass": {"accuracy": ("val_sparse_categorical_accuracy", "max"),
                   "sparse_categorical_crossentropy": ("val_loss", "min")},
    "binary": {"accuracy": ("val_binary_accuracy", "max"), "auc": ("val_auc", "max"),
               "binary_crossentropy": ("val_loss", "min"),
               "precision": None, "recall": None, "auc_pr": None},
    "regression": {"mse": ("val_loss", "min"), "rmse": ("val_rmse", "min"),
                   "mae": ("val_mae", "min"), "mape": None},
}


class Range(_Strict):
    min: float
    max: float
    sampling: Literal["linear", "log"] = "linear"
    step: Optional[float] = Field(None, gt=0)

    @model_validator(mode="after")
    def _order(self):
        if not self.min < self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.sampling == "log" and self.min <= 0:
            raise ValueError("sampling log needs min > 0")
        return self


Choices = List[Union[bool, int, float, str, List[int]]]


class Tune(_Strict):
    space: Dict[str, Union[Choices, Range]] = Field(min_length=1)
    algorithm: Literal["random", "bayesian", "hyperband"] = "random"
    trials: int = Field(10, ge=1)
    epochs_per_trial: int = Field(5, ge=1)
    objective: str
    parallel: int = Field(1, ge=1)
    seed: int = 42

    @model_validator(mode="after")
    def _check(self):
        for key, spec in self.space.items():
            where = f"space.{key}"
            if key in _NOT_TUNABLE:
                raise ValueError(f"{where}: not tunable ({_NOT_TUNABLE[key]}); tunable: "
                                 f"{', '.join(TUNABLE)}")
            if key not in TUNABLE:
                close = difflib.get_close_matches(key, TUNABLE + tuple(_NOT_TUNABLE), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{where}: {key!r} is not a model key{hint} "
                                 f"(tunable: {', '.join(TUNABLE)})")
            if isinstance(spec, Range):
                _check_range(key, spec, where)
            else:
                _check_choices(key, spec, where)
        if self.parallel > self.trials:
            raise ValueError(f"parallel: {self.parallel} workers for {self.trials} trials "
                             "(a worker would have no trial); at most trials")
        return self

    def direction_of(self, task: str) -> str:
        return keras_objective(task, self.objective)[1]


def _check_range(key: str, r: Range, where: str) -> None:
    if key in ("kind", "optimizer", "hidden_units"):
        raise ValueError(f"{where}: {key} takes a list of choices, not a range")
    if key in ("batch_size", "embedding_dim"):
        for v in (r.min, r.max) + ((r.step,) if r.step else ()):
            if v != int(v) or v < 1:
                raise ValueError(f"{where}: an integer range >= 1, got {v}")
    if key == "learning_rate" and r.min <= 0:
        raise ValueError(f"{where}: learning_rate must be > 0")
    if key == "dropout" and not (0 <= r.min and r.max < 1):
        raise ValueError(f"{where}: dropout is in [0, 1)")


def _check_choices(key: str, choices: List[Any], where: str) -> None:
    from tfxkit.components.hyperparameters_gen import choose

    if not choices:
        raise ValueError(f"{where}: an empty list of choices")
    if len({repr(c) for c in choices}) != len(choices):
        raise ValueError(f"{where}: repeated choices {choices}")
    if key == "kind" and not set(choices) <= {"dnn", "wide_deep", "linear", "rnn"}:
        raise ValueError(f"{where}: kinds are dnn, wide_deep, linear, rnn; got {choices}")
    if key == "optimizer" and not set(choices) <= {"adam", "sgd", "rmsprop", "adagrad"}:
        raise ValueError(f"{where}: optimizers are adam, sgd, rmsprop, adagrad; got {choices}")
    if key == "hidden_units" and not all(isinstance(c, list) for c in choices):
        raise ValueError(f"{where}: hidden_units choices are lists of units, e.g. "
                         "[[16, 8], [64, 32]]")
    if key != "hidden_units" and any(isinstance(c, list) for c in choices):
        raise ValueError(f"{where}: choices of {key} are single values")
    for c in choices:
        try:
            choose.validate({key: c}, "model.tune.space")
        except ValueError as e:
            raise ValueError(str(e).replace("model.tune.space.", "")) from None
    kinds = {type(c) for c in choices if not isinstance(c, list)}
    if kinds == {int, float}:
        return
    if len(kinds) > 1:
        raise ValueError(f"{where}: choices of one type, got {choices}")


def keras_objective(task: str, metric: str) -> Tuple[str, str]:
    """The Keras metric (on the eval split: ``val_...``) a trial is scored with for the
    gated TFMA ``metric``, and its direction (max or min)."""
    table = KERAS_METRICS.get(task)
    if table is None:
        raise ValueError(f"tuning is not available for task {task}")
    if metric not in table:
        raise ValueError(f"{metric!r} is not a metric of task {task} "
                         f"({', '.join(table)})")
    found = table[metric]
    if found is None:
        usable = [m for m, v in table.items() if v is not None]
        raise ValueError(f"{metric!r} has no Keras metric the model compiles, so trials "
                         f"cannot be scored on it; tune on one of {', '.join(usable)}")
    return found


def check_objective(tune: Tune, task: str, gated: List[Any]) -> None:
    """``tune.objective`` is a gated metric (``eval.metrics``) with a Keras equivalent,
    and its thresholds do not contradict the direction."""
    names = [m.name for m in gated]
    if tune.objective not in names:
        close = difflib.get_close_matches(tune.objective, names, n=1, cutoff=0.0)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"model.tune.objective: {tune.objective!r} is not a gated metric "
                         f"(eval.metrics: {', '.join(names) or 'none'}){hint}")
    direction = keras_objective(task, tune.objective)[1]
    m = next(m for m in gated if m.name == tune.objective)
    if direction == "max" and m.lower_bound is None and m.upper_bound is not None or \
            direction == "min" and m.upper_bound is None and m.lower_bound is not None:
        raise ValueError(f"model.tune.objective: {tune.objective} is tuned to its {direction}"
                         "imum, but its gate bounds it the other way")


def _is_int_key(key: str) -> bool:
    return key in ("batch_size", "embedding_dim")


def hyperparameters(tune_space: Dict[str, Any], model: Dict[str, Any]):
    """The search space as ``keras_tuner.HyperParameters``: a ``Choice`` per list (list
    values, ``hidden_units``, as JSON strings), an ``Int`` / ``Float`` per range. The
    default of each is the model section's value when the space holds it, so the first
    trial tfxkit runs (``tuner_fn``) is the config's own settings."""
    import json

    import keras_tuner

    hp = keras_tuner.HyperParameters()
    for key, spec in tune_space.items():
        spec = spec.model_dump() if isinstance(spec, Range) else spec
        current = model.get(key)
        if isinstance(spec, dict):
            lo, hi = spec["min"], spec["max"]
            inside = isinstance(current, (int, float)) and lo <= current <= hi
            if _is_int_key(key):
                hp.Int(key, int(lo), int(hi), step=int(spec.get("step") or 1),
                       sampling=spec.get("sampling", "linear"),
                       default=int(current) if inside else None)
            else:
                hp.Float(key, float(lo), float(hi), step=spec.get("step"),
                         sampling=spec.get("sampling", "linear"),
                         default=float(current) if inside else None)
            continue
        values = [json.dumps(c) if isinstance(c, list) else c for c in spec]
        cur = json.dumps(current) if isinstance(current, list) else current
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) \
                and any(isinstance(v, float) for v in values):
            values = [float(v) for v in values]
            cur = float(cur) if isinstance(cur, (int, float)) else cur
        hp.Choice(key, values, default=cur if cur in values else None,
                  ordered=False if isinstance(values[0], (str, bool)) else None)
    return hp


def defaults_in_space(tune_space: Dict[str, Any], model: Dict[str, Any]) -> bool:
    """Whether the model section's own value of every searched key is in the space (then
    the first trial is the config's settings)."""
    hp = hyperparameters(tune_space, model)
    import json

    for key in tune_space:
        cur = model.get(key)
        cur = json.dumps(cur) if isinstance(cur, list) else cur
        got = hp.get(key)
        if isinstance(cur, float) or isinstance(got, float):
            if cur is None or not math.isclose(float(got), float(cur)):
                return False
        elif got != cur:
            return False
    return True


def config_first(custom_config: Dict[str, Any]) -> bool:
    """Whether the Tuner's trial 0 was the config's own settings (``tuner_fn``: random and
    bayesian, when the space holds the model section's values)."""
    tune = custom_config.get("tune") or {}
    if tune.get("algorithm", "random") not in ("random", "bayesian"):
        return False
    return defaults_in_space(Tune.model_validate(tune).space, custom_config.get("model") or {})
