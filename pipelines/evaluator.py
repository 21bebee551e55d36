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
- On that runner, where the metrics are ones whose combiners are plain sums on the overall
  slice (``components/evaluator/in_process.plan``), TFMA's extractors run unchanged and
  the evaluator ``plan`` gives computes the metrics on whole batches
  instead of one example at a time; TFMA's derived metrics, diffs, validation and
  writers follow as usual. The evaluation artifact records ``evaluation_engine``
  (``batched`` or ``tfma``) and, for ``tfma``, ``evaluation_engine_reason``.

Nothing is patched at import.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from typing import Any, Dict, Iterable, Iterator, List

from tfx.components.evaluator import executor as evaluator_executor

from tfxkit.components.common.runner import in_memory

_LOCK = threading.Lock()
log = logging.getLogger(__name__)
ENGINE_PROPERTY = "evaluation_engine"
REASON_PROPERTY = "evaluation_engine_reason"
BATCHED = "batched"
TFMA = "tfma"


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

        outcome: Dict[str, Any] = {"engine": TFMA, "reason": "not the in-memory runner"}
        local = in_memory(self._beam_pipeline_args)
        with contextlib.ExitStack() as stack:
            if _cross_slicing(exec_properties):
                stack.enter_context(fairness.fixed_cross_slice_validation())
            if local:
                stack.enter_context(one_load_per_model(_model_paths(input_dict)))
            try:
                with batched_metrics(outcome, enabled=local):
                    super().Do(input_dict, output_dict, exec_properties)
            except Exception as e:  # noqa: BLE001 - a batch it cannot read: TFMA per example
                from tfxkit.components.evaluator import in_process

                reason = in_process.reason_of(e)
                if outcome["engine"] != BATCHED or reason is None:
                    raise
                log.info("Evaluator runs TFMA per example: %s", reason)
                outcome.update(engine=TFMA, reason=reason)
                for art in output_dict.get("evaluation", []):
                    _empty(art.uri)
                super().Do(input_dict, output_dict, exec_properties)
        for art in output_dict.get("evaluation", []):
            art.set_string_custom_property(ENGINE_PROPERTY, outcome["engine"])
            if outcome["engine"] == TFMA and outcome["reason"]:
                art.set_string_custom_property(REASON_PROPERTY, outcome["reason"])


def _empty(folder: str) -> None:
    """Remove what a failed evaluation left in ``folder`` (TFMA writes it again)."""
    import tensorflow as tf

    if tf.io.gfile.exists(folder):
        for name in tf.io.gfile.listdir(folder):
            path = os.path.join(folder, name)
            if tf.io.gfile.isdir(path):
                tf.io.gfile.rmtree(path)
            else:
                tf.io.gfile.remove(path)


@contextlib.contextmanager
def batched_metrics(outcome: Dict[str, Any], enabled: bool = True) -> Iterator[None]:
    """While the block runs, TFMA's ``ExtractEvaluateAndWriteResults`` (as TFX's Evaluator
    calls it) computes the metrics on whole batches where ``in_process.plan`` allows;
    ``outcome`` gets ``engine`` and ``reason``. With ``enabled`` false, nothing changes."""
    if not enabled:
        yield
        return
    import tensorflow_model_analysis as tfma

    from tfxkit.components.evaluator import in_process

    with _LOCK:
        original = tfma.ExtractEvaluateAndWriteResults

        def extract_evaluate_and_write(*args, **kwargs):
            # TFX calls it with keywords only and applies the PTransform it returns
            if args or kwargs.get("extractors") or kwargs.get("evaluators") \
                    or kwargs.get("slice_spec"):
                reason = "custom extractors or evaluators"
            else:
                try:
                    reason, evaluator = in_process.plan(kwargs.get("eval_config"),
                                                        kwargs.get("eval_shared_model"))
                except Exception as e:  # noqa: BLE001 - TFMA runs as is and says what it finds
                    reason = f"the check failed: {type(e).__name__}: {e}"
            if reason:
                log.info("Evaluator runs TFMA per example: %s", reason)
                outcome.update(engine=TFMA, reason=reason)
                return original(*args, **kwargs)
            outcome.update(engine=BATCHED, reason=None)
            config, model = kwargs["eval_config"], kwargs["eval_shared_model"]
            kwargs["extractors"] = in_process.extractors(
                config, model, kwargs.get("tensor_adapter_config"))
            kwargs["evaluators"] = [evaluator]
            return original(**kwargs)

        tfma.ExtractEvaluateAndWriteResults = extract_evaluate_and_write
    try:
        yield
    finally:
        with _LOCK:
            tfma.ExtractEvaluateAndWriteResults = original


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
