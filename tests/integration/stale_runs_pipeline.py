"""A one-component TFX pipeline for tests/integration/infra/run/test_state.py and
tests/integration/pipelines/test_mlmd.py, run by tfxkit's local runner: ``Step`` does
what its ``mode`` says (``ok``, ``hold``: write the marker file and sleep, ``exit``:
``sys.exit(1)``, ``raise``). ``python -m
tests.integration.stale_runs_pipeline ROOT MODE MARKER [MYSQL_DATABASE]`` runs it in a process of
its own (``start_holding_runner``; the tests kill it with -9). MLMD is ROOT/metadata.sqlite,
or the database on the local MariaDB (root, as the mysql profile of the templates)."""
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

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


def connection(root: str, mysql_database: Optional[str] = None):
    from ml_metadata.proto import metadata_store_pb2
    from tfx.orchestration import metadata

    if not mysql_database:
        return metadata.sqlite_metadata_connection_config(os.path.join(root, "metadata.sqlite"))
    c = metadata_store_pb2.ConnectionConfig()
    c.mysql.host, c.mysql.port, c.mysql.user = "127.0.0.1", 3306, "root"
    c.mysql.database = mysql_database
    return c


def pipeline(root: str, *components, mysql_database: Optional[str] = None):
    from tfx.orchestration import pipeline as tfx_pipeline

    return tfx_pipeline.Pipeline(pipeline_name=PIPELINE, pipeline_root=os.path.join(root, "pr"),
                                 components=list(components), enable_cache=False,
                                 metadata_connection_config=connection(root, mysql_database))


def start_holding_runner(root: Path, mysql_database: str = "", timeout: float = 240):
    """tfxkit's local runner in a process of its own, inside Step's executor (RUNNING in
    MLMD) until killed; returns the Popen once the executor runs."""
    marker = Path(root) / "holding"
    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["PYTHONPATH"] = os.pathsep.join([str(repo), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.Popen([sys.executable, "-m", "tests.integration.stale_runs_pipeline", str(root),
                             "hold", str(marker), mysql_database], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
            proc.kill()
            proc.wait()
            proc.stdout.close()
            raise AssertionError(f"the runner never reached its executor (rc "
                                 f"{proc.returncode}): {out[-3000:]}")
        time.sleep(0.2)
    return proc


def main(argv):
    from tests.integration import stale_runs_pipeline as me  # not __main__: an importable class
    from tfxkit.infra.run.local_runner import run_pipeline

    root, mode, marker = argv[1], argv[2], argv[3]
    db = argv[4] if len(argv) > 4 else ""
    run_pipeline(me.pipeline(root, me.Step(mode, marker), mysql_database=db or None))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
