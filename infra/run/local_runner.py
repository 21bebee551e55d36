"""The local runner: runs a tfx.dsl.Pipeline in this process, component by component,
reporting each one (ran, cached or failed, elapsed) as it finishes. One exception: a
component marked ``RUNS_BESIDE`` (tfxkit's InfraValidator) runs in a second thread beside
the next one in order (the Evaluator) and is waited for before what reads its outputs.

It is TFX's LocalDagRunner loop with a progress callback, and without its INFO log of
the whole MLMD connection config (which holds a MySQL password when there is one).

It also keeps MLMD true to what happened (``infra/run/state.py``): before it starts it marks
the executions of earlier runs whose runner process is gone (``kill -9``) FAILED; it
records itself as the run's runner; when a component fails in a way TFX's launcher does
not record (a driver's error, ``sys.exit`` in an executor) it marks the execution FAILED
itself, and CANCELED on Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import contextlib
import datetime
import functools
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional


@dataclass
class NodeResult:
    node_id: str
    state: str  # ran | cached | resolved | failed | canceled | skipped | reused (partial run)
    elapsed: float
    execution_id: Optional[int] = None
    error: Optional[str] = None


@dataclass
class RunResult:
    pipeline_name: str
    run_id: str
    nodes: List[NodeResult] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def failed(self) -> Optional[NodeResult]:
        return next((n for n in self.nodes if n.state == "failed"), None)

    def node(self, node_id: str) -> Optional[NodeResult]:
        return next((n for n in self.nodes if n.node_id == node_id), None)


class UnknownComponent(ValueError):
    """``--from`` names a component the pipeline does not have."""

    def __init__(self, names: List[str], known: List[str]):
        self.names, self.known = names, known
        super().__init__(f"unknown component{'s' if len(names) > 1 else ''} "
                         f"{', '.join(map(repr, names))}; this pipeline's components: "
                         f"{', '.join(known)}")


class NoPreviousRun(RuntimeError):
    """A partial run (``--from``) needs a previous run whose artifacts it reuses."""


class RunFailed(RuntimeError):
    def __init__(self, result: RunResult, node: NodeResult):
        self.result, self.node = result, node
        super().__init__(f"{node.node_id} failed: {node.error}")


class Canceled(BaseException):
    """Raised in the runner's main thread on SIGTERM (as KeyboardInterrupt is on SIGINT)."""

    def __init__(self, signal_name: str = "SIGTERM"):
        self.signal_name = signal_name
        super().__init__(signal_name)


class RunCanceled(BaseException):
    """The run was stopped (Ctrl-C, SIGTERM) in ``node``; MLMD records it CANCELED. A
    BaseException, as KeyboardInterrupt is: no ``except Exception`` swallows it."""

    def __init__(self, result: RunResult, node: Optional[NodeResult], signal_name: str):
        self.result, self.node, self.signal_name = result, node, signal_name
        where = f" in {node.node_id}" if node else ""
        super().__init__(f"canceled{where} ({signal_name})")


@contextlib.contextmanager
def _sigterm_cancels():
    """SIGTERM (Airflow's kill, ``kill PID``) raises Canceled in the main thread, so the
    runner records the run CANCELED before it exits; the previous handler is restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Canceled("SIGTERM")

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _state(connection_config, execution_id: Optional[int], is_system: bool) -> str:
    if is_system:
        return "resolved"
    if not execution_id:
        return "skipped"
    from ml_metadata.proto import metadata_store_pb2
    from tfx.orchestration import metadata

    with metadata.Metadata(connection_config) as m:
        [execution] = m.store.get_executions_by_id([execution_id])
    X = metadata_store_pb2.Execution
    # NEW/RUNNING after the launcher returned: not finished, never "ran"
    return {X.CACHED: "cached", X.COMPLETE: "ran", X.FAILED: "failed", X.CANCELED: "canceled",
            X.NEW: "running", X.RUNNING: "running"}.get(execution.last_known_state, "failed")


@functools.lru_cache(maxsize=None)
def _malloc_trim():
    """glibc's ``malloc_trim``, looked up once; None where the C library has none."""
    import ctypes
    import ctypes.util

    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_memory() -> bool:
    """Hands the C heap's free pages back to the system (glibc's ``malloc_trim``): a
    component's freed buffers (decoded examples, analyzer inputs, a dataset cache) would
    otherwise stay in this process's RSS through every later component. False where the
    C library has no ``malloc_trim`` (not glibc)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@contextlib.contextmanager
def _component_argv():
    """TFX's Beam executors parse ``sys.argv + beam_pipeline_args`` with absl flags; the
    caller's own arguments must not leak in (``tfxkit run -v``: ``-v`` is absl's
    verbosity flag and would swallow the first Beam argument as its value)."""
    saved = sys.argv
    sys.argv = saved[:1]
    try:
        yield
    finally:
        sys.argv = saved


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # Beam wraps errors raised inside transforms; the root cause is the useful part.
    cause = exc
    while True:
        nxt = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
        if nxt is None:
            break
        cause = nxt
    if cause is not exc and str(cause).strip():
        text = f"{type(cause).__name__}: {str(cause).strip()}"
    return text


def _previous_runs(connection_config, pipeline_name: str) -> List[str]:
    """Names (run ids) of the pipeline's earlier pipeline_run contexts."""
    from tfx.orchestration import metadata

    with metadata.Metadata(connection_config) as m:
        pipeline_ctx = m.store.get_context_by_type_and_name("pipeline", pipeline_name)
        if pipeline_ctx is None:
            return []
        return [c.name for c in m.store.get_children_contexts_by_context(pipeline_ctx.id)]


def _record_run(connection_config, pipeline_name: str, run_id: str,
                properties: Dict[str, str], nodes: Optional[List[str]] = None) -> None:
    """Creates this run's pipeline_run context (child of the pipeline context, as TFX
    makes it) with ``properties`` as custom properties (the config hash and the code's
    git commit, which lineage reads back), this process as its runner, ``nodes`` (the
    components it will run) and ``run_state`` running (``infra/run/state.py``)."""
    from tfx.dsl.compiler import constants
    from tfx.orchestration import metadata
    from tfx.orchestration.portable.mlmd import context_lib

    from tfxkit.infra.run import state as run_state

    with metadata.Metadata(connection_config) as m:
        pipeline_ctx = context_lib.register_context_if_not_exists(
            m, constants.PIPELINE_CONTEXT_TYPE_NAME, pipeline_name)
        run_ctx = context_lib.register_context_if_not_exists(
            m, constants.PIPELINE_RUN_CONTEXT_TYPE_NAME, run_id, parent_contexts=[pipeline_ctx])
        for k, v in properties.items():
            run_ctx.custom_properties[k].string_value = str(v)
        run_state.start_run(m.store, run_ctx, list(nodes or []))


def _reconcile(connection_config, pipeline_name: str) -> list:
    """Marks earlier runs of the pipeline whose runner process is gone (run_state);
    returns what it marked."""
    from tfx.orchestration import metadata

    from tfxkit.infra.run import state as run_state

    with metadata.Metadata(connection_config) as m:
        return run_state.reconcile(m.store, pipeline_name)


def _finish_run(connection_config, pipeline_name: str, run_id: str, state: str,
                error: Optional[str] = None, node: Optional[str] = None) -> None:
    """Records how the run ended and marks its executions still NEW/RUNNING FAILED
    (CANCELED); a failure to record is a warning, never hiding the run's own error."""
    from absl import logging
    from tfx.orchestration import metadata

    from tfxkit.infra.run import state as run_state

    try:
        with metadata.Metadata(connection_config) as m:
            run_state.finish_run(m.store, pipeline_name, run_id, state, error, node)
    except Exception as e:  # pylint: disable=broad-except
        logging.warning("could not record the end (%s) of run %s in MLMD: %s", state,
                        run_id, e)


def _mark_partial_run(ir, from_nodes: List[str], connection_config) -> None:
    """Marks ``ir`` for a TFX partial run from ``from_nodes``: they and everything
    downstream run, upstream nodes are skipped and their outputs are reused from the
    latest run (TFX's snapshot). The named nodes and those downstream run with the cache
    off, so they execute even when nothing they read changed (new code, say)."""
    from tfx.orchestration.portable import partial_run_utils

    known = [n.pipeline_node.node_info.id for n in ir.nodes]
    unknown = [n for n in from_nodes if n not in known]
    if unknown:
        raise UnknownComponent(unknown, known)
    if not _previous_runs(connection_config, ir.pipeline_info.id):
        raise NoPreviousRun(
            f"pipeline {ir.pipeline_info.id} has no earlier run in MLMD to re-run from; "
            "run it once in full first")
    partial_run_utils.mark_pipeline(
        ir, from_nodes=list(from_nodes),
        snapshot_settings=partial_run_utils.latest_pipeline_snapshot_settings())
    for node in ir.nodes:
        opts = node.pipeline_node.execution_options
        if not opts.HasField("skip"):
            opts.caching_options.enable_cache = False


def run_pipeline(pipeline, on_start: Callable[[str], None] = lambda node_id: None,
                 on_done: Callable[[NodeResult], None] = lambda r: None,
                 from_nodes: Optional[List[str]] = None,
                 run_properties: Optional[Dict[str, str]] = None,
                 on_stale: Callable[[object], None] = lambda stale: None) -> RunResult:
    """Compiles and runs ``pipeline``; raises RunFailed naming the failed component, or
    RunCanceled (a BaseException) on Ctrl-C or SIGTERM.

    ``from_nodes``: a partial run (backfill) from these components on the artifacts of
    the latest run; raises UnknownComponent or NoPreviousRun before anything runs.
    ``run_properties`` are recorded on the run's pipeline_run context in MLMD.
    Earlier runs of the pipeline whose runner process is gone are marked FAILED first;
    ``on_stale`` is called with each (``infra.run.state.Stale``).
    """
    from tfx.dsl.compiler import compiler, constants
    from tfx.orchestration.local import runner_utils
    from tfx.orchestration.portable import runtime_parameter_utils

    ir = compiler.Compiler().compile(pipeline)
    run_id = datetime.datetime.now().isoformat()
    runtime_parameter_utils.substitute_runtime_parameter(
        ir, {constants.PIPELINE_RUN_ID_PARAMETER_NAME: run_id})
    deployment_config = runner_utils.extract_local_deployment_config(ir)
    if getattr(pipeline, "runtime_connection", None) is not None:
        # tfxkit's pipelines compile without the MLMD password (so neither the IR nor
        # MLMD holds it); the full connection is made only here (tfxkit.pipelines.mlmd)
        connection_config = pipeline.runtime_connection()
    else:
        mlmd_config = deployment_config.metadata_connection_config
        connection_config = getattr(mlmd_config, mlmd_config.WhichOneof("connection_config"))
    from tfxkit.infra.run import state as run_state

    name = ir.pipeline_info.id
    for stale in _reconcile(connection_config, name):
        on_stale(stale)
    if from_nodes:
        _mark_partial_run(ir, list(from_nodes), connection_config)
    nodes = [n.pipeline_node.node_info.id for n in ir.nodes
             if not n.pipeline_node.execution_options.HasField("skip")]
    _record_run(connection_config, name, run_id, run_properties or {}, nodes)
    with _sigterm_cancels():
        try:
            result = _run_nodes(ir, run_id, connection_config, deployment_config, from_nodes,
                                on_start, on_done, beside=_beside_ids(pipeline))
        except RunFailed as e:
            _finish_run(connection_config, name, run_id, run_state.FAILED, e.node.error,
                        e.node.node_id)
            raise
        except RunCanceled as e:
            _finish_run(connection_config, name, run_id, run_state.CANCELED,
                        f"canceled ({e.signal_name})", e.node.node_id if e.node else None)
            raise
        except (KeyboardInterrupt, Canceled) as e:
            sig = e.signal_name if isinstance(e, Canceled) else "SIGINT"
            _finish_run(connection_config, name, run_id, run_state.CANCELED,
                        f"canceled ({sig})")
            raise RunCanceled(RunResult(name, run_id), None, sig) from e
        except BaseException as e:
            _finish_run(connection_config, name, run_id, run_state.FAILED, _error_text(e))
            raise
        _finish_run(connection_config, name, run_id, run_state.SUCCEEDED)
        return result


def _beside_ids(pipeline) -> frozenset:
    """Ids of the pipeline's components that may run in a second thread beside the next
    component in order (``RUNS_BESIDE = True`` on the component class: tfxkit's
    InfraValidator, which reads no ``sys.argv`` or absl flags and does its work in a child
    process)."""
    return frozenset(c.id for c in getattr(pipeline, "components", [])
                     if getattr(type(c), "RUNS_BESIDE", False))


def _ready_beside(ir, index: int, finished: set, started: set, beside: frozenset):
    """The first node after ``ir.nodes[index]`` that may run beside it: one of ``beside``,
    not started, every upstream node finished (so it cannot need the node at ``index``)."""
    for node in ir.nodes[index + 1:]:
        pnode = node.pipeline_node
        node_id = pnode.node_info.id
        if (node_id in beside and node_id not in started
                and not pnode.execution_options.HasField("skip")
                and all(u in finished for u in pnode.upstream_nodes)):
            return node
    return None


class _Beside:
    """A node launched in a daemon thread; ``result()`` waits for it and returns its
    NodeResult, or raises what its launch raised (RunFailed)."""

    def __init__(self, launch: Callable, node):
        self.node_id = node.pipeline_node.node_info.id
        self._box: Dict[str, object] = {}
        self._thread = threading.Thread(target=self._run, args=(launch, node),
                                        name=f"tfxkit-{self.node_id}", daemon=True)
        self._thread.start()

    def _run(self, launch, node):
        try:
            self._box["result"] = launch(node, in_thread=True)
        except BaseException as e:  # pylint: disable=broad-except  (raised in result())
            self._box["error"] = e

    def result(self) -> NodeResult:
        while self._thread.is_alive():  # a timeout: signals still reach the main thread
            self._thread.join(0.2)
        if "error" in self._box:
            raise self._box["error"]
        return self._box["result"]


def _run_nodes(ir, run_id, connection_config, deployment_config, from_nodes, on_start,
               on_done, beside: frozenset = frozenset()) -> RunResult:
    """Runs the nodes in the IR's (topological) order in this thread; a node of ``beside``
    starts in a second thread as soon as its inputs are ready (or at its turn) and is
    waited for before the first node that reads its outputs, or at the end (one at a time:
    the local runner's only concurrency, e.g. InfraValidator beside the Evaluator)."""
    from tfx.orchestration import metadata
    from tfx.orchestration.local import runner_utils
    from tfx.orchestration.portable import launcher, partial_run_utils

    result = RunResult(pipeline_name=ir.pipeline_info.id, run_id=run_id)
    started = time.monotonic()

    def launch(node, in_thread: bool = False) -> NodeResult:
        pnode = node.pipeline_node
        node_id = pnode.node_info.id
        if pnode.execution_options.run.perform_snapshot:
            try:
                with metadata.Metadata(connection_config) as m:
                    partial_run_utils.snapshot(m, ir)
            except LookupError as e:
                raise NoPreviousRun(f"cannot reuse the outputs of the latest run: {e}") from e
        component_launcher = launcher.Launcher(
            pipeline_node=pnode,
            mlmd_connection=metadata.Metadata(connection_config),
            pipeline_info=ir.pipeline_info,
            pipeline_runtime_spec=ir.runtime_spec,
            executor_spec=runner_utils.extract_executor_spec(deployment_config, node_id),
            custom_driver_spec=runner_utils.extract_custom_driver_spec(deployment_config, node_id))
        t0 = time.monotonic()
        try:
            with (contextlib.nullcontext() if in_thread else _component_argv()):
                info = component_launcher.launch()
        except (Exception, SystemExit) as e:  # the component failed: report, then stop
            # (TFX's launcher records an executor's exception FAILED; a driver's error or
            # an executor's sys.exit it leaves RUNNING: run_pipeline marks those)
            error = (f"the component exited with code {e.code} (sys.exit)"
                     if isinstance(e, SystemExit) else _error_text(e))
            raise RunFailed(result, NodeResult(node_id, "failed", time.monotonic() - t0,
                                               error=error)) from e
        except (KeyboardInterrupt, Canceled) as e:  # stopped: CANCELED, not failed
            sig = e.signal_name if isinstance(e, Canceled) else "SIGINT"
            raise RunCanceled(result, NodeResult(node_id, "canceled", time.monotonic() - t0,
                                                 error=f"canceled ({sig})"), sig) from e
        finally:
            release_memory()
        is_system = bool(component_launcher._system_node_handler)  # pylint: disable=protected-access
        execution_id = info.execution_id if info is not None else None
        state = _state(connection_config, execution_id, is_system)
        nr = NodeResult(node_id, state, time.monotonic() - t0, execution_id=execution_id)
        if state in ("failed", "canceled", "running"):  # e.g. input resolution failed:
            # TFX records it, no raise; or an execution its launcher left unfinished (that
            # one run_pipeline marks FAILED)
            nr.state = "canceled" if state == "canceled" else "failed"
            nr.error = (f"the execution was recorded as {nr.state.upper()} in MLMD"
                        if state != "running" else
                        "the execution was still RUNNING in MLMD after its launcher returned")
        return nr

    def stop(nr: NodeResult, exc: BaseException, cause: Optional[BaseException] = None):
        result.nodes.append(nr)
        result.elapsed = time.monotonic() - started
        on_done(nr)
        raise exc from cause

    finished: set = set()  # node ids done (or skipped): what a node beside may wait on
    launched: set = set()
    side: Optional[_Beside] = None

    def record(nr: NodeResult) -> None:
        finished.add(nr.node_id)
        result.nodes.append(nr)
        on_done(nr)
        if nr.state in ("failed", "canceled"):
            if side is not None:
                _settle(side, result, on_done)
            result.elapsed = time.monotonic() - started
            raise RunFailed(result, nr)

    def join(current: _Beside) -> None:
        try:
            nr = current.result()
        except (RunFailed, RunCanceled) as e:
            stop(e.node, e, e.__cause__)
        record(nr)

    def start_beside(node) -> _Beside:
        node_id = node.pipeline_node.node_info.id
        launched.add(node_id)
        on_start(node_id)
        return _Beside(launch, node)

    for index, node in enumerate(ir.nodes):
        pnode = node.pipeline_node
        node_id = pnode.node_info.id
        if pnode.execution_options.HasField("skip"):
            finished.add(node_id)
            if from_nodes:  # a partial run: upstream outputs come from the latest run
                nr = NodeResult(node_id, "reused", 0.0)
                result.nodes.append(nr)
                on_done(nr)
            continue
        if node_id in launched:  # running beside: waited for where its outputs are needed
            continue
        if side is not None and side.node_id in pnode.upstream_nodes:
            current, side = side, None
            join(current)
        if side is None:
            if node_id in beside:  # its turn: it starts beside the next one in order
                side = start_beside(node)
                continue
            ahead = _ready_beside(ir, index, finished, launched, beside)
            if ahead is not None:
                side = start_beside(ahead)
        launched.add(node_id)
        on_start(node_id)
        try:
            nr = launch(node)
        except RunFailed as e:
            if side is not None:  # let the one beside finish: MLMD stays true
                _settle(side, result, on_done)
                side = None
            stop(e.node, e, e.__cause__)
        except RunCanceled as e:
            stop(e.node, e, e.__cause__)
        record(nr)
    if side is not None:
        current, side = side, None
        join(current)
    # (Ctrl-C or SIGTERM while a node runs beside: its daemon thread is left; run_pipeline
    # records the run CANCELED and the next run marks that execution FAILED)
    result.elapsed = time.monotonic() - started
    return result


def _settle(side: _Beside, result: RunResult, on_done) -> None:
    """Waits for the node beside a failed one and reports it (its own failure included)."""
    try:
        nr = side.result()
    except (RunFailed, RunCanceled) as e:
        nr = e.node
    result.nodes.append(nr)
    on_done(nr)
