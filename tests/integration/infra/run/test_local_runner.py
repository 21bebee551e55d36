"""The local runner's one concurrency: a component marked ``RUNS_BESIDE`` (tfxkit's
InfraValidator) starts in a second thread as soon as its inputs are ready, beside the next
component in order, and is waited for at its own place in the order. Four small
components: Source -> Slow, Source -> Beside, (Slow, Beside) -> Sink; each executor
appends ``name start|end time`` to a log."""
import time
from typing import Any, Dict, List

import pytest
from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from tfxkit.infra.run.local_runner import RunFailed, run_pipeline


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        name, log = exec_properties["name"], exec_properties["log"]
        with open(log, "a") as f:
            f.write(f"{name} start {time.time()}\n")
        time.sleep(exec_properties["seconds"])
        if exec_properties["fail"]:
            raise ValueError(f"{name} is broken")
        with open(log, "a") as f:
            f.write(f"{name} end {time.time()}\n")


class StepSpec(types.ComponentSpec):
    PARAMETERS = {"name": ExecutionParameter(type=str), "log": ExecutionParameter(type=str),
                  "seconds": ExecutionParameter(type=float),
                  "fail": ExecutionParameter(type=int)}
    INPUTS = {"a": ChannelParameter(type=standard_artifacts.String, optional=True),
              "b": ChannelParameter(type=standard_artifacts.String, optional=True)}
    OUTPUTS = {"out": ChannelParameter(type=standard_artifacts.String)}


class Step(base_component.BaseComponent):
    SPEC_CLASS = StepSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, name, log, seconds=0.0, fail=False, a=None, b=None):
        super().__init__(spec=StepSpec(name=name, log=str(log), seconds=seconds,
                                       fail=int(fail), a=a, b=b,
                                       out=types.Channel(type=standard_artifacts.String)))
        self._id = name


class BesideStep(Step):
    RUNS_BESIDE = True


def _pipeline(root, slow_fails=False, beside_fails=False, beside_cls=BesideStep):
    from tfx.orchestration import metadata
    from tfx.orchestration import pipeline as tfx_pipeline

    log = root / "log"
    source = Step("Source", log)
    slow = Step("Slow", log, 2.0, slow_fails, a=source.outputs["out"])
    beside = beside_cls("Beside", log, 1.0, beside_fails, a=source.outputs["out"])
    sink = Step("Sink", log, a=slow.outputs["out"], b=beside.outputs["out"])
    return tfx_pipeline.Pipeline(
        pipeline_name="beside", pipeline_root=str(root / "pr"),
        components=[source, slow, beside, sink], enable_cache=False,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            str(root / "metadata.sqlite")))


def _times(root) -> Dict[str, Dict[str, float]]:
    out: Dict[str, Dict[str, float]] = {}
    for line in (root / "log").read_text().splitlines():
        name, what, t = line.split()
        out.setdefault(name, {})[what] = float(t)
    return out


def _executions(root) -> Dict[str, str]:
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    c = pb.ConnectionConfig()
    c.sqlite.filename_uri = str(root / "metadata.sqlite")
    store = metadata_store.MetadataStore(c)
    out = {}
    for ctx in store.get_contexts_by_type("node"):
        for e in store.get_executions_by_context(ctx.id):
            out[ctx.name.split(".")[-1]] = pb.Execution.State.Name(e.last_known_state)
    return out


def test_a_component_marked_beside_runs_while_the_next_one_does(tmp_path):
    started = []
    result = run_pipeline(_pipeline(tmp_path), on_start=started.append)
    t = _times(tmp_path)
    assert t["Beside"]["start"] < t["Slow"]["end"] and t["Slow"]["start"] < t["Beside"]["end"]
    assert t["Sink"]["start"] >= max(t["Slow"]["end"], t["Beside"]["end"])
    # reported in the pipeline's order, each with its own time
    assert [(n.node_id, n.state) for n in result.nodes] == [
        ("Source", "ran"), ("Slow", "ran"), ("Beside", "ran"), ("Sink", "ran")]
    assert started == ["Source", "Beside", "Slow", "Sink"]
    assert result.nodes[2].elapsed >= 1.0 and result.nodes[1].elapsed >= 2.0
    assert result.elapsed < 3.0 + 2.5  # overlapped (sequential would be over 3 s of sleep)
    assert _executions(tmp_path) == {n: "COMPLETE" for n in ("Source", "Slow", "Beside", "Sink")}


def test_an_unmarked_component_waits_its_turn(tmp_path):
    run_pipeline(_pipeline(tmp_path, beside_cls=Step))
    t = _times(tmp_path)
    assert t["Beside"]["start"] >= t["Slow"]["end"] or t["Slow"]["start"] >= t["Beside"]["end"]


def test_a_failure_beside_fails_the_run_at_its_place_and_nothing_after_runs(tmp_path):
    with pytest.raises(RunFailed) as e:
        run_pipeline(_pipeline(tmp_path, beside_fails=True))
    assert e.value.node.node_id == "Beside" and "Beside is broken" in e.value.node.error
    assert [(n.node_id, n.state) for n in e.value.result.nodes] == [
        ("Source", "ran"), ("Slow", "ran"), ("Beside", "failed")]
    assert "Sink" not in _times(tmp_path)
    assert _executions(tmp_path) == {"Source": "COMPLETE", "Slow": "COMPLETE",
                                     "Beside": "FAILED"}


def test_a_failure_while_one_runs_beside_waits_for_it_and_reports_both(tmp_path):
    with pytest.raises(RunFailed) as e:
        run_pipeline(_pipeline(tmp_path, slow_fails=True))
    assert e.value.node.node_id == "Slow"
    assert [(n.node_id, n.state) for n in e.value.result.nodes] == [
        ("Source", "ran"), ("Beside", "ran"), ("Slow", "failed")]
    # finished, not left RUNNING by a thread the process abandoned
    assert _executions(tmp_path) == {"Source": "COMPLETE", "Slow": "FAILED",
                                     "Beside": "COMPLETE"}


def test_infra_validator_is_marked_and_no_other_tfxkit_component_is():
    import importlib
    import pkgutil

    import tfxkit.components as comps

    marked = []
    for m in pkgutil.iter_modules(comps.__path__):
        try:
            mod = importlib.import_module(f"tfxkit.components.{m.name}.component")
        except ModuleNotFoundError:
            continue
        marked += [n for n, c in vars(mod).items()
                   if isinstance(c, type) and c.__module__ == mod.__name__
                   and getattr(c, "RUNS_BESIDE", False)]
    assert marked == ["InfraValidator"]


def test_memory_is_handed_back_after_every_component_failed_ones_too(tmp_path, monkeypatch):
    from tfxkit.infra.run import local_runner

    after = []
    release = local_runner.release_memory
    monkeypatch.setattr(local_runner, "release_memory",
                        lambda: after.append(_executions(tmp_path)) or release())
    with pytest.raises(RunFailed):
        run_pipeline(_pipeline(tmp_path, slow_fails=True))
    # once as each launcher returned (its execution recorded), the failing Slow included
    assert len(after) == 3 and after[-1]["Slow"] == "FAILED", after
    assert after[0] == {"Source": "COMPLETE"}
