"""The Tuner's executor: TFX's own, then the outcome recorded as custom properties of its
outputs (``record``), so ``tfxkit lineage`` and MLMD queries see it without reading files.

``best_hyperparameters``: ``hyperparameters`` (the values, JSON, lists decoded),
``chosen_by`` (``tuner/<algorithm>``), ``hp_<name>`` per value (HyperparametersGen's
layout), ``objective`` (the Keras metric), ``best_score`` and, when trial 0 was the
config's own settings, ``default_score``. ``tuner_results``: ``trials`` (how many
completed) and ``best_trial``; with ``tune.parallel`` > 1 also ``parallel`` and
``trials_per_worker`` (JSON: worker id -> trials it ran) and ``trial_times`` (JSON: each
trial's worker, start and end).
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

from tfx import types
from tfx.components.tuner import executor as tuner_executor

from tfxkit.components.hyperparameters_gen.choose import read
from tfxkit.components.hyperparameters_gen.executor import record as record_values
from tfxkit.pipelines import tuner_parallel
from tfxkit.pipelines.config.tune import config_first, keras_objective


def record(output_dict: Dict[str, List[types.Artifact]], custom_config: Dict[str, Any]) -> None:
    """Reads the Tuner's two files back and sets the custom properties above."""
    best_hp = output_dict["best_hyperparameters"][0]
    results = output_dict["tuner_results"][0]
    tune = custom_config.get("tune") or {}
    metric, direction = keras_objective(custom_config["task"], tune["objective"])
    with open(os.path.join(results.uri, "tuner_results.json")) as f:
        trials = sorted(json.load(f), key=lambda t: str(t["trial_id"]))
    record_values(best_hp, read(best_hp.uri), f"tuner/{tune.get('algorithm', 'random')}")
    best_hp.set_string_custom_property("objective", f"{metric} ({direction})")
    scored = [t for t in trials if t.get("score") is not None]
    results.set_int_custom_property("trials", len(trials))
    if scored:
        best = (max if direction == "max" else min)(scored, key=lambda t: t["score"])
        best_hp.set_float_custom_property("best_score", float(best["score"]))
        results.set_string_custom_property("best_trial", str(best["trial_id"]))
    first = next((t for t in scored if str(t["trial_id"]).strip("0") == ""), None)
    if first is not None and config_first(custom_config):
        best_hp.set_float_custom_property("default_score", float(first["score"]))


class Executor(tuner_executor.Executor):
    """TFX's Tuner executor (or, with ``tune.parallel`` > 1, its search in a chief and
    worker processes: ``tuner_parallel.py``), then ``record``."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:
        custom = exec_properties.get("custom_config") or {}
        if isinstance(custom, str):
            custom = json.loads(custom)
        parallel = int((custom.get("tune") or {}).get("parallel", 1))
        if parallel > 1:
            per_worker = tuner_parallel.run_parallel(
                input_dict, output_dict, exec_properties, self._get_tmp_dir(), parallel)
            results = output_dict["tuner_results"][0]
            results.set_int_custom_property("parallel", parallel)
            results.set_string_custom_property(
                "trials_per_worker", json.dumps({w: len(t) for w, t in per_worker.items()}))
            results.set_string_custom_property("trial_times", json.dumps(
                [{**t, "worker": w} for w, ts in per_worker.items() for t in ts]))
        else:
            super().Do(input_dict, output_dict, exec_properties)
        record(output_dict, custom)
