"""Lineage of a pushed model, read from ML Metadata.

``model_lineage(store, pipeline_name)`` walks MLMD events back from a PushedModel:
Pusher -> Model and ModelBlessing -> Trainer (hyperparameters) -> transformed examples
and transform graph -> Transform -> Examples -> ExampleGen (input files, span, rows per
split), and sideways to StatisticsGen, SchemaGen (or the curated-schema Importer),
ExampleValidator (anomalies) and the Evaluator (metrics against thresholds and the
baseline). Each run's config hash and git commit are custom properties of its
``pipeline_run`` context (``infra/run/properties.py``, recorded by the local runner).

Plain functions over a ``MetadataStore`` returning a ``Lineage`` dataclass, and three
renderers: text, JSON (``to_dict``) and an SVG graph written by hand (no system binary).
"""
from __future__ import annotations

import glob
import html
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from tfxkit.infra.run.properties import CONFIG_HASH, GIT_COMMIT


class LineageError(LookupError):
    """No pushed model (or not the one asked for), or a broken chain."""


# -- the result ---------------------------------------------------------------------

@dataclass
class Step:
    """One component execution of the chain with the key facts of its outputs."""
    component: str              # node id, e.g. "Trainer"
    execution_id: Optional[int] = None
    state: Optional[str] = None  # COMPLETE / CACHED / ...
    run_id: Optional[str] = None
    started: Optional[float] = None   # seconds since the epoch
    elapsed_s: Optional[float] = None
    inputs: Dict[str, List[int]] = field(default_factory=dict)   # key -> artifact ids
    outputs: Dict[str, List[int]] = field(default_factory=dict)
    facts: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Lineage:
    pipeline: str
    model_version: str
    pushed_path: Optional[str]
    run_id: Optional[str]            # the run that pushed the model
    config_hash: Optional[str]
    git_commit: Optional[str]
    steps: List[Step] = field(default_factory=list)
    artifacts: Dict[int, Dict[str, Any]] = field(default_factory=dict)  # id -> type, uri, props
    runs: Dict[str, Dict[str, str]] = field(default_factory=dict)       # run id -> properties

    def step(self, component: str) -> Optional[Step]:
        return next((s for s in self.steps if s.component == component), None)

    def steps_of(self, component: str) -> List[Step]:
        return [s for s in self.steps if s.component == component]

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["artifacts"] = {str(k): v for k, v in self.artifacts.items()}
        return d


# -- reading MLMD -------------------------------------------------------------------

def _value(v) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which in ("struct_value", "proto_value"):
        return str(getattr(v, which))
    return getattr(v, which)


def _props(msg) -> Dict[str, Any]:
    out = {k: _value(v) for k, v in msg.properties.items()}
    out.update({k: _value(v) for k, v in msg.custom_properties.items()})
    return out


def _json_or(text: Any) -> Any:
    """A JSON object or list stored as a string, decoded; anything else as it is."""
    if not isinstance(text, str) or not text.lstrip().startswith(("{", "[")):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


class _Walker:
    def __init__(self, store, pipeline_name: str):
        from ml_metadata.proto import metadata_store_pb2 as pb

        self.pb = pb
        self.s = store
        self.pipeline = pipeline_name
        self._atypes = {t.id: t.name for t in store.get_artifact_types()}
        self._ctypes = {t.id: t.name for t in store.get_context_types()}
        self._arts: Dict[int, Any] = {}
        self._execs: Dict[int, Any] = {}
        self.lineage_artifacts: Dict[int, Dict[str, Any]] = {}
        self.runs: Dict[str, Dict[str, str]] = {}

    # MLMD access, cached --------------------------------------------------------
    def artifact(self, aid: int):
        if aid not in self._arts:
            [self._arts[aid]] = self.s.get_artifacts_by_id([aid])
        return self._arts[aid]

    def execution(self, eid: int):
        if eid not in self._execs:
            [self._execs[eid]] = self.s.get_executions_by_id([eid])
        return self._execs[eid]

    def node_and_run(self, eid: int) -> Tuple[Optional[str], Optional[str]]:
        node = run = None
        for c in self.s.get_contexts_by_execution(eid):
            kind = self._ctypes.get(c.type_id)
            if kind == "node" and c.name.startswith(self.pipeline + "."):
                node = c.name[len(self.pipeline) + 1:]
            elif kind == "pipeline_run":
                run = c.name
                if run not in self.runs:
                    self.runs[run] = {k: str(v) for k, v in _props(c).items()}
        return node, run

    def events(self, eid: int):
        return self.s.get_events_by_execution_ids([eid])

    def io(self, eid: int) -> Tuple[Dict[str, List[int]], Dict[str, List[int]]]:
        pb = self.pb.Event
        ins: Dict[str, List[int]] = {}
        outs: Dict[str, List[int]] = {}
        for ev in self.events(eid):
            key = next((st.key for st in ev.path.steps if st.key), "")
            if ev.type in (pb.INPUT, pb.DECLARED_INPUT):
                ins.setdefault(key, []).append(ev.artifact_id)
            elif ev.type in (pb.OUTPUT, pb.DECLARED_OUTPUT, pb.INTERNAL_OUTPUT):
                outs.setdefault(key, []).append(ev.artifact_id)
        return ins, outs

    def _pick(self, eids: List[int]) -> Optional[int]:
        """The execution that did the work: COMPLETE first (the oldest), else any."""
        if not eids:
            return None
        execs = sorted((self.execution(e) for e in set(eids)), key=lambda e: e.id)
        done = [e for e in execs if e.last_known_state == self.pb.Execution.COMPLETE]
        return (done or execs)[0].id

    def producer(self, aid: int) -> Optional[int]:
        pb = self.pb.Event
        return self._pick([ev.execution_id for ev in self.s.get_events_by_artifact_ids([aid])
                           if ev.type in (pb.OUTPUT, pb.DECLARED_OUTPUT)])

    def consumers(self, aid: int, component: str, also_consumed: Optional[int] = None
                  ) -> Optional[int]:
        """The execution of ``component`` that read ``aid`` (and ``also_consumed``)."""
        pb = self.pb.Event
        eids = [ev.execution_id for ev in self.s.get_events_by_artifact_ids([aid])
                if ev.type in (pb.INPUT, pb.DECLARED_INPUT)]
        eids = [e for e in set(eids) if self.node_and_run(e)[0] == component]
        if also_consumed is not None:
            eids = [e for e in eids if any(also_consumed in ids for ids in self.io(e)[0].values())]
        return self._pick(eids)

    def note_artifact(self, aid: int) -> Dict[str, Any]:
        a = self.artifact(aid)
        if aid not in self.lineage_artifacts:
            props = {k: _json_or(v) for k, v in _props(a).items()
                     if k not in ("tfx_version", "is_external")}
            self.lineage_artifacts[aid] = {"type": self._atypes.get(a.type_id), "uri": a.uri,
                                           "properties": props}
        return self.lineage_artifacts[aid]

    def step(self, eid: int) -> Step:
        e = self.execution(eid)
        node, run = self.node_and_run(eid)
        ins, outs = self.io(eid)
        for ids in list(ins.values()) + list(outs.values()):
            for aid in ids:
                self.note_artifact(aid)
        elapsed = None
        if e.create_time_since_epoch and e.last_update_time_since_epoch:
            elapsed = round((e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000, 3)
        return Step(component=node or self._etype_name(e), execution_id=eid,
                    state=self.pb.Execution.State.Name(e.last_known_state), run_id=run,
                    started=e.create_time_since_epoch / 1000 if e.create_time_since_epoch else None,
                    elapsed_s=elapsed, inputs=ins, outputs=outs)

    def _etype_name(self, e) -> str:
        [t] = self.s.get_execution_types_by_id([e.type_id])
        return t.name.rsplit(".", 1)[-1]

    def exec_props(self, eid: int) -> Dict[str, Any]:
        return {k: _json_or(v) for k, v in _props(self.execution(eid)).items()}


def pushed_models(store, pipeline_name: str) -> List[Dict[str, Any]]:
    """The pipeline's pushed models, oldest first: {artifact_id, version, path}."""
    ctx = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if ctx is None:
        return []
    out = []
    for a in store.get_artifacts_by_context(ctx.id):
        p = a.custom_properties
        if "pushed_version" not in p or ("pushed" in p and not p["pushed"].int_value):
            continue
        out.append({"artifact_id": a.id, "version": p["pushed_version"].string_value,
                    "path": p["pushed_destination"].string_value if "pushed_destination" in p
                    else None})
    return sorted(out, key=lambda m: m["artifact_id"])


def model_lineage(store, pipeline_name: str, version: Optional[str] = None,
                  metrics_reader=None) -> Lineage:
    """The lineage of the pushed model ``version`` (default: the latest pushed).

    ``metrics_reader(evaluation_uri, eval_config_json) -> dict`` reads the evaluation's
    metrics (the default uses TFMA through ``infra.run.summary``); tests may pass their own.
    """
    models = pushed_models(store, pipeline_name)
    if not models:
        raise LineageError(f"pipeline {pipeline_name} has pushed no model yet "
                           "(nothing in its ML Metadata)")
    if version is None:
        chosen = models[-1]
    else:
        found = [m for m in models if m["version"] == str(version)]
        if not found:
            raise LineageError(f"pipeline {pipeline_name} pushed no model version {version!r}; "
                               f"pushed: {', '.join(m['version'] for m in models)}")
        chosen = found[-1]

    w = _Walker(store, pipeline_name)
    pushed_id = chosen["artifact_id"]
    w.note_artifact(pushed_id)
    steps: List[Step] = []

    # Pusher -> Model, ModelBlessing
    pusher_eid = w.producer(pushed_id)
    if pusher_eid is None:
        raise LineageError(f"no Pusher execution produced pushed model {chosen['version']}")
    pusher = w.step(pusher_eid)
    pusher.facts = {"version": chosen["version"], "path": chosen["path"],
                    "path_exists": bool(chosen["path"]) and os.path.isdir(chosen["path"])}
    model_id = (pusher.inputs.get("model") or [None])[0]
    blessing_id = (pusher.inputs.get("model_blessing") or [None])[0]
    infra_id = (pusher.inputs.get("infra_blessing") or [None])[0]
    pp = w.artifact(pushed_id).custom_properties
    for key in ("push_reason", "sha256"):
        if key in pp:
            pusher.facts[key] = pp[key].string_value

    # InfraValidator (tfxkit's RegistryPusher reads its blessing)
    infra = None
    if infra_id is not None and w.producer(infra_id) is not None:
        infra = w.step(w.producer(infra_id))
        ip = _props(w.artifact(infra_id))
        infra.facts = {"blessed": bool(ip["blessed"]) if "blessed" in ip else None,
                       "reason": ip.get("reason"), "latency_p99_ms": ip.get("latency_p99_ms"),
                       "max_latency_ms": ip.get("max_latency_ms")}

    # Trainer
    trainer = None
    if model_id is not None and w.producer(model_id) is not None:
        trainer = w.step(w.producer(model_id))
        props = w.exec_props(trainer.execution_id)
        custom = props.get("custom_config") or {}
        trainer.facts = {
            "model_uri": w.artifact(model_id).uri,
            "hyperparameters": custom.get("model") if isinstance(custom, dict) else custom,
            "task": custom.get("task") if isinstance(custom, dict) else None,
            "code": custom.get("code") if isinstance(custom, dict) else None,
            "train_args": props.get("train_args"), "eval_args": props.get("eval_args"),
            "run_fn": props.get("run_fn")}

    # Evaluator (produced the blessing)
    evaluator = None
    if blessing_id is not None and w.producer(blessing_id) is not None:
        evaluator = w.step(w.producer(blessing_id))
        blessing = w.artifact(blessing_id)
        bp = blessing.custom_properties
        evaluation_id = (evaluator.outputs.get("evaluation") or [None])[0]
        baseline_ids = evaluator.inputs.get("baseline_model") or []
        facts: Dict[str, Any] = {
            "blessed": bool(bp["blessed"].int_value) if "blessed" in bp else None,
            "baseline_model_id": baseline_ids[0] if baseline_ids else None,
            "baseline_model_uri": w.artifact(baseline_ids[0]).uri if baseline_ids else None,
            "evaluation_uri": w.artifact(evaluation_id).uri if evaluation_id else None,
            "metrics": [], "reasons": []}
        if evaluation_id is not None:
            eval_config = w.exec_props(evaluator.execution_id).get("eval_config")
            reader = metrics_reader or read_metrics
            try:
                facts.update(reader(w.artifact(evaluation_id).uri,
                                    eval_config if isinstance(eval_config, str)
                                    else json.dumps(eval_config)))
            except Exception as e:  # pylint: disable=broad-except
                facts["metrics_error"] = f"{type(e).__name__}: {e}"
        evaluator.facts = facts

    # Transform (via the Trainer's transform graph)
    transform = None
    if trainer is not None:
        graph_id = (trainer.inputs.get("transform_graph") or [None])[0]
        if graph_id is not None and w.producer(graph_id) is not None:
            transform = w.step(w.producer(graph_id))
            tprops = w.exec_props(transform.execution_id)
            tcustom = tprops.get("custom_config") or {}
            transform.facts = {
                "transform_graph_uri": w.artifact(graph_id).uri,
                "preprocessing_fn": tprops.get("preprocessing_fn"),
                "features": tcustom.get("features") if isinstance(tcustom, dict) else None}

    # Examples -> ExampleGen, StatisticsGen, SchemaGen/Importer, ExampleValidator, gate
    example_ids: List[int] = []
    if transform is not None:
        example_ids = transform.inputs.get("examples") or []
    elif evaluator is not None:
        example_ids = evaluator.inputs.get("examples") or []
    schema_id = None
    for src in (transform, trainer, evaluator):
        if src is not None and src.inputs.get("schema"):
            schema_id = src.inputs["schema"][0]
            break

    schema_step = None
    if schema_id is not None and w.producer(schema_id) is not None:
        schema_step = w.step(w.producer(schema_id))
        schema_step.facts = {"schema_uri": w.artifact(schema_id).uri,
                             "features": _schema_features(w.artifact(schema_id).uri)}

    gens, stats_steps, validators, gates = [], [], [], []
    for ex_id in example_ids:
        ex = w.artifact(ex_id)
        p = {k: _json_or(v) for k, v in _props(ex).items()}
        gen_eid = w.producer(ex_id)
        if gen_eid is None:
            continue
        gen = w.step(gen_eid)
        gprops = w.exec_props(gen_eid)
        rows = {k[len("rows_"):]: v for k, v in p.items()
                if k.startswith("rows_") and k != "rows_rejected"}
        gen.facts = {"examples_id": ex_id, "examples_uri": ex.uri, "span": p.get("span"),
                     "version": p.get("version"), "rows": rows,
                     "rows_total": sum(v for v in rows.values() if isinstance(v, int)),
                     "rows_rejected": p.get("rows_rejected"),
                     "rejections": p.get("rejections"),
                     "input_files": p.get("input_files"),
                     "input_base": gprops.get("input_base"),
                     "fingerprint": p.get("input_fingerprint") or gprops.get("input_fingerprint")}
        gens.append(gen)
        stats_eid = w.consumers(ex_id, "StatisticsGen")
        if stats_eid is None:
            continue
        st = w.step(stats_eid)
        stats_id = (st.outputs.get("statistics") or [None])[0]
        st.facts = {"examples_id": ex_id,
                    "statistics_uri": w.artifact(stats_id).uri if stats_id else None}
        stats_steps.append(st)
        if stats_id is None:
            continue
        val_eid = w.consumers(stats_id, "ExampleValidator", also_consumed=schema_id)
        if val_eid is None:
            continue
        val = w.step(val_eid)
        anomalies_id = (val.outputs.get("anomalies") or [None])[0]
        lines = _anomaly_lines(w.artifact(anomalies_id).uri) if anomalies_id else None
        val.facts = {"examples_id": ex_id, "anomalies": lines,
                     "has_anomalies": None if lines is None else bool(lines),
                     "anomalies_uri": w.artifact(anomalies_id).uri if anomalies_id else None}
        validators.append(val)
        gate_eid = w.consumers(anomalies_id, "ValidationGate") if anomalies_id else None
        if gate_eid is not None:
            g = w.step(gate_eid)
            result_id = (g.outputs.get("result") or [None])[0]
            rp = w.artifact(result_id).custom_properties if result_id else {}
            g.facts = {"passed": bool(rp["passed"].int_value) if "passed" in rp else None,
                       "anomalies": rp["anomalies"].int_value if "anomalies" in rp else None,
                       "on_anomalies": w.exec_props(gate_eid).get("on_anomalies")}
            gates.append(g)

    for group in (gens, stats_steps, [schema_step], validators, gates, [transform], [trainer],
                  [evaluator], [infra], [pusher]):
        steps += [s for s in group if s is not None]
    run = w.runs.get(pusher.run_id or "", {})
    return Lineage(pipeline=pipeline_name, model_version=chosen["version"],
                   pushed_path=chosen["path"], run_id=pusher.run_id,
                   config_hash=run.get(CONFIG_HASH), git_commit=run.get(GIT_COMMIT),
                   steps=steps, artifacts=w.lineage_artifacts, runs=w.runs)


def _schema_features(uri: str) -> Optional[int]:
    path = os.path.join(uri, "schema.pbtxt")
    if not os.path.isfile(path):
        return None
    try:
        from google.protobuf import text_format
        from tensorflow_metadata.proto.v0 import schema_pb2

        schema = text_format.Parse(open(path).read(), schema_pb2.Schema())
        return len(schema.feature)
    except Exception:  # pylint: disable=broad-except
        return None


def _anomaly_lines(uri: str) -> Optional[List[str]]:
    """``split: feature: reason`` per anomaly in an ExampleAnomalies artifact (None if
    unreadable)."""
    from tfxkit.components.validation_gate.gate import describe_anomalies

    files = sorted(glob.glob(os.path.join(uri, "Split-*", "*")))
    if not files:
        return None
    try:
        from tensorflow_metadata.proto.v0 import anomalies_pb2

        by_split = {}
        for f in files:
            split = os.path.basename(os.path.dirname(f))[len("Split-"):]
            with open(f, "rb") as fh:
                by_split[split] = anomalies_pb2.Anomalies.FromString(fh.read())
        return describe_anomalies(by_split)
    except Exception:  # pylint: disable=broad-except
        return None


def thresholds_from_eval_config(eval_config_json: str) -> Dict[str, Any]:
    """The gated metrics of a recorded EvalConfig, as ``pipelines.metrics.Metric`` by
    result key (what the run was held to, whatever the config says now)."""
    from google.protobuf import json_format

    from tfxkit.pipelines import metrics as m
    from tfxkit.pipelines.compat import tfma_config

    by_class = {cls: (key, higher) for (cls, key, higher) in m._KNOWN.values()}  # pylint: disable=protected-access
    ec = json_format.Parse(eval_config_json, tfma_config().EvalConfig(), ignore_unknown_fields=True)
    table = {}

    def bounds(t):
        vt, ct = t.value_threshold, t.change_threshold
        return dict(
            lower_bound=vt.lower_bound.value if vt.HasField("lower_bound") else None,
            upper_bound=vt.upper_bound.value if vt.HasField("upper_bound") else None,
            absolute_change=ct.absolute.value if ct.HasField("absolute") else None,
            relative_change=ct.relative.value if ct.HasField("relative") else None)

    for spec in ec.metrics_specs:
        for mc in spec.metrics:
            if mc.class_name not in by_class or not (
                    mc.HasField("threshold") or mc.per_slice_thresholds):
                continue
            key, higher = by_class[mc.class_name]
            if mc.HasField("threshold"):
                table[key] = m.Metric(mc.class_name, key, higher, **bounds(mc.threshold))
                continue
            # per-slice thresholds: the whole split's (an empty SlicingSpec) and one
            # feature's values each (``eval.metrics[].slices``)
            metric = m.Metric(mc.class_name, key, higher)
            for pst in mc.per_slice_thresholds:
                if any(not s.feature_keys and not s.feature_values for s in pst.slicing_specs):
                    metric = m.Metric(mc.class_name, key, higher, **bounds(pst.threshold),
                                      slices=metric.slices)
                else:
                    for s in pst.slicing_specs:
                        if len(s.feature_keys) == 1:
                            metric = metric.with_slice(s.feature_keys[0], **bounds(pst.threshold))
            table[key] = metric
    return table


def read_metrics(evaluation_uri: str, eval_config_json: Optional[str]) -> Dict[str, Any]:
    """Metrics (value, threshold, baseline, diff, ok) and failure reasons of an
    evaluation, through the run summary's reader, held to the recorded thresholds."""
    from tfxkit.infra.run.summary import evaluation_summary

    table = thresholds_from_eval_config(eval_config_json) if eval_config_json else {}
    s = evaluation_summary(evaluation_uri, None, None, table=table)
    return {"metrics": [asdict(m) for m in s.metrics], "reasons": s.reasons,
            "has_baseline": s.has_baseline}


# -- rendering ----------------------------------------------------------------------

def _short(v: Any, n: int = 60) -> str:
    t = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return t if len(t) <= n else t[: n - 3] + "..."


def _fmt(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _hyper(h: Any) -> str:
    if not isinstance(h, dict):
        return _short(h)
    keep = ("kind", "hidden_units", "optimizer", "learning_rate", "batch_size", "epochs", "steps",
            "dropout", "early_stopping", "module")
    return ", ".join(f"{k}={_short(h[k], 30)}" for k in keep if h.get(k) is not None)


def step_lines(s: Step) -> List[str]:
    """The key facts of a step, a few short lines."""
    f = s.facts
    c = s.component
    if c.startswith("ExampleGen"):
        files = f.get("input_files") or []
        lines = [f"span {f.get('span')}" + (f", version {f['version']}" if f.get("version") else ""),
                 "rows " + ", ".join(f"{k} {v}" for k, v in sorted(f.get("rows", {}).items()))
                 + (f", rejected {f['rows_rejected']}" if f.get("rows_rejected") else "")]
        if isinstance(files, list):
            lines += [f"file {os.path.basename(x)}" for x in files[:3]]
            if len(files) > 3:
                lines.append(f"... {len(files) - 3} more files")
        if f.get("fingerprint"):
            lines.append(f"fingerprint {_short(str(f['fingerprint']).rsplit(':', 1)[-1], 20)}")
        return lines
    if c.startswith("StatisticsGen"):
        return [f"statistics {_short(f.get('statistics_uri') or '', 50)}"]
    if c.startswith("SchemaGen") or c.startswith("SchemaImporter"):
        return [f"{f.get('features')} features" if f.get("features") is not None else "schema",
                _short(f.get("schema_uri") or "", 50)]
    if c.startswith("ExampleValidator"):
        a = f.get("anomalies")
        if a is None:
            return ["anomalies: unreadable"]
        return ["no anomalies"] if not a else [f"{len(a)} anomalies"] + [_short(x, 56) for x in a[:3]]
    if c.startswith("ValidationGate"):
        return [f"passed={f.get('passed')} anomalies={f.get('anomalies')} "
                f"on_anomalies={f.get('on_anomalies')}"]
    if c.startswith("Transform"):
        feats = f.get("features") or {}
        return [f"graph {_short(f.get('transform_graph_uri') or '', 50)}",
                f"dense {len(feats.get('dense') or [])}, vocab {len(feats.get('vocab') or {})}"
                if isinstance(feats, dict) else ""]
    if c.startswith("Trainer"):
        return [_hyper(f.get("hyperparameters")),
                f"model {_short(f.get('model_uri') or '', 50)}"]
    if c.startswith("Evaluator"):
        lines = [f"blessed={f.get('blessed')}"
                 + ("" if f.get("baseline_model_id") else " (no baseline)")]
        for m in f.get("metrics", []):
            base = "" if m.get("baseline") is None else f" base {_fmt(m['baseline'])}"
            ok = {True: "ok", False: "FAIL", None: ""}[m.get("ok")]
            lines.append(f"{m['name']} {_fmt(m.get('value'))} [{m.get('threshold')}]{base} {ok}")
        if f.get("metrics_error"):
            lines.append(f"metrics unreadable: {_short(f['metrics_error'], 40)}")
        return lines
    if c.startswith("InfraValidator"):
        return [f"blessed={f.get('blessed')}", _short(f.get("reason") or "", 56)]
    if c.startswith("Pusher"):
        return [f"version {f.get('version')}", _short(f.get("path") or "", 56)]
    return []


def render_text(lin: Lineage) -> List[str]:
    lines = [f"Model {lin.pipeline} version {lin.model_version}  ->  {lin.pushed_path}",
             f"  pushed by run {lin.run_id}",
             f"  config hash {lin.config_hash or 'not recorded'}   git commit "
             f"{lin.git_commit or 'not recorded'}"]
    for s in lin.steps:
        state = "" if s.state in (None, "COMPLETE") else f" ({s.state.lower()})"
        took = "" if s.elapsed_s is None else f", {s.elapsed_s:.1f} s"
        run = "" if s.run_id in (None, lin.run_id) else f", run {s.run_id}"
        lines.append(f"{s.component}  execution {s.execution_id}{state}{took}{run}")
        for line in step_lines(s):
            if line:
                lines.append(f"    {line}")
        if s.component.startswith("Evaluator"):
            for r in s.facts.get("reasons", []):
                lines.append(f"    why: {r}")
    other = {r: p for r, p in lin.runs.items() if r != lin.run_id}
    for r, p in sorted(other.items()):
        lines.append(f"run {r}: config hash {p.get(CONFIG_HASH, 'not recorded')}, "
                     f"git commit {p.get(GIT_COMMIT, 'not recorded')}")
    return lines


def to_json(lin: Lineage) -> str:
    return json.dumps(lin.to_dict(), indent=1, sort_keys=True, default=str)


_COLORS = {"ExampleGen": "#dbeafe", "StatisticsGen": "#e0f2fe", "SchemaGen": "#e0f2fe",
           "SchemaImporter": "#e0f2fe", "ExampleValidator": "#fef9c3",
           "ValidationGate": "#fef9c3", "Transform": "#ede9fe", "Trainer": "#dcfce7",
           "Evaluator": "#ffedd5", "Pusher": "#fce7f3"}


def render_svg(lin: Lineage) -> str:
    """A left-to-right graph: one box per execution (its key facts), arrows along the
    artifacts that connect them; a header with the version, config hash and commit."""
    steps = lin.steps
    producer: Dict[int, int] = {}
    for i, s in enumerate(steps):
        for ids in s.outputs.values():
            for aid in ids:
                producer.setdefault(aid, i)
    edges = set()
    for j, s in enumerate(steps):
        for key, ids in s.inputs.items():
            for aid in ids:
                i = producer.get(aid)
                if i is not None and i != j:
                    edges.add((i, j, key))
    level = [0] * len(steps)
    for _ in range(len(steps)):  # longest path; steps are few
        for i, j, _k in edges:
            level[j] = max(level[j], level[i] + 1)
    char_w, line_h, pad, box_w, gap_x, gap_y = 6.6, 15, 10, 300, 60, 24
    texts = [[s.component + f"  #{s.execution_id}"] + [x for x in step_lines(s) if x]
             for s in steps]
    heights = [pad * 2 + line_h * len(t) for t in texts]
    cols: Dict[int, List[int]] = {}
    for i, lv in enumerate(level):
        cols.setdefault(lv, []).append(i)
    top = 70
    pos: Dict[int, Tuple[float, float]] = {}
    for lv, idx in cols.items():
        y = top
        for i in idx:
            pos[i] = (20 + lv * (box_w + gap_x), y)
            y += heights[i] + gap_y
    width = 40 + (max(cols) + 1 if cols else 1) * (box_w + gap_x)
    height = max([pos[i][1] + heights[i] for i in pos] + [top]) + 30
    e = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace" font-size="11">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#555"/></marker></defs>',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="20" y="24" font-size="14" font-weight="bold">{e(lin.pipeline)} model '
           f'{e(lin.model_version)}</text>',
           f'<text x="20" y="44">pushed to {e(lin.pushed_path or "")} by run {e(lin.run_id or "")}'
           f'</text>',
           f'<text x="20" y="60">config hash {e(lin.config_hash or "not recorded")}   git commit '
           f'{e(lin.git_commit or "not recorded")}</text>']
    for i, j, key in sorted(edges):
        (x1, y1), (x2, y2) = pos[i], pos[j]
        x1, y1 = x1 + box_w, y1 + heights[i] / 2
        y2 = y2 + heights[j] / 2
        mx = (x1 + x2) / 2
        out.append(f'<path d="M {x1:.0f} {y1:.0f} C {mx:.0f} {y1:.0f} {mx:.0f} {y2:.0f} '
                   f'{x2:.0f} {y2:.0f}" fill="none" stroke="#555" marker-end="url(#arrow)"/>')
        out.append(f'<text x="{mx:.0f}" y="{(y1 + y2) / 2 - 3:.0f}" fill="#777" '
                   f'text-anchor="middle" font-size="9">{e(key)}</text>')
    max_chars = int((box_w - 2 * pad) / char_w)
    for i, s in enumerate(steps):
        x, y = pos[i]
        color = _COLORS.get(s.component.split(".")[0], "#f3f4f6")
        out.append(f'<g><title>{e(s.component)} execution {s.execution_id} ({e(s.state or "")}),'
                   f' run {e(s.run_id or "")}</title>')
        out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{box_w}" height="{heights[i]}" rx="6" '
                   f'fill="{color}" stroke="#333"/>')
        for k, t in enumerate(texts[i]):
            t = t if len(t) <= max_chars else t[: max_chars - 3] + "..."
            weight = ' font-weight="bold" font-size="12"' if k == 0 else ""
            out.append(f'<text x="{x + pad:.0f}" y="{y + pad + 11 + k * line_h:.0f}"{weight}>'
                       f'{e(t)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
