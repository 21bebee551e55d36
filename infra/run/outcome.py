"""What ``tfxkit run`` says and returns once the runner is done (issue 17): the counts of
the listed components by state, the line of a run in which nothing changed (instead of
the earlier run's summary), and the exit status.

Exit statuses of ``tfxkit run``: 0 a completed run whose model is blessed (pushed, or
identical to the serving version); 1 a component failed; 2 the config or the data was
rejected before anything ran; 3 the run completed but its model is not blessed, or its
infra validation failed, so nothing was pushed (``NOT_BLESSED``); 130 / 143 canceled
(SIGINT / SIGTERM).

``run_alert`` is the alert a finished run fires (``alerts:`` in the config):
``failed_run`` on exit 1 from a failed component, ``not_blessed`` on exit 3."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

NOT_BLESSED = 3
# the states of a listed component, in the order the counts are printed
STATES = ("ran", "cached", "resolved", "reused", "skipped", "failed", "canceled", "running")
_UNCHANGED = ("cached", "resolved", "reused", "skipped")


def counts_text(result) -> str:
    """``10 ran, 1 resolved`` for every state a listed component is in (ran and cached
    always), so the counts add up to the components listed."""
    n = {s: 0 for s in STATES}
    for node in result.nodes:
        n[node.state] = n.get(node.state, 0) + 1
    order = list(STATES) + [s for s in n if s not in STATES]
    return ", ".join(f"{n[s]} {s}" for s in order if n[s] or s in ("ran", "cached"))


def exit_status(summary) -> int:
    """0, or ``NOT_BLESSED`` for a completed run whose model was not blessed or failed its
    infra validation (a run that did not complete exits before this: 1, 130, 143)."""
    if summary.status != "succeeded":
        return 1
    if summary.blessed is False or summary.infra_blessed is False:
        return NOT_BLESSED
    return 0


def nothing_ran(result) -> bool:
    """Every listed component was cached, resolved, reused or skipped, and one was cached:
    the same inputs and settings as an earlier run."""
    return (bool(result.nodes) and all(n.state in _UNCHANGED for n in result.nodes)
            and any(n.state == "cached" for n in result.nodes))


def earlier_run(connection_config, pipeline_name: str, execution_id: int) -> Optional[str]:
    """The run in which the outputs of ``execution_id`` (a cached execution) were made:
    the ``pipeline_run`` context of their producer."""
    from tfx.orchestration import metadata

    from tfxkit.pipelines.mlmd_reader import Reader

    with metadata.Metadata(connection_config) as m:
        r = Reader(m.store, pipeline_name)
        outs = r.io(execution_id)[1]
        for ids in outs.values():
            for aid in ids:
                producer = r.producer(aid)
                if producer is not None and producer != execution_id:
                    run = r.node_and_run(producer)[1]
                    if run is not None:
                        return run.name
    return None


def unchanged_text(earlier: Optional[str], summary, serving: Optional[str]) -> str:
    """The one line of a run in which nothing ran: since when, and what is serving."""
    since = f" since run {earlier}" if earlier else ""
    verdict = ""
    if summary.blessed is False:
        verdict = "; its model was not blessed"
    elif summary.infra_blessed is False:
        verdict = "; its model failed infra validation"
    now = f"model {serving} is serving" if serving else "no model is serving"
    return (f"Nothing changed{since}: the same inputs and settings, every result reused, "
            f"nothing new was pushed ({now}{verdict})")


FAILED = 1
_MAX_ERROR = 2000  # characters of a component's error in an alert


def run_alert(cfg, status: int, run_id: Optional[str] = None, summary=None,
              failed_node: Optional[str] = None, error: Optional[str] = None,
              fire: Optional[Callable[..., list]] = None) -> Optional[list]:
    """Fires the alert of a run that ended with ``status`` to the config's ``alerts:``
    targets: ``failed_run`` for 1 (``failed_node`` failed with ``error``), ``not_blessed``
    for ``NOT_BLESSED`` (``summary``: why). Returns what ``fire`` returned, None when the
    config has no alerts or the status needs none. Never raises."""
    if getattr(cfg, "alerts", None) is None or status not in (FAILED, NOT_BLESSED):
        return None
    try:
        if fire is None:
            from tfxkit.infra.alerts import fire
        if status == FAILED:
            where = f" in {failed_node}" if failed_node else ""
            text = (error or "a component failed")[:_MAX_ERROR]
            return fire(cfg.alerts, "failed_run", f"run failed{where}", text,
                        {"component": failed_node, "exit_status": status},
                        use_case=cfg.name, run_id=run_id)
        title, message, details = not_blessed_text(summary)
        return fire(cfg.alerts, "not_blessed", title, message,
                    details | {"exit_status": status}, use_case=cfg.name, run_id=run_id)
    except Exception as e:  # pylint: disable=broad-except  (an alert never changes the exit)
        import sys

        print(f"tfxkit: the run's alert was not sent: {type(e).__name__}: {e}",
              file=sys.stderr)
        return [("alerts", False, f"{type(e).__name__}: {e}")]


def not_blessed_text(summary) -> "tuple[str, str, Dict[str, Any]]":
    """The title, message and details of a run whose model was not blessed or failed its
    infra validation: the reasons, and the metrics that missed their thresholds."""
    infra = summary.blessed is not False and summary.infra_blessed is False
    if infra:
        title = "model failed infra validation"
        reasons: List[str] = [summary.infra_reason] if summary.infra_reason else []
    else:
        title = "model not blessed"
        reasons = list(summary.reasons)
    missed = {m.name: {"value": m.value, "threshold": m.threshold, "baseline": m.baseline}
              for m in summary.metrics if m.ok is False}
    lines = reasons or ["(no reason recorded)"]
    message = "Nothing was pushed. " + "; ".join(str(r) for r in lines)
    details = {"reasons": reasons, "failed_metrics": missed, "pushed": False}
    return title, message, details
