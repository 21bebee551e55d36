"""Everything the run report shows, read from ML Metadata and the run's artifacts into
plain dataclasses (``model.py``; no HTML, no plotting here).

``gather(store, pipeline_name, run_id)`` finds the run's ``pipeline_run`` context, its
executions (ran, cached, failed; timing: ``components.py``), and follows their output
events to the artifacts (``artifacts.py``, ``evaluation.py``): ExampleGen's row counts,
StatisticsGen's statistics, ExampleValidator's anomalies, the schema, the Trainer's
history, the Evaluator's TFMA output and blessing (a bandit's PolicyEvaluator: its
``ope.json``), the Pusher's push, and for batch-inference runs the BatchInferrer's
PredictionLogs. The previous run of the same pipeline with different data (or different
predictions) is read the same way, for drift (``drift.py``). MLMD is read through
``pipelines/mlmd_reader.py``.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from tfxkit.pipelines.mlmd_reader import (Reader, decoded_properties, json_or, pipeline_runs,
                                          properties)
from tfxkit.infra.metadata.report.artifacts import (prediction_values, read_anomalies,
                                                    read_history, read_schema, read_statistics,
                                                    read_warm_start)
from tfxkit.infra.metadata.report.components import (component_runs, find, out_artifact,
                                                     run_status)
from tfxkit.infra.metadata.report.drift import attach_previous, prediction_drift
from tfxkit.components.hyperparameters_gen.choose import read as read_hyperparameters
from tfxkit.infra.metadata import ope
from tfxkit.pipelines.config.tune import config_first, keras_objective
from tfxkit.infra.metadata.report.evaluation import read_evaluation, read_policy_evaluation
from tfxkit.infra.metadata.report.model import (ComponentRun, Evaluation, MonitoringWindow,
                                                PredictionOutput, Predictions, Report,
                                                ReportError, Training, Tuning)


def _run_context(runs: List[Any], pipeline_name: str, run_id: Optional[str]):
    if not runs:
        raise ReportError(f"pipeline {pipeline_name} has no run in ML Metadata yet")
    if run_id is None:
        return runs[-1]
    found = [r for r in runs if r.name == run_id]
    if not found:
        raise ReportError(f"pipeline {pipeline_name} has no run {run_id!r}; runs: "
                          + ", ".join(r.name for r in runs[-10:]))
    return found[0]


def _apply_run_result(rep: Report, run_result) -> None:
    """The runner's own elapsed times and failures, and the failures MLMD never saw."""
    comps = rep.components
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


def _add_not_run(rep: Report, planned: Optional[List[str]]) -> None:
    """The planned components the run never reached, as ``not run``."""
    done = {c.node_id for c in rep.components}
    if planned is None:  # what the runner meant to run (infra.run.state), if recorded
        planned = json_or(rep.run_properties.get("run_nodes"))
        planned = planned if isinstance(planned, list) else []
    for node in planned:
        if node not in done:
            rep.components.append(ComponentRun(node, "not run"))


def _edges(comps: List[ComponentRun]) -> List[Any]:
    """Edges of the run's DAG, through the artifacts the executions share."""
    producer = {}
    for c in comps:
        for key, ids in c.outputs.items():
            for aid in ids:
                producer.setdefault(aid, (c.node_id, key))
    edges = []
    for c in comps:
        for key, ids in c.inputs.items():
            for aid in ids:
                if aid in producer and producer[aid][0] != c.node_id:
                    edges.append((producer[aid][0], c.node_id, key))
    return sorted(set(edges))


def _examples(rep: Report, r: Reader, comps: List[ComponentRun]) -> None:
    examples = out_artifact(r, find(comps, "ExampleGen"), "examples")
    if examples is not None:
        p = decoded_properties(examples)
        rep.rows = {k[len("rows_"):]: int(v) for k, v in p.items()
                    if k.startswith("rows_") and k != "rows_rejected" and isinstance(v, int)}
        rep.rows_rejected = p.get("rows_rejected")
        rep.span = p.get("span")
        files = p.get("input_files")
        rep.input_files = files if isinstance(files, list) else []


def _statistics(rep: Report, r: Reader, comps: List[ComponentRun], earlier) -> None:
    """The statistics, compared with the latest earlier run that read different data."""
    stats_art = out_artifact(r, find(comps, "StatisticsGen"), "statistics")
    if stats_art is not None:
        try:
            rep.stats = read_statistics(stats_art.uri)
        except Exception as e:  # pylint: disable=broad-except
            rep.notes.append(f"statistics unreadable: {type(e).__name__}: {e}")
        for prev in reversed(earlier):
            pstats = out_artifact(r, find(component_runs(r, prev), "StatisticsGen"), "statistics")
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


def _validation(rep: Report, r: Reader, comps: List[ComponentRun]) -> None:
    """ExampleValidator's anomalies and the ValidationGate's verdict."""
    anomalies = out_artifact(r, find(comps, "ExampleValidator"), "anomalies")
    if anomalies is not None:
        try:
            rep.anomalies = read_anomalies(anomalies.uri)
            rep.anomalies_read = True
        except Exception as e:  # pylint: disable=broad-except
            rep.notes.append(f"anomalies unreadable: {e}")
    gate = find(comps, "ValidationGate")
    if gate is not None:
        rep.gate = {"state": gate.state, "error": gate.error}
        res = out_artifact(r, gate, "result")
        if res is not None:
            gp = properties(res)
            rep.gate.update({"passed": bool(gp["passed"]) if "passed" in gp else None,
                             "anomalies": gp.get("anomalies")})
        try:
            rep.gate["on_anomalies"] = r.exec_props(gate.execution_id).get("on_anomalies") \
                if gate.execution_id else None
        except Exception:  # pylint: disable=broad-except
            pass


def _schema(rep: Report, r: Reader, comps: List[ComponentRun]) -> None:
    """The schema in effect: the one ExampleValidator (else Transform, Trainer) read."""
    schema_id = next((c.inputs["schema"][0] for c in (find(comps, "ExampleValidator"),
                                                       find(comps, "Transform"),
                                                       find(comps, "Trainer"))
                      if c is not None and c.inputs.get("schema")), None)
    if schema_id is None:
        for name in ("SchemaImporter", "SchemaGen"):
            c = find(comps, name)
            if c is not None:
                a = out_artifact(r, c, "schema") or out_artifact(r, c, "result")
                if a is not None:
                    schema_id = a.id
                    break
    if schema_id is not None:
        a = r.artifact(schema_id)
        rep.schema_text, rep.schema = read_schema(a.uri)
        source = next((c.node_id for c in comps if schema_id in sum(c.outputs.values(), [])),
                      None)
        rep.schema_source = (source or "an earlier run") + f" ({a.uri})"


def _training(rep: Report, r: Reader, comps: List[ComponentRun]) -> None:
    tr = find(comps, "Trainer")
    if tr is None:
        return
    t = Training(state=tr.state)
    model_run = out_artifact(r, tr, "model_run")
    model = out_artifact(r, tr, "model")
    t.model_uri = model.uri if model is not None else None
    t.history = read_history(model_run.uri if model_run is not None else None, t.model_uri)
    t.warm_start = read_warm_start(model_run.uri if model_run is not None else None)
    try:
        custom = r.exec_props(tr.execution_id).get("custom_config") or {}
        if isinstance(custom, dict):
            t.hyperparameters = {k: v for k, v in (custom.get("model") or {}).items()
                                 if v is not None and k not in ("tune", "registry")}
        hp_in = tr.inputs.get("hyperparameters") or []
        if hp_in:  # the Tuner's (or HyperparametersGen's) values: run_fn merges them over
            t.hyperparameters.update(read_hyperparameters(r.artifact(hp_in[0]).uri))
    except Exception:  # pylint: disable=broad-except
        pass
    rep.training = t


def _tuning(rep: Report, r: Reader, comps: List[ComponentRun]) -> None:
    """TFX's Tuner (``model.tune:``): its trials (``tuner_results.json``) and best values."""
    c = find(comps, "Tuner")
    if c is None or not c.execution_id:
        return
    t = Tuning(state=c.state)
    try:
        custom = r.exec_props(c.execution_id).get("custom_config") or {}
        tune = custom.get("tune") or {}
        t.objective, t.algorithm = tune.get("objective"), tune.get("algorithm")
        t.epochs_per_trial = tune.get("epochs_per_trial")
        if t.objective and custom.get("task"):
            t.keras_metric, t.direction = keras_objective(custom["task"], t.objective)
        t.config_first = config_first(custom)
        results = out_artifact(r, c, "tuner_results")
        if results is not None:
            with open(os.path.join(results.uri, "tuner_results.json")) as f:
                rows = json.load(f)
            t.trials = sorted(({"trial_id": row.pop("trial_id", None),
                                "score": row.pop("score", None), "values": row}
                               for row in rows), key=lambda row: str(row["trial_id"]))
        best = out_artifact(r, c, "best_hyperparameters")
        if best is not None:
            t.best_values = read_hyperparameters(best.uri)
    except Exception as e:  # pylint: disable=broad-except
        t.error = f"{type(e).__name__}: {e}"
    rep.tuning = t


def _recorded_thresholds(rep: Report, r: Reader, evc: ComponentRun) -> Dict[str, Any]:
    """The gated metrics of the Evaluator's recorded eval_config."""
    try:
        from tfxkit.infra.metadata.lineage.facts import thresholds_from_eval_config

        ec = r.exec_props(evc.execution_id).get("eval_config")
        return thresholds_from_eval_config(ec if isinstance(ec, str) else json.dumps(ec)) \
            if ec else {}
    except Exception as e:  # pylint: disable=broad-except
        rep.notes.append(f"thresholds unreadable: {e}")
        return {}


def _evaluation(rep: Report, r: Reader, comps: List[ComponentRun],
                thresholds: Optional[Dict[str, Any]]) -> None:
    evc = find(comps, "Evaluator")
    if evc is None or not evc.execution_id:
        return
    evaluation = out_artifact(r, evc, "evaluation")
    blessing = out_artifact(r, evc, "blessing")
    blessed = bool(properties(blessing).get("blessed")) if blessing is not None else None
    if evaluation is None and blessing is not None:  # a bandit's PolicyEvaluator?
        bprops = decoded_properties(blessing)
        kind = r.execution_type(r.execution(evc.execution_id))
        if not ope.is_policy_evaluation(kind, blessing.uri, bprops):
            return
        rep.evaluation = read_policy_evaluation(blessing.uri, bprops)
    elif evaluation is None:
        return
    else:
        table = thresholds if thresholds is not None else _recorded_thresholds(rep, r, evc)
        try:
            rep.evaluation = read_evaluation(evaluation.uri, table, blessed)
        except Exception as e:  # pylint: disable=broad-except
            rep.evaluation = Evaluation(blessed=blessed, evaluation_uri=evaluation.uri,
                                        error=f"{type(e).__name__}: {e}")
    base = evc.inputs.get("baseline_model") or []
    if base:
        rep.evaluation.baseline_uri = r.artifact(base[0]).uri


def _push(rep: Report, r: Reader, comps: List[ComponentRun]) -> None:
    """The Pusher's push (or why not) and the InfraValidator's blessing."""
    pushed = out_artifact(r, find(comps, "Pusher"), "pushed_model")
    if pushed is not None:
        pp = properties(pushed)
        rep.pushed = bool(pp.get("pushed"))
        rep.pushed_version = pp.get("pushed_version") or None
        rep.pushed_path = pp.get("pushed_destination") or None
        rep.model_card = pp.get("model_card") or None
        rep.push_reason = pp.get("push_reason") or None
    infra = out_artifact(r, find(comps, "InfraValidator"), "blessing")
    if infra is not None:
        ip = properties(infra)
        rep.infra_blessed = bool(ip.get("blessed"))
        rep.infra_reason = ip.get("reason") or None


def _lineage_svg(rep: Report, store) -> None:
    """The pushed model's lineage graph (else the page shows the run's own graph)."""
    if not (rep.pushed and rep.pushed_version):
        return
    try:
        from tfxkit.infra.metadata.lineage.render import render_svg
        from tfxkit.infra.metadata.lineage.walk import model_lineage

        rep.lineage_svg = render_svg(model_lineage(store, rep.pipeline, rep.pushed_version))
    except Exception as e:  # pylint: disable=broad-except
        rep.notes.append(f"lineage graph from infra.metadata.lineage unavailable ({e}); "
                         "showing the run's own graph")


def _monitoring(rep: Report, r: Reader, comps: List[ComponentRun]) -> None:
    """The windows ``tfxkit monitor`` judged for the model of this run (the Model artifact
    under the key ``model``: the Trainer's, the one pushed, the one batch inference scored
    with; not the Evaluator's baseline), the latest record of each window end, oldest
    first."""
    from tfxkit.pipelines.mlmd_reader import monitoring_results

    model_ids = []
    for c in comps:
        for aid in (c.inputs.get("model") or []) + (c.outputs.get("model") or []):
            if aid not in model_ids and r.artifact_type(r.artifact(aid)) == "Model":
                model_ids.append(aid)
    if not model_ids:
        return
    rep.monitored_models = [r.artifact(a).uri for a in model_ids]
    latest: Dict[Any, Dict[str, Any]] = {}
    for rec in monitoring_results(r.store, model_ids):
        latest[rec.get("window_end")] = rec  # a window judged again: the newest record
    for rec in sorted(latest.values(), key=lambda d: (d.get("window_end") or 0)):
        flagged = rec.get("flagged") if isinstance(rec.get("flagged"), list) else []
        w = MonitoringWindow(start=rec.get("window_start"), end=rec.get("window_end"),
                             rows=rec.get("rows"), model_version=rec.get("model_version"),
                             crossed=bool(rec.get("crossed")), flagged=flagged,
                             result_uri=rec.get("result_uri"),
                             execution_id=rec.get("execution_id"))
        try:
            with open(w.result_uri) as f:
                data = json.load(f)
            w.features = list(data.get("features") or [])
            w.predictions = list(data.get("predictions") or [])
        except (OSError, TypeError, ValueError) as e:
            w.error = f"result {w.result_uri} unreadable: {e}"
        rep.monitoring.append(w)


def gather(store, pipeline_name: str, run_id: Optional[str] = None, run_result=None,
           planned: Optional[List[str]] = None, thresholds: Optional[Dict[str, Any]] = None
           ) -> Report:
    """The report of ``run_id`` (default: the pipeline's latest run).

    ``run_result`` (infra.run.local_runner.RunResult) gives the runner's own elapsed times
    and failure message; ``planned`` the pipeline's component ids, so those a failed
    run never reached show as ``not run``; ``thresholds`` overrides the gated metrics
    (default: the ones recorded in the Evaluator's eval_config)."""
    runs = pipeline_runs(store, pipeline_name)
    run_ctx = _run_context(runs, pipeline_name, run_id)
    r = Reader(store, pipeline_name)
    comps = component_runs(r, run_ctx)
    kind = "inference" if any(c.node_id.startswith("BatchInferrer") for c in comps) or \
        pipeline_name.endswith("-inference") else "training"
    # one list: the components added below (failed before MLMD saw them, not run) count too
    rep = Report(pipeline=pipeline_name, run_id=run_ctx.name, kind=kind,
                 run_properties={k: str(v) for k, v in properties(run_ctx).items()},
                 components=comps)
    if run_result is not None:
        _apply_run_result(rep, run_result)
    _add_not_run(rep, planned)
    rep.failed = next((c for c in rep.components if c.state == "failed"), None)
    rep.status, rep.status_reason = run_status(rep.components, properties(run_ctx))
    rep.edges = _edges(comps)
    earlier = [x for x in runs if (x.create_time_since_epoch, x.id) <
               (run_ctx.create_time_since_epoch, run_ctx.id)]
    _examples(rep, r, comps)
    _statistics(rep, r, comps, earlier)
    _validation(rep, r, comps)
    _schema(rep, r, comps)
    _training(rep, r, comps)
    _tuning(rep, r, comps)
    _evaluation(rep, r, comps, thresholds)
    _push(rep, r, comps)
    _lineage_svg(rep, store)
    _monitoring(rep, r, comps)
    if kind == "inference":
        rep.predictions = _predictions(r, comps, earlier)
    return rep


def _previous_values(r: Reader, node_id: str, current_id: int, earlier, preds: Predictions
                     ) -> Dict[str, List[Any]]:
    """The predictions of the latest earlier run whose ``node_id`` wrote other ones."""
    for prev in reversed(earlier):
        pa = out_artifact(r, find(component_runs(r, prev), node_id), "inference_result")
        if pa is None or pa.id == current_id:
            continue
        try:
            values = prediction_values(pa.uri)
            preds.previous_run = prev.name
            return values
        except Exception:  # pylint: disable=broad-except
            return {}
    return {}


def _predictions(r: Reader, comps: List[ComponentRun], earlier) -> Predictions:
    preds = Predictions()
    storers = [c for c in comps if c.node_id.startswith("PredictionStorer")]
    for s in storers[:1]:
        a = out_artifact(r, s, "prediction_run")
        if a is not None:
            p = properties(a)
            preds.rows = p.get("rows")
            preds.model_version = p.get("model_version")
            preds.store = p.get("store")
    for inf in [c for c in comps if c.node_id.startswith("BatchInferrer")]:
        a = out_artifact(r, inf, "inference_result")
        if a is None:
            continue
        model = inf.node_id[len("BatchInferrer"):].lstrip("_")
        storer = find(comps, "PredictionStorer" + inf.node_id[len("BatchInferrer"):])
        stored = out_artifact(r, storer, "prediction_run") if storer is not None else None
        if stored is not None and properties(stored).get("use_case"):
            model = properties(stored)["use_case"]
        try:
            cur = prediction_values(a.uri)
        except Exception as e:  # pylint: disable=broad-except
            preds.error = f"{type(e).__name__}: {e}"
            continue
        prev_vals = _previous_values(r, inf.node_id, a.id, earlier, preds)
        for name in sorted(cur, key=lambda n: (n not in ("class", "prediction"), n)):
            vals = cur[name]
            kind = "categorical" if vals and isinstance(vals[0], str) else "numeric"
            if name == "class_id":
                continue  # the same as class
            po = PredictionOutput(model, name, kind, vals, prev_vals.get(name))
            po.drift = prediction_drift(kind, vals, po.previous or [])
            preds.outputs.append(po)
    return preds
