"""The run summary: blessed or not and why, each gated metric against its threshold
and the baseline, and what was pushed where. Read from MLMD and the artifacts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass
class MetricLine:
    name: str
    value: Optional[float]
    threshold: str
    baseline: Optional[float] = None
    diff: Optional[float] = None
    ok: Optional[bool] = None


@dataclass
class Summary:
    blessed: Optional[bool] = None
    reasons: List[str] = field(default_factory=list)
    metrics: List[MetricLine] = field(default_factory=list)
    has_baseline: bool = False
    pushed: Optional[bool] = None
    pushed_version: Optional[str] = None
    pushed_path: Optional[str] = None
    model_uri: Optional[str] = None
    anomalies: List[str] = field(default_factory=list)
    push_reason: Optional[str] = None      # why the Pusher pushed or refused
    infra_blessed: Optional[bool] = None   # the InfraValidator's verdict
    infra_reason: Optional[str] = None


def output_artifacts(connection_config, execution_id: int) -> Dict[str, list]:
    """{output key: [Artifact]} of an execution (also for a cached one)."""
    from ml_metadata.proto import metadata_store_pb2
    from tfx.orchestration import metadata
    from tfx.types import artifact_utils

    out: Dict[str, list] = {}
    with metadata.Metadata(connection_config) as m:
        events = [e for e in m.store.get_events_by_execution_ids([execution_id])
                  if e.type in (metadata_store_pb2.Event.OUTPUT,
                                metadata_store_pb2.Event.DECLARED_OUTPUT)]
        arts = {a.id: a for a in m.store.get_artifacts_by_id([e.artifact_id for e in events])}
        types = {t.id: t for t in m.store.get_artifact_types_by_id(
            list({a.type_id for a in arts.values()}))}
        for e in events:
            key = e.path.steps[0].key if e.path.steps else "output"
            a = arts[e.artifact_id]
            out.setdefault(key, []).append(
                artifact_utils.deserialize_artifact(types[a.type_id], a))
    return out


def _threshold_text(m) -> str:
    parts = []
    if m.lower_bound is not None:
        parts.append(f">= {m.lower_bound:g}")
    if m.upper_bound is not None:
        parts.append(f"<= {m.upper_bound:g}")
    if m.absolute_change is not None:
        parts.append(f"change {'>' if m.higher_is_better else '<'} {m.absolute_change:+g} vs baseline")
    if m.relative_change is not None:
        parts.append(f"relative change {'>' if m.higher_is_better else '<'} "
                     f"{m.relative_change:+g} vs baseline")
    return ", ".join(parts) or "not gated"


def evaluation_summary(eval_uri: str, blessing, cfg, table=None) -> Summary:
    """``table`` (gated metrics by result key) defaults to the config's thresholds."""
    import tensorflow_model_analysis as tfma

    from tfxkit.pipelines.metrics import threshold_table

    s = Summary()
    s.blessed = bool(blessing.get_int_custom_property("blessed")) if blessing else None
    table = threshold_table(cfg) if table is None else table
    values: Dict[str, float] = {}
    baseline: Dict[str, float] = {}
    diffs: Dict[str, float] = {}
    for mfs in tfma.load_metrics(eval_uri):
        if mfs.slice_key.single_slice_keys:
            continue  # overall slice only here; per-slice failures come from validation
        for kv in mfs.metric_keys_and_values:
            k = kv.key
            if not kv.value.HasField("double_value"):
                continue
            v = kv.value.double_value.value
            if k.is_diff:
                diffs[k.name] = v
            elif k.model_name == "baseline":
                baseline[k.name] = v
            else:
                values[k.name] = v
    s.has_baseline = bool(baseline)
    validation = tfma.load_validation_result(eval_uri)
    failed = set()
    for per_slice in validation.metric_validations_per_slice:
        slice_name = tfma.slicer.stringify_slice_key(
            tfma.slicer.deserialize_slice_key(per_slice.slice_key))
        for failure in per_slice.failures:
            failed.add(failure.metric_key.name)
            s.reasons.append(f"{failure.metric_key.name}"
                             f"{' (diff vs baseline)' if failure.metric_key.is_diff else ''}"
                             f" = {failure.metric_value.double_value.value:.4g} on slice "
                             f"{slice_name or 'Overall'}: {failure.message or 'threshold not met'}")
    if not table:
        s.reasons.append("no metric has a threshold in eval.metrics, so TFMA never blesses")
    for key, m in table.items():
        s.metrics.append(MetricLine(key, values.get(key), _threshold_text(m),
                                    baseline.get(key), diffs.get(key), key not in failed))
    for key in sorted(values):
        if key not in table and key != "example_count":
            s.metrics.append(MetricLine(key, values[key], "not gated", baseline.get(key),
                                        diffs.get(key), None))
    return s


def build_summary(result, cfg, connection_config) -> Summary:
    from tfxkit.pipelines import factory

    s = Summary()
    ev = result.node(factory.EVALUATOR)
    if ev and ev.execution_id:
        outs = output_artifacts(connection_config, ev.execution_id)
        blessing = (outs.get("blessing") or [None])[0]
        evaluation = (outs.get("evaluation") or [None])[0]
        if evaluation is not None:
            s = evaluation_summary(evaluation.uri, blessing, cfg)
    tr = result.node(factory.TRAINER)
    if tr and tr.execution_id:
        model = (output_artifacts(connection_config, tr.execution_id).get("model") or [None])[0]
        s.model_uri = model.uri if model else None
    iv = result.node(factory.INFRA_VALIDATOR)
    if iv and iv.execution_id:
        ib = (output_artifacts(connection_config, iv.execution_id).get("blessing") or [None])[0]
        if ib is not None and ib.has_custom_property("blessed"):
            s.infra_blessed = bool(ib.get_int_custom_property("blessed"))
            s.infra_reason = ib.get_string_custom_property("reason") or None
    pu = result.node(factory.PUSHER)
    if pu and pu.execution_id:
        pushed = (output_artifacts(connection_config, pu.execution_id).get("pushed_model") or [None])[0]
        if pushed is not None:
            s.pushed = bool(pushed.get_int_custom_property("pushed"))
            s.pushed_path = pushed.get_string_custom_property("pushed_destination") or None
            s.pushed_version = pushed.get_string_custom_property("pushed_version") or None
            if pushed.has_custom_property("push_reason"):
                s.push_reason = pushed.get_string_custom_property("push_reason") or None
    return s


def format_summary(s: Summary) -> List[str]:
    lines = []
    if s.blessed is not None:
        lines.append(f"Model {'BLESSED' if s.blessed else 'NOT blessed'}"
                     + ("" if s.has_baseline else " (no baseline yet: absolute thresholds only)"))
        for m in s.metrics:
            val = "n/a" if m.value is None else f"{m.value:.4f}"
            base = "" if m.baseline is None else f"  baseline {m.baseline:.4f}"
            diff = "" if m.diff is None else f" (diff {m.diff:+.4f})"
            mark = {True: "ok  ", False: "FAIL", None: "    "}[m.ok]
            lines.append(f"  {mark} {m.name:<32} {val:>8}  [{m.threshold}]{base}{diff}")
        for r in s.reasons:
            lines.append(f"  why: {r}")
    if s.infra_blessed is not None:
        lines.append(f"Infra validation {'passed' if s.infra_blessed else 'FAILED'}: "
                     f"{s.infra_reason or ''}".rstrip(": "))
    if s.pushed:
        lines.append(f"Pushed version {s.pushed_version} to {s.pushed_path}")
    elif s.pushed is False:
        lines.append(f"Not pushed: {s.push_reason}" if s.push_reason
                     else "Not pushed (the model was not blessed)")
    return lines
