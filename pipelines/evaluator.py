"""TFX's Evaluator executor, with two tfxkit changes for its run only:

- TFMA's ``metrics_validator`` reports every cross-slice threshold missing (so a model
  whose fairness gap is gated, ``eval.fairness.gate.*.max_gap``, is never blessed); where
  the eval config has cross-slicing specs, ``tfxkit.pipelines.fairness`` fixes it while
  the executor runs (TFMA's function is back when the run ends).
- TFMA loads a Keras model once to tell its type, once to list its compiled metrics, and
  again in the setup of every Beam DoFn and combiner that uses it (8 loads of the same
  SavedModel on the penguin template, ~0.6 s each). On the direct runner in memory (one
  thread runs every bundle, so no two users touch the model at once) the candidate's and
  baseline's models are loaded once per path while the executor runs (``one_load_per_model``).
  TFMA resets and sets the compiled metrics' weights around each use, so sharing the
  object gives the same results (tests/unit/pipelines/test_evaluator.py).

Nothing is patched at import.
"""
from __future__ import annotations

import contextlib
import json
import threading
from typing import Any, Dict, Iterable, Iterator, List

from tfx.components.evaluator import executor as evaluator_executor

from tfxkit.components.common.runner import in_memory

_LOCK = threading.Lock()


@contextlib.contextmanager
def one_load_per_model(paths: Iterable[str]) -> Iterator[Dict[str, Any]]:
    """While the block runs, ``tf.keras.models.load_model`` of one of ``paths`` loads it
    once and returns that model again; any other path loads as usual. Yields the cache
    (path -> model)."""
    import tensorflow as tf

    wanted = {p.rstrip("/") for p in paths if p}
    models = tf.keras.models
    cache: Dict[str, Any] = {}
    with _LOCK:
        original = models.load_model

        def load_model(filepath, *args, **kwargs):
            key = str(filepath).rstrip("/")
            if key not in wanted or args or kwargs:
                return original(filepath, *args, **kwargs)
            if key not in cache:
                cache[key] = original(filepath)
            return cache[key]

        models.load_model = load_model
    try:
        yield cache
    finally:
        with _LOCK:
            models.load_model = original


def _model_paths(input_dict: Dict[str, List[Any]]) -> List[str]:
    from tfx.utils import path_utils

    out = []
    for key in ("model", "baseline_model"):
        for art in input_dict.get(key) or []:
            out.append(path_utils.serving_model_path(art.uri, path_utils.is_old_model_artifact(art)))
    return out


class Executor(evaluator_executor.Executor):
    """The stock Evaluator, with the fixes above for its own run."""

    def Do(self, input_dict: Dict[str, List[Any]], output_dict: Dict[str, List[Any]],
           exec_properties: Dict[str, Any]) -> None:
        from tfxkit.pipelines import fairness

        with contextlib.ExitStack() as stack:
            if _cross_slicing(exec_properties):
                stack.enter_context(fairness.fixed_cross_slice_validation())
            if in_memory(self._beam_pipeline_args):
                stack.enter_context(one_load_per_model(_model_paths(input_dict)))
            super().Do(input_dict, output_dict, exec_properties)


def _cross_slicing(exec_properties: Dict[str, Any]) -> bool:
    config = exec_properties.get("eval_config")
    if not config:
        return False
    parsed = json.loads(config)
    return bool(parsed.get("crossSlicingSpecs") or parsed.get("cross_slicing_specs"))


def executor_spec():
    """This executor as a BeamExecutorSpec (a component's ``executor_spec``)."""
    from tfx.dsl.components.base import executor_spec as spec

    return spec.BeamExecutorSpec(Executor)
