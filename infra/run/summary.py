"""The run summary: blessed or not and why, each gated metric against its threshold
and the baseline, and what was pushed where. Read from MLMD and the artifacts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple


@dataclass
class MetricLine:
    name: str
    value: Optional[float]
    threshold: str
    baseline: Optional[float] = None
    diff: Optional[float] = None
    ok: Optional[bool] = None
    interval: Optional[Tuple[float, float, float]] = None  # lower, upper, level (OPE)


@dataclass
class FairnessLine:
    """A gated fairness rate on one value of a sensitive feature, against the whole split."""

    name: str                      # e.g. false_positive_rate@0.50 (class 2)
    slice: str                     # e.g. sex=female
    value: Optional[float]
    overall: Optional[float]
    gap: Optional[float] = None    # overall - slice value (what max_gap bounds)
    threshold: str = ""
    ok: Optional[bool] = None


@dataclass
class Summary:
    blessed: Optional[bool] = None
    reasons: List[str] = field(default_factory=list)
    metrics: List[MetricLine] = field(default_factory=list)
    slice_metrics: List[MetricLine] = field(default_factory=list)  # name "<key> on <slice>"
    fairness: List[FairnessLine] = field(default_factory=list)
    has_baseline: bool = False
    pushed: Optional[bool] = None
    pushed_version: Optional[str] = None
    pushed_path: Optional[str] = None
    model_uri: Optional[str] = None
    anomalies: List[str] = field(default_factory=list)
    push_reason: Optional[str] = None      # why the Pusher pushed or refused
    infra_blessed: Optional[bool] = None   # the InfraValidator's verdict
    infra_reason: Optional[str] = None
    status: str = "succeeded"              # failed | canceled | running: a component did
    status_reason: Optional[str] = None    # not complete (then no verdict is a success)
    warm_start: Optional[dict] = None      # the Trainer's warm_start.json (run_fn.warm_start)
    warm_start_version: Optional[str] = None  # the registry version of its base model
    epochs_to_gate: Optional[str] = None   # "epochs to reach the gate: 3 of 5 (val_...)"


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


def threshold_text(m) -> str:
    """What a gated metric (``pipelines.metrics.Metric``) is held to, e.g. ``>= 0.8,
    change > -0.01 vs baseline`` (``not gated`` without thresholds); the run summary and
    the run report (``infra/metadata/report/evaluation.py``) both write it so."""
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


def _key_name(k) -> str:
    """A metric key's name, with its class for binarized (per-class) metrics."""
    if k.HasField("sub_key"):
        sk = k.sub_key
        if sk.HasField("class_id"):
            return f"{k.name} (class {sk.class_id.value})"
        if sk.HasField("top_k"):
            return f"{k.name} (top {sk.top_k.value})"
        if sk.HasField("k"):
            return f"{k.name} (k {sk.k.value})"
    return k.name


def _slice_name(key) -> str:
    """A deserialized slice key as ``island=Dream`` (``a=x, b=y`` for crosses)."""
    return ", ".join(f"{k}={v.decode() if isinstance(v, bytes) else v}" for k, v in key) \
        or "Overall"


def _slice_text(tfma, slice_key) -> str:
    return _slice_name(tfma.slicer.deserialize_slice_key(slice_key))


def _failure_text(tfma, per_slice, failure) -> str:
    """``accuracy on island=Dream: 0.61 < 0.7``, ``... vs baseline``, or a fairness gap:
    ``false_positive_rate@0.50 (class 2) gap Overall - sex=female: -0.15 < -0.1``."""
    name = _key_name(failure.metric_key)
    if per_slice.HasField("cross_slice_key"):
        ck = per_slice.cross_slice_key
        where = (f"gap {_slice_text(tfma, ck.baseline_slice_key)} - "
                 f"{_slice_text(tfma, ck.comparison_slice_key)}")
    else:
        where = f"on {_slice_text(tfma, per_slice.slice_key)}"
    if failure.message and "not found" in failure.message.lower():
        return f"{name} {where}: {failure.message.strip()}"
    v = failure.metric_value.double_value.value
    t = failure.metric_threshold
    if t.HasField("change_threshold"):
        ct = t.change_threshold
        higher = ct.direction == tfma.MetricDirection.HIGHER_IS_BETTER
        bound = ct.absolute.value if ct.HasField("absolute") else ct.relative.value
        kind = "change" if ct.HasField("absolute") else "relative change"
        return (f"{name} {where}: {kind} vs baseline {v:+.4g} {'<' if higher else '>'} "
                f"{bound:+g}")
    vt = t.value_threshold
    lo = vt.lower_bound.value if vt.HasField("lower_bound") else None
    hi = vt.upper_bound.value if vt.HasField("upper_bound") else None
    if v != v:
        return f"{name} {where}: undefined (no examples of a class or outcome in the slice)"
    if lo is not None and v < lo:
        return f"{name} {where}: {v:.4g} < {lo:g}"
    if hi is not None and v > hi:
        return f"{name} {where}: {v:.4g} > {hi:g}"
    return f"{name} {where}: {v:.4g}: {failure.message.strip() or 'threshold not met'}"


# The short names Keras compiles a model's metrics under, for TFMA's metric of the same
# value: each metric is listed once, under TFMA's name.
ALIASES = {"mae": "mean_absolute_error", "mse": "mean_squared_error",
           "rmse": "root_mean_squared_error", "acc": "accuracy",
           "sparse_categorical_accuracy": "accuracy", "binary_accuracy": "accuracy"}


def _same_metric(key: str, value: Optional[float], listed: Dict[str, Optional[float]]) -> bool:
    """``key`` names a metric already ``listed`` with the same value: an alias of it, or
    ``loss`` equal to one of them (the model's training loss is that metric)."""
    import math

    def same(v):
        return v is not None and value is not None and math.isclose(v, value, rel_tol=1e-6,
                                                                    abs_tol=1e-9)
    if key in ALIASES:
        return ALIASES[key] in listed and same(listed[ALIASES[key]])
    return key == "loss" and any(same(v) for v in listed.values())


def overall_lines(table, values: Dict[str, float], baseline: Dict[str, float],
                  diffs: Dict[str, float], failed) -> List[MetricLine]:
    """The whole split's metrics: the config's (``table``: pipelines.metrics.Metric by
    key) first, ok/FAIL only where one has a threshold there, then every other metric
    once, "not gated" (a Keras compile metric of the same value as one listed, e.g.
    ``mae`` beside ``mean_absolute_error`` or ``loss`` beside ``mean_squared_error``, is
    left out)."""
    lines = [MetricLine(key, values.get(key), threshold_text(m), baseline.get(key),
                        diffs.get(key), ("Overall", key) not in failed if m.own_gated
                        else None)
             for key, m in table.items()]
    listed = {key: values.get(key) for key in table}
    for key in sorted(values, key=lambda k: (k == "loss" or k in ALIASES, k)):
        if key in table or key == "example_count" or "fairness_indicators" in key:
            continue
        if _same_metric(key, values[key], listed):
            continue
        listed[key] = values[key]
        lines.append(MetricLine(key, values[key], "not gated", baseline.get(key),
                                diffs.get(key), None))
    return lines


def evaluation_summary(eval_uri: str, blessing, cfg, table=None, fairness=None) -> Summary:
    """``table`` (gated metrics by result key) defaults to the config's thresholds,
    ``fairness`` (pipelines.metrics.Fairness) to the config's ``eval.fairness``."""
    import tensorflow_model_analysis as tfma

    from tfxkit.pipelines.metrics import fairness_from, threshold_table

    s = Summary()
    s.blessed = bool(blessing.get_int_custom_property("blessed")) if blessing else None
    table = threshold_table(cfg) if table is None else table
    if fairness is None and cfg is not None:
        fairness = fairness_from(cfg)
    values: Dict[str, float] = {}
    baseline: Dict[str, float] = {}
    diffs: Dict[str, float] = {}
    per_slice: Dict[tuple, Dict[str, float]] = {}   # slice key -> key name -> candidate value
    for mfs in tfma.load_metrics(eval_uri):
        if mfs.HasField("cross_slice_key"):
            continue  # slice-vs-slice differences: the fairness gaps, computed below
        slice_key = tfma.slicer.deserialize_slice_key(mfs.slice_key)
        for kv in mfs.metric_keys_and_values:
            k = kv.key
            if not kv.value.HasField("double_value"):
                continue
            v = kv.value.double_value.value
            name = _key_name(k)
            if slice_key:
                if not k.is_diff and k.model_name != "baseline":
                    per_slice.setdefault(tuple(slice_key), {})[name] = v
                continue
            if k.is_diff:
                diffs[name] = v
            elif k.model_name == "baseline":
                baseline[name] = v
            else:
                values[name] = v
    s.has_baseline = bool(baseline)
    validation = tfma.load_validation_result(eval_uri)
    failed = set()   # (slice, key name) or ("gap " + slice, key name)
    for vps in validation.metric_validations_per_slice:
        if vps.HasField("cross_slice_key"):
            where = "gap " + _slice_text(tfma, vps.cross_slice_key.comparison_slice_key)
        else:
            where = _slice_text(tfma, vps.slice_key)
        for failure in vps.failures:
            failed.add((where, _key_name(failure.metric_key)))
            s.reasons.append(_failure_text(tfma, vps, failure))
    for spec in validation.missing_slices:
        s.reasons.append("no eval example falls in slice "
                         f"{', '.join(spec.feature_keys) or 'Overall'}, which has thresholds")
    if not table:
        s.reasons.append("no metric has a threshold in eval.metrics, so TFMA never blesses")
    s.metrics = overall_lines(table, values, baseline, diffs, failed)
    for key, m in table.items():
        for sk in sorted(per_slice, key=_slice_name):
            sl = _slice_name(sk)
            if key not in per_slice[sk]:
                continue
            own = m.slices.get(sk[0][0]) if len(sk) == 1 else None
            if own is None and ((sl, key) not in failed):
                continue  # shown only where it has its own threshold or failed
            s.slice_metrics.append(MetricLine(
                f"{key} on {sl}", per_slice[sk][key],
                threshold_text(own if own is not None else m), None, None,
                (sl, key) not in failed))
    if fairness is not None:
        s.fairness = _fairness_lines(fairness, values, per_slice, failed)
    return s


def _fairness_lines(fairness, values, per_slice, failed) -> List[FairnessLine]:
    gates = dict(fairness.gate)
    lines = []
    for name, sub, _ in fairness.gated_names():
        g = gates[sub]
        parts = []
        if g.lower_bound is not None:
            parts.append(f">= {g.lower_bound:g}")
        if g.upper_bound is not None:
            parts.append(f"<= {g.upper_bound:g}")
        if g.max_gap is not None:
            parts.append(f"gap <= {g.max_gap:g}")
        for cls in (fairness.class_ids or [None]):
            full = name if cls is None else f"{name} (class {cls})"
            short = full.split("/", 1)[-1]
            overall = values.get(full)
            for feature in fairness.features:
                for sk in sorted((x for x in per_slice if len(x) == 1 and x[0][0] == feature),
                                 key=_slice_name):
                    sl = _slice_name(sk)
                    v = per_slice[sk].get(full)
                    gap = None if v is None or overall is None else overall - v
                    ok = (sl, full) not in failed and ("gap " + sl, full) not in failed
                    lines.append(FairnessLine(short, sl, v, overall, gap, ", ".join(parts), ok))
    return lines


def run_status(result) -> tuple:
    """(status, reason) of a RunResult: ``succeeded`` only when every component ran, was
    cached, resolved, reused or skipped."""
    for n in result.nodes:
        if n.state not in ("ran", "cached", "resolved", "reused", "skipped"):
            status = n.state if n.state in ("failed", "canceled") else \
                "failed" if n.state != "running" else "running"
            return status, f"{n.node_id} {n.state}" + (f": {n.error}" if n.error else "")
    return "succeeded", None


def policy_summary(blessing_uri: str) -> Summary:
    """A bandit's verdict from the off-policy gate's ``ope.json`` (PolicyEvaluator): each
    gated metric with its estimate, interval, thresholds, baseline and change."""
    import json
    import os

    from tfx.dsl.io import fileio

    with fileio.open(os.path.join(blessing_uri, "ope.json")) as f:
        r = json.load(f)
    s = Summary(blessed=bool(r["blessed"]), has_baseline=r.get("baseline") is not None)
    verdicts: Dict[str, List[dict]] = {}
    for v in r.get("thresholds", []):
        verdicts.setdefault(v["metric"], []).append(v)
    for name, vs in verdicts.items():
        est = r["candidate"].get(name)
        base = (r.get("baseline") or {}).get(name)
        change = (r.get("change") or {}).get(name)
        value = est["value"] if isinstance(est, dict) else est
        checked = [v["passed"] for v in vs if v["passed"] is not None]
        s.metrics.append(MetricLine(
            name, value, "; ".join(f"{v['bound']} {v['threshold']:g}" for v in vs),
            baseline=base["value"] if isinstance(base, dict) else base,
            diff=change["value"] if isinstance(change, dict) else None,
            ok=all(checked) if checked else None,
            interval=(est["lower"], est["upper"], est["level"]) if isinstance(est, dict)
            else None))
    s.reasons = [v["reason"] for vs in verdicts.values() for v in vs if v["passed"] is False]
    return s


def read_json(folder: Optional[str], name: str) -> Optional[dict]:
    """``<folder>/<name>`` parsed, or None when there is none (or it is unreadable)."""
    import json
    import os

    from tfx.dsl.io import fileio

    if not folder:
        return None
    p = os.path.join(folder, name)
    try:
        if not fileio.exists(p):
            return None
        with fileio.open(p) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def registry_version_of(registry_path: Optional[str], model_uri: Optional[str]
                        ) -> Optional[str]:
    """The registry version pushed from the Model artifact at ``model_uri`` (the index's
    ``model_uri``), or None (not pushed, no registry, an unreadable index)."""
    import os

    if not registry_path or not model_uri:
        return None
    index = read_json(registry_path, "registry.json") or {}
    found = [v for v, e in (index.get("versions") or {}).items()
             if isinstance(e, dict) and os.path.normpath(str(e.get("model_uri", ""))) ==
             os.path.normpath(model_uri)]
    return max(found, key=lambda v: (len(v), v)) if found else None


def epochs_to_gate(history: Optional[Dict[str, List[float]]], table) -> Optional[str]:
    """The first epoch whose eval-split (``val_``) value of every gated metric Keras also
    computes meets its absolute thresholds (``lower_bound``/``upper_bound``), as
    ``"3 of 5 epochs (val_sparse_categorical_accuracy >= 0.8)"``, ``"not reached in 5
    epochs (...)"``; None when no gated metric has a Keras counterpart in the history."""
    if not history or not table:
        return None
    checks = []  # (history key, lower, upper)
    for key, m in table.items():
        if m.lower_bound is None and m.upper_bound is None:
            continue
        names = [key] + [k for k, v in ALIASES.items() if v == key]
        hkey = next((f"val_{n}" for n in names if f"val_{n}" in history), None)
        if hkey:
            checks.append((hkey, m.lower_bound, m.upper_bound))
    if not checks:
        return None
    n = min(len(history[h]) for h, _, _ in checks)
    what = ", ".join(f"{h}" + (f" >= {lo:g}" if lo is not None else "")
                     + (f" <= {hi:g}" if hi is not None else "") for h, lo, hi in checks)
    for epoch in range(n):
        if all((lo is None or history[h][epoch] >= lo) and (hi is None or history[h][epoch] <= hi)
               for h, lo, hi in checks):
            return f"{epoch + 1} of {n} epochs ({what})"
    return f"not reached in {n} epochs ({what})"


def build_summary(result, cfg, connection_config) -> Summary:
    from tfxkit.pipelines import component_ids as ids

    s = Summary()
    ev = result.node(ids.EVALUATOR)
    if ev and ev.execution_id:
        outs = output_artifacts(connection_config, ev.execution_id)
        blessing = (outs.get("blessing") or [None])[0]
        evaluation = (outs.get("evaluation") or [None])[0]
        if evaluation is not None:
            s = evaluation_summary(evaluation.uri, blessing, cfg)
        elif blessing is not None and cfg.task == "bandit":
            s = policy_summary(blessing.uri)
    tr = result.node(ids.TRAINER)
    if tr and tr.execution_id:
        outs = output_artifacts(connection_config, tr.execution_id)
        model = (outs.get("model") or [None])[0]
        s.model_uri = model.uri if model else None
        model_run = (outs.get("model_run") or [None])[0]
        run_dir = model_run.uri if model_run is not None else None
        s.warm_start = read_json(run_dir, "warm_start.json")
        if s.warm_start and s.warm_start.get("from_version"):
            s.warm_start_version = str(s.warm_start["from_version"])
        elif s.warm_start and s.warm_start.get("from") and cfg is not None:
            try:
                s.warm_start_version = registry_version_of(cfg.registry_path,
                                                           s.warm_start["from"])
            except Exception:  # noqa: BLE001 - no push section / remote registry: no version
                s.warm_start_version = None
        if cfg is not None and cfg.task != "bandit":
            from tfxkit.pipelines.metrics import threshold_table

            s.epochs_to_gate = epochs_to_gate(read_json(run_dir, "history.json"),
                                              threshold_table(cfg))
    iv = result.node(ids.INFRA_VALIDATOR)
    if iv and iv.execution_id:
        ib = (output_artifacts(connection_config, iv.execution_id).get("blessing") or [None])[0]
        if ib is not None and ib.has_custom_property("blessed"):
            s.infra_blessed = bool(ib.get_int_custom_property("blessed"))
            s.infra_reason = ib.get_string_custom_property("reason") or None
    pu = result.node(ids.PUSHER)
    if pu and pu.execution_id:
        pushed = (output_artifacts(connection_config, pu.execution_id).get("pushed_model") or [None])[0]
        if pushed is not None:
            s.pushed = bool(pushed.get_int_custom_property("pushed"))
            s.pushed_path = pushed.get_string_custom_property("pushed_destination") or None
            s.pushed_version = pushed.get_string_custom_property("pushed_version") or None
            if pushed.has_custom_property("push_reason"):
                s.push_reason = pushed.get_string_custom_property("push_reason") or None
    s.status, s.status_reason = run_status(result)
    return s


def warm_start_text(info: Optional[dict], version: Optional[str] = None) -> Optional[str]:
    """``warm-started from version 1733... (<uri>)`` or ``cold: <why>``; None when the
    Trainer recorded nothing (a model trained before warm start)."""
    if not info:
        return None
    if info.get("warm_started"):
        where = f"version {version} ({info.get('from')})" if version else info.get("from")
        return f"warm-started from {where}"
    return f"cold: {info.get('reason') or 'not warm-started'}"


def format_summary(s: Summary) -> List[str]:
    lines = []
    if s.status != "succeeded":
        lines.append(f"Run {s.status.upper()}: {s.status_reason or 'not every component completed'}")
    if s.warm_start and s.warm_start.get("mode", "none") != "none":
        lines.append(f"Trainer {warm_start_text(s.warm_start, s.warm_start_version)}")
    if s.epochs_to_gate:
        lines.append(f"Epochs to reach the gate: {s.epochs_to_gate}")
    if s.blessed is not None:
        lines.append(f"Model {'BLESSED' if s.blessed else 'NOT blessed'}"
                     + ("" if s.has_baseline else " (no baseline yet: absolute thresholds only)"))
        for m in s.metrics + s.slice_metrics:
            val = "n/a" if m.value is None else f"{m.value:.4f}"
            base = "" if m.baseline is None else f"  baseline {m.baseline:.4f}"
            diff = "" if m.diff is None else f" (diff {m.diff:+.4f})"
            mark = {True: "ok  ", False: "FAIL", None: "    "}[m.ok]
            ci = "" if m.interval is None else \
                f"  {m.interval[2]:.0%} CI [{m.interval[0]:.4f}, {m.interval[1]:.4f}]"
            lines.append(f"  {mark} {m.name:<32} {val:>8}{ci}  [{m.threshold}]{base}{diff}")
        if s.fairness:
            lines.append("  Fairness (each value of a sensitive feature vs the whole eval split):")
        for f in s.fairness:
            val = "n/a" if f.value is None else f"{f.value:.4f}"
            overall = "n/a" if f.overall is None else f"{f.overall:.4f}"
            gap = "" if f.gap is None else f" gap {f.gap:+.4f}"
            mark = {True: "ok  ", False: "FAIL", None: "    "}[f.ok]
            lines.append(f"  {mark} {f.name} on {f.slice:<16} {val:>8}  overall {overall}{gap}"
                         f"  [{f.threshold}]")
        for r in s.reasons:
            lines.append(f"  why: {r}")
    if s.infra_blessed is not None:
        lines.append(f"Infra validation {'passed' if s.infra_blessed else 'FAILED'}: "
                     f"{s.infra_reason or ''}".rstrip(": "))
    if s.pushed:
        lines.append(f"Pushed version {s.pushed_version} to {s.pushed_path}")
        plain = f"pushed as version {s.pushed_version}"
        if s.push_reason and s.push_reason != plain:  # a restore, a rebuilt index
            lines.append(f"  why: {s.push_reason}")
    elif s.pushed is False:
        lines.append(f"Not pushed: {s.push_reason}" if s.push_reason
                     else "Not pushed (the model was not blessed)")
    return lines
