"""The model card as one self-contained HTML page (no scripts, no external assets): the
model, the intended use and limitations, the data, the metrics overall and per slice
with their thresholds (an inline SVG bar per slice against the threshold), the fairness
rates, the lineage ids."""
from __future__ import annotations

import html
import json
from typing import Any, Dict, List, Optional

_CSS = """body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:left;font-size:.9em}th{background:#f4f4f4}.fail{color:#b00}.pass{color:#070}
.muted{color:#777}code{font-size:.9em}"""


def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x))


def _num(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, float) else _e(x)


def threshold_text(b: Optional[Dict[str, float]]) -> str:
    if not b:
        return ""
    parts = []
    if "lower_bound" in b:
        parts.append(f">= {b['lower_bound']:.4g}")
    if "upper_bound" in b:
        parts.append(f"<= {b['upper_bound']:.4g}")
    if "absolute_change" in b:
        parts.append(f"change vs baseline within {b['absolute_change']:.4g}")
    if "relative_change" in b:
        parts.append(f"relative change within {b['relative_change']:.4g}")
    return ", ".join(parts)


def _table(head: List[str], rows: List[List[str]]) -> str:
    if not rows:
        return '<p class="muted">none</p>'
    h = "".join(f"<th>{_e(c)}</th>" for c in head) if any(head) else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{f'<tr>{h}</tr>' if h else ''}{body}</table>"


def _passed(m: Dict[str, Any]) -> str:
    if "passed" not in m:
        return '<span class="muted">not gated</span>'
    return '<span class="pass">passed</span>' if m["passed"] else '<span class="fail">failed</span>'


def bar_chart(metric: str, rows: List[Dict[str, Any]]) -> str:
    """An inline SVG: one bar per slice (value of ``metric``), a tick at its lower or
    upper bound. ``rows``: [{"slice", "value", "threshold"?}]."""
    rows = [r for r in rows if isinstance(r.get("value"), (int, float))]
    if not rows:
        return ""
    top = max([r["value"] for r in rows] + [max((r.get("threshold") or {}).get(k, 0)
                                                for k in ("lower_bound", "upper_bound"))
                                            if r.get("threshold") else 0 for r in rows])
    top = top if top > 0 else 1.0
    w, label_w, bar_h, gap = 640, 200, 16, 6
    h = len(rows) * (bar_h + gap) + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'role="img" aria-label="{_e(metric)} per slice">',
           f'<text x="0" y="12" font-size="12" font-weight="bold">{_e(metric)}</text>']
    scale = (w - label_w - 60) / top
    for i, r in enumerate(rows):
        y = 20 + i * (bar_h + gap)
        b = r.get("threshold") or {}
        ok = r.get("passed", True)
        colour = "#4a8" if ok else "#c44"
        out.append(f'<text x="0" y="{y + 12}" font-size="11">{_e(r["slice"])[:32]}</text>')
        out.append(f'<rect x="{label_w}" y="{y}" width="{max(r["value"] * scale, 1):.1f}" '
                   f'height="{bar_h}" fill="{colour}"/>')
        out.append(f'<text x="{label_w + r["value"] * scale + 4:.1f}" y="{y + 12}" '
                   f'font-size="11">{r["value"]:.3g}</text>')
        for k in ("lower_bound", "upper_bound"):
            if k in b:
                x = label_w + b[k] * scale
                out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 2}" y2="{y + bar_h + 2}"'
                           f' stroke="#000" stroke-width="2"><title>{k} {b[k]:.4g}</title>'
                           '</line>')
    out.append("</svg>")
    return "".join(out)


def _charts(card: Dict[str, Any]) -> str:
    """One chart per gated metric: the overall slice and every slice."""
    overall = {m["name"]: m for m in card["metrics"]["overall"]}
    names = sorted({m["name"] for s in card["metrics"]["slices"] for m in s["metrics"]
                    if "threshold" in m} | {n for n, m in overall.items() if "threshold" in m})
    out = []
    for n in names:
        rows = []
        if n in overall:
            rows.append({"slice": "Overall", **overall[n]})
        rows += [{"slice": s["slice"], **m} for s in card["metrics"]["slices"]
                 for m in s["metrics"] if m["name"] == n]
        out.append(bar_chart(n, rows))
    return "".join(f"<div>{c}</div>" for c in out if c)


def render(card: Dict[str, Any]) -> str:
    m, c, d = card["model"], card["considerations"], card["data"]
    title = f"Model card: {m['name']} version {m['version']}"
    parts = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>"]
    parts.append(_table(["", ""], [[_e(k), f"<code>{_e(v)}</code>"] for k, v in (
        ("pushed at", m.get("pushed_at")), ("content hash (sha256)", m.get("sha256")),
        ("config hash", m.get("config_hash")), ("git commit", m.get("git_commit")),
        ("trained model", m.get("model_uri")))]))
    parts.append("<h2>Overview and intended use</h2>")
    for k, label in (("overview", "Overview"), ("intended_use", "Intended use"),
                     ("limitations", "Limitations"),
                     ("ethical_considerations", "Ethical considerations")):
        v = c.get(k)
        parts.append(f"<p><b>{label}:</b> " + (_e(v) if v else
                     '<span class="muted">not stated (the config has no card.' + k +
                     ")</span>") + "</p>")
    if c.get("owners"):
        parts.append("<p><b>Owners:</b> " + ", ".join(_e(o) for o in c["owners"]) + "</p>")
    if c.get("references"):
        parts.append("<p><b>References:</b></p><ul>" + "".join(
            f'<li><a href="{_e(u)}">{_e(u)}</a></li>' for u in c["references"]) + "</ul>")
    parts.append("<h2>Data</h2>")
    parts.append(f"<p>Spans: {_e(', '.join(str(s) for s in d.get('spans') or []) or 'none')}"
                 f"; rows: {_e(d.get('rows'))}</p>")
    parts.append(_table(["split", "rows"], [[_e(k), _e(v)] for k, v in
                                            sorted((d.get("rows_per_split") or {}).items())]))
    parts.append(_table(["span", "rows", "uri"], [[
        _e(e.get("span")), _e(json.dumps(e.get("rows", {}), sort_keys=True)),
        f"<code>{_e(e.get('uri'))}</code>"] for e in d.get("examples", [])]))
    stats = d.get("statistics") or {}
    if stats.get("features"):
        parts.append(f"<p>Statistics of the {_e(stats.get('split'))} split "
                     f"({_e(stats.get('num_examples'))} examples):</p>")
        parts.append(_table(["feature", "kind", "mean", "std", "min", "max", "missing",
                             "unique", "top values"], [[
            _e(f["name"]), _e(f["kind"]), _num(f.get("mean")), _num(f.get("std")),
            _num(f.get("min")), _num(f.get("max")), _num(f.get("missing")),
            _num(f.get("unique")),
            _e(", ".join(f"{t['value']} ({t['frequency']:.0f})"
                         for t in f.get("top_values", [])))] for f in stats["features"]]))
    parts.append("<h2>Metrics</h2><p>Overall (the metrics the Evaluator blessed):</p>")
    parts.append(_table(["metric", "value", "threshold", ""], [[
        _e(x["name"]), _num(x["value"]), _e(threshold_text(x.get("threshold"))), _passed(x)]
        for x in card["metrics"]["overall"]]))
    slices = card["metrics"]["slices"]
    if slices:
        parts.append("<p>Per slice:</p>")
        parts.append(_table(["slice", "examples", "metric", "value", "threshold", ""], [[
            _e(s["slice"]), _num(s.get("example_count")), _e(x["name"]), _num(x["value"]),
            _e(threshold_text(x.get("threshold"))), _passed(x)]
            for s in slices for x in s["metrics"]
            if not x["name"].startswith("fairness_indicators_metrics/")]))
    parts.append(_charts(card))
    if "fairness" in card:
        f = card["fairness"]
        parts.append(f"<h2>Fairness</h2><p>Features: {_e(', '.join(f['features']))}; "
                     f"gates: <code>{_e(json.dumps(f.get('gate'), sort_keys=True))}</code></p>")
        rates = sorted({r for s in f["slices"] for r in s["rates"]})
        parts.append(_table(["slice", *rates], [[_e(s["slice"]), *[
            _num(s["rates"].get(r)) for r in rates]] for s in f["slices"]]))
    parts.append("<h2>Lineage</h2>")
    parts.append(_table(["", "MLMD id(s)"], [[
        _e(k), f"<code>{_e(', '.join(map(str, v)) if isinstance(v, list) else v)}</code>"]
        for k, v in card["lineage"].items()]))
    parts.append("</body></html>")
    return "\n".join(parts)
