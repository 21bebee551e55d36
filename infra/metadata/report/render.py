"""The report as one self-contained HTML page: HTML + CSS + inline SVG, no script and
nothing fetched, so it opens offline, prints, and reads the same without JavaScript."""
from __future__ import annotations

import datetime
import html
import json
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from tfxkit.infra.metadata.report import plots
from tfxkit.infra.metadata.report.gather import Report, run_status

e = html.escape

DRIFT_WARN = 0.1  # a drift above this is highlighted (TFDV's usual comparator threshold)

CSS = """
:root { --fg:#111827; --muted:#6b7280; --line:#e5e7eb; --ok:#15803d; --bad:#b91c1c;
        --warn:#a16207; --cur:#2563eb; --prev:#f97316; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1180px; padding: 16px 28px 60px; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 18px; border-bottom: 2px solid var(--fg); padding-bottom: 3px; margin-top: 34px; }
h3 { font-size: 15px; margin: 20px 0 6px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600;
         font-size: 12px; border: 1px solid currentColor; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.state-ran { color: var(--ok); } .state-failed { color: var(--bad); font-weight: 600; }
.state-canceled, .state-running { color: var(--warn); font-weight: 600; }
.state-cached, .state-resolved, .state-reused { color: #0e7490; }
.state-not-run { color: var(--muted); font-style: italic; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 9px; text-align: left;
         vertical-align: top; }
th { background: #f9fafb; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.drift td { background: #fff7ed; }
nav { margin: 10px 0 4px; font-size: 13px; }
nav a { margin-right: 12px; }
.verdict { font-size: 16px; font-weight: 700; margin: 8px 0; padding: 8px 12px;
           border-left: 5px solid currentColor; background: #f9fafb; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 1px 14px; font-size: 13px; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; word-break: break-all; }
figure { margin: 6px 0 14px; break-inside: avoid; page-break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
.grid { display: flex; flex-wrap: wrap; gap: 8px 24px; }
.feature-plot svg { width: 300px; height: auto; }
pre { background: #f9fafb; border: 1px solid var(--line); padding: 8px; font-size: 11px;
      max-height: 360px; overflow: auto; white-space: pre-wrap; }
.scroll { overflow-x: auto; }
.lineage svg { max-width: none; }
.legend-cur { color: var(--cur); font-weight: 600; } .legend-prev { color: var(--prev); font-weight: 600; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav { display: none; }
  pre { max-height: none; overflow: visible; }
  .scroll { overflow: visible; }
  .lineage svg { max-width: 100%; }
  h2 { break-after: avoid; page-break-after: avoid; }
  tr, figure { break-inside: avoid; page-break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
}
"""


def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if v != v:
            return "–"
        if abs(v) >= 1e5 or (abs(v) < 1e-3 and v != 0):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:.0f}"
    return str(v)


def _metric(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:.4f}"


def _short(t: str, n: int = 140) -> str:
    return t if len(t) <= n else t[: n - 1] + "…"


def _state_class(state: str) -> str:
    return "state-" + state.replace(" ", "-")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], attrs: str = "") -> str:
    """``rows`` hold HTML (already escaped) cells; a cell may be a (html, td-attrs) pair."""
    out = [f"<table {attrs}><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers)
           + "</tr></thead><tbody>"]
    for row in rows:
        tr_attrs = ""
        if isinstance(row, dict):
            tr_attrs, row = row.get("attrs", ""), row["cells"]
        cells = []
        for c in row:
            if isinstance(c, tuple):
                cells.append(f"<td {c[1]}>{c[0]}</td>")
            else:
                cells.append(f"<td>{c}</td>")
        out.append(f"<tr {tr_attrs}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _figure(svg: Optional[str], caption: str = "", cls: str = "") -> str:
    if not svg:
        return ""
    cap = f"<figcaption class='muted'>{e(caption)}</figcaption>" if caption else ""
    return f"<figure class='{cls}'>{svg}{cap}</figure>"


# -- the run's graph (when infra.metadata.lineage has none: nothing pushed) --------------------

_BOX_COLORS = {"ran": "#dcfce7", "cached": "#cffafe", "resolved": "#cffafe",
               "reused": "#cffafe", "failed": "#fee2e2", "not run": "#f3f4f6",
               "running": "#fef9c3", "canceled": "#ffedd5"}


def dag_svg(rep: Report) -> str:
    """Left to right: the input data, one box per component (colored by state), arrows
    along the artifacts they pass, the pushed model at the end."""
    names = [c.node_id for c in rep.components]
    state = {c.node_id: c.state for c in rep.components}
    edges = [(a, b, k) for a, b, k in rep.edges if a in state and b in state]
    extra: List[Tuple[str, str, str]] = []
    if rep.input_files and "ExampleGen" in state:
        files = [os.path.basename(f) for f in rep.input_files]
        label = files[0] + (f" +{len(files) - 1}" if len(files) > 1 else "")
        names.insert(0, "data: " + label)
        state[names[0]] = "data"
        extra.append((names[0], "ExampleGen", "files"))
    if rep.pushed and rep.pushed_version and "Pusher" in state:
        node = f"model {rep.pushed_version}"
        names.append(node)
        state[node] = "data"
        extra.append(("Pusher", node, "pushed"))
    edges += extra
    level = {n: 0 for n in names}
    for _ in range(len(names)):
        for a, b, _k in edges:
            level[b] = max(level[b], level[a] + 1)
    # nodes never connected (e.g. not run after a failure) follow the order they had
    connected = {a for a, _, _ in edges} | {b for _, b, _ in edges}
    last = max([level[n] for n in connected], default=-1)
    for n in names:
        if n not in connected:
            last += 1
            level[n] = last
    cols: Dict[int, List[str]] = {}
    for n in names:
        cols.setdefault(level[n], []).append(n)
    bw, bh, gx, gy = 138, 36, 34, 14
    pos = {}
    for lv, ns in cols.items():
        for i, n in enumerate(ns):
            pos[n] = (10 + lv * (bw + gx), 10 + i * (bh + gy))
    width = 20 + (max(cols) + 1) * (bw + gx)
    height = 20 + max(len(v) for v in cols.values()) * (bh + gy)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" '
           f'class="dag">',
           '<defs><marker id="dag-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
           'markerWidth="6" markerHeight="6" orient="auto"><path d="M0 0 L10 5 L0 10 z" '
           'fill="#6b7280"/></marker></defs>']
    for a, b, k in edges:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        x1, y1, y2 = x1 + bw, y1 + bh / 2, y2 + bh / 2
        mx = (x1 + x2) / 2
        out.append(f'<path d="M{x1} {y1} C{mx} {y1} {mx} {y2} {x2} {y2}" fill="none" '
                   f'stroke="#6b7280" marker-end="url(#dag-arrow)"><title>{e(k)}</title></path>')
    for n in names:
        x, y = pos[n]
        st = state[n]
        fill = "#dbeafe" if st == "data" else _BOX_COLORS.get(st, "#f3f4f6")
        dash = ' stroke-dasharray="4 3"' if st == "not run" else ""
        label = n if len(n) <= 22 else n[:21] + "…"
        out.append(f'<g data-node="{e(n)}"><rect x="{x}" y="{y}" width="{bw}" height="{bh}" '
                   f'rx="5" fill="{fill}" stroke="#374151"{dash}/>'
                   f'<text x="{x + 7}" y="{y + 15}" font-weight="600">{e(label)}</text>'
                   + ("" if st == "data" else
                      f'<text x="{x + 7}" y="{y + 29}" fill="#374151">{e(st)}</text>')
                   + "</g>")
    out.append("</svg>")
    return "".join(out)


# -- sections -------------------------------------------------------------------------

def _status(rep: Report) -> Tuple[str, Optional[str]]:
    """The run's status and why: the gathered one, else derived from the components
    (never ``succeeded`` while one failed, was canceled or still runs)."""
    if rep.status:
        return rep.status, rep.status_reason
    return run_status(rep.components, rep.run_properties)


def _status_badge(rep: Report) -> str:
    status, reason = _status(rep)
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
        sections += [("training", "Training"), ("evaluation", "Evaluation")]
    else:
        sections += [("predictions", "Predictions")]
    sections += [("lineage", "Lineage")]
    nav = "".join(f"<a href='#{k}'>{e(v)}</a>" for k, v in sections)
    return (f"<header><h1>{e(rep.pipeline)}: run report</h1><div>{status}</div>"
            f"<dl class='facts'>{dl}</dl><nav>{nav}</nav></header>")


def _run_section(rep: Report) -> str:
    rows = []
    for c in rep.components:
        took = "" if c.elapsed is None else f"{c.elapsed:.1f} s"
        rows.append({"attrs": f"data-component='{e(c.node_id)}' data-state='{e(c.state)}'",
                     "cells": [e(c.node_id), (e(c.state), f"class='{_state_class(c.state)}'"),
                               (took, "class='num'"),
                               e(str(c.execution_id or "")), e(_short(c.error or ""))]})
    ran = sum(c.state == "ran" for c in rep.components)
    cached = sum(c.state == "cached" for c in rep.components)
    total = sum(c.elapsed or 0 for c in rep.components)
    status, reason = _status(rep)
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
    table = _table(["component", "state", "time", "execution", "error"], rows,
                   "class='components'")
    return (f"<section id='run' data-section='run'><h2>Run</h2>{head}{table}"
            + _figure(plots.timeline(rep.components),
                      "Timeline: each component's start (MLMD execution create time) and "
                      "duration, colored by state.") + "</section>")


def _feature_rows(split, with_plots: bool, prev_label: str, anomalous=()) -> str:
    rows = []
    for f in split.features:
        if f.kind == "numeric":
            desc = (f"mean {_num(f.mean)}, std {_num(f.std)}<br>min {_num(f.min)}, median "
                    f"{_num(f.median)}, max {_num(f.max)}<br>zeros {f.zeros}")
        elif f.kind == "categorical":
            top = ", ".join(f"{e(str(v))} ({n:g})" for v, n in f.top[:4])
            desc = f"{f.unique} unique<br>top: {top}"
        else:
            desc = ""
        prev_desc = ""
        if f.previous is not None:
            p = f.previous
            prev_desc = (f"missing {p.missing_pct:.1f}%"
                         + (f", mean {_num(p.mean)}" if p.kind == "numeric" else
                            f", {p.unique} unique" if p.unique is not None else ""))
        drift = "–" if f.drift is None else f"{f.drift:.3f}"
        flagged = f.drift is not None and f.drift > DRIFT_WARN
        mark = "<br><span class='bad'>⚠ anomaly</span>" if f.name in anomalous else ""
        cells = [f"<b>{e(f.name)}</b><br><span class='muted'>{e(f.type)}</span>{mark}",
                 (str(f.present), "class='num'"),
                 (f"{f.missing} ({f.missing_pct:.1f}%)", f"class='num' data-missing='{f.missing}'"),
                 desc, prev_desc,
                 (drift + (" <span class='warn'>⚠ drift</span>" if flagged else "")
                  + (f"<br><span class='muted'>{f.drift_measure}</span>"
                     if f.drift is not None else ""), "class='num'")]
        if with_plots:
            cells.append((plots.feature_plot(f, prev_label) or "", "class='feature-plot'"))
        rows.append({"attrs": f"data-feature='{e(f.name)}'" + (" class='drift'" if flagged else ""),
                     "cells": cells})
    headers = ["feature", "present", "missing", "statistics", prev_label, "drift"]
    if with_plots:
        headers.append("distribution")
    return _table(headers, rows, f"class='features' data-split='{e(split.split)}'")


def _data_section(rep: Report) -> str:
    parts = ["<section id='data' data-section='data'><h2>Data</h2>"]
    if rep.rows:
        rows = [{"attrs": f"data-split='{e(k)}' data-rows='{v}'",
                 "cells": [e(k), (str(v), "class='num'")]} for k, v in sorted(rep.rows.items())]
        parts.append(_table(["split", "examples"], rows, "class='rows'"))
    facts = []
    if rep.span is not None:
        facts.append(("span", str(rep.span)))
    if rep.rows_rejected:
        facts.append(("rows rejected", str(rep.rows_rejected)))
    for f in rep.input_files[:5]:
        facts.append(("input file", f))
    if len(rep.input_files) > 5:
        facts.append(("input files", f"... {len(rep.input_files) - 5} more"))
    if facts:
        parts.append("<dl class='facts'>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>"
                                                    for k, v in facts) + "</dl>")
    if rep.kind == "inference":
        parts.append("<p class='muted'>The batch-inference pipeline scores the data as it is "
                     "(no statistics, no validation); see the predictions below.</p></section>")
        return "".join(parts)
    # anomalies first: they decide whether anything was trained
    parts.append("<h3 id='anomalies'>Anomalies (ExampleValidator against the schema)</h3>")
    if rep.anomalies:
        rows = [{"attrs": f"data-anomaly='{e(a.feature)}'",
                 "cells": [e(a.split), f"<b>{e(a.feature)}</b>",
                           (e(a.severity), "class='bad'"), e(a.short), e(a.description)]}
                for a in rep.anomalies]
        parts.append(f"<p class='bad'><b>{len(rep.anomalies)} anomal"
                     f"{'y' if len(rep.anomalies) == 1 else 'ies'}</b> found.</p>")
        parts.append(_table(["split", "feature", "severity", "anomaly", "detail"], rows,
                            "class='anomalies'"))
    elif rep.anomalies_read:
        parts.append("<p class='ok' data-anomalies='0'>No anomalies: the data matches the "
                     "schema.</p>")
    else:
        parts.append("<p class='muted'>ExampleValidator produced no result in this run.</p>")
    if rep.gate:
        g = rep.gate
        verdict = ("passed" if g.get("passed") else "stopped the run" if g.get("state") == "failed"
                   else "let the run go on (warn)" if g.get("passed") is False else g.get("state"))
        parts.append(f"<p>ValidationGate (on_anomalies: {e(str(g.get('on_anomalies') or '?'))})"
                     f": <b>{e(str(verdict))}</b>.</p>")
    if not rep.stats:
        parts.append("<p class='muted'>No statistics in this run.</p></section>")
        return "".join(parts)
    if rep.previous_run:
        parts.append(f"<p>Compared with run <b>{e(rep.previous_run)}</b>, the latest earlier run "
                     f"that read different data (<span class='legend-cur'>■ this run</span>, "
                     f"<span class='legend-prev'>■ previous run</span>). Drift: Jensen-Shannon "
                     f"divergence for numbers, L-infinity distance for categories; above "
                     f"{DRIFT_WARN:g} is highlighted.</p>")
    elif rep.previous_same_data:
        parts.append("<p class='muted'>The earlier runs read the very same data (ExampleGen "
                     "cached): nothing to compare.</p>")
    else:
        parts.append("<p class='muted'>No earlier run of this pipeline to compare with.</p>")
    main = rep.stats[0]
    anomalous = {a.feature for a in rep.anomalies}
    parts.append(f"<h3>Missing values ({e(main.split)} split)</h3>")
    parts.append(_figure(plots.missing_plot(main.features)))
    parts.append(f"<h3>Features ({e(main.split)} split, {main.num_examples} examples)</h3>")
    parts.append("<div class='scroll'>" + _feature_rows(main, True, "previous run", anomalous) + "</div>")
    for split in rep.stats[1:]:
        parts.append(f"<h3>Features ({e(split.split)} split, {split.num_examples} examples)</h3>")
        parts.append("<div class='scroll'>" + _feature_rows(split, False, "previous run", anomalous)
                     + "</div>")
    parts.append("</section>")
    return "".join(parts)


def _schema_section(rep: Report) -> str:
    parts = ["<section id='schema' data-section='schema'><h2>Schema in effect</h2>"]
    if not rep.schema_text:
        parts.append("<p class='muted'>No schema in this run"
                     + (" (the model carries its transform graph; the training run's report "
                        "shows the schema)" if rep.kind == "inference" else "")
                     + ".</p></section>")
        return "".join(parts)
    parts.append(f"<p class='muted'>From {e(rep.schema_source or '')}.</p>")
    rows = [{"attrs": f"data-schema-feature='{e(f.name)}'",
             "cells": [f"<b>{e(f.name)}</b>", e(f.type), e(f.presence), e(f.valency),
                       e(f.domain)]} for f in rep.schema]
    parts.append(_table(["feature", "type", "presence", "values per example", "domain"], rows,
                        "class='schema'"))
    parts.append(f"<h3>schema.pbtxt</h3><pre>{e(rep.schema_text)}</pre></section>")
    return "".join(parts)


def _not_trained_reason(rep: Report) -> str:
    stopped = rep.stopped
    if stopped is not None and stopped.node_id.startswith("Trainer"):
        if stopped.state == "canceled":
            return f"Nothing was trained: the Trainer was {stopped.error or 'canceled'}."
        return f"Nothing was trained: the Trainer failed: {stopped.error or 'no reason recorded'}."
    if stopped is not None:
        return (f"Nothing was trained: the run stopped at {stopped.node_id}, before the "
                "Trainer.")
    status, reason = _status(rep)
    if status != "succeeded":
        said = {"failed": "failed", "canceled": "was canceled"}.get(status, "has not finished")
        return f"Nothing was trained: the run {said} ({reason or 'no reason recorded'})."
    return "Nothing was trained: the Trainer did not run in this run."


def _training_section(rep: Report) -> str:
    parts = ["<section id='training' data-section='training'><h2>Training</h2>"]
    t = rep.training
    if t is None or not rep.trained:
        parts.append(f"<p class='verdict bad' data-trained='false'>{e(_not_trained_reason(rep))}"
                     "</p></section>")
        return "".join(parts)
    note = " (cached: the model of an earlier run with the same inputs)" \
        if t.state == "cached" else ""
    parts.append(f"<p data-trained='true' data-epochs='{t.epochs}'>Trained for "
                 f"<b>{t.epochs}</b> epoch{'s' if t.epochs != 1 else ''}{e(note)}.</p>")
    if t.hyperparameters:
        hp = {k: v for k, v in t.hyperparameters.items() if k not in ("module",) or v}
        parts.append("<dl class='facts'>" + "".join(
            f"<dt>{e(k)}</dt><dd>{e(json.dumps(v) if not isinstance(v, str) else v)}</dd>"
            for k, v in hp.items()) + "</dl>")
    if t.history:
        last = [{"attrs": f"data-history='{e(k)}'",
                 "cells": [e(k), (_metric(v[-1]), "class='num'"),
                           (_metric(min(v)) if "loss" in k else _metric(max(v)), "class='num'")]}
                for k, v in sorted(t.history.items())]
        parts.append(_table(["metric", "last epoch", "best"], last, "class='history'"))
        parts.append("<div class='grid'>" + "".join(
            _figure(svg) for _, svg in plots.training_curves(t.history)) + "</div>")
    else:
        parts.append("<p class='muted'>No per-epoch history was recorded (history.json) for "
                     "this model.</p>")
    if t.model_uri:
        parts.append(f"<p class='muted'>Model: {e(t.model_uri)}</p>")
    parts.append("</section>")
    return "".join(parts)


def _evaluation_section(rep: Report) -> str:
    parts = ["<section id='evaluation' data-section='evaluation'><h2>Evaluation</h2>"]
    ev = rep.evaluation
    if ev is None:
        why = _not_trained_reason(rep) if not rep.trained else "The Evaluator did not run."
        parts.append(f"<p class='muted'>No evaluation. {e(why)}</p></section>")
        return "".join(parts)
    if ev.blessed is True:
        parts.append("<p class='verdict ok' data-blessed='true'>BLESSED</p>")
    elif ev.blessed is False:
        parts.append("<p class='verdict bad' data-blessed='false'>NOT blessed</p>")
    parts.append("<ul class='reasons'>" + "".join(f"<li>{e(r)}</li>" for r in ev.reasons)
                 + "</ul>")
    if ev.has_baseline:
        parts.append(f"<p>Baseline: the latest blessed model ({e(ev.baseline_uri or '')}).</p>")
    else:
        parts.append("<p class='muted'>No baseline model yet: the candidate is held to the "
                     "absolute thresholds only.</p>")
    if rep.infra_blessed is not None:
        verdict = "passed" if rep.infra_blessed else "FAILED"
        parts.append(f"<p class='{'ok' if rep.infra_blessed else 'bad'}' "
                     f"data-infra-blessed='{str(rep.infra_blessed).lower()}'>Infra validation "
                     f"{verdict}: {e(rep.infra_reason or '')}</p>")
    if rep.pushed:
        parts.append(f"<p class='ok'>Pushed as version <b>{e(rep.pushed_version or '')}</b> to "
                     f"{e(rep.pushed_path or '')}.</p>")
    elif rep.pushed is False:
        why = rep.push_reason or "the model was not blessed"
        parts.append(f"<p class='bad' data-push-reason>Not pushed: {e(why)}</p>")
    if ev.error:
        parts.append(f"<p class='bad'>Metrics unreadable: {e(ev.error)}</p>")
    gated = [m for m in ev.metrics if m.gated]
    if gated:
        parts.append("<h3>Gated metrics per slice</h3>")
        rows = [{"attrs": (f"data-metric='{e(m.metric)}' data-slice='{e(m.slice)}' "
                           f"data-value='{m.value!r}'"),
                 "cells": [e(m.slice), f"<b>{e(m.metric)}</b>", (_metric(m.value), "class='num'"),
                           e(m.threshold), (_metric(m.baseline), "class='num'"),
                           ("–" if m.diff is None else f"{m.diff:+.4f}", "class='num'"),
                           (_num(m.example_count, 0), "class='num'"),
                           ("ok" if m.ok else "FAIL", f"class='{'ok' if m.ok else 'bad'}'")]}
                for m in gated]
        parts.append(_table(["slice", "metric", "value", "threshold", "baseline",
                             "change", "examples", "result"], rows, "class='gated'"))
        for name in ev.gated_names:
            ms = [m for m in gated if m.metric == name]
            lower = _bound(ms[0].threshold, ">=")
            upper = _bound(ms[0].threshold, "<=")
            parts.append(_figure(plots.slice_metric_plot(name, ms, lower, upper),
                                 f"{name} per slice: the candidate (bars, red where it "
                                 "failed), the baseline (diamonds), the bound (dashed)."))
    others = [m for m in ev.metrics if not m.gated and m.slice == "Overall"]
    if others:
        parts.append("<h3>Other metrics (overall)</h3>")
        rows = [[e(m.metric), (_metric(m.value), "class='num'"),
                 (_metric(m.baseline), "class='num'")] for m in others]
        parts.append(_table(["metric", "value", "baseline"], rows, "class='other-metrics'"))
    parts.append("</section>")
    return "".join(parts)


def _bound(threshold: str, op: str) -> Optional[float]:
    for part in threshold.split(","):
        part = part.strip()
        if part.startswith(op):
            try:
                return float(part[len(op):].strip())
            except ValueError:
                return None
    return None


def _predictions_section(rep: Report) -> str:
    parts = ["<section id='predictions' data-section='predictions'><h2>Predictions</h2>"]
    p = rep.predictions
    if p is None:
        parts.append("<p class='muted'>No predictions in this run.</p></section>")
        return "".join(parts)
    facts = [("predictions stored", p.rows), ("model version", p.model_version),
             ("store", p.store),
             ("compared with run", p.previous_run or "no earlier run with other predictions")]
    parts.append("<dl class='facts'>" + "".join(
        f"<dt>{e(k)}</dt><dd data-fact='{e(k)}'>{e(str(v))}</dd>" for k, v in facts
        if v is not None) + "</dl>")
    if p.error:
        parts.append(f"<p class='bad'>{e(p.error)}</p>")
    rows, figs = [], []
    for o in p.outputs:
        if o.kind == "categorical":
            from collections import Counter

            c = Counter(map(str, o.values))
            summary = ", ".join(f"{k} {v / len(o.values):.1%}" for k, v in sorted(c.items()))
        else:
            vals = [float(v) for v in o.values]
            summary = (f"mean {_num(sum(vals) / len(vals))}, min {_num(min(vals))}, max "
                       f"{_num(max(vals))}") if vals else ""
        drift = "–" if o.drift is None else f"{o.drift:.3f}"
        rows.append({"attrs": f"data-output='{e(o.output)}' data-count='{len(o.values)}'",
                     "cells": [e(o.model or rep.pipeline), e(o.output),
                               (str(len(o.values)), "class='num'"), e(summary),
                               (drift, "class='num'")]})
        figs.append(_figure(plots.prediction_plot(o)))
    parts.append(_table(["model", "output", "examples", "distribution", "drift vs previous"],
                        rows, "class='predictions'"))
    parts.append("<div class='grid'>" + "".join(figs) + "</div></section>")
    return "".join(parts)


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
    body = [_header(rep), _run_section(rep), _data_section(rep), _schema_section(rep)]
    if rep.kind == "training":
        body += [_training_section(rep), _evaluation_section(rep)]
    else:
        body.append(_predictions_section(rep))
    body.append(_lineage_section(rep))
    if rep.notes:
        body.append("<section id='notes'><h2>Notes</h2><ul>"
                    + "".join(f"<li>{e(n)}</li>" for n in rep.notes) + "</ul></section>")
    title = f"{rep.pipeline} run {rep.run_id}"
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")
