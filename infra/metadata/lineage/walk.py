"""The walk from a pushed model back through ML Metadata.

``model_lineage(store, pipeline_name)`` follows MLMD events back from a PushedModel:
Pusher -> Model and ModelBlessing -> Trainer (hyperparameters: its config's model section
and its ``hyperparameters`` input, HyperparametersGen's or the Tuner's) -> transformed examples
and transform graph -> Transform -> Examples -> ExampleGen (input files, span, rows per
split), and sideways to StatisticsGen, SchemaGen (or the curated-schema Importer),
ExampleValidator (anomalies) and the Evaluator (metrics against thresholds and the
baseline; a bandit's PolicyEvaluator: its off-policy estimates, ``infra/metadata/ope.py``).
Each run's config hash and git commit are custom properties of its ``pipeline_run``
context (``infra/run/properties.py``, recorded by the local runner).
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from tfxkit.infra.metadata import ope
from tfxkit.infra.metadata.lineage.facts import (anomaly_lines, hyperparameter_values,
                                                 read_metrics, schema_feature_count,
                                                 warm_start_record)
from tfxkit.infra.metadata.lineage.model import Lineage, LineageError, Step
from tfxkit.pipelines.mlmd_reader import Reader, decoded_properties, properties
from tfxkit.infra.run.properties import CONFIG_HASH, GIT_COMMIT


class _Walker(Reader):
    """The MLMD reader, noting each artifact and run the lineage passes."""

    def __init__(self, store, pipeline_name: str):
        super().__init__(store, pipeline_name)
        self.lineage_artifacts: Dict[int, Dict[str, Any]] = {}
        self.runs: Dict[str, Dict[str, str]] = {}

    def node_and_run(self, eid: int):
        node, run = super().node_and_run(eid)
        if run is not None and run.name not in self.runs:
            self.runs[run.name] = {k: str(v) for k, v in properties(run).items()}
        return node, run

    def note_artifact(self, aid: int) -> Dict[str, Any]:
        if aid not in self.lineage_artifacts:
            a = self.artifact(aid)
            props = decoded_properties(a, skip=("tfx_version", "is_external"))
            self.lineage_artifacts[aid] = {"type": self.artifact_type(a), "uri": a.uri,
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
        return Step(component=node or self.execution_type(e).rsplit(".", 1)[-1],
                    execution_id=eid, state=self.pb.Execution.State.Name(e.last_known_state),
                    run_id=run.name if run is not None else None,
                    started=e.create_time_since_epoch / 1000 if e.create_time_since_epoch else None,
                    elapsed_s=elapsed, inputs=ins, outputs=outs)

    def producer_step(self, aid: Optional[int]) -> Optional[Step]:
        """The step of the execution that wrote ``aid`` (None if none did)."""
        eid = self.producer(aid) if aid is not None else None
        return self.step(eid) if eid is not None else None


def _first(ids: Optional[List[int]]) -> Optional[int]:
    return (ids or [None])[0]


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


def _chosen_model(store, pipeline_name: str, version: Optional[str]) -> Dict[str, Any]:
    models = pushed_models(store, pipeline_name)
    if not models:
        raise LineageError(f"pipeline {pipeline_name} has pushed no model yet "
                           "(nothing in its ML Metadata)")
    if version is None:
        return models[-1]
    found = [m for m in models if m["version"] == str(version)]
    if not found:
        raise LineageError(f"pipeline {pipeline_name} pushed no model version {version!r}; "
                           f"pushed: {', '.join(m['version'] for m in models)}")
    return found[-1]


def _pusher(w: _Walker, chosen: Dict[str, Any]) -> Step:
    pushed_id = chosen["artifact_id"]
    w.note_artifact(pushed_id)
    pusher = w.producer_step(pushed_id)
    if pusher is None:
        raise LineageError(f"no Pusher execution produced pushed model {chosen['version']}")
    pusher.facts = {"version": chosen["version"], "path": chosen["path"],
                    "path_exists": bool(chosen["path"]) and os.path.isdir(chosen["path"])}
    pp = w.artifact(pushed_id).custom_properties
    for key in ("push_reason", "sha256"):
        if key in pp:
            pusher.facts[key] = pp[key].string_value
    return pusher


def _infra_validator(w: _Walker, infra_id: Optional[int]) -> Optional[Step]:
    """The InfraValidator (tfxkit's RegistryPusher reads its blessing)."""
    infra = w.producer_step(infra_id)
    if infra is not None:
        ip = properties(w.artifact(infra_id))
        infra.facts = {"blessed": bool(ip["blessed"]) if "blessed" in ip else None,
                       "reason": ip.get("reason"), "latency_p99_ms": ip.get("latency_p99_ms"),
                       "max_latency_ms": ip.get("max_latency_ms")}
    return infra


def _trainer(w: _Walker, model_id: Optional[int]) -> Optional[Step]:
    trainer = w.producer_step(model_id)
    if trainer is not None:
        props = w.exec_props(trainer.execution_id)
        custom = props.get("custom_config") or {}
        as_dict = isinstance(custom, dict)
        trainer.facts = {
            "model_uri": w.artifact(model_id).uri,
            "hyperparameters": custom.get("model") if as_dict else custom,
            "task": custom.get("task") if as_dict else None,
            "code": custom.get("code") if as_dict else None,
            "train_args": props.get("train_args"), "eval_args": props.get("eval_args"),
            "run_fn": props.get("run_fn")}
        run_id = _first(trainer.outputs.get("model_run"))
        warm = warm_start_record(w.artifact(run_id).uri if run_id is not None else None)
        if warm is not None:
            trainer.facts["warm_start"] = warm
        hp_id = _first(trainer.inputs.get("hyperparameters"))
        if hp_id is not None:  # they override the model section in run_fn
            hp = w.artifact(hp_id)
            hprops = decoded_properties(hp)
            trainer.facts["hyperparameters_input"] = {
                "artifact_id": hp_id, "uri": hp.uri, "chosen_by": hprops.get("chosen_by"),
                "values": hyperparameter_values(hp.uri, hprops)}
    return trainer


def _evaluator(w: _Walker, blessing_id: Optional[int], metrics_reader) -> Optional[Step]:
    """The Evaluator (it produced the blessing) and its metrics."""
    evaluator = w.producer_step(blessing_id)
    if evaluator is None:
        return None
    bp = w.artifact(blessing_id).custom_properties
    evaluation_id = _first(evaluator.outputs.get("evaluation"))
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
    else:  # a bandit's PolicyEvaluator: no TFMA output, its ope.json beside the blessing
        blessing = w.artifact(blessing_id)
        bprops = decoded_properties(blessing)
        kind = w.execution_type(w.execution(evaluator.execution_id))
        if ope.is_policy_evaluation(kind, blessing.uri, bprops):
            facts["ope"] = ope.read(blessing.uri, bprops)
    evaluator.facts = facts
    return evaluator


def _transform(w: _Walker, trainer: Optional[Step]) -> Optional[Step]:
    """The Transform, through the Trainer's transform graph."""
    graph_id = _first(trainer.inputs.get("transform_graph")) if trainer is not None else None
    transform = w.producer_step(graph_id)
    if transform is not None:
        tprops = w.exec_props(transform.execution_id)
        tcustom = tprops.get("custom_config") or {}
        transform.facts = {
            "transform_graph_uri": w.artifact(graph_id).uri,
            "preprocessing_fn": tprops.get("preprocessing_fn"),
            "features": tcustom.get("features") if isinstance(tcustom, dict) else None}
    return transform


def _schema(w: _Walker, schema_id: Optional[int]) -> Optional[Step]:
    """SchemaGen or the curated-schema Importer."""
    step = w.producer_step(schema_id)
    if step is not None:
        uri = w.artifact(schema_id).uri
        step.facts = {"schema_uri": uri, "features": schema_feature_count(uri)}
    return step


def _example_gen(w: _Walker, ex_id: int) -> Optional[Step]:
    gen = w.producer_step(ex_id)
    if gen is None:
        return None
    ex = w.artifact(ex_id)
    p = decoded_properties(ex)
    gprops = w.exec_props(gen.execution_id)
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
    return gen


def _validator(w: _Walker, stats_id: int, schema_id: Optional[int], ex_id: int
               ) -> Optional[Step]:
    val_eid = w.consumer(stats_id, "ExampleValidator", also_consumed=schema_id)
    if val_eid is None:
        return None
    val = w.step(val_eid)
    anomalies_id = _first(val.outputs.get("anomalies"))
    uri = w.artifact(anomalies_id).uri if anomalies_id else None
    lines = anomaly_lines(uri) if anomalies_id else None
    val.facts = {"examples_id": ex_id, "anomalies": lines,
                 "has_anomalies": None if lines is None else bool(lines), "anomalies_uri": uri}
    return val


def _gate(w: _Walker, anomalies_id: Optional[int]) -> Optional[Step]:
    gate_eid = w.consumer(anomalies_id, "ValidationGate") if anomalies_id else None
    if gate_eid is None:
        return None
    g = w.step(gate_eid)
    result_id = _first(g.outputs.get("result"))
    rp = w.artifact(result_id).custom_properties if result_id else {}
    g.facts = {"passed": bool(rp["passed"].int_value) if "passed" in rp else None,
               "anomalies": rp["anomalies"].int_value if "anomalies" in rp else None,
               "on_anomalies": w.exec_props(gate_eid).get("on_anomalies")}
    return g


def _data_steps(w: _Walker, example_ids: List[int], schema_id: Optional[int]
                ) -> List[List[Step]]:
    """[ExampleGens, StatisticsGens, ExampleValidators, ValidationGates] of the examples."""
    gens, stats_steps, validators, gates = [], [], [], []
    for ex_id in example_ids:
        gen = _example_gen(w, ex_id)
        if gen is None:
            continue
        gens.append(gen)
        stats_eid = w.consumer(ex_id, "StatisticsGen")
        if stats_eid is None:
            continue
        st = w.step(stats_eid)
        stats_id = _first(st.outputs.get("statistics"))
        st.facts = {"examples_id": ex_id,
                    "statistics_uri": w.artifact(stats_id).uri if stats_id else None}
        stats_steps.append(st)
        val = _validator(w, stats_id, schema_id, ex_id) if stats_id is not None else None
        if val is None:
            continue
        validators.append(val)
        g = _gate(w, _first(val.outputs.get("anomalies")))
        if g is not None:
            gates.append(g)
    return [gens, stats_steps, validators, gates]


def model_lineage(store, pipeline_name: str, version: Optional[str] = None,
                  metrics_reader=None) -> Lineage:
    """The lineage of the pushed model ``version`` (default: the latest pushed).

    ``metrics_reader(evaluation_uri, eval_config_json) -> dict`` reads the evaluation's
    metrics (the default uses TFMA through ``infra.run.summary``); tests may pass their own.
    """
    chosen = _chosen_model(store, pipeline_name, version)
    w = _Walker(store, pipeline_name)
    pusher = _pusher(w, chosen)
    infra = _infra_validator(w, _first(pusher.inputs.get("infra_blessing")))
    trainer = _trainer(w, _first(pusher.inputs.get("model")))
    evaluator = _evaluator(w, _first(pusher.inputs.get("model_blessing")), metrics_reader)
    transform = _transform(w, trainer)
    example_ids: List[int] = []
    if transform is not None:
        example_ids = transform.inputs.get("examples") or []
    elif evaluator is not None:
        example_ids = evaluator.inputs.get("examples") or []
    schema_id = next((src.inputs["schema"][0] for src in (transform, trainer, evaluator)
                      if src is not None and src.inputs.get("schema")), None)
    schema_step = _schema(w, schema_id)
    gens, stats_steps, validators, gates = _data_steps(w, example_ids, schema_id)
    steps: List[Step] = []
    for group in (gens, stats_steps, [schema_step], validators, gates, [transform], [trainer],
                  [evaluator], [infra], [pusher]):
        steps += [s for s in group if s is not None]
    run = w.runs.get(pusher.run_id or "", {})
    return Lineage(pipeline=pipeline_name, model_version=chosen["version"],
                   pushed_path=chosen["path"], run_id=pusher.run_id,
                   config_hash=run.get(CONFIG_HASH), git_commit=run.get(GIT_COMMIT),
                   steps=steps, artifacts=w.lineage_artifacts, runs=w.runs)
