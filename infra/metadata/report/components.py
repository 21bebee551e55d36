"""A run's components as the report shows them (``ComponentRun``: ran, cached, failed,
canceled, resolved, running; timing; error) and the run's status, from the executions the
MLMD reader (``pipelines/mlmd_reader.py``) finds in its ``pipeline_run`` context."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from tfxkit.pipelines.mlmd_reader import Reader, properties
from tfxkit.infra.metadata.report.model import ComponentRun, Report


def result_message(v: Any) -> Optional[str]:
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


def report_status(rep: Report) -> Tuple[str, Optional[str]]:
    """The run's status and why: the gathered one, else derived from the components
    (never ``succeeded`` while one failed, was canceled or still runs)."""
    if rep.status:
        return rep.status, rep.status_reason
    return run_status(rep.components, rep.run_properties)


def _state(r: Reader, e) -> str:
    """ran | cached | failed | canceled | running | resolved (a Resolver or Importer)."""
    X = r.pb.Execution
    # an unknown state is not a success either
    state = {X.CACHED: "cached", X.COMPLETE: "ran", X.FAILED: "failed",
             X.RUNNING: "running", X.NEW: "running", X.CANCELED: "canceled"
             }.get(e.last_known_state, "failed")
    etype = r.execution_type(e)
    system = etype.endswith(("Resolver", "Importer")) or "resolver" in etype.lower()
    return "resolved" if system and state == "ran" else state


execution_state = _state  # public: the dashboard's run table (infra/ui/data.py) uses it


def component_runs(r: Reader, run_ctx) -> List[ComponentRun]:
    """One ComponentRun per execution of the pipeline in the run, oldest first; a running
    execution whose runner is gone (the store not yet marked) shows as failed."""
    from tfxkit.infra.run import state as run_state

    X = r.pb.Execution
    out = []
    run_props = properties(run_ctx)
    gone = run_state.state_of_run(run_props) == run_state.FAILED and \
        run_props.get(run_state.RUN_STATE) == run_state.RUNNING
    for node, e in r.run_executions(run_ctx):
        state = _state(r, e)
        start = e.create_time_since_epoch / 1000 if e.create_time_since_epoch else None
        end = e.last_update_time_since_epoch / 1000 if e.last_update_time_since_epoch else None
        ins, outs = r.io(e.id)
        err = None
        if state == "running" and gone:
            state, err = "failed", run_state.gone_reason(run_props, node)
        elif state in ("failed", "canceled"):
            err = result_message(properties(e).get(run_state.EXECUTION_RESULT)) or (
                "unknown execution state" if e.last_known_state not in
                (X.FAILED, X.CANCELED) else None)
        out.append(ComponentRun(node, state, e.id, start, end,
                                (end - start) if start and end else None, err, ins, outs))
    return out


def find(comps: List[ComponentRun], prefix: str) -> Optional[ComponentRun]:
    """The component named ``prefix``, else the first whose name starts so."""
    return next((c for c in comps if c.node_id == prefix), None) or \
        next((c for c in comps if c.node_id.startswith(prefix)), None)


def out_artifact(r: Reader, comp: Optional[ComponentRun], key: str):
    """The first artifact ``comp`` wrote under ``key`` (None if none)."""
    if comp is None or not comp.outputs.get(key):
        return None
    return r.artifact(comp.outputs[key][0])
