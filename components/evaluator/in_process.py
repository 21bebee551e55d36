"""TFMA's metrics on whole batches, for the metrics whose combiners are plain sums.

TFMA computes metrics one example at a time: it splits each batch of predictions into
per-example extracts (``UnbatchExtractor``), fans them out to slices and feeds every
metric's combiner one ``StandardMetricInputs`` at a time. For a mean absolute error
that is a few arithmetic operations per example wrapped in ~0.3 ms of Python; on 60k
eval rows it is most of the Evaluator's wall time.

``plan()`` gives a TFMA ``Evaluator`` that takes the batched extracts (TFMA's own
extractors, less the unbatching and slice-key ones) and computes the same metrics on
whole arrays, for the overall slice:

- ``ExampleCount``, ``MeanAbsoluteError``, ``MeanSquaredError`` (TFMA's combiners,
  replicated in numpy with the same dtypes, the same NaN skipping, sums in float64);
- the Keras model's compiled metrics and loss (TFMA's ``_KerasCompiledMetricsCombiner``
  and its accumulator, fed one batch at a time instead of one example at a time).

Everything after the combiners is TFMA's: derived metrics (RMSE and the like), diffs
against a baseline model, private-metric removal, ``metrics_validator.validate_metrics``
and the writers. The keys come from TFMA's own computations, so the metrics files hold
the same keys; values agree within float rounding (the sums run in another order).

``plan()`` (and ``why_not()``) names what this does not cover (feature or cross slices, confidence
intervals, example weights, query keys, any other metric); the caller then runs TFMA as
is. A batch this cannot read (a label or prediction with more than one value per
example, a non-numeric one) raises ``Unsupported`` while the pipeline runs.
"""
from __future__ import annotations

import functools
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import apache_beam as beam
import numpy as np

MARKER = "tfxkit in-process evaluation unsupported"


class Unsupported(ValueError):
    """A batch this module cannot compute on (the caller runs TFMA per example)."""

    def __init__(self, reason: str):
        # Beam re-raises an exception as type(e)(message + where): keep one marker
        reason = reason.rsplit(f"{MARKER}: ", 1)[-1]
        super().__init__(f"{MARKER}: {reason}")
        self.reason = reason


def reason_of(error: BaseException) -> Optional[str]:
    """The reason an ``Unsupported`` (possibly re-raised by Beam) gives, or None."""
    text = str(error)
    if MARKER not in text:
        return None
    return text.rsplit(f"{MARKER}: ", 1)[-1].split(" [while running")[0].splitlines()[0]


@functools.lru_cache(maxsize=None)
def _tfma():
    """TFMA's modules this relies on (private names included; ``supported_here`` checks)."""
    from tensorflow_model_analysis import constants
    from tensorflow_model_analysis.api import model_eval_lib
    from tensorflow_model_analysis.evaluators import evaluator, keras_util, metrics_validator
    from tensorflow_model_analysis.evaluators import metrics_plots_and_validations_evaluator as mpv
    from tensorflow_model_analysis.extractors import extractor, slice_key_extractor, unbatch_extractor
    from tensorflow_model_analysis.metrics import example_count, mean_regression_error
    from tensorflow_model_analysis.metrics import metric_specs, metric_types
    from tensorflow_model_analysis.utils import model_util

    return dict(constants=constants, model_eval_lib=model_eval_lib, evaluator=evaluator,
                keras_util=keras_util, metrics_validator=metrics_validator, mpv=mpv,
                extractor=extractor, slice_key_extractor=slice_key_extractor,
                unbatch_extractor=unbatch_extractor, example_count=example_count,
                mean_regression_error=mean_regression_error, metric_specs=metric_specs,
                metric_types=metric_types, model_util=model_util)


_PRIVATE = {
    "mpv": ("_filter_and_separate_computations", "_AddDerivedCrossSliceAndDiffMetrics",
            "_add_ci_derived_metrics", "_remove_private_metrics", "_filter_by_key_type"),
    "keras_util": ("_KerasCompiledMetricsCombiner",),
    "example_count": ("_ExampleCountCombiner",),
    "mean_regression_error": ("_MeanAbsoluteErrorCombiner", "_MeanSquaredErrorCombiner"),
    "model_eval_lib": ("_update_eval_config_with_defaults",),
}


def supported_here() -> Optional[str]:
    """Why this TFMA cannot be used (private names this relies on are missing), or None."""
    t = _tfma()
    missing = [f"{m}.{n}" for m, names in _PRIVATE.items() for n in names
               if not hasattr(t[m], n)]
    return f"TFMA lacks {', '.join(missing)}" if missing else None


def _models(eval_shared_model) -> Dict[str, Any]:
    t = _tfma()
    models = t["model_util"].verify_and_update_eval_shared_models(eval_shared_model) or []
    return {m.model_name: m for m in models}


def updated_config(eval_config, eval_shared_model):
    """The eval config as TFMA completes it before it runs (model names, defaults)."""
    return _tfma()["model_eval_lib"]._update_eval_config_with_defaults(
        eval_config, eval_shared_model)


def computations(eval_config, eval_shared_models: Mapping[str, Any]):
    """TFMA's metric computations for this config, built as its evaluator builds them:
    (non-derived computations, the separated computations)."""
    t = _tfma()
    out: List[Any] = []
    options = eval_config.options
    if not options.HasField("include_default_metrics") or options.include_default_metrics.value:
        for name, m in eval_shared_models.items():
            if m.include_default_metrics and m.model_type == t["constants"].TF_KERAS:
                out.extend(t["keras_util"].metric_computations_using_keras_saved_model(
                    name, m.model_loader, eval_config))
    separated = t["mpv"]._filter_and_separate_computations(
        t["metric_specs"].to_computations(eval_config.metrics_specs, eval_config=eval_config))
    out.extend(separated.non_derived_computations)
    return out, separated


def why_not(eval_config, eval_shared_model) -> Optional[str]:
    """Why TFMA's per-example evaluation must run for this config, or None when
    ``plan()`` gives an evaluator. Loads the Keras models (to list compiled metrics)."""
    return plan(eval_config, eval_shared_model)[0]


def plan(eval_config, eval_shared_model) -> Tuple[Optional[str], Any]:
    """(why TFMA's per-example evaluation must run, None) or (None, a TFMA Evaluator
    producing the metrics, (empty) plots and attributions and the validations that
    ``MetricsPlotsAndValidationsEvaluator`` produces for this config)."""
    if eval_config is None:
        return "no eval config", None
    reason = supported_here()
    if reason:
        return reason, None
    models = _models(eval_shared_model)
    if not models:
        return "no model to evaluate", None
    config = updated_config(eval_config, eval_shared_model)
    reason = _config_reason(config, models)
    if reason:
        return reason, None
    t = _tfma()
    comps, separated = computations(config, models)
    if separated.cross_slice_computations:
        return "cross-slice metrics", None
    for c in comps:
        reason = _combiner_reason(c.combiner)
        if reason:
            return reason, None
    baseline = t["model_util"].get_baseline_model_spec(config)
    return None, t["evaluator"].Evaluator(
        stage_name="EvaluateMetricsAndPlots",
        run_after=t["extractor"].LAST_EXTRACTOR_STAGE_NAME,
        ptransform=_Evaluate(config, comps, separated,  # pylint: disable=no-value-for-parameter
                             baseline.name if baseline else None))


def _config_reason(config, models) -> Optional[str]:
    t = _tfma()
    if any(s != type(s)() for s in config.slicing_specs):
        return "slicing other than the overall slice"
    if config.cross_slicing_specs:
        return "cross-slicing specs"
    if config.options.compute_confidence_intervals.value:
        return "confidence intervals"
    if config.options.min_slice_size.value > 1:
        return "min_slice_size"
    for spec in config.model_specs:
        if spec.example_weight_key or spec.example_weight_keys:
            return f"example weights (model {spec.name!r})"
        if spec.label_keys or spec.prediction_keys:
            return f"multi-output model {spec.name!r}"
    for spec in config.metrics_specs:
        if spec.query_key:
            return "query keys"
        if spec.output_names or spec.HasField("binarize") or spec.HasField("aggregate"):
            return "output names, binarization or aggregation in a metrics spec"
    for m in models.values():
        if m.model_type not in (t["constants"].TF_KERAS, t["constants"].TF_GENERIC):
            return f"model type {m.model_type}"
    return None


COUNT, ABSOLUTE, SQUARED, KERAS = "count", "absolute", "squared", "keras"


def _kind(combiner) -> Optional[str]:
    """Which of the combiners this module replicates ``combiner`` is, or None."""
    t = _tfma()
    mre = t["mean_regression_error"]
    if isinstance(combiner, t["example_count"]._ExampleCountCombiner):
        return COUNT
    return {mre._MeanAbsoluteErrorCombiner: ABSOLUTE, mre._MeanSquaredErrorCombiner: SQUARED,
            t["keras_util"]._KerasCompiledMetricsCombiner: KERAS}.get(type(combiner))


def _combiner_reason(combiner) -> Optional[str]:
    kind = _kind(combiner)
    if kind == COUNT:
        return None
    if kind in (ABSOLUTE, SQUARED):
        if (combiner._aggregation_type or combiner._class_weights
                or combiner._metric_key.sub_key or combiner._metric_key.output_name):
            return f"{type(combiner).__name__} with aggregation, class weights or sub keys"
        return None
    if kind == KERAS:
        if len(combiner._output_names) != 1 or combiner._output_names[0]:
            return "a multi-output Keras model"
        return None
    return f"metric combiner {type(combiner).__name__}"


# -- batch values -----------------------------------------------------------------------

def _pick(value, key: str):
    """TFMA's ``optionally_get_by_keys`` for one key: a mapping's entry, else itself."""
    if isinstance(value, Mapping) and key and key in value:
        return value[key]
    return value


def _column(value, n: int, what: str) -> np.ndarray:
    """One numeric value per example as an array of shape (n,)."""
    if value is None:
        raise Unsupported(f"no {what}")
    if isinstance(value, Mapping):
        raise Unsupported(f"{what} is a dict with keys {sorted(value)}")
    arr = np.asarray(value)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise Unsupported(f"{what} of dtype {arr.dtype}")
    if arr.size != n:
        raise Unsupported(f"{what}: {arr.size} values for {n} examples")
    return arr.reshape(n)


class _Inputs:
    """Labels and predictions of one batch, per model (as to_label_prediction_example_weight
    picks them: the model's entry, then the model spec's label or prediction key)."""

    def __init__(self, extract: Mapping[str, Any], keys: Mapping[str, Tuple[str, str]]):
        c = _tfma()["constants"]
        self._labels = extract.get(c.LABELS_KEY)
        self._predictions = extract.get(c.PREDICTIONS_KEY)
        self._keys = keys
        first = self._predictions if self._predictions is not None else self._labels
        while isinstance(first, Mapping) and first:
            first = next(iter(first.values()))
        if first is None or isinstance(first, Mapping):
            raise Unsupported("a batch without labels or predictions")
        self.n = len(first)
        self._cache: Dict[str, Any] = {}

    def get(self, model_name: str):
        if model_name not in self._cache:
            label_key, prediction_key = self._keys.get(model_name, ("", ""))
            label = _pick(_pick(self._labels, label_key), model_name)
            prediction = _pick(_pick(self._predictions, model_name), prediction_key)
            self._cache[model_name] = (_column(label, self.n, "label"),
                                       _column(prediction, self.n, "prediction"))
        return self._cache[model_name]


# -- the combine ------------------------------------------------------------------------

class _Sums:
    """Accumulator: float64 sums per computation index; Keras accumulators apart."""

    def __init__(self):
        self.sums: Dict[int, List[float]] = {}
        self.keras: Dict[int, Any] = {}


class BatchedComputationsCombineFn(beam.CombineFn):
    """TFMA's ``_ComputationsCombineFn`` for the supported combiners, on batched extracts."""

    def __init__(self, computations: Sequence[Any], eval_config):
        self._computations = list(computations)
        self._kinds = [_kind(c.combiner) for c in self._computations]
        # model name -> (label key, prediction key), named as TFMA names models
        self._keys = {(s.name if len(eval_config.model_specs) > 1 else ""):
                      (s.label_key, s.prediction_key) for s in eval_config.model_specs}
        self._set_up = False

    def setup(self):
        if not self._set_up:
            for c in self._computations:
                if hasattr(c.combiner, "setup"):
                    c.combiner.setup()
            self._set_up = True

    def create_accumulator(self) -> _Sums:
        self.setup()
        acc = _Sums()
        for i, (c, kind) in enumerate(zip(self._computations, self._kinds)):
            if kind == KERAS:
                acc.keras[i] = c.combiner.create_accumulator()
            else:
                acc.sums[i] = [0.0, 0.0]
        return acc

    def add_input(self, acc: _Sums, extract) -> _Sums:
        self.setup()
        inputs = _Inputs(extract, self._keys)
        if inputs.n == 0:
            return acc
        for i, (c, kind) in enumerate(zip(self._computations, self._kinds)):
            combiner = c.combiner
            if kind == COUNT:
                acc.sums[i][0] += float(inputs.n)
            elif kind == KERAS:
                _keras_batch(combiner, acc.keras[i], *inputs.get(combiner._model_name))
            else:
                label, prediction = inputs.get(combiner._metric_key.model_name)
                diff = label - prediction
                if kind == ABSOLUTE:
                    error = np.absolute(diff).astype(np.float64)
                else:  # squared: TFMA squares the float norm of the (1-value) difference
                    error = np.sqrt(diff * diff).astype(np.float64) ** 2
                keep = ~np.isnan(error)
                acc.sums[i][0] += float(np.sum(error[keep]))
                acc.sums[i][1] += float(np.count_nonzero(keep))
        return acc

    def merge_accumulators(self, accumulators) -> _Sums:
        accumulators = iter(accumulators)
        out = next(accumulators)
        for acc in accumulators:
            for i, s in acc.sums.items():
                out.sums[i][0] += s[0]
                out.sums[i][1] += s[1]
            for i, k in acc.keras.items():
                out.keras[i] = self._computations[i].combiner.merge_accumulators([out.keras[i], k])
        return out

    def extract_output(self, acc: _Sums) -> Dict[Any, Any]:
        self.setup()
        result: Dict[Any, Any] = {}
        for i, (c, kind) in enumerate(zip(self._computations, self._kinds)):
            combiner = c.combiner
            if kind == KERAS:
                result.update(combiner.extract_output(acc.keras[i]))
            elif kind == COUNT:
                for key in combiner._keys:
                    result[key] = acc.sums[i][0]
            else:
                total, weight = acc.sums[i]
                result[combiner._metric_key] = total / weight if weight != 0.0 else float("nan")
        return result


def _keras_batch(combiner, accumulator, label: np.ndarray, prediction: np.ndarray) -> None:
    """TFMA's ``_KerasCombiner._process_batch`` on one batch: reset the compiled metrics,
    update them with the batch (labels, predictions and unit weights shaped (n, 1), as
    TFMA stacks per-example inputs), add their weights to the accumulator."""
    import tensorflow as tf

    n = label.shape[0]
    labels = tf.convert_to_tensor(label.reshape(n, 1))
    predictions = tf.convert_to_tensor(prediction.reshape(n, 1))
    weights = tf.convert_to_tensor(np.ones((n, 1), dtype=np.float32))
    metrics = list(combiner._metrics())
    for metric in metrics:
        metric.reset_states()
    combiner._model.compiled_metrics.update_state(labels, predictions, sample_weight=weights)
    combiner._model.compiled_loss(labels, predictions, sample_weight=weights)
    for index, metric in enumerate(metrics):
        accumulator.add_weights(0, index, metric.get_weights())


# -- TFMA's seams -------------------------------------------------------------------------

def extractors(eval_config, eval_shared_model, tensor_adapter_config=None) -> List[Any]:
    """TFMA's default extractors without the unbatching and slice-key ones."""
    t = _tfma()
    skip = {t["unbatch_extractor"].UNBATCH_EXTRACTOR_STAGE_NAME,
            t["slice_key_extractor"].SLICE_KEY_EXTRACTOR_STAGE_NAME}
    return [e for e in t["model_eval_lib"].default_extractors(
        eval_config=eval_config, eval_shared_model=eval_shared_model,
        tensor_adapter_config=tensor_adapter_config) if e.stage_name not in skip]


@beam.ptransform_fn
def _Evaluate(extracts, eval_config, comps, separated, baseline_name):  # noqa: N802
    t = _tfma()
    mpv = t["mpv"]
    c = t["constants"]
    mt = t["metric_types"]
    sliced = (
        extracts
        | "CombineBatches" >> beam.CombineGlobally(
            BatchedComputationsCombineFn(comps, eval_config)).without_defaults()
        | "OverallSlice" >> beam.Map(lambda metrics: ((), metrics))
        | "AddDerivedCrossSliceAndDiffMetrics" >> mpv._AddDerivedCrossSliceAndDiffMetrics(
            separated.derived_computations, [], [], baseline_name)
        | "AddCIDerivedMetrics" >> beam.Map(mpv._add_ci_derived_metrics,
                                            separated.ci_derived_computations)
        | "RemovePrivateMetrics" >> beam.MapTuple(mpv._remove_private_metrics))
    metrics = sliced | "FilterByMetrics" >> beam.Map(mpv._filter_by_key_type, mt.MetricKey)
    return {
        c.METRICS_KEY: metrics,
        c.PLOTS_KEY: sliced | "FilterByPlots" >> beam.Map(mpv._filter_by_key_type, mt.PlotKey),
        c.ATTRIBUTIONS_KEY: sliced | "FilterByAttributions" >> beam.Map(
            mpv._filter_by_key_type, mt.AttributionsKey),
        c.VALIDATIONS_KEY: metrics | "ValidateMetrics" >> beam.Map(
            t["metrics_validator"].validate_metrics, eval_config),
    }
