"""The report's monitoring section: the windows ``tfxkit monitor`` judged for this run's
model, each feature's skew (against the training statistics) and drift (against the
window before) beside its threshold, flagged ones highlighted, and the prediction drift;
a plot of the distances over the windows."""
from __future__ import annotations

import time
from typing import Any, Dict, Optional

from tfxkit.infra.metadata.report import plots
from tfxkit.infra.metadata.report.html import e, figure_html, fmt_num, table_html
from tfxkit.infra.metadata.report.model import MonitoringWindow, Report

MAX_WINDOWS = 24  # the newest ones get a table each


def _utc(t: Optional[float]) -> str:
    return "?" if t is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(t))


def _cell(d: Optional[Dict[str, Any]]):
    if d is None:
        return ("", "")
    value = fmt_num(d.get("value"))
    text = f"{value} / {fmt_num(d.get('threshold'))}"
    if d.get("flagged"):
        return (f"<b>{e(text)}</b>", "class='num bad' data-flagged='true'")
    title = f" title='{e(d['note'])}'" if d.get("note") else ""
    return (e(text), f"class='num'{title}")


def _measure(m: Optional[str]) -> str:
    return {"L_INFTY": "L-infinity", "JENSEN_SHANNON_DIVERGENCE": "Jensen-Shannon"}.get(
        m or "", m or "")


def _window_table(w: MonitoringWindow) -> str:
    rows: Dict[str, Dict[str, Any]] = {}
    for d in w.features:
        rows.setdefault(d.get("feature"), {})[d.get("kind")] = d
    out = []
    for name, kinds in rows.items():
        s, dr = kinds.get("skew"), kinds.get("drift")
        flagged = any(x and x.get("flagged") for x in (s, dr))
        out.append({"attrs": f"data-feature='{e(name)}' data-flagged='{str(flagged).lower()}'",
                    "cells": [e(name), e(_measure((s or dr or {}).get("measure"))),
                              _cell(s), _cell(dr)]})
    for p in w.predictions:
        flagged = bool(p.get("flagged"))
        out.append({"attrs": f"data-output='{e(p.get('feature'))}' "
                             f"data-flagged='{str(flagged).lower()}'",
                    "cells": [e(f"output {p.get('feature')}"), e(_measure(p.get("measure"))),
                              "", _cell(p)]})
    return table_html(["feature", "measure", "skew / threshold", "drift / threshold"], out,
                      "class='monitoring'")


def monitoring_section(rep: Report) -> str:
    parts = ["<section id='monitoring' data-section='monitoring'><h2>Monitoring</h2>"]
    if not rep.monitoring:
        parts.append("<p class='muted'>No monitored window for this run's model yet "
                     "(<code>tfxkit monitor CONFIG</code> compares the served traffic with "
                     "its training data).</p></section>")
        return "".join(parts)
    crossed = [w for w in rep.monitoring if w.crossed]
    parts.append(f"<p>{len(rep.monitoring)} windows of served traffic judged by "
                 "<code>tfxkit monitor</code>: skew against the training statistics of the "
                 "serving model, drift against the window before (TFDV: L-infinity for "
                 "categorical features, Jensen-Shannon divergence for numeric ones); "
                 + (f"<span class='bad'>{len(crossed)} crossed a threshold</span>."
                    if crossed else "<span class='ok'>none crossed a threshold</span>.")
                 + "</p>")
    summary = []
    for w in reversed(rep.monitoring):
        flags = ", ".join(f"{f.get('kind')} {f.get('feature')}" for f in w.flagged)
        summary.append({"attrs": f"data-window-end='{e(str(w.end))}' "
                                 f"data-crossed='{str(w.crossed).lower()}'",
                        "cells": [e(f"{_utc(w.start)} – {_utc(w.end)} UTC"),
                                  (e(fmt_num(w.rows)), "class='num'"),
                                  e(w.model_version or ""),
                                  (e(flags) if flags else "none",
                                   "class='bad'" if flags else "class='ok'")]})
    parts.append(table_html(["window", "rows", "model version", "flagged"], summary,
                            "class='monitoring-windows'"))
    parts.append(figure_html(plots.monitoring_plot(rep.monitoring, "skew"),
                             "Skew per feature over the windows, as a multiple of its "
                             "threshold (dashed: the threshold; red: flagged)."))
    for w in list(reversed(rep.monitoring))[:MAX_WINDOWS]:
        parts.append(f"<h3>{e(_utc(w.start))} – {e(_utc(w.end))} UTC: {fmt_num(w.rows)} "
                     f"rows, model {e(w.model_version or '')}</h3>")
        if w.error:
            parts.append(f"<p class='warn'>{e(w.error)}</p>")
            continue
        parts.append(_window_table(w))
        parts.append(f"<p class='muted'>Result: {e(w.result_uri or '')} (ML Metadata "
                     f"execution {e(str(w.execution_id))})</p>")
    parts.append("</section>")
    return "".join(parts)
