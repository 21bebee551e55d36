"""The report page's building blocks: its CSS, HTML tables and figures, and how numbers
are written (the sections are in ``render.py``, ``render_data.py``, ``render_model.py``)."""
from __future__ import annotations

import html
from typing import Any, Optional, Sequence

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


def fmt_num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        if v != v:
            return "–"
        if abs(v) >= 1e5 or (abs(v) < 1e-3 and v != 0):
            return f"{v:.{digits - 1}e}"
        return f"{v:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{v:.0f}"
    return str(v)


def fmt_metric(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:.4f}"


def shorten(t: str, n: int = 140) -> str:
    return t if len(t) <= n else t[: n - 1] + "…"


def state_class(state: str) -> str:
    return "state-" + state.replace(" ", "-")


def table_html(headers: Sequence[str], rows: Sequence[Sequence[str]], attrs: str = ""
               ) -> str:
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


def figure_html(svg: Optional[str], caption: str = "", cls: str = "") -> str:
    if not svg:
        return ""
    cap = f"<figcaption class='muted'>{e(caption)}</figcaption>" if caption else ""
    return f"<figure class='{cls}'>{svg}{cap}</figure>"
