"""The run report: one self-contained HTML page per run (``tfxkit report``, and written
at the end of every ``tfxkit run`` / ``tfxkit predict``).

- ``model.py``: the ``Report`` dataclasses;
- ``gather.py`` reads ML Metadata (through ``pipelines/mlmd_reader.py``) and the run's
  artifacts into a ``Report``: the components and the run's status (``components.py``),
  the artifacts (``artifacts.py``), the evaluation (``evaluation.py``; a bandit's
  off-policy evaluation through ``infra/metadata/ope.py``), drift against an earlier run
  (``drift.py``);
- ``plots.py`` draws with matplotlib into inline SVG;
- ``render.py`` writes HTML + CSS (no script, nothing fetched: it opens offline and prints),
  with ``html.py`` (CSS, tables), ``render_data.py``, ``render_model.py`` and
  ``render_ope.py`` (sections) and the run's graph from ``infra/metadata/graph_svg.py``.
"""
from __future__ import annotations

import os
import re
from typing import Callable, List, Optional

from tfxkit.pipelines.mlmd_reader import latest_run, pipeline_runs
from tfxkit.infra.metadata.report.gather import gather
from tfxkit.infra.metadata.report.model import ReportError


def default_path(pipeline_root: str, run_id: str) -> str:
    """``<pipeline root>/reports/run-<run id>.html`` (the run id made file-name safe)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-")
    return os.path.join(pipeline_root, "reports", f"run-{safe}.html")


def run_report_path(cfg, pipeline_name: str, run_id: str) -> str:
    """Where a run of ``pipeline_name`` (the config's training pipeline or its inference
    pipeline) writes its report: ``default_path`` under that pipeline's root."""
    root = cfg.pipeline_root if pipeline_name == cfg.name else \
        os.path.join(cfg.resolve(cfg.root), pipeline_name)
    return default_path(root, run_id)


def write_html(text: str, path: str) -> str:
    """Writes atomically (a temp file renamed into place); returns the absolute path."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def reconcile(cfg, names: List[str], on_stale: Callable = lambda stale: None) -> None:
    """Marks the runs of ``names`` whose runner process is gone FAILED in MLMD
    (``infra.run.state.reconcile``). Where the store cannot be written (a read-only file
    or grant) nothing is marked: the report still shows those runs as failed."""
    from tfxkit.infra.run import state as run_state
    from tfxkit.pipelines import mlmd

    try:
        store = mlmd.open_store(cfg)
        for name in names:
            for stale in run_state.reconcile(store, name):
                on_stale(stale)
    except Exception:  # pylint: disable=broad-except
        pass


def record_evaluation(cfg, rep) -> bool:
    """Records a finished run's evaluation as the report read it (every metric on every
    slice, held to its thresholds, and why it was or was not blessed) on the run's
    ``pipeline_run`` context (``evaluation_json``): ``tfxkit ui`` shows a run's metrics
    from there without importing TFMA. Best effort, like ``reconcile``: a store that cannot
    be written keeps the report as it is (the dashboard then reads TFMA's output itself).
    True when recorded."""
    from tfxkit.infra.metadata.report.evaluation import evaluation_json
    from tfxkit.infra.run.properties import EVALUATION_JSON
    from tfxkit.pipelines import mlmd

    ev = rep.evaluation
    if ev is None or ev.error or rep.status not in ("succeeded", "failed", "canceled"):
        return False
    try:
        store = mlmd.open_store(cfg)
        ctx = store.get_context_by_type_and_name("pipeline_run", rep.run_id)
        if ctx is None:
            return False
        text = evaluation_json(ev)
        if ctx.custom_properties[EVALUATION_JSON].string_value == text:
            return True
        ctx.custom_properties[EVALUATION_JSON].string_value = text
        store.put_contexts([ctx])
        return True
    except Exception:  # pylint: disable=broad-except
        return False


def write_report(cfg, pipeline_name: Optional[str] = None, run_id: Optional[str] = None,
                 output: Optional[str] = None, run_result=None,
                 planned: Optional[List[str]] = None,
                 on_stale: Callable = lambda stale: None) -> str:
    """Gathers the report of ``run_id`` (default: the latest run of ``pipeline_name``,
    itself defaulting to the newest run of the config's training or inference pipeline),
    writes it to ``output`` (default ``run_report_path``) and returns the path. Runs whose
    runner process is gone are marked FAILED first (``reconcile``; ``on_stale`` is called
    with each)."""
    from tfxkit.infra.metadata.report.render import render_html
    from tfxkit.pipelines import mlmd

    names = [pipeline_name] if pipeline_name else [cfg.name, cfg.inference_name]
    reconcile(cfg, names, on_stale)
    store = mlmd.open_store(cfg, readonly=True)
    if run_id is None and pipeline_name is None:
        found = latest_run(store, names)
        if found is None:
            raise ReportError(f"pipeline {cfg.name} has no run in ML Metadata yet")
        pipeline_name, run_id = found
    elif pipeline_name is None:
        pipeline_name = next((n for n in names if any(
            c.name == run_id for c in pipeline_runs(store, n))), cfg.name)
    rep = gather(store, pipeline_name, run_id, run_result=run_result, planned=planned)
    record_evaluation(cfg, rep)
    if output is None:
        output = run_report_path(cfg, pipeline_name, rep.run_id)
    return write_html(render_html(rep), output)
