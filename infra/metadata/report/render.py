"""The report as one self-contained HTML page: HTML + CSS + inline SVG, no script and
nothing fetched, so it opens offline, prints, and reads the same without JavaScript.
This module writes the page, its header, the run and lineage sections and the run's
graph; ``render_data.py`` and ``render_model.py`` the sections between."""
from __future__ import annotations

import datetime
import os

from tfxkit.infra.metadata import graph_svg
from tfxkit.infra.metadata.report import plots
from tfxkit.infra.metadata.report.components import report_status
from tfxkit.infra.metadata.report.html import (CSS, e, figure_html, shorten, state_class,
                                               table_html)
from tfxkit.infra.metadata.report.model import Report
from tfxkit.infra.metadata.report.render_data import data_section, schema_section
from tfxkit.infra.metadata.report.render_monitoring import monitoring_section
from tfxkit.infra.metadata.report.render_model import (evaluation_section, predictions_section,
                                                       training_section, tuning_section)

# -- the run's graph (when infra.metadata.lineage has none: nothing pushed) --------------------

_BOX_COLORS = {"ran": "#dcfce7", "cached": "#cffafe", "resolved": "#cffafe",
               "reused": "#cffafe", "failed": "#fee2e2", "not run": "#f3f4f6",
               "running": "#fef9c3", "canceled": "#ffedd5"}
_DATA_COLOR = "#dbeafe"  # the input files and the pushed model
# small boxes of two lines (the component, its state), the keys as tooltips
_DAG_STYLE = graph_svg.Style(css_class="dag")


def dag_svg(rep: Report) -> str:
    """Left to right: the input data, one box per component (colored by state), arrows
    along the artifacts they pass, the pushed model at the end."""
    state = {c.node_id: c.state for c in rep.components}
    nodes = [graph_svg.Node(c.node_id, [c.node_id, c.state],
                            fill=_BOX_COLORS.get(c.state, "#f3f4f6"),
                            dashed=c.state == "not run") for c in rep.components]
    edges = [graph_svg.Edge(a, b, k) for a, b, k in rep.edges if a in state and b in state]
    if rep.input_files and "ExampleGen" in state:
        files = [os.path.basename(f) for f in rep.input_files]
        data = "data: " + files[0] + (f" +{len(files) - 1}" if len(files) > 1 else "")
        nodes.insert(0, graph_svg.Node(data, [data], fill=_DATA_COLOR))
        edges.append(graph_svg.Edge(data, "ExampleGen", "files"))
    if rep.pushed and rep.pushed_version and "Pusher" in state:
        model = f"model {rep.pushed_version}"
        nodes.append(graph_svg.Node(model, [model], fill=_DATA_COLOR))
        edges.append(graph_svg.Edge("Pusher", model, "pushed"))
    return graph_svg.render(nodes, edges, _DAG_STYLE)


# -- sections -------------------------------------------------------------------------

def _status_badge(rep: Report) -> str:
    status, reason = report_status(rep)
    stopped = rep.stopped
    where = f" in {stopped.node_id}" if stopped is not None else ""
    text, cls = {"succeeded": ("succeeded", "ok"), "failed": (f"failed{where}", "bad"),
                 "canceled": (f"canceled{where}", "warn"),
                 "running": ("running: not finished", "warn")}.get(status, (status, "warn"))
    title = f" title='{e(reason)}'" if reason else ""
    return f"<span class='badge {cls}' data-status='{e(status)}'{title}>{e(text)}</span>"


def _header(rep: Report) -> str:
    status = _status_badge(rep)
    ev = rep.evaluation
    if ev is not None and ev.blessed is not None:
        status += (" <span class='badge ok'>model blessed</span>" if ev.blessed
                   else " <span class='badge bad'>model not blessed</span>")
    if rep.pushed:
        status += f" <span class='badge ok'>pushed {e(rep.pushed_version or '')}</span>"
    props = rep.run_properties
    facts = [("run", rep.run_id), ("kind", f"{rep.kind} pipeline {rep.pipeline}")]
    for key, label in (("config_fingerprint", "config hash"), ("git_commit", "git commit"),
                       ("config_path", "config")):
        if props.get(key):
            facts.append((label, props[key]))
    facts.append(("report written", datetime.datetime.now().isoformat(timespec="seconds")))
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in facts)
    sections = [("run", "Run"), ("data", "Data"), ("schema", "Schema")]
    if rep.kind == "training":
        sections += [("training", "Training")]
        sections += [("tuning", "Tuning")] if rep.tuning is not None else []
        sections += [("evaluation", "Evaluation")]
    else:
        sections += [("predictions", "Predictions")]
    if rep.kind == "training" or rep.monitoring:
        sections += [("monitoring", "Monitoring")]
    sections += [("lineage", "Lineage")]
    nav = "".join(f"<a href='#{k}'>{e(v)}</a>" for k, v in sections)
    return (f"<header><h1>{e(rep.pipeline)}: run report</h1><div>{status}</div>"
            f"<dl class='facts'>{dl}</dl><nav>{nav}</nav></header>")


def _run_section(rep: Report) -> str:
    rows = []
    for c in rep.components:
        took = "" if c.elapsed is None else f"{c.elapsed:.1f} s"
        rows.append({"attrs": f"data-component='{e(c.node_id)}' data-state='{e(c.state)}'",
                     "cells": [e(c.node_id), (e(c.state), f"class='{state_class(c.state)}'"),
                               (took, "class='num'"),
                               e(str(c.execution_id or "")), e(shorten(c.error or ""))]})
    ran = sum(c.state == "ran" for c in rep.components)
    cached = sum(c.state == "cached" for c in rep.components)
    total = sum(c.elapsed or 0 for c in rep.components)
    status, reason = report_status(rep)
    stopped = rep.stopped
    cls = "bad" if status == "failed" else "warn"
    where = f" in {e(stopped.node_id)}" if stopped is not None else ""
    head = (f"<p>{len(rep.components)} components: {ran} ran, {cached} cached"
            + ("" if status == "succeeded" else
               f", <span class='{cls}'>{e(status)}{where}</span>")
            + f"; {total:.1f} s in components.</p>")
    if stopped is not None and stopped.error:
        head += f"<p class='{cls}'><b>{e(stopped.node_id)}:</b> {e(stopped.error)}</p>"
    elif status != "succeeded" and reason:
        head += f"<p class='{cls}' data-status-reason>{e(reason)}</p>"
    table = table_html(["component", "state", "time", "execution", "error"], rows,
                   "class='components'")
    return (f"<section id='run' data-section='run'><h2>Run</h2>{head}{table}"
            + figure_html(plots.timeline(rep.components),
                      "Timeline: each component's start (MLMD execution create time) and "
                      "duration, colored by state.") + "</section>")

def _lineage_section(rep: Report) -> str:
    parts = ["<section id='lineage' data-section='lineage'><h2>Lineage</h2>"]
    if rep.lineage_svg:
        parts.append(f"<p>How model {e(rep.pushed_version or '')} was made, from the input data "
                     "to the push (ML Metadata).</p>")
        parts.append(f"<figure class='scroll lineage'>{rep.lineage_svg}</figure>")
    else:
        parts.append("<p>This run's components and the artifacts between them (ML Metadata"
                     + ("; nothing was pushed" if not rep.pushed else "") + ").</p>")
        parts.append(f"<figure class='scroll lineage'>{dag_svg(rep)}</figure>")
    parts.append("</section>")
    return "".join(parts)


def render_html(rep: Report) -> str:
    body = [_header(rep), _run_section(rep), data_section(rep), schema_section(rep)]
    if rep.kind == "training":
        body += [training_section(rep), tuning_section(rep), evaluation_section(rep)]
    else:
        body.append(predictions_section(rep))
    if rep.kind == "training" or rep.monitoring:
        body.append(monitoring_section(rep))
    body.append(_lineage_section(rep))
    if rep.notes:
        body.append("<section id='notes'><h2>Notes</h2><ul>"
                    + "".join(f"<li>{e(n)}</li>" for n in rep.notes) + "</ul></section>")
    title = f"{rep.pipeline} run {rep.run_id}"
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")
