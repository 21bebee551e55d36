"""A one-component TFX pipeline for tests/unit/test_stale_runs.py, run by tfxkit's local
runner: ``Step`` does what its ``mode`` says (``ok``, ``hold``: write the marker file and
sleep, ``exit``: ``sys.exit(1)``, ``raise``). ``python -m tests.unit.stale_runs_pipeline
ROOT MODE MARKER`` runs it in a process of its own (the test kills it with -9)."""
import os
import sys
import time
from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_component, base_executor, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

PIPELINE = "stale-runs"


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        mode, marker = exec_properties["mode"], exec_properties["marker"]
        if mode == "hold":
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
            time.sleep(600)
        elif mode == "exit":
            sys.exit(1)
        elif mode == "raise":
            raise ValueError("step is broken")


class StepSpec(types.ComponentSpec):
    PARAMETERS = {"mode": ExecutionParameter(type=str), "marker": ExecutionParameter(type=str)}
    INPUTS: Dict[str, ChannelParameter] = {}
    OUTPUTS = {"out": ChannelParameter(type=standard_artifacts.String)}


class Step(base_component.BaseComponent):
    SPEC_CLASS = StepSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, mode: str, marker: str = ""):
        super().__init__(spec=StepSpec(mode=mode, marker=marker,
                                       out=types.Channel(type=standard_artifacts.String)))


def sqlite(root: str):
    from tfx.orchestration import metadata

    return metadata.sqlite_metadata_connection_config(os.path.join(root, "metadata.sqlite"))


def pipeline(root: str, *components):
    from tfx.orchestration import pipeline as tfx_pipeline

    return tfx_pipeline.Pipeline(pipeline_name=PIPELINE, pipeline_root=os.path.join(root, "pr"),
                                 components=list(components), enable_cache=False,
                                 metadata_connection_config=sqlite(root))


def main(argv):
    from tests.unit import stale_runs_pipeline as me  # not __main__: an importable class
    from tfxkit.infra.local_runner import run_pipeline

    root, mode, marker = argv[1], argv[2], argv[3]
    run_pipeline(me.pipeline(root, me.Step(mode, marker)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
