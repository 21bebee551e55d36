"""What ``tfxkit run`` says and returns once the runner is done (issue 17): the counts of
the listed components by state, the line of a run in which nothing changed (instead of
the earlier run's summary), and the exit status.

Exit statuses of ``tfxkit run``: 0 a completed run whose model is blessed (pushed, or
identical to the serving version); 1 a component failed; 2 the config or the data was
rejected before anything ran; 3 the run completed but its model is not blessed, or its
infra validation failed, so nothing was pushed (``NOT_BLESSED``); 130 / 143 canceled
(SIGINT / SIGTERM)."""
from __future__ import annotations

from typing import Optional

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
