"""Whose a pipeline run is, how it ended, and runs whose process is gone.

TFX records an execution as RUNNING before its component runs and as COMPLETE, CACHED or
FAILED when the launcher learns how it ended. A runner that dies without learning it
(``kill -9``, the out-of-memory killer, a lost machine) leaves the execution RUNNING for
ever, and so does a failure TFX's launcher does not catch (a driver's error, an executor
calling ``sys.exit``). So the local runner:

- records on the run's ``pipeline_run`` context who runs it (``runner_pid``,
  ``runner_host``, ``runner_pidns``, ``runner_process``: the process's boot id and start
  time, so a reused pid is not mistaken for it), which components it means to run
  (``run_nodes``) and ``run_state`` ``running``;
- when it ends sets ``run_state`` to ``succeeded``, ``failed`` or ``canceled`` (Ctrl-C,
  SIGTERM), and marks any execution of the run still NEW or RUNNING FAILED (CANCELED when
  canceled), in its own exception path;
- before it starts, and ``tfxkit report`` likewise, ``reconcile``s: a run still
  ``running`` whose runner process is gone (same host and pid namespace, and that pid is
  dead, a zombie, or another process) gets its NEW/RUNNING executions marked FAILED with
  the reason in ``__execution_result__`` (as TFX writes it) and ``run_state`` ``failed``.

FAILED, not CANCELED, for a vanished runner: TFX and Kubeflow Pipelines keep CANCELED
for a run someone stopped through the orchestrator (TFX's stop, KFP's terminate); a
process that vanished without a word was killed by something or crashed, which is how
KFP shows a pod that was OOM-killed or lost (Failed). A run on another host or in another
pid namespace cannot be checked from here: it stays ``running``.

Works on a plain ``ml_metadata`` MetadataStore (``m.store`` of TFX's Metadata); imports
neither TFX nor TensorFlow.
"""
from __future__ import annotations

import datetime
import json
import os
import socket
from dataclasses import dataclass
from typing import Dict, List, Optional

from tfxkit.pipelines.mlmd_reader import Reader, property_value

RUNNER_PID, RUNNER_HOST = "runner_pid", "runner_host"
RUNNER_PIDNS, RUNNER_PROCESS = "runner_pidns", "runner_process"
RUNNER_STARTED = "runner_started"
RUN_STATE, RUN_ERROR, RUN_NODES, RUN_ENDED = "run_state", "run_error", "run_nodes", "run_ended"
EXECUTION_RESULT = "__execution_result__"  # TFX's custom property (execution_lib)

RUNNING, SUCCEEDED, FAILED, CANCELED = "running", "succeeded", "failed", "canceled"
FINAL = (SUCCEEDED, FAILED, CANCELED)


# -- the runner process ------------------------------------------------------------

def _read(path: str) -> Optional[str]:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _pidns() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


UNVERIFIABLE = "?"  # the process exists but cannot be looked at (another user, hidepid)


def process_identity(pid: int) -> Optional[str]:
    """What tells process ``pid`` from any later process with the same pid: on Linux the
    boot id and its start time in clock ticks (``/proc/<pid>/stat``), elsewhere psutil's
    create time; None when no such process runs (a zombie is not running);
    ``UNVERIFIABLE`` when one runs that this user may not look at."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is not None:
        fields = stat[stat.rfind(")") + 2:].split()
        if fields and fields[0] in ("Z", "X"):
            return None
        boot = _read("/proc/sys/kernel/random/boot_id") or ""
        return f"{boot}/{fields[19]}"
    if os.path.isdir("/proc/self"):  # Linux: gone, or hidden from this user (hidepid)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError:  # EPERM: it exists, another user's
            return UNVERIFIABLE
        return UNVERIFIABLE
    try:
        import psutil
    except ImportError:
        return UNVERIFIABLE
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"created/{p.create_time():.2f}"
    except psutil.NoSuchProcess:
        return None
    except psutil.Error:  # AccessDenied
        return UNVERIFIABLE


def this_runner() -> Dict[str, object]:
    """The custom properties that name this process as a run's runner."""
    return {RUNNER_PID: os.getpid(), RUNNER_HOST: socket.gethostname(),
            RUNNER_PIDNS: _pidns(), RUNNER_PROCESS: process_identity(os.getpid()) or "",
            RUNNER_STARTED: datetime.datetime.now().isoformat(timespec="seconds")}


def props(ctx) -> Dict[str, object]:
    return {k: property_value(v) for k, v in ctx.custom_properties.items()}


def runner_text(p: Dict[str, object]) -> str:
    return f"pid {p.get(RUNNER_PID)} on {p.get(RUNNER_HOST)}"


def runner_alive(p: Dict[str, object]) -> Optional[bool]:
    """Whether the runner recorded in ``p`` (a run context's properties) still runs: None
    when it cannot be told from here (no runner recorded, another host or pid namespace)."""
    pid, ident = p.get(RUNNER_PID), p.get(RUNNER_PROCESS)
    if not pid or not ident:
        return None
    if p.get(RUNNER_HOST) != socket.gethostname() or (p.get(RUNNER_PIDNS) or "") != _pidns():
        return None
    now = process_identity(int(pid))
    if now == UNVERIFIABLE:
        return None
    return now == ident


def state_of_run(p: Dict[str, object]) -> Optional[str]:
    """The run's state as its runner recorded it, ``failed`` for a ``running`` run whose
    runner is gone; None for a run no tfxkit runner recorded (older runs)."""
    st = p.get(RUN_STATE)
    if st == RUNNING and runner_alive(p) is False:
        return FAILED
    return st if isinstance(st, str) and st else None


def gone_reason(p: Dict[str, object], node: Optional[str] = None) -> str:
    where = f"{node} finished" if node else "the run finished"
    return (f"the runner process ({runner_text(p)}) is gone: it was killed (kill -9, out "
            f"of memory, a lost machine) or crashed before {where}")


# -- MLMD --------------------------------------------------------------------------

def _pb():
    from ml_metadata.proto import metadata_store_pb2

    return metadata_store_pb2


def active(execution) -> bool:
    X = _pb().Execution
    return execution.last_known_state in (X.NEW, X.RUNNING)


def mark_execution(store, execution, state: str, message: str, code: int = 1) -> None:
    """Sets a NEW/RUNNING execution FAILED or CANCELED with ``message`` as TFX's
    execution result (``{"code", "resultMessage"}``, what TFX's get_execution_result
    reads)."""
    X = _pb().Execution
    execution.last_known_state = X.CANCELED if state == CANCELED else X.FAILED
    execution.custom_properties[EXECUTION_RESULT].string_value = json.dumps(
        {"code": code, "resultMessage": message}, indent=1)
    store.put_executions([execution])


def _set(ctx, values: Dict[str, object]) -> None:
    for k, v in values.items():
        if isinstance(v, bool):
            ctx.custom_properties[k].int_value = int(v)
        elif isinstance(v, int):
            ctx.custom_properties[k].int_value = v
        else:
            ctx.custom_properties[k].string_value = str(v)


def start_run(store, run_ctx, nodes: List[str]) -> None:
    """Records this process as ``run_ctx``'s runner, the components it means to run and
    ``run_state`` running (``run_ctx``: the run's pipeline_run context, fetched)."""
    _set(run_ctx, {**this_runner(), RUN_STATE: RUNNING, RUN_NODES: json.dumps(nodes)})
    store.put_contexts([run_ctx])


def finish_run(store, pipeline_name: str, run_id: str, state: str,
               error: Optional[str] = None, node: Optional[str] = None) -> List[int]:
    """Ends run ``run_id``: any of its executions still NEW/RUNNING becomes FAILED
    (CANCELED if ``state`` is canceled; ``error`` is its message) and ``run_state`` is set.
    Returns the ids of the executions marked."""
    ctx = store.get_context_by_type_and_name("pipeline_run", run_id)
    if ctx is None:
        return []
    marked = []
    X = _pb().Execution
    for e in store.get_executions_by_context(ctx.id):
        if active(e):
            mark_execution(store, e, CANCELED if state == CANCELED else FAILED,
                           error or f"the run {state}")
            marked.append(e.id)
        elif (e.last_known_state == X.FAILED and error and
              not e.custom_properties[EXECUTION_RESULT].string_value):
            # TFX's launcher marks an executor's exception FAILED without its message
            mark_execution(store, e, FAILED, error)
    ctx = store.get_context_by_type_and_name("pipeline_run", run_id)
    values: Dict[str, object] = {RUN_STATE: state,
                                 RUN_ENDED: datetime.datetime.now().isoformat(timespec="seconds")}
    if error:
        values[RUN_ERROR] = (f"{node}: " if node else "") + error
    _set(ctx, values)
    store.put_contexts([ctx])
    return marked


@dataclass
class Stale:
    """An execution (or a whole run) left unfinished by a runner that is gone."""
    pipeline: str
    run_id: str
    node: Optional[str]
    execution_id: Optional[int]
    reason: str


def reconcile(store, pipeline_name: str) -> List[Stale]:
    """Marks the runs of ``pipeline_name`` that are still ``running`` but whose runner
    process is gone: their NEW/RUNNING executions FAILED (with the reason) and the run
    ``failed``. Runs that finished, that no tfxkit runner recorded, or whose runner cannot
    be checked from here (another host) are left alone. Returns what it marked (a run
    with no execution left running is listed once with ``node`` None)."""
    pipeline_ctx = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline_ctx is None:
        return []
    reader = Reader(store, pipeline_name)
    out: List[Stale] = []
    for run in store.get_children_contexts_by_context(pipeline_ctx.id):
        p = props(run)
        if p.get(RUN_STATE) != RUNNING or runner_alive(p) is not False:
            continue
        first = None
        for e in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
            if not active(e):
                continue
            node = reader.node_of(e.id)
            reason = gone_reason(p, node)
            mark_execution(store, e, FAILED, reason)
            out.append(Stale(pipeline_name, run.name, node, e.id, reason))
            first = first or node
        if first is None:
            out.append(Stale(pipeline_name, run.name, None, None, gone_reason(p)))
        run = store.get_context_by_type_and_name("pipeline_run", run.name)
        _set(run, {RUN_STATE: FAILED, RUN_ERROR: gone_reason(p, first),
                   RUN_ENDED: datetime.datetime.now().isoformat(timespec="seconds")})
        store.put_contexts([run])
    return out


def stale_text(s: Stale) -> str:
    what = f"{s.node} (execution {s.execution_id})" if s.node else "no component running"
    return f"run {s.run_id}: {what} marked FAILED: {s.reason}"
