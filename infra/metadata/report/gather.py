"""Everything the run report shows, read from ML Metadata and the run's artifacts into
plain dataclasses (no HTML, no plotting here).

``gather(store, pipeline_name, run_id)`` finds the run's ``pipeline_run`` context, its
executions (ran, cached, failed; timing), and follows their output events to the
artifacts: ExampleGen's row counts, StatisticsGen's ``Split-*/FeatureStats.pb``,
ExampleValidator's ``Split-*/SchemaDiff.pb``, the schema, the Trainer's
``history.json`` (model run folder), the Evaluator's TFMA output and blessing, the
Pusher's push, and for batch-inference runs the BatchInferrer's PredictionLogs. The
previous run of the same pipeline with different data (or different predictions) is
read the same way, for drift.
"""
from __future__ import annotations

import glob
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


class ReportError(LookupError):
    """No such pipeline or run in ML Metadata."""


# -- the result ---------------------------------------------------------------------

@dataclass
class ComponentRun:
    node_id: str
    state: str                       # ran | cached | failed | canceled | resolved | running | not run
    execution_id: Optional[int] = None
    start: Optional[float] = None    # seconds since the epoch (MLMD create time)
    end: Optional[float] = None      # MLMD last update time
    elapsed: Optional[float] = None  # the runner's measure if known, else end - start
    error: Optional[str] = None
    inputs: Dict[str, List[int]] = field(default_factory=dict)
    outputs: Dict[str, List[int]] = field(default_factory=dict)


@dataclass
class FeatureSummary:
    name: str
    kind: str                        # numeric | categorical | other
    type: str                        # INT | FLOAT | STRING | BYTES | STRUCT
    present: int = 0
    missing: int = 0
    mean: Optional[float] = None
    std: Optional[float] = None
    min: Optional[float] = None
    median: Optional[float] = None
    max: Optional[float] = None
    zeros: Optional[int] = None
    unique: Optional[int] = None
    top: List[Tuple[str, float]] = field(default_factory=list)        # value, count
    histogram: List[Tuple[float, float, float]] = field(default_factory=list)  # lo, hi, n
    previous: Optional["FeatureSummary"] = None
    drift: Optional[float] = None    # JS divergence (numeric) or L-infinity (categorical)

    @property
    def total(self) -> int:
        return self.present + self.missing

    @property
    def missing_pct(self) -> float:
        return 100.0 * self.missing / self.total if self.total else 0.0

    @property
    def drift_measure(self) -> str:
        return "Jensen-Shannon" if self.kind == "numeric" else "L-infinity"


@dataclass
class SplitStats:
    split: str
    num_examples: int
    features: List[FeatureSummary] = field(default_factory=list)

    def feature(self, name: str) -> Optional[FeatureSummary]:
        return next((f for f in self.features if f.name == name), None)


@dataclass
class Anomaly:
    split: str
    feature: str
    severity: str
    short: str
    description: str


@dataclass
class SchemaFeature:
    name: str
    type: str
    presence: str
    valency: str
    domain: str


@dataclass
class SliceMetric:
    slice: str
    metric: str
    value: Optional[float]
    baseline: Optional[float] = None
    diff: Optional[float] = None
    threshold: str = "not gated"
    gated: bool = False
    ok: Optional[bool] = None        # None: not gated
    example_count: Optional[float] = None


@dataclass
class Evaluation:
    blessed: Optional[bool] = None
    has_baseline: bool = False
    baseline_uri: Optional[str] = None
    metrics: List[SliceMetric] = field(default_factory=list)   # every slice, every metric
    reasons: List[str] = field(default_factory=list)
    evaluation_uri: Optional[str] = None
    error: Optional[str] = None

    def metric(self, name: str, slice_name: str = "Overall") -> Optional[SliceMetric]:
        return next((m for m in self.metrics if m.metric == name and m.slice == slice_name),
                    None)

    @property
    def gated_names(self) -> List[str]:
        return sorted({m.metric for m in self.metrics if m.gated})

    @property
    def slices(self) -> List[str]:
        seen: List[str] = []
        for m in self.metrics:
            if m.slice not in seen:
                seen.append(m.slice)
        return sorted(seen, key=lambda s: (s != "Overall", s))


@dataclass
class Training:
    history: Dict[str, List[float]] = field(default_factory=dict)
    hyperparameters: Dict[str, Any] = field(default_factory=dict)
    model_uri: Optional[str] = None
    state: Optional[str] = None

    @property
    def epochs(self) -> int:
        return max((len(v) for v in self.history.values()), default=0)


@dataclass
class PredictionOutput:
    """One output of one model in a batch-inference run, with the previous run's."""
    model: str                       # node suffix ("" for the use case's own model)
    output: str                      # e.g. class, prediction, probabilities
    kind: str                        # categorical | numeric
    values: List[Any] = field(default_factory=list)
    previous: Optional[List[Any]] = None
    drift: Optional[float] = None


@dataclass
class Predictions:
    rows: Optional[int] = None
    model_version: Optional[str] = None
    store: Optional[str] = None
    previous_run: Optional[str] = None
    outputs: List[PredictionOutput] = field(default_factory=list)
    error: Optional[str] = None


@dataclass
class Report:
    pipeline: str
    run_id: str
    kind: str                                   # training | inference
    run_properties: Dict[str, str] = field(default_factory=dict)
    components: List[ComponentRun] = field(default_factory=list)
    failed: Optional[ComponentRun] = None
    # succeeded | failed | canceled | running (None: derived from the components, run_status)
    status: Optional[str] = None
    status_reason: Optional[str] = None         # why failed / canceled / still running
    rows: Dict[str, int] = field(default_factory=dict)
    rows_rejected: Optional[int] = None
    span: Optional[int] = None
    input_files: List[str] = field(default_factory=list)
    stats: List[SplitStats] = field(default_factory=list)
    previous_run: Optional[str] = None          # the run the data is compared with
    previous_same_data: bool = False            # an earlier run read the very same data
    anomalies: List[Anomaly] = field(default_factory=list)
    anomalies_read: bool = False
    gate: Dict[str, Any] = field(default_factory=dict)
    schema_text: Optional[str] = None
    schema: List[SchemaFeature] = field(default_factory=list)
    schema_source: Optional[str] = None
    training: Optional[Training] = None
    evaluation: Optional[Evaluation] = None
    pushed: Optional[bool] = None
    pushed_version: Optional[str] = None
    pushed_path: Optional[str] = None
    push_reason: Optional[str] = None           # RegistryPusher's reason (also when not pushed)
    infra_blessed: Optional[bool] = None        # InfraValidator: the candidate served real examples
    infra_reason: Optional[str] = None
    lineage_svg: Optional[str] = None           # from infra.metadata.lineage, when a model was pushed
    edges: List[Tuple[str, str, str]] = field(default_factory=list)  # from, to, artifact key
    predictions: Optional[Predictions] = None
    notes: List[str] = field(default_factory=list)

    def component(self, node_id: str) -> Optional[ComponentRun]:
        return next((c for c in self.components if c.node_id == node_id), None)

    @property
    def stopped(self) -> Optional[ComponentRun]:
        """The component the run failed or was canceled in (None if none)."""
        return self.failed or next((c for c in self.components
                                    if c.state in ("failed", "canceled")), None)

    @property
    def trained(self) -> bool:
        c = self.component("Trainer")
        return c is not None and c.state in ("ran", "cached")


# -- MLMD helpers -------------------------------------------------------------------

def _value(v) -> Any:
    which = v.WhichOneof("value")
    return None if which is None else getattr(v, which)


def _props(msg) -> Dict[str, Any]:
    out = {k: _value(v) for k, v in msg.properties.items()}
    out.update({k: _value(v) for k, v in msg.custom_properties.items()})
    return out


def _json_or(v: Any) -> Any:
    if isinstance(v, str) and v.lstrip().startswith(("{", "[")):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def _result_message(v: Any) -> Optional[str]:
    """The message of TFX's ``__execution_result__`` (JSON of an ExecutionResult)."""
    if not v:
        return None
    if isinstance(v, str) and v.lstrip().startswith("{"):
        try:
            d = json.loads(v)
        except ValueError:
            return v
        return d.get("resultMessage") or d.get("result_message") or v
    return str(v)


def run_status(components: List[ComponentRun], run_props: Optional[Dict[str, Any]] = None
               ) -> Tuple[str, Optional[str]]:
    """(status, reason) of a run: ``failed`` or ``canceled`` when a component was, or
    when its runner recorded so (or is gone: infra.run.state); ``running`` while a
    component is still running (or the runner says so and is alive); ``succeeded`` only
    when none of that holds."""
    from tfxkit.infra.run import state as run_state

    p = dict(run_props or {})
    recorded = run_state.state_of_run(p)
    error = p.get(run_state.RUN_ERROR)
    if recorded == run_state.FAILED and p.get(run_state.RUN_STATE) == run_state.RUNNING:
        error = run_state.gone_reason(p)  # gone, not reconciled yet (a read-only store)
    by_state = {}
    for c in components:
        by_state.setdefault(c.state, c)
    if "failed" in by_state:
        c = by_state["failed"]
        return "failed", f"{c.node_id}: {c.error}" if c.error else f"failed in {c.node_id}"
    if "canceled" in by_state or recorded == run_state.CANCELED:
        c = by_state.get("canceled")
        return "canceled", error or (f"canceled in {c.node_id}" if c else "canceled")
    if recorded == run_state.FAILED:
        return "failed", error or "the run failed"
    if "running" in by_state or recorded == run_state.RUNNING:
        c = by_state.get("running")
        who = (f" (runner {run_state.runner_text(p)})" if p.get(run_state.RUNNER_PID)
               else "")
        return "running", (f"{c.node_id} is still running" if c else
                           "the run has not finished") + who
    return "succeeded", None


def pipeline_runs(store, pipeline_name: str) -> List[Any]:
    """The pipeline's ``pipeline_run`` contexts, oldest first (empty if none)."""
    ctx = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if ctx is None:
        return []
    runs = [c for c in store.get_children_contexts_by_context(ctx.id)]
    if not runs:  # older MLMD records: runs that hold an execution of this pipeline
        in_pipeline = {e.id for e in store.get_executions_by_context(ctx.id)}
        runs = [c for c in store.get_contexts_by_type("pipeline_run")
                if any(e.id in in_pipeline for e in store.get_executions_by_context(c.id))]
    return sorted(runs, key=lambda c: (c.create_time_since_epoch, c.id))


def latest_run(store, pipeline_names: List[str]) -> Optional[Tuple[str, str]]:
    """(pipeline, run id) of the newest run among ``pipeline_names``."""
    best = None
    for name in pipeline_names:
        for c in pipeline_runs(store, name):
            key = (c.create_time_since_epoch, c.id)
            if best is None or key > best[0]:
                best = (key, name, c.name)
    return None if best is None else (best[1], best[2])


class _Reader:
    def __init__(self, store, pipeline: str):
        from ml_metadata.proto import metadata_store_pb2 as pb

        self.pb = pb
        self.s = store
        self.pipeline = pipeline
        self.ctypes = {t.id: t.name for t in store.get_context_types()}
        self.etypes = {t.id: t.name for t in store.get_execution_types()}
        self._arts: Dict[int, Any] = {}

    def artifact(self, aid: int):
        if aid not in self._arts:
            [self._arts[aid]] = self.s.get_artifacts_by_id([aid])
        return self._arts[aid]

    def node_of(self, eid: int) -> Optional[str]:
        prefix = self.pipeline + "."
        for c in self.s.get_contexts_by_execution(eid):
            if self.ctypes.get(c.type_id) == "node" and c.name.startswith(prefix):
                return c.name[len(prefix):]
        return None

    def io(self, eid: int) -> Tuple[Dict[str, List[int]], Dict[str, List[int]]]:
        E = self.pb.Event
        ins: Dict[str, List[int]] = {}
        outs: Dict[str, List[int]] = {}
        for ev in self.s.get_events_by_execution_ids([eid]):
            key = next((st.key for st in ev.path.steps if st.key), "")
            if ev.type in (E.INPUT, E.DECLARED_INPUT):
                ins.setdefault(key, []).append(ev.artifact_id)
            elif ev.type in (E.OUTPUT, E.DECLARED_OUTPUT, E.INTERNAL_OUTPUT):
                outs.setdefault(key, []).append(ev.artifact_id)
        return ins, outs

    def components(self, run_ctx) -> List[ComponentRun]:
        from tfxkit.infra.run import state as run_state

        X = self.pb.Execution
        out = []
        run_props = _props(run_ctx)
        gone = run_state.state_of_run(run_props) == run_state.FAILED and \
            run_props.get(run_state.RUN_STATE) == run_state.RUNNING
        for e in sorted(self.s.get_executions_by_context(run_ctx.id),
                        key=lambda e: (e.create_time_since_epoch, e.id)):
            node = self.node_of(e.id)
            if node is None:
                continue
            etype = self.etypes.get(e.type_id, "")
            system = etype.endswith(("Resolver", "Importer")) or "resolver" in etype.lower()
            # an unknown state is not a success either
            state = {X.CACHED: "cached", X.COMPLETE: "ran", X.FAILED: "failed",
                     X.RUNNING: "running", X.NEW: "running", X.CANCELED: "canceled"
                     }.get(e.last_known_state, "failed")
            if system and state == "ran":
                state = "resolved"
            start = e.create_time_since_epoch / 1000 if e.create_time_since_epoch else None
            end = e.last_update_time_since_epoch / 1000 if e.last_update_time_since_epoch else None
            ins, outs = self.io(e.id)
            err = None
            p = _props(e)
            if state == "running" and gone:  # its runner is gone (store not yet marked)
                state, err = "failed", run_state.gone_reason(run_props, node)
            elif state in ("failed", "canceled"):
                err = _result_message(p.get(run_state.EXECUTION_RESULT)) or (
                    "unknown execution state" if e.last_known_state not in
                    (X.FAILED, X.CANCELED) else None)
            out.append(ComponentRun(node, state, e.id, start, end,
                                    (end - start) if start and end else None, err, ins, outs))
        return out

    def exec_props(self, eid: int) -> Dict[str, Any]:
        [e] = self.s.get_executions_by_id([eid])
        return {k: _json_or(v) for k, v in _props(e).items()}

    def out_artifact(self, comp: Optional[ComponentRun], key: str):
        if comp is None or not comp.outputs.get(key):
            return None
        return self.artifact(comp.outputs[key][0])

    def run_components(self, runs) -> List[Tuple[Any, List[ComponentRun]]]:
        return [(r, self.components(r)) for r in runs]


def _comp(comps: List[ComponentRun], prefix: str) -> Optional[ComponentRun]:
    return next((c for c in comps if c.node_id == prefix), None) or \
        next((c for c in comps if c.node_id.startswith(prefix)), None)


# -- artifacts ------------------------------------------------------------------------

_TYPES = {0: "INT", 1: "FLOAT", 2: "STRING", 3: "BYTES", 4: "STRUCT"}


def _feature_summary(f) -> FeatureSummary:
    name = ".".join(f.path.step) if f.path.step else f.name
    which = f.WhichOneof("stats")
    fs = FeatureSummary(name=name, kind="other", type=_TYPES.get(f.type, str(f.type)))
    if which == "num_stats":
        n = f.num_stats
        c = n.common_stats
        fs.kind = "numeric"
        fs.present, fs.missing = int(c.num_non_missing), int(c.num_missing)
        fs.mean, fs.std, fs.min, fs.median, fs.max = n.mean, n.std_dev, n.min, n.median, n.max
        fs.zeros = int(n.num_zeros)
        for h in n.histograms:
            if h.type == h.STANDARD:
                fs.histogram = [(b.low_value, b.high_value, b.sample_count) for b in h.buckets]
                break
    elif which in ("string_stats", "bytes_stats"):
        s = getattr(f, which)
        c = s.common_stats
        fs.kind = "categorical" if which == "string_stats" else "other"
        fs.present, fs.missing = int(c.num_non_missing), int(c.num_missing)
        fs.unique = int(s.unique)
        if which == "string_stats":
            if s.rank_histogram.buckets:
                fs.top = [(b.label, b.sample_count) for b in s.rank_histogram.buckets]
            else:
                fs.top = [(t.value, t.frequency) for t in s.top_values]
    elif which == "struct_stats":
        c = f.struct_stats.common_stats
        fs.present, fs.missing = int(c.num_non_missing), int(c.num_missing)
    return fs


def read_statistics(uri: str) -> List[SplitStats]:
    """StatisticsGen's output (``Split-*/FeatureStats.pb``), one SplitStats per split,
    ``train`` first."""
    from tensorflow_metadata.proto.v0 import statistics_pb2

    out = []
    for d in sorted(glob.glob(os.path.join(uri, "Split-*"))):
        split = os.path.basename(d)[len("Split-"):]
        path = os.path.join(d, "FeatureStats.pb")
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            lst = statistics_pb2.DatasetFeatureStatisticsList.FromString(f.read())
        if not lst.datasets:
            continue
        ds = lst.datasets[0]
        out.append(SplitStats(split, int(ds.num_examples),
                              sorted((_feature_summary(x) for x in ds.features),
                                     key=lambda x: x.name)))
    return sorted(out, key=lambda s: (s.split != "train", s.split))


def _hist_mass(hist: List[Tuple[float, float, float]], edges: List[float]) -> List[float]:
    """The histogram's counts spread uniformly within buckets, over ``edges``' intervals."""
    mass = [0.0] * (len(edges) - 1)
    for lo, hi, n in hist:
        if n <= 0:
            continue
        if hi <= lo:  # a point mass
            for i in range(len(mass)):
                if edges[i] <= lo <= edges[i + 1]:
                    mass[i] += n
                    break
            continue
        for i in range(len(mass)):
            a, b = max(lo, edges[i]), min(hi, edges[i + 1])
            if b > a:
                mass[i] += n * (b - a) / (hi - lo)
    return mass


def _js(p: List[float], q: List[float]) -> Optional[float]:
    sp, sq = sum(p), sum(q)
    if sp <= 0 or sq <= 0:
        return None
    p = [x / sp for x in p]
    q = [x / sq for x in q]

    def kl(a, b):
        return sum(x * math.log2(x / y) for x, y in zip(a, b) if x > 0 and y > 0)

    m = [(x + y) / 2 for x, y in zip(p, q)]
    return max(0.0, 0.5 * kl(p, m) + 0.5 * kl(q, m))


def numeric_drift(cur: List[Tuple[float, float, float]],
                  prev: List[Tuple[float, float, float]]) -> Optional[float]:
    """Jensen-Shannon divergence (base 2, 0..1) of two histograms on the union of their
    bucket edges (TFDV's drift measure for numeric features)."""
    if not cur or not prev:
        return None
    edges = sorted({e for lo, hi, _ in cur + prev for e in (lo, hi)})
    if len(edges) < 2:
        return 0.0
    return _js(_hist_mass(cur, edges), _hist_mass(prev, edges))


def categorical_drift(cur: List[Tuple[str, float]], prev: List[Tuple[str, float]]
                      ) -> Optional[float]:
    """L-infinity distance of the value frequencies (TFDV's measure for categorical)."""
    sc, sp = sum(n for _, n in cur), sum(n for _, n in prev)
    if sc <= 0 or sp <= 0:
        return None
    a = {k: n / sc for k, n in cur}
    b = {k: n / sp for k, n in prev}
    return max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def attach_previous(current: List[SplitStats], previous: List[SplitStats]) -> None:
    for split in current:
        old = next((p for p in previous if p.split == split.split), None)
        if old is None:
            continue
        for f in split.features:
            pf = old.feature(f.name)
            if pf is None or pf.kind != f.kind:
                continue
            f.previous = pf
            if f.kind == "numeric":
                f.drift = numeric_drift(f.histogram, pf.histogram)
            elif f.kind == "categorical":
                f.drift = categorical_drift(f.top, pf.top)


def read_anomalies(uri: str) -> List[Anomaly]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    out = []
    for path in sorted(glob.glob(os.path.join(uri, "Split-*", "SchemaDiff.pb"))):
        split = os.path.basename(os.path.dirname(path))[len("Split-"):]
        with open(path, "rb") as f:
            a = anomalies_pb2.Anomalies.FromString(f.read())
        for feat in sorted(a.anomaly_info):
            info = a.anomaly_info[feat]
            out.append(Anomaly(split, feat, anomalies_pb2.AnomalyInfo.Severity.Name(info.severity),
                               info.short_description or info.description,
                               info.description))
        if a.HasField("dataset_anomaly_info"):
            info = a.dataset_anomaly_info
            out.append(Anomaly(split, "<dataset>",
                               anomalies_pb2.AnomalyInfo.Severity.Name(info.severity),
                               info.short_description or info.description, info.description))
    return out


def read_schema(uri: str) -> Tuple[Optional[str], List[SchemaFeature]]:
    path = os.path.join(uri, "schema.pbtxt")
    if not os.path.isfile(path):
        return None, []
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    text = open(path).read()
    schema = text_format.Parse(text, schema_pb2.Schema())
    domains = {d.name: list(d.value) for d in schema.string_domain}
    rows = []
    for f in schema.feature:
        presence = ""
        if f.HasField("presence"):
            presence = f"min fraction {f.presence.min_fraction:g}"
            if f.presence.min_count:
                presence += f", min count {f.presence.min_count}"
        valency = ""
        if f.HasField("value_count"):
            vc = f.value_count
            valency = f"{vc.min}" if vc.min == vc.max else f"{vc.min}..{vc.max or 'any'}"
        elif f.HasField("shape"):
            valency = "shape [" + ", ".join(str(d.size) for d in f.shape.dim) + "]"
        domain = ""
        which = f.WhichOneof("domain_info")
        if which == "domain":
            vals = domains.get(f.domain, [])
            domain = ", ".join(vals[:12]) + (f" (+{len(vals) - 12})" if len(vals) > 12 else "")
        elif which == "string_domain":
            vals = list(f.string_domain.value)
            domain = ", ".join(vals[:12])
        elif which == "int_domain":
            domain = f"[{f.int_domain.min}, {f.int_domain.max}]"
        elif which == "float_domain":
            domain = f"[{f.float_domain.min:g}, {f.float_domain.max:g}]"
        elif which:
            domain = which
        rows.append(SchemaFeature(f.name, schema_pb2.FeatureType.Name(f.type), presence,
                                  valency, domain))
    return text, rows


def read_history(model_run_uri: Optional[str], model_uri: Optional[str] = None
                 ) -> Dict[str, List[float]]:
    """The Keras History per epoch that the Trainer's run_fn wrote (history.json)."""
    for d in (model_run_uri, model_uri):
        if d and os.path.isfile(os.path.join(d, "history.json")):
            with open(os.path.join(d, "history.json")) as f:
                return {k: [float(x) for x in v] for k, v in json.load(f).items()}
    return {}


def _slice_name(slice_key) -> str:
    import tensorflow_model_analysis as tfma

    name = tfma.slicer.stringify_slice_key(tfma.slicer.deserialize_slice_key(slice_key))
    return name or "Overall"


def read_evaluation(evaluation_uri: str, thresholds: Dict[str, Any],
                    blessed: Optional[bool]) -> Evaluation:
    """Every metric on every slice (candidate, baseline, diff), held to ``thresholds``
    (pipelines.metrics.Metric by result key), with TFMA's validation failures."""
    import tensorflow_model_analysis as tfma

    from tfxkit.infra.run.summary import _threshold_text

    ev = Evaluation(blessed=blessed, evaluation_uri=evaluation_uri)
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
    for (sl, name), m in by_key.items():
        m.example_count = counts.get(sl)
        if name in thresholds:
            t = thresholds[name]
            feature = sl.split(":", 1)[0] if ":" in sl and "_X_" not in sl else None
            # a feature's values may have thresholds of their own (eval.metrics[].slices)
            t = getattr(t, "slices", {}).get(feature, t)
            m.gated = getattr(t, "own_gated", True)
            m.threshold = _threshold_text(t) if m.gated else "not gated"
            m.ok = (sl, name) not in failed if m.gated else None
    ev.metrics = sorted(by_key.values(), key=lambda m: (m.slice != "Overall", m.slice, m.metric))
    if not thresholds:
        ev.reasons.append("no metric has a threshold in eval.metrics, so TFMA never blesses")
    elif blessed and not failed:
        ev.reasons.append("every gated metric met its threshold on every slice"
                          + (" and against the baseline" if ev.has_baseline
                             else " (no baseline model yet: absolute thresholds only)"))
    return ev


def _prediction_values(uri: str) -> Dict[str, List[Any]]:
    """{output name: one value per example} of an InferenceResult's PredictionLogs
    (single-value outputs as scalars, ``probabilities`` as its maximum)."""
    from tensorflow_serving.apis import prediction_log_pb2

    from tfxkit.components.common.records import iter_records
    from tfxkit.components.prediction_store.rows import tensor_values

    out: Dict[str, List[Any]] = {}
    for path in sorted(glob.glob(os.path.join(uri, "prediction_logs-*"))):
        for raw in iter_records(path):
            pl = prediction_log_pb2.PredictionLog.FromString(raw).predict_log
            for name, t in pl.response.outputs.items():
                vals = tensor_values(t)
                if not vals:
                    continue
                if len(vals) == 1:
                    out.setdefault(name, []).append(vals[0])
                else:
                    out.setdefault(name + " (max)", []).append(max(vals))
    return out


def _prediction_drift(kind: str, cur: List[Any], prev: List[Any]) -> Optional[float]:
    if not cur or not prev:
        return None
    if kind == "categorical":
        from collections import Counter

        return categorical_drift(list(Counter(map(str, cur)).items()),
                                 list(Counter(map(str, prev)).items()))
    lo = min(min(cur), min(prev))
    hi = max(max(cur), max(prev))
    if hi <= lo:
        return 0.0
    width = (hi - lo) / 20
    edges = [lo + i * width for i in range(21)]

    def hist(vals):
        counts = [0.0] * 20
        for v in vals:
            counts[min(int((v - lo) / width), 19)] += 1
        return [(edges[i], edges[i + 1], counts[i]) for i in range(20)]

    return numeric_drift(hist(cur), hist(prev))


# -- the walk -------------------------------------------------------------------------

def gather(store, pipeline_name: str, run_id: Optional[str] = None, run_result=None,
           planned: Optional[List[str]] = None, thresholds: Optional[Dict[str, Any]] = None
           ) -> Report:
    """The report of ``run_id`` (default: the pipeline's latest run).

    ``run_result`` (infra.run.local_runner.RunResult) gives the runner's own elapsed times
    and failure message; ``planned`` the pipeline's component ids, so those a failed
    run never reached show as ``not run``; ``thresholds`` overrides the gated metrics
    (default: the ones recorded in the Evaluator's eval_config)."""
    runs = pipeline_runs(store, pipeline_name)
    if not runs:
        raise ReportError(f"pipeline {pipeline_name} has no run in ML Metadata yet")
    if run_id is None:
        run_ctx = runs[-1]
    else:
        found = [r for r in runs if r.name == run_id]
        if not found:
            raise ReportError(f"pipeline {pipeline_name} has no run {run_id!r}; runs: "
                              + ", ".join(r.name for r in runs[-10:]))
        run_ctx = found[0]
    r = _Reader(store, pipeline_name)
    comps = r.components(run_ctx)
    kind = "inference" if any(c.node_id.startswith("BatchInferrer") for c in comps) or \
        pipeline_name.endswith("-inference") else "training"
    rep = Report(pipeline=pipeline_name, run_id=run_ctx.name, kind=kind,
                 run_properties={k: str(v) for k, v in _props(run_ctx).items()},
                 components=comps)
    if run_result is not None:
        by_id = {n.node_id: n for n in run_result.nodes}
        for c in comps:
            n = by_id.get(c.node_id)
            if n is not None:
                c.elapsed = n.elapsed
                if n.error:
                    c.error = n.error
        for n in run_result.nodes:  # a failure before MLMD recorded an execution
            if n.node_id not in {c.node_id for c in comps} and \
                    n.state in ("failed", "canceled", "reused"):
                rep.components.append(ComponentRun(n.node_id, n.state, n.execution_id,
                                                   elapsed=n.elapsed, error=n.error))
    done = {c.node_id for c in rep.components}
    if planned is None:  # what the runner meant to run (infra.run.state), if recorded
        planned = _json_or(rep.run_properties.get("run_nodes"))
        planned = planned if isinstance(planned, list) else []
    for node in planned:
        if node not in done:
            rep.components.append(ComponentRun(node, "not run"))
    rep.failed = next((c for c in rep.components if c.state == "failed"), None)
    rep.status, rep.status_reason = run_status(rep.components, _props(run_ctx))

    # Edges of the run's DAG, through the artifacts the executions share.
    producer = {}
    for c in comps:
        for key, ids in c.outputs.items():
            for aid in ids:
                producer.setdefault(aid, (c.node_id, key))
    for c in comps:
        for key, ids in c.inputs.items():
            for aid in ids:
                if aid in producer and producer[aid][0] != c.node_id:
                    rep.edges.append((producer[aid][0], c.node_id, key))
    rep.edges = sorted(set(rep.edges))

    # Data: ExampleGen
    gen = _comp(comps, "ExampleGen")
    examples = r.out_artifact(gen, "examples")
    if examples is not None:
        p = {k: _json_or(v) for k, v in _props(examples).items()}
        rep.rows = {k[len("rows_"):]: int(v) for k, v in p.items()
                    if k.startswith("rows_") and k != "rows_rejected" and isinstance(v, int)}
        rep.rows_rejected = p.get("rows_rejected")
        rep.span = p.get("span")
        files = p.get("input_files")
        rep.input_files = files if isinstance(files, list) else []

    # Statistics, compared with the previous run that read different data
    stats_c = _comp(comps, "StatisticsGen")
    stats_art = r.out_artifact(stats_c, "statistics")
    earlier = [x for x in runs if (x.create_time_since_epoch, x.id) <
               (run_ctx.create_time_since_epoch, run_ctx.id)]
    if stats_art is not None:
        try:
            rep.stats = read_statistics(stats_art.uri)
        except Exception as e:  # pylint: disable=broad-except
            rep.notes.append(f"statistics unreadable: {type(e).__name__}: {e}")
        for prev in reversed(earlier):
            pstats = r.out_artifact(_comp(r.components(prev), "StatisticsGen"), "statistics")
            if pstats is None:
                continue
            if pstats.id == stats_art.id:
                rep.previous_same_data = True
                continue
            try:
                attach_previous(rep.stats, read_statistics(pstats.uri))
                rep.previous_run = prev.name
            except Exception as e:  # pylint: disable=broad-except
                rep.notes.append(f"previous statistics unreadable: {e}")
            break
    if not rep.rows and rep.stats:
        rep.rows = {s.split: s.num_examples for s in rep.stats}

    # Anomalies and the gate
    val = _comp(comps, "ExampleValidator")
    anomalies = r.out_artifact(val, "anomalies")
    if anomalies is not None:
        try:
            rep.anomalies = read_anomalies(anomalies.uri)
            rep.anomalies_read = True
        except Exception as e:  # pylint: disable=broad-except
            rep.notes.append(f"anomalies unreadable: {e}")
    gate = _comp(comps, "ValidationGate")
    if gate is not None:
        rep.gate = {"state": gate.state, "error": gate.error}
        res = r.out_artifact(gate, "result")
        if res is not None:
            gp = _props(res)
            rep.gate.update({"passed": bool(gp["passed"]) if "passed" in gp else None,
                             "anomalies": gp.get("anomalies")})
        try:
            rep.gate["on_anomalies"] = r.exec_props(gate.execution_id).get("on_anomalies") \
                if gate.execution_id else None
        except Exception:  # pylint: disable=broad-except
            pass

    # Schema in effect: the one ExampleValidator (else Transform) read
    schema_id = None
    for c in (val, _comp(comps, "Transform"), _comp(comps, "Trainer")):
        if c is not None and c.inputs.get("schema"):
            schema_id = c.inputs["schema"][0]
            break
    if schema_id is None:
        for name in ("SchemaImporter", "SchemaGen"):
            c = _comp(comps, name)
            if c is not None:
                a = r.out_artifact(c, "schema") or r.out_artifact(c, "result")
                if a is not None:
                    schema_id = a.id
                    break
    if schema_id is not None:
        a = r.artifact(schema_id)
        rep.schema_text, rep.schema = read_schema(a.uri)
        rep.schema_source = next((c.node_id for c in comps
                                  if schema_id in sum(c.outputs.values(), [])), None)
        rep.schema_source = (rep.schema_source or "an earlier run") + f" ({a.uri})"

    # Training
    tr = _comp(comps, "Trainer")
    if tr is not None:
        t = Training(state=tr.state)
        model_run = r.out_artifact(tr, "model_run")
        model = r.out_artifact(tr, "model")
        t.model_uri = model.uri if model is not None else None
        t.history = read_history(model_run.uri if model_run is not None else None, t.model_uri)
        try:
            custom = r.exec_props(tr.execution_id).get("custom_config") or {}
            if isinstance(custom, dict):
                t.hyperparameters = {k: v for k, v in (custom.get("model") or {}).items()
                                     if v is not None}
        except Exception:  # pylint: disable=broad-except
            pass
        rep.training = t

    # Evaluation and push
    evc = _comp(comps, "Evaluator")
    if evc is not None and evc.execution_id:
        evaluation = r.out_artifact(evc, "evaluation")
        blessing = r.out_artifact(evc, "blessing")
        blessed = bool(_props(blessing).get("blessed")) if blessing is not None else None
        if evaluation is not None:
            table = thresholds
            if table is None:
                try:
                    from tfxkit.infra.metadata.lineage import thresholds_from_eval_config

                    ec = r.exec_props(evc.execution_id).get("eval_config")
                    table = thresholds_from_eval_config(ec if isinstance(ec, str)
                                                        else json.dumps(ec)) if ec else {}
                except Exception as e:  # pylint: disable=broad-except
                    rep.notes.append(f"thresholds unreadable: {e}")
                    table = {}
            try:
                rep.evaluation = read_evaluation(evaluation.uri, table, blessed)
            except Exception as e:  # pylint: disable=broad-except
                rep.evaluation = Evaluation(blessed=blessed, evaluation_uri=evaluation.uri,
                                            error=f"{type(e).__name__}: {e}")
            base = evc.inputs.get("baseline_model") or []
            if base:
                rep.evaluation.baseline_uri = r.artifact(base[0]).uri
    pu = _comp(comps, "Pusher")
    pushed = r.out_artifact(pu, "pushed_model")
    if pushed is not None:
        pp = _props(pushed)
        rep.pushed = bool(pp.get("pushed"))
        rep.pushed_version = pp.get("pushed_version") or None
        rep.pushed_path = pp.get("pushed_destination") or None
        rep.push_reason = pp.get("push_reason") or None
    iv = _comp(comps, "InfraValidator")
    infra = r.out_artifact(iv, "blessing")
    if infra is not None:
        ip = _props(infra)
        rep.infra_blessed = bool(ip.get("blessed"))
        rep.infra_reason = ip.get("reason") or None
    if rep.pushed and rep.pushed_version:
        try:
            from tfxkit.infra.metadata import lineage as lin

            rep.lineage_svg = lin.render_svg(lin.model_lineage(
                store, pipeline_name, rep.pushed_version))
        except Exception as e:  # pylint: disable=broad-except
            rep.notes.append(f"lineage graph from infra.metadata.lineage unavailable ({e}); "
                             "showing the run's own graph")

    # Batch inference
    if kind == "inference":
        rep.predictions = _gather_predictions(r, comps, earlier)
    return rep


def _gather_predictions(r: _Reader, comps: List[ComponentRun], earlier) -> Predictions:
    preds = Predictions()
    storers = [c for c in comps if c.node_id.startswith("PredictionStorer")]
    for s in storers[:1]:
        a = r.out_artifact(s, "prediction_run")
        if a is not None:
            p = _props(a)
            preds.rows = p.get("rows")
            preds.model_version = p.get("model_version")
            preds.store = p.get("store")
    for inf in [c for c in comps if c.node_id.startswith("BatchInferrer")]:
        a = r.out_artifact(inf, "inference_result")
        if a is None:
            continue
        model = inf.node_id[len("BatchInferrer"):].lstrip("_")
        storer = _comp(comps, "PredictionStorer" + inf.node_id[len("BatchInferrer"):])
        stored = r.out_artifact(storer, "prediction_run") if storer is not None else None
        if stored is not None and _props(stored).get("use_case"):
            model = _props(stored)["use_case"]
        try:
            cur = _prediction_values(a.uri)
        except Exception as e:  # pylint: disable=broad-except
            preds.error = f"{type(e).__name__}: {e}"
            continue
        prev_vals: Dict[str, List[Any]] = {}
        for prev in reversed(earlier):
            pa = r.out_artifact(_comp(r.components(prev), inf.node_id), "inference_result")
            if pa is None or pa.id == a.id:
                continue
            try:
                prev_vals = _prediction_values(pa.uri)
                preds.previous_run = prev.name
            except Exception:  # pylint: disable=broad-except
                prev_vals = {}
            break
        for name in sorted(cur, key=lambda n: (n not in ("class", "prediction"), n)):
            vals = cur[name]
            kind = "categorical" if vals and isinstance(vals[0], str) else "numeric"
            if name == "class_id":
                continue  # the same as class
            po = PredictionOutput(model, name, kind, vals, prev_vals.get(name))
            po.drift = _prediction_drift(kind, vals, po.previous or [])
            preds.outputs.append(po)
    return preds
