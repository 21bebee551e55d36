"""What the run report shows, as plain dataclasses: a ``Report`` of the run's components,
data, statistics, anomalies, schema, training, evaluation, push and predictions
(``gather.py`` fills it, ``render.py`` draws it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


class ReportError(LookupError):
    """No such pipeline or run in ML Metadata."""


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
    ope: Optional[Dict[str, Any]] = None  # a bandit's gate (infra/metadata/ope.py)

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
    # the Trainer's warm_start.json (pipelines/run_fn.py): mode, warm_started, from,
    # from_version, reason; None for a model trained before warm start was recorded
    warm_start: Optional[Dict[str, Any]] = None

    @property
    def epochs(self) -> int:
        return max((len(v) for v in self.history.values()), default=0)


@dataclass
class Tuning:
    """TFX's Tuner of this run (``model.tune:``): every completed trial (``trial_id``,
    ``score``, ``values``), the values the Trainer got, and how trials were scored."""
    trials: List[Dict[str, Any]] = field(default_factory=list)
    best_values: Dict[str, Any] = field(default_factory=dict)
    objective: Optional[str] = None      # the gated metric (eval.metrics)
    keras_metric: Optional[str] = None   # what a trial was scored with (val_...)
    direction: str = "max"
    algorithm: Optional[str] = None
    epochs_per_trial: Optional[int] = None
    state: Optional[str] = None          # ran | cached
    error: Optional[str] = None
    config_first: bool = False           # trial 0 was the config's own settings

    @property
    def best(self) -> Optional[Dict[str, Any]]:
        scored = [t for t in self.trials if t.get("score") is not None]
        if not scored:
            return None
        pick = max if self.direction == "max" else min
        return pick(scored, key=lambda t: t["score"])

    @property
    def default(self) -> Optional[Dict[str, Any]]:
        """Trial 0 when it was the config's own settings (``config_first``)."""
        return next((t for t in self.trials if str(t.get("trial_id", "")).strip("0") == ""),
                    None) if self.config_first else None


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
class MonitoringWindow:
    """One window ``tfxkit monitor`` judged for a model of this run (ML Metadata's
    ``tfxkit.Monitor`` execution and its result JSON)."""
    start: Optional[float]
    end: Optional[float]
    rows: Optional[int] = None
    model_version: Optional[str] = None
    crossed: bool = False
    flagged: List[Dict[str, Any]] = field(default_factory=list)
    features: List[Dict[str, Any]] = field(default_factory=list)     # skew and drift
    predictions: List[Dict[str, Any]] = field(default_factory=list)  # prediction drift
    result_uri: Optional[str] = None
    execution_id: Optional[int] = None
    error: Optional[str] = None      # the result JSON could not be read


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
    tuning: Optional[Tuning] = None             # model.tune: TFX's Tuner
    evaluation: Optional[Evaluation] = None
    pushed: Optional[bool] = None
    pushed_version: Optional[str] = None
    pushed_path: Optional[str] = None
    model_card: Optional[str] = None            # <version>/model_card/model_card.html
    push_reason: Optional[str] = None           # RegistryPusher's reason (also when not pushed)
    infra_blessed: Optional[bool] = None        # InfraValidator: the candidate served real examples
    infra_reason: Optional[str] = None
    lineage_svg: Optional[str] = None           # from infra.metadata.lineage, when a model was pushed
    edges: List[Tuple[str, str, str]] = field(default_factory=list)  # from, to, artifact key
    predictions: Optional[Predictions] = None
    monitoring: List[MonitoringWindow] = field(default_factory=list)  # tfxkit monitor
    monitored_models: List[str] = field(default_factory=list)          # their Model uris
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
