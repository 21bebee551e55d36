"""``monitor(cfg)``: the served traffic of one window (or every window) against the
serving model's training statistics (skew) and the window before (drift), and the
model's outputs against the window before (prediction drift).

Per judged window the result is written as JSON (``monitoring/<window end>.json`` beside a
local registry, or ``monitoring.output``) and recorded in ML Metadata linked to the
serving model (``record.py``). Nothing is judged on a window with fewer than
``monitoring.min_rows`` rows; drift needs as many in the window before."""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from tfxkit.infra.monitoring import request_log
from tfxkit.infra.monitoring.compare import Distance


class MonitorError(RuntimeError):
    """Monitoring cannot run: no serving model, its training statistics or schema are not
    found, ...; the message says what and where."""


@dataclass
class WindowResult:
    start: float
    end: float
    rows: int
    status: str                     # judged | no_traffic | too_few_rows
    message: str = ""
    model_version: Optional[str] = None
    skipped_lines: int = 0
    features: List[Distance] = field(default_factory=list)     # skew and drift
    predictions: List[Distance] = field(default_factory=list)  # prediction drift
    unparsable: Dict[str, int] = field(default_factory=dict)
    result_path: Optional[str] = None
    execution_id: Optional[int] = None

    @property
    def flagged(self) -> List[Dict[str, Any]]:
        return [{"feature": d.feature, "kind": d.kind, "value": d.value,
                 "threshold": d.threshold}
                for d in self.features + self.predictions if d.flagged]

    @property
    def crossed(self) -> bool:
        return bool(self.flagged)

    def as_dict(self) -> Dict[str, Any]:
        return {"start": self.start, "end": self.end, "start_utc": _utc(self.start),
                "end_utc": _utc(self.end), "rows": self.rows, "status": self.status,
                "message": self.message, "model_version": self.model_version,
                "skipped_lines": self.skipped_lines,
                "features": [d.as_dict() for d in self.features],
                "predictions": [d.as_dict() for d in self.predictions],
                "unparsable": self.unparsable, "flagged": self.flagged,
                "crossed": self.crossed}


@dataclass
class MonitorResult:
    pipeline: str
    model_version: str
    log_path: str
    windows: List[WindowResult] = field(default_factory=list)
    retrain_on_drift: bool = False

    @property
    def crossed(self) -> bool:
        return any(w.crossed for w in self.windows)

    @property
    def retrain_suggested(self) -> bool:
        """A threshold was crossed and ``monitoring.retrain_on_drift`` asks for a new run."""
        return self.crossed and self.retrain_on_drift


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def output_path(cfg) -> str:
    """``monitoring.output``, else ``monitoring/`` beside a local registry, else in the
    pipeline root."""
    from tfxkit.pipelines.config import is_remote

    if cfg.monitoring.output:
        return cfg.resolve(cfg.monitoring.output)
    if not is_remote(cfg.registry_path):
        return os.path.join(cfg.registry_path, "monitoring")
    return os.path.join(cfg.pipeline_root, "monitoring")


def _write_json(folder: str, window: Dict[str, Any], extra: Dict[str, Any]) -> str:
    os.makedirs(folder, exist_ok=True)
    name = time.strftime("%Y-%m-%dT%H-%M-%SZ.json", time.gmtime(window["end"]))
    path = os.path.join(folder, name)
    tmp = os.path.join(folder, f".{name}.tmp")
    with open(tmp, "w") as f:
        json.dump({**extra, **window}, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
    return path


@dataclass
class _Model:
    version: str
    artifact_id: int
    statistics: Any
    schema: Any


def serving_model(cfg, store) -> _Model:
    """The registry's serving version, its Model artifact in MLMD, the training split's
    statistics and the schema of the run that trained it."""
    from tfxkit.components.registry.errors import RegistryError
    from tfxkit.components.registry.registry import Registry
    from tfxkit.infra.monitoring.statistics import load_schema, load_statistics
    from tfxkit.pipelines.mlmd_reader import model_artifact, training_data_of_model

    try:
        registry = Registry(cfg.registry_path, name=cfg.name)
        serving = registry.serving()
        if serving is None:
            raise MonitorError(f"the registry {cfg.registry_path} serves no model yet "
                               "(push one with tfxkit run)")
        record = registry.get(serving.version)
    except RegistryError as e:
        raise MonitorError(f"registry {cfg.registry_path}: {e}") from None
    model = model_artifact(store, cfg.name, record.get("model_uri"), serving.version)
    if model is None:
        raise MonitorError(f"serving version {serving.version}: its Trainer's model "
                           f"({record.get('model_uri') or 'no model_uri in registry.json'}) "
                           "is not in ML Metadata")
    found = training_data_of_model(store, cfg.name, model.id)
    for key, what in (("statistics_uri", "StatisticsGen's training statistics"),
                      ("schema_uri", "schema")):
        if not found[key]:
            raise MonitorError(f"serving version {serving.version}: ML Metadata has no "
                               f"{what} of the run that trained it (model {model.uri})")
    try:
        stats = load_statistics(found["statistics_uri"], "train")
        schema = load_schema(found["schema_uri"])
    except FileNotFoundError as e:
        raise MonitorError(f"serving version {serving.version}: {e}") from None
    return _Model(serving.version, model.id, stats, schema)


def _output_column(rows: List[Dict[str, Any]]) -> Optional[str]:
    """The output whose distribution is watched: ``class`` (classification), else a
    numeric ``prediction`` (regression)."""
    for name in ("class", "prediction"):
        if any(name in (r.get("outputs") or {}) for r in rows):
            return name
    return None


def _prediction_drift(cfg, win, prev, version: str) -> List[Distance]:
    from tfxkit.infra.monitoring.compare import compare, output_schema
    from tfxkit.infra.monitoring.statistics import statistics_of

    def outputs(w):  # the answers of the serving version only
        return [r for r in w.records if str(r.get("model_version", version)) == version]

    cur, before = outputs(win), outputs(prev)
    name = _output_column(cur)
    if name is None:
        return []
    kind = "bytes" if name == "class" else "float"
    threshold = {name: cfg.monitoring.prediction_drift}
    measure = "L_INFTY" if kind == "bytes" else "JENSEN_SHANNON_DIVERGENCE"
    for rows, which in ((cur, "this window"), (before, "previous window")):
        if len(rows) < cfg.monitoring.min_rows:
            return [Distance(name, "prediction_drift", measure, threshold[name],
                             note=f"{which}: {len(rows)} answers of version {version} "
                                  f"(< min_rows {cfg.monitoring.min_rows})")]
    a = statistics_of([{name: (r.get("outputs") or {}).get(name)} for r in cur], {name: kind})
    b = statistics_of([{name: (r.get("outputs") or {}).get(name)} for r in before],
                      {name: kind})
    return compare(a.statistics, output_schema(b.statistics), threshold, "drift",
                   b.statistics)


def judge_window(cfg, model: _Model, folder: str, end: float) -> WindowResult:
    """One window ``[end - window, end)`` against the training statistics and the window
    before. Writes nothing."""
    from tfxkit.infra.monitoring.compare import compare, is_categorical
    from tfxkit.infra.monitoring.statistics import feature_types, statistics_of

    mon = cfg.monitoring
    start = end - mon.window_s
    win = request_log.read_window(folder, start, end)
    res = WindowResult(start=start, end=end, rows=win.rows, status="judged",
                       model_version=model.version, skipped_lines=win.skipped)
    if win.rows == 0:
        res.status = "no_traffic"
        res.message = f"no traffic in the window {_utc(start)} .. {_utc(end)} ({folder})"
        return res
    if win.rows < mon.min_rows:
        res.status = "too_few_rows"
        res.message = (f"{win.rows} rows in the window {_utc(start)} .. {_utc(end)}: fewer "
                       f"than monitoring.min_rows ({mon.min_rows}); not judged")
        return res
    names = cfg.features.raw_columns() or [f.name for f in model.schema.feature
                                           if f.name != cfg.label]
    types = feature_types(model.schema, names)
    by_name = {f.name: f for f in model.schema.feature}
    rows = [r.get("features") or {} for r in win.records]
    typed = statistics_of(rows, types)
    res.unparsable = typed.unparsable

    def thresholds(kind):
        return {n: mon.threshold(n, kind, is_categorical(by_name[n])) for n in types}

    res.features = compare(typed.statistics, model.schema, thresholds("skew"), "skew",
                           model.statistics)
    prev = request_log.read_window(folder, start - mon.window_s, start)
    if prev.rows >= mon.min_rows:
        before = statistics_of([r.get("features") or {} for r in prev.records], types)
        res.features += compare(typed.statistics, model.schema, thresholds("drift"), "drift",
                                before.statistics)
    else:
        note = (f"previous window: {prev.rows} rows (< min_rows {mon.min_rows}); drift "
                "not measured")
        res.features += [Distance(d.feature, "drift", d.measure, t, note=note)
                         for d, t in zip(res.features, thresholds("drift").values())]
    res.predictions = [Distance(d.feature, "prediction_drift", d.measure, d.threshold,
                                d.value, d.note)
                       for d in _prediction_drift(cfg, win, prev, model.version)]
    return res


def window_ends(cfg, folder: str, window_end: Optional[float], all_windows: bool,
                now: float) -> List[float]:
    """The windows to judge: every one the log has (``all_windows``), else the one
    ending at ``window_end`` (rounded up to the window grid), else the last complete one."""
    w = cfg.monitoring.window_s
    if all_windows:
        return request_log.window_ends(folder, w, until=now)
    if window_end is not None:
        return [float(-(-window_end // w) * w)]
    return [float(now // w * w)]


def monitor(cfg, window_end: Optional[float] = None, all_windows: bool = False,
            now: Callable[[], float] = time.time, store=None) -> MonitorResult:
    """Judges the windows (see ``window_ends``), writes each judged one's JSON and
    records it in ML Metadata (``store``: default the config's)."""
    from tfxkit.infra.monitoring.record import record_window

    folder = request_log.request_log_path(cfg)
    if store is None:
        from tfxkit.pipelines import mlmd

        if not mlmd.exists(cfg):
            raise MonitorError(f"no ML Metadata at {cfg.metadata_path}: run the pipeline "
                               "first")
        store = mlmd.open_store(cfg)
    model = serving_model(cfg, store)
    result = MonitorResult(cfg.name, model.version, folder,
                           retrain_on_drift=cfg.monitoring.retrain_on_drift)
    out = output_path(cfg)
    for end in window_ends(cfg, folder, window_end, all_windows, now()):
        w = judge_window(cfg, model, folder, end)
        if w.status == "judged":
            data = w.as_dict()
            w.result_path = _write_json(out, data, {
                "pipeline": cfg.name, "request_log": folder,
                "window": cfg.monitoring.window, "min_rows": cfg.monitoring.min_rows,
                "retrain_on_drift": cfg.monitoring.retrain_on_drift})
            w.execution_id = record_window(store, cfg.name, model.artifact_id, data,
                                           w.result_path)
        result.windows.append(w)
    return result
