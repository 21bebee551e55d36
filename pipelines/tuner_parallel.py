"""Trials in parallel processes (``model.tune.parallel`` > 1): KerasTuner's own
distributed mode, one chief and N workers on this machine.

KerasTuner runs a search across processes when ``KERASTUNER_ORACLE_IP``,
``KERASTUNER_ORACLE_PORT`` and ``KERASTUNER_TUNER_ID`` are set: the process whose id holds
``chief`` serves the oracle over gRPC (``tuner.search`` blocks until every worker is told to
stop and no trial is running), every other process is a worker that asks the chief for a
trial, trains it and reports its score. Here the Tuner's executor starts the chief and
``parallel`` workers as ``python -m tfxkit.pipelines.tuner_parallel ROLE SPEC`` on a free
loopback port; each runs TFX's own ``search`` (``tfx.components.tuner.executor``) with the
same ``tuner_fn`` as a serial search, in a project folder of its own
(``tuner_fn.build_tuner``). The chief holds every trial at the end and writes the Tuner's two
outputs (``write_best_hyperparameters``), as TFX's executor does for a serial search.

Each worker records when each of its trials ran (``trial_times.jsonl`` under its project
folder) so that the parallelism can be seen, and is checked by the e2e test.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

CHIEF = "chief"
TIMES = "trial_times.jsonl"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tuner_id() -> Optional[str]:
    """This process's KerasTuner id when it takes part in a parallel search."""
    return os.environ.get("KERASTUNER_TUNER_ID") if "KERASTUNER_ORACLE_IP" in os.environ \
        else None


def is_worker() -> bool:
    tid = tuner_id()
    return tid is not None and CHIEF not in tid


def worker_ids(n: int) -> List[str]:
    return [f"tuner{i}" for i in range(n)]


def write_spec(path: str, input_dict, output_dict, exec_properties: Dict[str, Any],
               working_dir: str) -> None:
    from tfx.types import artifact_utils

    spec = {"input_dict": artifact_utils.jsonify_artifact_dict(input_dict),
            "output_dict": artifact_utils.jsonify_artifact_dict(output_dict),
            "exec_properties": exec_properties, "working_dir": working_dir}
    with open(path, "w") as f:
        json.dump(spec, f)


def _tail(path: str, n: int = 3000) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError:
        return ""


def _kill(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def run_parallel(input_dict, output_dict, exec_properties: Dict[str, Any], working_dir: str,
                 parallel: int, log=print, poll_s: float = 0.5
                 ) -> Dict[str, List[Dict[str, Any]]]:
    """Runs the search as a chief and ``parallel`` workers; returns the trials each worker
    ran (``trial_times``). A worker that fails stops the others and the chief; the error names it and ends
    with the tail of its log."""
    os.makedirs(working_dir, exist_ok=True)
    spec = os.path.join(working_dir, "parallel_spec.json")
    write_spec(spec, input_dict, output_dict, exec_properties, working_dir)
    port = free_port()
    base = {**os.environ, "KERASTUNER_ORACLE_IP": "127.0.0.1",
            "KERASTUNER_ORACLE_PORT": str(port)}
    procs: Dict[str, subprocess.Popen] = {}
    logs: Dict[str, str] = {}
    try:
        for tid in [CHIEF] + worker_ids(parallel):
            logs[tid] = os.path.join(working_dir, f"{tid}.log")
            with open(logs[tid], "w") as out:
                procs[tid] = subprocess.Popen(
                    [sys.executable, "-m", "tfxkit.pipelines.tuner_parallel",
                     "chief" if tid == CHIEF else "worker", spec],
                    env={**base, "KERASTUNER_TUNER_ID": tid}, stdout=out,
                    stderr=subprocess.STDOUT)
        log(f"tuning: {parallel} workers and a chief oracle on 127.0.0.1:{port}")
        pending = set(procs)
        while pending:
            for tid in sorted(pending):
                rc = procs[tid].poll()
                if rc is None:
                    continue
                pending.discard(tid)
                if rc != 0:
                    raise RuntimeError(f"tuning: {tid} failed (exit {rc}); the end of its "
                                       f"log {logs[tid]}:\n{_tail(logs[tid])}")
                if tid != CHIEF:
                    log(f"tuning: {tid} done")
            time.sleep(poll_s)
    finally:
        _kill(list(procs.values()))
    return {tid: trial_times(working_dir, tid) for tid in worker_ids(parallel)}


def trial_times(working_dir: str, tid: str) -> List[Dict[str, Any]]:
    """The trials worker ``tid`` ran: ``{"trial_id", "start", "end"}`` (epoch seconds)."""
    path = os.path.join(project_root(working_dir), tid, TIMES)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def project_root(working_dir: str) -> str:
    return os.path.join(working_dir or ".", "keras_tuner")


def record_trial(directory: str, trial_id: str, start: float, end: float) -> None:
    """Appends one trial's interval to this worker's ``trial_times.jsonl``."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, TIMES), "a") as f:
        f.write(json.dumps({"trial_id": trial_id, "start": start, "end": end}) + "\n")


def overlapping(intervals: List[Dict[str, Any]]) -> bool:
    """Whether two trials of different workers ran at the same time."""
    spans = sorted((t["start"], t["end"], t["worker"]) for t in intervals)
    return any(a[1] > b[0] and a[2] != b[2] for i, a in enumerate(spans)
               for b in spans[i + 1:])


def main(argv: List[str]) -> int:
    role, spec_path = argv
    from tfx.components.tuner import executor as tuner_executor
    from tfx.types import artifact_utils

    with open(spec_path) as f:
        spec = json.load(f)
    input_dict = artifact_utils.parse_artifact_dict(spec["input_dict"])
    output_dict = artifact_utils.parse_artifact_dict(spec["output_dict"])
    tuner = tuner_executor.search(input_dict, spec["exec_properties"], spec["working_dir"],
                                  print_tuning_summary=False)
    if role == "chief":
        # the chief's oracle holds every trial: the outputs a serial search writes
        tuner_executor.write_best_hyperparameters(tuner, output_dict)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
