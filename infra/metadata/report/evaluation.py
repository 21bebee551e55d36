"""The Evaluator's TFMA output read into the report: every metric on every slice
(candidate, baseline, diff) held to the gated thresholds, with TFMA's validation failures;
for a bandit, the PolicyEvaluator's off-policy evaluation (``infra/metadata/ope.py``)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Set, Tuple

from tfxkit.infra.metadata.report.model import Evaluation, SliceMetric


def _slice_name(slice_key) -> str:
    import tensorflow_model_analysis as tfma

    name = tfma.slicer.stringify_slice_key(tfma.slicer.deserialize_slice_key(slice_key))
    return name or "Overall"


def _metrics(tfma, ev: Evaluation, evaluation_uri: str
             ) -> Tuple[Dict[Tuple[str, str], SliceMetric], Dict[str, float]]:
    """({(slice, metric): SliceMetric}, {slice: example count}) of TFMA's metrics."""
    by_key: Dict[Tuple[str, str], SliceMetric] = {}
    counts: Dict[str, float] = {}
    for mfs in tfma.load_metrics(evaluation_uri):
        if mfs.HasField("cross_slice_key"):
            continue  # slice-vs-slice differences (fairness gaps); failures come below
        sl = _slice_name(mfs.slice_key)
        for kv in mfs.metric_keys_and_values:
            k = kv.key
            if k.HasField("sub_key") or not kv.value.HasField("double_value"):
                continue
            v = kv.value.double_value.value
            if k.name == "example_count":
                if k.model_name != "baseline" and not k.is_diff:
                    counts[sl] = v
                continue
            m = by_key.setdefault((sl, k.name), SliceMetric(sl, k.name, None))
            if k.is_diff:
                m.diff = v
            elif k.model_name == "baseline":
                m.baseline = v
                ev.has_baseline = True
            else:
                m.value = v
    return by_key, counts


def _failures(tfma, ev: Evaluation, evaluation_uri: str) -> Set[Tuple[str, str]]:
    """(slice, metric) of each failed validation; each also a reason in ``ev``."""
    failed = set()
    validation = tfma.load_validation_result(evaluation_uri)
    for per_slice in validation.metric_validations_per_slice:
        sl = (_slice_name(per_slice.slice_key) if not per_slice.HasField("cross_slice_key")
              else "gap " + _slice_name(per_slice.cross_slice_key.comparison_slice_key))
        for failure in per_slice.failures:
            failed.add((sl, failure.metric_key.name))
            ev.reasons.append(
                f"{failure.metric_key.name}"
                f"{' (change vs baseline)' if failure.metric_key.is_diff else ''} = "
                f"{failure.metric_value.double_value.value:.4g} on slice {sl}: "
                f"{failure.message or 'threshold not met'}")
    return failed


def _hold_to(m: SliceMetric, t, failed: Set[Tuple[str, str]]) -> None:
    """Marks ``m`` gated by ``t`` (or by the thresholds of its feature's values)."""
    from tfxkit.infra.run.summary import threshold_text

    sl = m.slice
    feature = sl.split(":", 1)[0] if ":" in sl and "_X_" not in sl else None
    # a feature's values may have thresholds of their own (eval.metrics[].slices)
    t = getattr(t, "slices", {}).get(feature, t)
    m.gated = getattr(t, "own_gated", True)
    m.threshold = threshold_text(t) if m.gated else "not gated"
    m.ok = (sl, m.metric) not in failed if m.gated else None


def read_evaluation(evaluation_uri: str, thresholds: Dict[str, Any],
                    blessed: Optional[bool]) -> Evaluation:
    """Every metric on every slice (candidate, baseline, diff), held to ``thresholds``
    (pipelines.metrics.Metric by result key), with TFMA's validation failures."""
    import tensorflow_model_analysis as tfma

    ev = Evaluation(blessed=blessed, evaluation_uri=evaluation_uri)
    by_key, counts = _metrics(tfma, ev, evaluation_uri)
    failed = _failures(tfma, ev, evaluation_uri)
    for (sl, name), m in by_key.items():
        m.example_count = counts.get(sl)
        if name in thresholds:
            _hold_to(m, thresholds[name], failed)
    ev.metrics = sorted(by_key.values(), key=lambda m: (m.slice != "Overall", m.slice, m.metric))
    if not thresholds:
        ev.reasons.append("no metric has a threshold in eval.metrics, so TFMA never blesses")
    elif blessed and not failed:
        ev.reasons.append("every gated metric met its threshold on every slice"
                          + (" and against the baseline" if ev.has_baseline
                             else " (no baseline model yet: absolute thresholds only)"))
    return ev


def read_policy_evaluation(blessing_uri: str, props: Dict[str, Any]) -> Evaluation:
    """A bandit's gate (no TFMA output): its ``ope.json`` (else the blessing's custom
    properties), the decision as the reason."""
    from tfxkit.infra.metadata import ope

    o = ope.read(blessing_uri, props)
    blessed = o["blessed"] if o["blessed"] is not None else (
        bool(props["blessed"]) if "blessed" in props else None)
    return Evaluation(blessed=blessed, has_baseline=bool(o["baseline"]), ope=o,
                      reasons=[o["reason"]] if o.get("reason") else [])


# what a run records of its evaluation (``tfxkit ui`` reads it back without importing TFMA)
def evaluation_json(ev: Evaluation) -> str:
    """``ev`` as JSON (every field; ``evaluation_from_json`` reads it back)."""
    import dataclasses
    import json

    return json.dumps(dataclasses.asdict(ev), sort_keys=True)


def evaluation_from_json(text: str) -> Evaluation:
    """The Evaluation ``evaluation_json`` wrote; a ValueError naming what is wrong for
    anything else."""
    import json

    try:
        d = json.loads(text)
        metrics = [SliceMetric(**m) for m in d.pop("metrics", [])]
        return Evaluation(metrics=metrics, **d)
    except (TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"not a recorded evaluation: {type(e).__name__}: {e}") from None
