"""The report's data sections: the rows, anomalies, the gate, per-feature statistics with
drift against the previous run (``render_data``), and the schema in effect."""
from __future__ import annotations

from tfxkit.infra.metadata.report import plots
from tfxkit.infra.metadata.report.html import DRIFT_WARN, e, figure_html, fmt_num, table_html
from tfxkit.infra.metadata.report.model import Report


def _feature_rows(split, with_plots: bool, prev_label: str, anomalous=()) -> str:
    rows = []
    for f in split.features:
        if f.kind == "numeric":
            desc = (f"mean {fmt_num(f.mean)}, std {fmt_num(f.std)}<br>min {fmt_num(f.min)}, median "
                    f"{fmt_num(f.median)}, max {fmt_num(f.max)}<br>zeros {f.zeros}")
        elif f.kind == "categorical":
            top = ", ".join(f"{e(str(v))} ({n:g})" for v, n in f.top[:4])
            desc = f"{f.unique} unique<br>top: {top}"
        else:
            desc = ""
        prev_desc = ""
        if f.previous is not None:
            p = f.previous
            prev_desc = (f"missing {p.missing_pct:.1f}%"
                         + (f", mean {fmt_num(p.mean)}" if p.kind == "numeric" else
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
    return table_html(headers, rows, f"class='features' data-split='{e(split.split)}'")


def _rows_and_input(rep: Report) -> str:
    """The examples per split, the span, rejected rows and the input files."""
    parts = []
    if rep.rows:
        rows = [{"attrs": f"data-split='{e(k)}' data-rows='{v}'",
                 "cells": [e(k), (str(v), "class='num'")]} for k, v in sorted(rep.rows.items())]
        parts.append(table_html(["split", "examples"], rows, "class='rows'"))
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
    return "".join(parts)


def _anomalies_and_gate(rep: Report) -> str:
    """ExampleValidator's anomalies and the ValidationGate's verdict."""
    parts = ["<h3 id='anomalies'>Anomalies (ExampleValidator against the schema)</h3>"]
    if rep.anomalies:
        rows = [{"attrs": f"data-anomaly='{e(a.feature)}'",
                 "cells": [e(a.split), f"<b>{e(a.feature)}</b>",
                           (e(a.severity), "class='bad'"), e(a.short), e(a.description)]}
                for a in rep.anomalies]
        parts.append(f"<p class='bad'><b>{len(rep.anomalies)} anomal"
                     f"{'y' if len(rep.anomalies) == 1 else 'ies'}</b> found.</p>")
        parts.append(table_html(["split", "feature", "severity", "anomaly", "detail"], rows,
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
    return "".join(parts)


def _comparison(rep: Report) -> str:
    """Which earlier run the statistics are compared with, and how drift is measured."""
    if rep.previous_run:
        return (f"<p>Compared with run <b>{e(rep.previous_run)}</b>, the latest earlier run "
                f"that read different data (<span class='legend-cur'>■ this run</span>, "
                f"<span class='legend-prev'>■ previous run</span>). Drift: Jensen-Shannon "
                f"divergence for numbers, L-infinity distance for categories; above "
                f"{DRIFT_WARN:g} is highlighted.</p>")
    if rep.previous_same_data:
        return ("<p class='muted'>The earlier runs read the very same data (ExampleGen "
                "cached): nothing to compare.</p>")
    return "<p class='muted'>No earlier run of this pipeline to compare with.</p>"


def _statistics(rep: Report) -> str:
    """Missing values and every feature of the first split (with plots), then the others."""
    main = rep.stats[0]
    anomalous = {a.feature for a in rep.anomalies}
    parts = [f"<h3>Missing values ({e(main.split)} split)</h3>",
             figure_html(plots.missing_plot(main.features))]
    for i, split in enumerate(rep.stats):
        parts.append(f"<h3>Features ({e(split.split)} split, {split.num_examples} examples)</h3>")
        parts.append("<div class='scroll'>"
                     + _feature_rows(split, i == 0, "previous run", anomalous) + "</div>")
    return "".join(parts)


def data_section(rep: Report) -> str:
    parts = ["<section id='data' data-section='data'><h2>Data</h2>", _rows_and_input(rep)]
    if rep.kind == "inference":
        parts.append("<p class='muted'>The batch-inference pipeline scores the data as it is "
                     "(no statistics, no validation); see the predictions below.</p></section>")
        return "".join(parts)
    # anomalies first: they decide whether anything was trained
    parts.append(_anomalies_and_gate(rep))
    if not rep.stats:
        parts.append("<p class='muted'>No statistics in this run.</p></section>")
        return "".join(parts)
    parts += [_comparison(rep), _statistics(rep), "</section>"]
    return "".join(parts)


def schema_section(rep: Report) -> str:
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
    parts.append(table_html(["feature", "type", "presence", "values per example", "domain"], rows,
                        "class='schema'"))
    parts.append(f"<h3>schema.pbtxt</h3><pre>{e(rep.schema_text)}</pre></section>")
    return "".join(parts)
