"""The Tuner's ``tuner_fn`` (TFX's stock Tuner, ``model.tune:``, issue 20): a KerasTuner
search over the model section's keys, each trial the model ``run_fn`` would build
(``pipelines/models.py`` or the user's ``build_model``) with the trial's values over the
model section, trained ``epochs_per_trial`` epochs on the same transformed examples and
scored on the eval split with the Keras metric of the gated objective
(``config/tune.py``, ``keras_objective``).

The first trial of ``random`` and ``bayesian`` is the model section's own settings when
the space holds them (the baseline every other trial is compared with, trained the same
way); ``hyperband`` schedules its own brackets and runs no such trial.

The Tuner writes ``best_hyperparameters.txt`` (the Trainer's ``hyperparameters`` input,
merged over the model section by ``run_fn.merge_hyperparameters``) and
``tuner_results.json`` (every completed trial: ``trial_id``, ``score`` and its values).
A list value (``hidden_units``) is a JSON string inside KerasTuner;
``hyperparameters_gen.choose.values_of`` decodes it for the Trainer.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Dict

from tfxkit.components.hyperparameters_gen.choose import values_of
from tfxkit.pipelines import tuner_parallel
from tfxkit.pipelines.config.tune import Tune, hyperparameters, keras_objective

# what ``tuner_custom_config`` leaves out of the model section: the Trainer's own settings
TRAINER_ONLY = ("epochs", "steps", "early_stopping")


def trial_config(model: Dict[str, Any], values: Dict[str, Any]) -> Dict[str, Any]:
    """The model section a trial builds with: the trial's values (lists decoded) over it."""
    return {**model, **values_of(dict(values))}


def _hypermodel(fn_args, spec: Dict[str, Any], model_cfg: Dict[str, Any], objective: str,
                direction: str):
    import keras_tuner

    import tensorflow_transform as tft

    from tfxkit.pipelines import compat

    from tfxkit.pipelines import models as zoo
    from tfxkit.pipelines import run_fn as trainer
    from tfxkit.pipelines.transform import load_module, transformed_name

    task, label_key = spec["task"], transformed_name(spec["label"])
    tft_out = tft.TFTransformOutput(fn_args.transform_graph_path)
    features = zoo.feature_infos_from_schema(tft_out.transformed_metadata.schema, label_key)
    classes = trainer._class_names(spec, tft_out, label_key) if task != "regression" else []
    builder = zoo.build_model
    if model_cfg.get("module"):
        builder = load_module(model_cfg["module"], "build_model")

    class TfxkitHyperModel(keras_tuner.HyperModel):
        def build(self, hp):
            return builder(task, features, trial_config(model_cfg, hp.values),
                           max(len(classes), 2))

        def fit(self, hp, model, *args, **kwargs):
            cfg = trial_config(model_cfg, hp.values)
            batch, seed = int(cfg.get("batch_size", 64)), cfg.get("seed", 42)
            train_ds = trainer.cached_and_shuffled(trainer._dataset(
                fn_args.train_files, fn_args.data_accessor, tft_out, label_key, batch, 1),
                batch, seed)
            eval_ds = trainer._dataset(fn_args.eval_files, fn_args.data_accessor, tft_out,
                                       label_key, batch, 1).cache()
            if not compat.is_keras3(model):  # KerasTuner's callbacks are Keras 3's
                kwargs["callbacks"] = [_Keras2Callback(compat.keras_of(model), c)
                                       for c in kwargs.get("callbacks") or []]
            history = model.fit(train_ds, *args, validation_data=eval_ds, **kwargs)
            return best_epoch(history.history, objective, direction)

    return TfxkitHyperModel()


def best_epoch(history: Dict[str, list], objective: str, direction: str) -> Dict[str, float]:
    """The metrics of the epoch best on ``objective`` (what KerasTuner scores a trial by),
    returned as a dict: KerasTuner reads a Keras 3 ``History`` only, and the zoo's models
    are Keras 2 on TFX 1.16."""
    if objective not in history:
        raise ValueError(f"the model reports no {objective} (it reports "
                         f"{', '.join(sorted(history))}): compile it with the metric")
    values = history[objective]
    pick = max if direction == "max" else min
    i = pick(range(len(values)), key=lambda j: values[j])
    return {k: float(v[i]) for k, v in history.items() if len(v) > i}


def _Keras2Callback(keras, inner):
    """A Keras 2 (tf_keras) callback that forwards every hook to ``inner``, a Keras 3
    callback of KerasTuner (its trial and best-epoch checkpoint callbacks)."""

    class Forward(keras.callbacks.Callback):
        def set_model(self, model):
            super().set_model(model)
            inner.set_model(model)

        def set_params(self, params):
            super().set_params(params)
            inner.set_params(params)

    hooks = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
             "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
             "on_test_batch_begin", "on_test_batch_end", "on_batch_begin", "on_batch_end")
    for name in hooks:
        setattr(Forward, name, (lambda n: lambda self, *a, **k: getattr(inner, n)(*a, **k))(name))
    return Forward()


def _first_trial_is_the_config(oracle, defaults: Dict[str, Any]) -> None:
    """Makes the oracle's first trial the config's settings (``random``, ``bayesian``)."""
    populate = oracle.populate_space

    def populate_space(trial_id):
        if not oracle.trials:
            from keras_tuner.engine import trial as trial_module

            return {"status": trial_module.TrialStatus.RUNNING, "values": dict(defaults)}
        return populate(trial_id)

    oracle.populate_space = populate_space


def _any_keras(tuner_class):
    """``tuner_class`` taking a Keras 2 model too: KerasTuner 1.4 (Keras 3 installed)
    refuses a model that is not a Keras 3 ``Model``, the zoo builds Keras 2 on TFX 1.16."""

    class AnyKeras(tuner_class):
        def _try_build(self, hp):
            import gc

            gc.collect()
            return self._build_hypermodel(hp)

        # in a parallel search (tuner_parallel.py) each worker notes when its trials ran
        def on_trial_begin(self, trial):
            self._tfxkit_started = time.time()
            super().on_trial_begin(trial)

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            if tuner_parallel.is_worker():
                tuner_parallel.record_trial(self.project_dir, trial.trial_id,
                                            self._tfxkit_started, time.time())

    AnyKeras.__name__ = tuner_class.__name__
    return AnyKeras


def build_tuner(fn_args, spec: Dict[str, Any]):
    """The KerasTuner tuner of ``spec["tune"]`` on ``fn_args`` (project dir under
    ``fn_args.working_dir``) and whether its first trial is the config's settings."""
    import keras_tuner

    from tfxkit.pipelines.config.tune import defaults_in_space

    model_cfg = dict(spec["model"])
    tune = Tune.model_validate(spec["tune"])
    metric, direction = keras_objective(spec["task"], tune.objective)
    hp = hyperparameters(tune.space, model_cfg)
    common = dict(hypermodel=_hypermodel(fn_args, spec, model_cfg, metric, direction),
                  hyperparameters=hp,
                  objective=keras_tuner.Objective(metric, direction=direction),
                  tune_new_entries=False, allow_new_entries=False, seed=tune.seed,
                  directory=tuner_parallel.project_root(fn_args.working_dir),
                  project_name=tuner_parallel.tuner_id() or "tfxkit", overwrite=True)
    baseline = False
    if tune.algorithm == "random":
        tuner = _any_keras(keras_tuner.RandomSearch)(max_trials=tune.trials, **common)
        baseline = True
    elif tune.algorithm == "bayesian":
        tuner = _any_keras(keras_tuner.BayesianOptimization)(
            max_trials=tune.trials, num_initial_points=min(2, tune.trials), **common)
        baseline = True
    else:
        tuner = _any_keras(keras_tuner.Hyperband)(
            max_epochs=tune.epochs_per_trial, factor=3, hyperband_iterations=1, **common)
        tuner.oracle.max_trials = tune.trials
    baseline = baseline and defaults_in_space(tune.space, model_cfg)
    if baseline and not tuner_parallel.is_worker():  # a worker's oracle is the chief's
        _first_trial_is_the_config(tuner.oracle, {k: hp.get(k) for k in tune.space})
    return tuner, baseline


def tuner_fn(fn_args):
    """TFX Tuner entry point (``tfxkit.pipelines.tuner_fn.tuner_fn``)."""
    from tfx.components.tuner.component import TunerFnResult

    from tfxkit.pipelines import compat

    compat.keras_internals_not_autographed()
    spec = fn_args.custom_config or {}
    tuner, _ = build_tuner(fn_args, spec)
    tune = spec["tune"]
    fit = {"verbose": 0}
    if tune.get("algorithm", "random") != "hyperband":
        fit["epochs"] = int(tune["epochs_per_trial"])
    return TunerFnResult(tuner=tuner, fit_kwargs=fit)


def read_results(uri: str) -> list:
    """The trials in a TunerResults artifact folder (``tuner_results.json``), by trial id."""
    from tfx.dsl.io import fileio

    with fileio.open(os.path.join(uri, "tuner_results.json")) as f:
        rows = json.loads(f.read())
    return sorted(rows, key=lambda r: str(r.get("trial_id")))
