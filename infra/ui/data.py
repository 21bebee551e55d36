"""What the dashboard's pages show, read from ML Metadata (read-only, through
``pipelines/mlmd_reader.py`` and the run report's readers) and the model registry, as
plain values: no HTML here, and every function takes a store or a registry, so the unit
tests call them on records they write themselves.

The run table reads MLMD in bulk (one query per run for its executions, one for all their
events, one for the artifacts it needs), not one report per run: a use case with 200 runs
answers in a fraction of a second. A run's metrics come from its Evaluator's TFMA output,
read once per artifact (``MetricCache``: artifacts never change once written).
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tfxkit.pipelines.mlmd_reader import (Reader, decoded_properties, json_or, pipeline_runs,
                                          properties)
from tfxkit.infra.run.properties import CONFIG_HASH, CONFIG_JSON, EVALUATION_JSON, GIT_COMMIT


class NotFound(LookupError):
    """No such use case, run, model version or artifact (the message says which)."""


# runs -------------------------------------------------------------------------------------
@dataclass
class RunRow:
    run_id: str
    pipeline: str
    state: str                                   # succeeded | failed | canceled | running
    reason: Optional[str] = None
    started: Optional[float] = None              # seconds since the epoch
    ended: Optional[float] = None
    ran: int = 0
    cached: int = 0
    failed: int = 0
    resolved: int = 0                            # resolver nodes (the baseline model), apart
    rows: Optional[int] = None                   # rows ingested (all splits)
    rows_by_split: Dict[str, int] = field(default_factory=dict)
    blessed: Optional[bool] = None
    pushed_version: Optional[str] = None
    config_hash: Optional[str] = None
    git_commit: Optional[str] = None
    evaluation_uri: Optional[str] = None
    eval_config: Optional[str] = None
    components: List[Any] = field(default_factory=list)   # report.model.ComponentRun
    properties: Dict[str, Any] = field(default_factory=dict)
    context_id: Optional[int] = None             # the pipeline_run context
    context_updated: Optional[int] = None        # its last update time (ms)

    @property
    def duration(self) -> Optional[float]:
        if self.started is None or self.ended is None:
            return None
        return max(0.0, self.ended - self.started)


_WANTED = {"ExampleGen": "examples", "Evaluator": "blessing", "Pusher": "pushed_model"}


def _component_name(node: str) -> str:
    return node.split(".")[0]


FINAL_STATES = ("succeeded", "failed", "canceled")


def runs(store, pipeline: str, previous: Optional[Sequence[RunRow]] = None) -> List[RunRow]:
    """The pipeline's runs, oldest first: state (as the run report says it), timing,
    components ran / cached / failed, rows ingested, blessed, pushed version, config hash.

    ``previous``: the rows of an earlier call; a finished run whose ``pipeline_run`` context
    is unchanged since (its last update time) is taken from there, not read again: after a
    new run only that run (and any still running) is read."""
    ctxs = pipeline_runs(store, pipeline)
    if not ctxs:
        return []
    old = {row.context_id: row for row in previous or ()}
    kept: Dict[int, RunRow] = {}
    todo = []
    for c in ctxs:
        row = old.get(c.id)
        if row is not None and row.state in FINAL_STATES and \
                row.context_updated == c.last_update_time_since_epoch:
            kept[c.id] = row
        else:
            todo.append(c)
    fresh = {row.context_id: row for row in _read_runs(store, pipeline, todo)} if todo else {}
    return [kept.get(c.id) or fresh[c.id] for c in ctxs]


def _read_runs(store, pipeline: str, ctxs) -> List[RunRow]:
    from ml_metadata.proto import metadata_store_pb2 as pb

    from tfxkit.infra.metadata.report.components import (execution_state, result_message,
                                                         run_status)
    from tfxkit.infra.metadata.report.model import ComponentRun
    from tfxkit.infra.run import state as run_state

    r = Reader(store, pipeline)
    per_run = []
    eids: List[int] = []
    for c in ctxs:
        execs = sorted(store.get_executions_by_context(c.id),
                       key=lambda e: (e.create_time_since_epoch, e.id))
        for e in execs:
            r._execs.setdefault(e.id, e)  # pylint: disable=protected-access
        per_run.append((c, execs))
        eids += [e.id for e in execs]
    prefix = pipeline + "."
    node_of: Dict[int, str] = {}
    if len(eids) > 60:  # many runs: each node's executions, one query per node
        wanted_ids = set(eids)
        for c in store.get_contexts_by_type("node"):
            if c.name.startswith(prefix):
                for e in store.get_executions_by_context(c.id):
                    if e.id in wanted_ids:
                        node_of[e.id] = c.name[len(prefix):]
    else:  # a few runs (new since the last call): each execution's node
        for eid in eids:
            node = r.node_of(eid)
            if node is not None:
                node_of[eid] = node
    per_run = [(c, [e for e in execs if e.id in node_of]) for c, execs in per_run]
    eids = [e for e in eids if e in node_of]
    E = pb.Event
    outputs: Dict[int, Dict[str, List[int]]] = {}
    inputs: Dict[int, Dict[str, List[int]]] = {}
    for i in range(0, len(eids), 500):
        for ev in store.get_events_by_execution_ids(eids[i:i + 500]):
            key = next((st.key for st in ev.path.steps if st.key), "")
            if ev.type in (E.OUTPUT, E.DECLARED_OUTPUT, E.INTERNAL_OUTPUT):
                outputs.setdefault(ev.execution_id, {}).setdefault(key, []).append(ev.artifact_id)
            elif ev.type in (E.INPUT, E.DECLARED_INPUT):
                inputs.setdefault(ev.execution_id, {}).setdefault(key, []).append(ev.artifact_id)
    wanted: List[int] = []
    for eid, outs in outputs.items():
        comp = _component_name(node_of[eid])
        for key in (_WANTED.get(comp), "evaluation" if comp == "Evaluator" else None):
            if key:
                wanted += outs.get(key, [])
    arts = {}
    wanted = sorted(set(wanted))
    for i in range(0, len(wanted), 500):
        for a in store.get_artifacts_by_id(wanted[i:i + 500]):
            arts[a.id] = a
    out = []
    for c, execs in per_run:
        props = properties(c)
        row = RunRow(run_id=c.name, pipeline=pipeline, state="succeeded",
                     config_hash=props.get(CONFIG_HASH), git_commit=props.get(GIT_COMMIT),
                     properties=props, context_id=c.id,
                     context_updated=c.last_update_time_since_epoch)
        comps = []
        for e in execs:
            node = node_of[e.id]
            st = execution_state(r, e)
            start = e.create_time_since_epoch / 1000 if e.create_time_since_epoch else None
            end = e.last_update_time_since_epoch / 1000 if e.last_update_time_since_epoch else None
            err = result_message(properties(e).get(run_state.EXECUTION_RESULT)) \
                if st in ("failed", "canceled") else None
            comps.append(ComponentRun(node, st, e.id, start, end,
                                      (end - start) if start and end else None, err,
                                      inputs.get(e.id, {}), outputs.get(e.id, {})))
            row.ran += st == "ran"
            row.cached += st == "cached"
            row.resolved += st == "resolved"
            row.failed += st in ("failed", "canceled")
            outs = outputs.get(e.id, {})
            comp = _component_name(node)
            if comp == "ExampleGen" and outs.get("examples") and outs["examples"][0] in arts:
                p = decoded_properties(arts[outs["examples"][0]])
                row.rows_by_split = {k[len("rows_"):]: int(v) for k, v in p.items()
                                     if k.startswith("rows_") and k != "rows_rejected"
                                     and isinstance(v, int)}
                row.rows = sum(row.rows_by_split.values()) if row.rows_by_split else None
            elif comp == "Evaluator":
                if outs.get("blessing") and outs["blessing"][0] in arts:
                    bp = properties(arts[outs["blessing"][0]])
                    if "blessed" in bp:
                        row.blessed = bool(bp["blessed"])
                if outs.get("evaluation") and outs["evaluation"][0] in arts:
                    row.evaluation_uri = arts[outs["evaluation"][0]].uri
                ec = properties(e).get("eval_config")
                row.eval_config = ec if isinstance(ec, str) else (json.dumps(ec) if ec else None)
            elif comp == "Pusher" and outs.get("pushed_model") and \
                    outs["pushed_model"][0] in arts:
                pp = properties(arts[outs["pushed_model"][0]])
                if pp.get("pushed") and pp.get("pushed_version"):
                    row.pushed_version = str(pp["pushed_version"])
        row.components = comps
        row.state, row.reason = run_status(comps, props)
        starts = [x.start for x in comps if x.start]
        ends = [x.end for x in comps if x.end]
        row.started = min(starts) if starts else (c.create_time_since_epoch / 1000 or None)
        row.ended = max(ends) if ends else None
        out.append(row)
    return out


def store_stamp(cfg) -> Optional[tuple]:
    """What changes when a SQLite MLMD is written (size and mtime of the file and of its
    journal / WAL); None for MySQL (no cheap stamp: read every time)."""
    if cfg.metadata.mysql:
        return None
    out = []
    for suffix in ("", "-journal", "-wal"):
        try:
            st = os.stat(cfg.metadata_path + suffix)
            out.append((suffix, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((suffix, None, None))
    return tuple(out)


def find_run(rows: Sequence[RunRow], run_id: str) -> RunRow:
    for row in rows:
        if row.run_id == run_id:
            return row
    raise NotFound(f"no run {run_id!r}; runs: "
                   + (", ".join(r.run_id for r in rows[-5:]) or "none yet"))


def filter_runs(rows: Sequence[RunRow], state: Optional[str] = None,
                pushed: Optional[bool] = None, blessed: Optional[bool] = None,
                text: Optional[str] = None) -> List[RunRow]:
    """The rows matching every filter given (the runs page's form, also for its JS)."""
    out = []
    for row in rows:
        if state and row.state != state:
            continue
        if pushed is not None and bool(row.pushed_version) != pushed:
            continue
        if blessed is not None and row.blessed is not blessed:
            continue
        if text and text.lower() not in (row.run_id + " " + (row.config_hash or "")).lower():
            continue
        out.append(row)
    return out


def written_report(cfg, pipeline: str, rows: Sequence[RunRow], run_id: str) -> Optional[str]:
    """The HTML report run ``run_id`` wrote when it ended (``report.run_report_path``), if
    it finished and the file was written after it ended (a report written while it still
    ran, by ``tfxkit report``, is not it); None otherwise (the report is then gathered)."""
    from tfxkit.infra.metadata.report import run_report_path

    row = next((r for r in rows if r.run_id == run_id), None)
    if row is None or row.state not in FINAL_STATES:
        return None
    path = run_report_path(cfg, pipeline, run_id)
    try:
        if row.ended is not None and os.stat(path).st_mtime < row.ended:
            return None
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


# metrics ----------------------------------------------------------------------------------
class MetricCache:
    """The Evaluator's TFMA output per evaluation artifact, read once (an artifact never
    changes once written): ``report.evaluation.read_evaluation`` held to the thresholds the
    run recorded. A missing folder is None at once (no TFMA import)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_uri: Dict[str, Any] = {}

    def evaluation(self, uri: Optional[str], eval_config: Optional[str],
                   blessed: Optional[bool] = None, recorded: Optional[str] = None):
        """``recorded``: what the run recorded of this evaluation (``evaluation_json`` on its
        pipeline_run context, written when its report was): read from there, no TFMA; runs
        from before tfxkit recorded it, or whose store could not be written, read TFMA's
        output in ``uri``."""
        if not uri:
            return None
        with self._lock:
            if uri in self._by_uri:
                return self._by_uri[uri]
        if recorded:
            from tfxkit.infra.metadata.report.evaluation import evaluation_from_json

            try:
                ev = evaluation_from_json(recorded)
            except ValueError:
                ev = None
            if ev is not None:
                with self._lock:
                    self._by_uri[uri] = ev
                return ev
        if not os.path.isdir(uri):
            return None
        from tfxkit.infra.metadata.report.evaluation import read_evaluation
        from tfxkit.infra.metadata.report.model import Evaluation

        try:
            table = {}
            if eval_config:
                from tfxkit.infra.metadata.lineage.facts import thresholds_from_eval_config

                table = thresholds_from_eval_config(eval_config)
            ev = read_evaluation(uri, table, blessed)
        except Exception as e:  # pylint: disable=broad-except
            ev = Evaluation(blessed=blessed, evaluation_uri=uri, error=f"{type(e).__name__}: {e}")
        with self._lock:
            self._by_uri[uri] = ev
        return ev

    def cached(self, uri: Optional[str]) -> bool:
        with self._lock:
            return uri in self._by_uri

    def of_row(self, row: RunRow):
        """The evaluation of ``row``'s run (None when it evaluated no model)."""
        return self.evaluation(row.evaluation_uri, row.eval_config, row.blessed,
                               recorded=row.properties.get(EVALUATION_JSON))

    def value(self, row: RunRow, metric: str, slice_name: str = "Overall") -> Optional[float]:
        ev = self.of_row(row)
        m = ev.metric(metric, slice_name) if ev is not None else None
        return m.value if m is not None else None


def gated_metric_key(cfg, m) -> str:
    """TFMA's result key of the config metric ``m`` (``eval.metrics[]``), e.g. accuracy."""
    try:
        from tfxkit.pipelines import metrics as pm

        return pm.metric(cfg.task, m.name).key
    except ValueError:
        return m.name


def gated_metric(cfg) -> Optional[Dict[str, Any]]:
    """The config's first gated metric: {"name", "lower_bound", "upper_bound", "key"} (key:
    TFMA's result key, e.g. ``accuracy``); None for a config without one."""
    for m in cfg.eval.metrics:
        if getattr(m, "lower_bound", None) is not None or getattr(m, "upper_bound", None) is not None:
            return {"name": m.name, "key": gated_metric_key(cfg, m), "lower_bound": m.lower_bound,
                    "upper_bound": m.upper_bound}
    return None


def metric_series(rows: Sequence[RunRow], cache: MetricCache, metric: str, last: int = 20,
                  wait: bool = True, registry_metrics: Optional[Dict[str, Dict]] = None
                  ) -> Tuple[List[Tuple[str, float]], bool]:
    """((run id, value) of ``metric`` on the whole eval split over the last ``last`` runs
    that evaluated a model, oldest first; complete). ``wait=False``: an evaluation not read
    yet is not read now: the value the registry recorded when the run pushed
    (``registry_metrics``: {version: metrics}) stands in, else the run is left out, and
    complete is False."""
    evaluated = [r for r in rows if r.evaluation_uri][-last:]
    out, complete = [], True
    for r in evaluated:
        if not wait and not cache.cached(r.evaluation_uri) and \
                not r.properties.get(EVALUATION_JSON) and os.path.isdir(r.evaluation_uri):
            complete = False
            v = ((registry_metrics or {}).get(r.pushed_version) or {}).get(metric) \
                if r.pushed_version else None
        else:
            v = cache.value(r, metric)
        if isinstance(v, (int, float)):
            out.append((r.run_id, float(v)))
    return out, complete


# the use-case list ------------------------------------------------------------------------
def serving_info(registry) -> Dict[str, Any]:
    """{"serving", "aliases" {name: version}, "versions", "error"} of a registry (nothing
    there yet: serving None)."""
    out: Dict[str, Any] = {"serving": None, "aliases": {}, "versions": [], "metrics": {},
                           "error": None}
    try:
        if not registry.exists():
            return out
        index = registry.index()
    except Exception as e:  # pylint: disable=broad-except
        out["error"] = f"{type(e).__name__}: {e}"
        return out
    out["serving"] = index.get("serving")
    out["aliases"] = dict(index.get("aliases") or {})
    out["versions"] = sorted(index.get("versions") or {}, key=int)
    out["metrics"] = {v: rec.get("metrics") or {} for v, rec in
                      (index.get("versions") or {}).items()}
    return out


def use_case_summary(uc, cache: MetricCache, rows: Optional[List[RunRow]] = None,
                     wait: bool = True) -> Dict[str, Any]:
    """One line of the use-case list: name, task, schedule, last run state and time,
    serving version and its aliases, the gated metric's latest value vs its threshold and
    its series over the last runs (``wait=False``: without reading evaluations not read
    yet; ``metrics_complete`` says whether any was left out)."""
    cfg = uc.cfg
    out: Dict[str, Any] = {"name": cfg.name, "task": cfg.task, "schedule": cfg.schedule,
                           "config": uc.config_path, "last_run": None, "runs": 0,
                           "metric": gated_metric(cfg), "latest": None, "series": [],
                           "error": None}
    if rows is None:
        try:
            store = uc.store()
            rows = runs(store, cfg.name) if store is not None else []
        except Exception as e:  # pylint: disable=broad-except
            out["error"] = f"ML Metadata {cfg.metadata_path}: {type(e).__name__}: {e}"
            rows = []
    out["runs"] = len(rows)
    out["last_run"] = rows[-1] if rows else None
    reg = serving_info(uc.registry())
    out["serving"] = reg["serving"]
    out["serving_aliases"] = sorted(a for a, v in reg["aliases"].items() if v == reg["serving"])
    out["aliases"] = reg["aliases"]
    out["metrics_complete"] = True
    if out["metric"] is not None:
        out["series"], out["metrics_complete"] = metric_series(
            rows, cache, out["metric"]["key"], wait=wait,
            registry_metrics=reg.get("metrics"))
        out["latest"] = out["series"][-1][1] if out["series"] else None
    return out


# compare ----------------------------------------------------------------------------------
def _flatten(d: Any, prefix: str = "") -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    else:
        out[prefix] = d
    return out


def run_config(store, pipeline: str, row: RunRow) -> Tuple[Dict[str, Any], str]:
    """(flattened config, where it came from) of a run: the effective config recorded on
    its pipeline_run context (``config_json``), else what its components recorded (the
    Trainer's and Transform's ``custom_config``: the model and features sections)."""
    recorded = json_or(row.properties.get(CONFIG_JSON))
    if isinstance(recorded, dict):
        return _flatten(recorded), "the run's recorded config"
    r = Reader(store, pipeline)
    out: Dict[str, Any] = {}
    for c in row.components:
        comp = _component_name(c.node_id)
        if comp in ("Trainer", "Transform", "Tuner") and c.execution_id:
            custom = r.exec_props(c.execution_id).get("custom_config")
            if isinstance(custom, dict):
                for k, v in _flatten(custom).items():
                    out.setdefault(k, v)
    return out, "the components' recorded settings (no config recorded on the run)"


def config_diff(configs: Sequence[Dict[str, Any]]) -> List[Tuple[str, List[Any]]]:
    """(key, [value per run]) of each key whose values differ, sorted by key."""
    keys = sorted(set().union(*[set(c) for c in configs])) if configs else []
    out = []
    for k in keys:
        vals = [c.get(k) for c in configs]
        if any(json.dumps(v, sort_keys=True, default=str) !=
               json.dumps(vals[0], sort_keys=True, default=str) for v in vals[1:]):
            out.append((k, vals))
    return out


def shared_artifacts(rows: Sequence[RunRow]) -> List[Dict[str, Any]]:
    """The output artifacts the runs share (a cache hit reuses the artifact an earlier run
    wrote; a resolver's outputs are not counted): {"component", "key", "artifact_id",
    "runs" [run ids]}."""
    seen: Dict[int, Dict[str, Any]] = {}
    for row in rows:
        for c in row.components:
            if c.state == "resolved":  # a resolver hands on earlier outputs: no cache hit
                continue
            for key, ids in c.outputs.items():
                for aid in ids:
                    d = seen.setdefault(aid, {"component": c.node_id, "key": key,
                                              "artifact_id": aid, "runs": []})
                    if row.run_id not in d["runs"]:
                        d["runs"].append(row.run_id)
    return sorted((d for d in seen.values() if len(d["runs"]) > 1),
                  key=lambda d: (d["component"], d["key"]))


def component_states(rows: Sequence[RunRow]) -> List[Tuple[str, List[str]]]:
    """(component, [its state in each run]) in the order the first run ran them."""
    order: List[str] = []
    for row in rows:
        for c in row.components:
            if c.node_id not in order:
                order.append(c.node_id)
    return [(n, [next((c.state for c in row.components if c.node_id == n), "-")
                 for row in rows]) for n in order]


def training_history(store, pipeline: str, row: RunRow) -> Dict[str, List[float]]:
    """The Trainer's Keras history of a run (empty when none was recorded)."""
    from tfxkit.infra.metadata.report.artifacts import read_history

    r = Reader(store, pipeline)
    tr = next((c for c in row.components if _component_name(c.node_id) == "Trainer"), None)
    if tr is None:
        return {}
    run_ids = tr.outputs.get("model_run") or []
    model_ids = tr.outputs.get("model") or []
    try:
        return read_history(r.artifact(run_ids[0]).uri if run_ids else None,
                            r.artifact(model_ids[0]).uri if model_ids else None) or {}
    except Exception:  # pylint: disable=broad-except
        return {}


def statistics(store, pipeline: str, row: RunRow):
    """The run's StatisticsGen output (report.model.SplitStats per split), [] if none."""
    from tfxkit.infra.metadata.report.artifacts import read_statistics

    st = next((c for c in row.components if _component_name(c.node_id) == "StatisticsGen"),
              None)
    ids = st.outputs.get("statistics") if st is not None else None
    if not ids:
        return []
    try:
        return read_statistics(Reader(store, pipeline).artifact(ids[0]).uri)
    except Exception:  # pylint: disable=broad-except
        return []


def stats_drift(first, other) -> List[Dict[str, Any]]:
    """Per feature of the eval (else train) split: the drift of ``other``'s statistics
    against ``first``'s (report/drift.py's measures: Jensen-Shannon or L-infinity)."""
    from tfxkit.infra.metadata.report.drift import attach_previous

    if not first or not other:
        return []
    import copy

    cur = copy.deepcopy(other)
    attach_previous(cur, first)
    split = next((s for s in cur if s.split == "eval"), cur[0])
    return [{"feature": f.name, "split": split.split, "drift": f.drift,
             "measure": f.drift_measure, "mean": f.mean,
             "previous_mean": f.previous.mean if f.previous is not None else None}
            for f in split.features]


def compare(store, pipeline: str, rows: Sequence[RunRow], cache: MetricCache) -> Dict[str, Any]:
    """Everything the compare page shows for two or more runs (oldest first)."""
    configs, sources = [], []
    for row in rows:
        c, src = run_config(store, pipeline, row)
        configs.append(c)
        sources.append(src)
    evals = [cache.of_row(r) for r in rows]
    metric_rows: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for i, ev in enumerate(evals):
        for m in (ev.metrics if ev is not None else []):
            d = metric_rows.setdefault((m.slice, m.metric), {
                "slice": m.slice, "metric": m.metric, "values": [None] * len(rows),
                "ok": [None] * len(rows), "threshold": m.threshold, "gated": m.gated})
            d["values"][i] = m.value
            d["ok"][i] = m.ok
            if m.gated:
                d["gated"], d["threshold"] = True, m.threshold
    metrics = sorted(metric_rows.values(),
                     key=lambda d: (not d["gated"], d["slice"] != "Overall", d["slice"],
                                    d["metric"]))
    stats = [statistics(store, pipeline, r) for r in rows]
    drift = [stats_drift(stats[0], s) for s in stats[1:]]
    return {"runs": list(rows), "config_diff": config_diff(configs), "config_sources": sources,
            "metrics": metrics, "evaluations": evals,
            "histories": [training_history(store, pipeline, r) for r in rows],
            "rows": [r.rows_by_split for r in rows], "drift": drift,
            "shared": shared_artifacts(rows), "components": component_states(rows)}


# lineage ----------------------------------------------------------------------------------
@dataclass
class GraphNode:
    id: str
    kind: str                         # execution | artifact | file | prediction
    label: str
    lines: List[str] = field(default_factory=list)
    properties: Dict[str, Any] = field(default_factory=dict)
    uri: Optional[str] = None


@dataclass
class Graph:
    title: List[str]
    nodes: List[GraphNode]
    edges: List[Tuple[str, str, str]]  # source, target, key

    def node(self, node_id: str) -> Optional[GraphNode]:
        return next((n for n in self.nodes if n.id == node_id), None)


def _short_uri(uri: Optional[str]) -> str:
    if not uri:
        return ""
    parts = uri.rstrip("/").split("/")
    return "/".join(parts[-3:])


def lineage_graph(store, pipeline: str, version: Optional[str] = None,
                  inference_pipeline: Optional[str] = None) -> Graph:
    """The graph of pushed model ``version`` (default the latest pushed): its data files ->
    ExampleGen -> Examples -> ... -> Trainer -> Model -> Pusher -> PushedModel, the
    validation and evaluation steps beside, and the batch-inference runs that scored the
    model (``inference_pipeline``). Executions and artifacts are nodes; each carries its
    properties and URI (the page shows them on a click). LineageError when no such model."""
    from tfxkit.infra.metadata.lineage.walk import model_lineage

    lin = model_lineage(store, pipeline, version,
                        metrics_reader=lambda uri, ec: {"metrics": [], "reasons": [],
                                                        "has_baseline": False})
    nodes: Dict[str, GraphNode] = {}
    edges: List[Tuple[str, str, str]] = []

    def art_node(aid: int) -> str:
        nid = f"a{aid}"
        if nid not in nodes:
            a = lin.artifacts.get(aid) or {}
            props = dict(a.get("properties") or {})
            label = a.get("type") or "Artifact"
            lines = [f"#{aid} {_short_uri(a.get('uri'))}"]
            if props.get("pushed_version"):
                lines.insert(0, f"version {props['pushed_version']}")
            if label == "Examples":
                rows = {k[5:]: v for k, v in props.items() if k.startswith("rows_")
                        and k != "rows_rejected"}
                if rows:
                    lines.insert(0, "rows " + ", ".join(f"{k} {v}" for k, v in sorted(rows.items())))
            nodes[nid] = GraphNode(nid, "artifact", label, lines,
                                   {"artifact_id": aid, "type": label, **props}, a.get("uri"))
        return nid

    for s in lin.steps:
        nid = f"e{s.execution_id}"
        facts = {k: v for k, v in (s.facts or {}).items() if v not in (None, [], {})}
        nodes[nid] = GraphNode(nid, "execution", s.component,
                               [f"execution {s.execution_id} {s.state or ''}".strip(),
                                f"run {s.run_id or ''}"],
                               {"execution_id": s.execution_id, "state": s.state,
                                "run_id": s.run_id, "elapsed_s": s.elapsed_s, **facts})
        for key, ids in s.inputs.items():
            for aid in ids:
                edges.append((art_node(aid), nid, key))
        for key, ids in s.outputs.items():
            for aid in ids:
                edges.append((nid, art_node(aid), key))
        if _component_name(s.component) == "ExampleGen":
            files = facts.get("input_files") or []
            if isinstance(files, str):
                files = [files]
            base = facts.get("input_base")
            for f in files[:8]:
                path = f if os.path.isabs(str(f)) or not base else os.path.join(base, str(f))
                fid = f"f{path}"
                nodes.setdefault(fid, GraphNode(fid, "file", "data file",
                                                [os.path.basename(str(path))],
                                                {"path": path}, str(path)))
                edges.append((fid, nid, "input"))
    pushed_model_ids = [aid for s in lin.steps if _component_name(s.component) == "Pusher"
                        for aid in s.inputs.get("model", [])]
    if inference_pipeline and pushed_model_ids:
        _prediction_runs(store, inference_pipeline, pushed_model_ids, lin, nodes, edges,
                         art_node)
    title = [f"{lin.pipeline} model {lin.model_version}",
             f"pushed to {lin.pushed_path or ''} by run {lin.run_id or ''}",
             f"config hash {lin.config_hash or 'not recorded'}   git commit "
             f"{lin.git_commit or 'not recorded'}"]
    return Graph(title, list(nodes.values()), sorted(set(edges)))


def _prediction_runs(store, inference_pipeline, model_ids, lin, nodes, edges, art_node):
    """The batch-inference executions that read the model (by its artifact, or a Model
    artifact of the same URI the inference pipeline imported)."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    r = Reader(store, inference_pipeline)
    uris = {(lin.artifacts.get(aid) or {}).get("uri") for aid in model_ids}
    same = set(model_ids)
    for uri in uris:
        if uri:
            same.update(a.id for a in store.get_artifacts_by_uri(uri))
    for ev in store.get_events_by_artifact_ids(sorted(same)):
        if ev.type != pb.Event.INPUT:
            continue
        node, run = r.node_and_run(ev.execution_id)
        if node is None:
            continue
        e = r.execution(ev.execution_id)
        nid = f"p{e.id}"
        if nid in nodes:
            continue
        ins, outs = r.io(e.id)
        out_rows = None
        for ids in outs.values():
            for aid in ids:
                p = properties(r.artifact(aid))
                if isinstance(p.get("rows"), int):
                    out_rows = p["rows"]
        nodes[nid] = GraphNode(nid, "prediction", node,
                               [f"prediction run {run.name if run is not None else ''}",
                                f"rows {out_rows}" if out_rows is not None else ""],
                               {"execution_id": e.id, "pipeline": inference_pipeline,
                                "run_id": run.name if run is not None else None,
                                "state": pb.Execution.State.Name(e.last_known_state),
                                "rows": out_rows})
        src = f"a{ev.artifact_id}" if ev.artifact_id in lin.artifacts else art_node(model_ids[0])
        edges.append((src, nid, "model"))


def graph_svg(g: Graph) -> str:
    """The lineage graph drawn with the one graph renderer (``infra/metadata/graph_svg.py``):
    each box is a ``<g data-node=ID>`` the page's script makes clickable."""
    from tfxkit.infra.metadata import graph_svg as gs

    colors = {"execution": "#dcfce7", "artifact": "#dbeafe", "file": "#fef9c3",
              "prediction": "#fce7f3"}
    style = gs.Style(box_w=210, line_h=14, min_lines=2, gap_x=46, gap_y=14,
                     edge_labels=False, css_class="lineage-graph")
    nodes = [gs.Node(n.id, [n.label] + [x for x in n.lines if x], fill=colors.get(n.kind, "#eee"),
                     title=f"{n.kind}: {n.label} ({n.uri or n.id})") for n in g.nodes]
    edges = [gs.Edge(a, b, k) for a, b, k in g.edges]
    return gs.render(nodes, edges, style, [(g.title[0], True)] + [(t, False) for t in g.title[1:]])


# models -----------------------------------------------------------------------------------
def model_versions(registry) -> Dict[str, Any]:
    """The registry as the models page shows it: versions newest first (metrics, config
    hash, commit, data, run, who pushed it: the history's push event), aliases, the serving
    pointer, the history newest first; ``error`` when there is no registry or it is broken."""
    info: Dict[str, Any] = {"path": registry.path, "index_path": registry.index_path,
                            "serving": None, "aliases": {}, "versions": [], "history": [],
                            "error": None}
    try:
        if not registry.exists():
            info["error"] = f"no model registry at {registry.path} yet"
            return info
        index = registry.index()
    except Exception as e:  # pylint: disable=broad-except
        info["error"] = f"{registry.index_path}: {type(e).__name__}: {e}"
        return info
    history = list(index.get("history") or [])
    info["serving"] = index.get("serving")
    info["aliases"] = dict(index.get("aliases") or {})
    by_alias: Dict[str, List[str]] = {}
    for a, v in sorted(info["aliases"].items()):
        by_alias.setdefault(v, []).append(a)
    for v in sorted(index.get("versions") or {}, key=int, reverse=True):
        rec = index["versions"][v]
        pushed = next((h for h in history if h.get("action") == "push"
                       and str(h.get("version")) == v), None)
        info["versions"].append({
            "version": v, "created_at": rec.get("created_at"),
            "metrics": {k: val for k, val in sorted((rec.get("metrics") or {}).items())
                        if isinstance(val, (int, float))},
            "config_hash": rec.get("config_hash"), "git_commit": rec.get("git_commit"),
            "pipeline_run": rec.get("pipeline_run"), "data": rec.get("data") or {},
            "serving": v == info["serving"], "aliases": by_alias.get(v, []),
            "pushed_by": (pushed or {}).get("by"), "model_uri": rec.get("model_uri")})
    info["history"] = list(reversed(history))
    return info


# serving: canary and monitoring ----------------------------------------------------------
def canary_state(cfg) -> Dict[str, Any]:
    """The canary decision log (``infra/canary/decision_log.py``): every decision newest
    first with its evidence, and the running canary (None when none runs)."""
    from tfxkit.infra.canary.decision_log import DecisionLog, current, decision_log_path

    path = decision_log_path(cfg)
    records = DecisionLog(path).records()
    return {"path": path, "exists": os.path.exists(path), "current": current(records),
            "decisions": list(reversed(records))}


def monitoring_windows(store, pipeline: str) -> List[Any]:
    """The windows ``tfxkit monitor`` recorded (``tfxkit.Monitor`` executions) for the
    pipeline's Model artifacts: report.model.MonitoringWindow each (the latest record of a
    window end), oldest first, with the result JSON's features (skew and drift) read."""
    from tfxkit.infra.metadata.report.model import MonitoringWindow
    from tfxkit.pipelines.mlmd_reader import monitoring_results

    ctx = store.get_context_by_type_and_name("pipeline", pipeline)
    if ctx is None:
        return []
    types = {t.id: t.name for t in store.get_artifact_types()}
    model_ids = [a.id for a in store.get_artifacts_by_context(ctx.id)
                 if types.get(a.type_id) == "Model"]
    if not model_ids:
        return []
    latest: Dict[Any, Dict[str, Any]] = {}
    for rec in monitoring_results(store, model_ids):
        latest[rec.get("window_end")] = rec
    out = []
    for rec in sorted(latest.values(), key=lambda d: d.get("window_end") or 0):
        flagged = rec.get("flagged") if isinstance(rec.get("flagged"), list) else []
        w = MonitoringWindow(start=rec.get("window_start"), end=rec.get("window_end"),
                             rows=rec.get("rows"), model_version=rec.get("model_version"),
                             crossed=bool(rec.get("crossed")), flagged=flagged,
                             result_uri=rec.get("result_uri"),
                             execution_id=rec.get("execution_id"))
        try:
            with open(w.result_uri) as f:
                result = json.load(f)
            w.features = list(result.get("features") or [])
            w.predictions = list(result.get("predictions") or [])
        except (OSError, TypeError, ValueError) as e:
            w.error = f"result {w.result_uri} unreadable: {e}"
        out.append(w)
    return out
