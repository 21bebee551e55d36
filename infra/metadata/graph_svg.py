"""The one graph renderer: boxes and arrows as SVG written by hand (no system binary, no
script), left to right. ``tfxkit lineage --format svg`` (``lineage/render.py``) and the run
report's graph (``report/render.py``) both draw with it.

A node is a box of text lines (the first in bold) filled with its color; an edge is an
arrow along an artifact key. Each node's column is its longest path from a source; nodes
no edge touches (a component a failed run never reached) follow in their order, one column
each. ``Style`` holds the sizes, so a dense run graph and a wordy lineage share the code.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

e = html.escape


@dataclass(frozen=True)
class Node:
    id: str
    lines: Sequence[str]               # the first is the title, in bold
    fill: str = "#f3f4f6"
    dashed: bool = False               # e.g. a component that did not run
    title: Optional[str] = None        # the tooltip


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    key: str                           # the artifact's key, e.g. "examples"


@dataclass(frozen=True)
class Style:
    box_w: int = 138
    line_h: int = 14
    pad_x: int = 7                     # text inset from the box's left side
    pad_y: int = 4                     # space above the first and below the last line
    min_lines: int = 2                 # boxes are at least this many lines high
    gap_x: int = 34
    gap_y: int = 14
    margin: int = 10
    char_w: float = 5.6                # how wide a character is, for cutting long lines
    font: str = "sans-serif"
    font_size: int = 11
    title_size: int = 11
    edge_labels: bool = False          # the key as text beside the arrow (else a tooltip)
    css_class: str = "graph"


def levels(ids: Sequence[str], edges: Sequence[Edge]) -> Dict[str, int]:
    """Each node's column: the longest path to it; loose nodes after the last, in order."""
    level = {n: 0 for n in ids}
    for _ in range(len(ids)):  # the graphs are small
        for ed in edges:
            level[ed.target] = max(level[ed.target], level[ed.source] + 1)
    connected = {ed.source for ed in edges} | {ed.target for ed in edges}
    last = max([level[n] for n in connected], default=-1)
    for n in ids:
        if n not in connected:
            last += 1
            level[n] = last
    return level


def _positions(nodes: Sequence[Node], level: Dict[str, int], heights: Dict[str, float],
               st: Style, top: float) -> Dict[str, Tuple[float, float]]:
    pos: Dict[str, Tuple[float, float]] = {}
    bottom: Dict[int, float] = {}
    for n in nodes:
        lv = level[n.id]
        y = bottom.get(lv, top)
        pos[n.id] = (st.margin + lv * (st.box_w + st.gap_x), y)
        bottom[lv] = y + heights[n.id] + st.gap_y
    return pos


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _edge(ed: Edge, pos, heights, st: Style) -> str:
    (x1, y1), (x2, y2) = pos[ed.source], pos[ed.target]
    x1, y1, y2 = x1 + st.box_w, y1 + heights[ed.source] / 2, y2 + heights[ed.target] / 2
    mx = (x1 + x2) / 2
    out = (f'<path d="M {x1:.0f} {y1:.0f} C {mx:.0f} {y1:.0f} {mx:.0f} {y2:.0f} {x2:.0f} '
           f'{y2:.0f}" fill="none" stroke="#6b7280" marker-end="url(#graph-arrow)">'
           f'<title>{e(ed.key)}</title></path>')
    if st.edge_labels:
        out += (f'<text x="{mx:.0f}" y="{(y1 + y2) / 2 - 3:.0f}" fill="#777" '
                f'text-anchor="middle" font-size="9">{e(ed.key)}</text>')
    return out


def _box(n: Node, x: float, y: float, h: float, st: Style) -> str:
    max_chars = int((st.box_w - 2 * st.pad_x) / st.char_w)
    dash = ' stroke-dasharray="4 3"' if n.dashed else ""
    out = [f'<g data-node="{e(n.id)}">'
           + (f"<title>{e(n.title)}</title>" if n.title else "")
           + f'<rect x="{x:.0f}" y="{y:.0f}" width="{st.box_w}" height="{h:.0f}" rx="5" '
           f'fill="{n.fill}" stroke="#374151"{dash}/>']
    for k, line in enumerate(n.lines):
        weight = (f' font-weight="600" font-size="{st.title_size}"' if k == 0
                  else ' fill="#374151"')
        out.append(f'<text x="{x + st.pad_x:.0f}" y="{y + st.pad_y + 11 + k * st.line_h:.0f}"'
                   f'{weight}>{e(_cut(line, max_chars))}</text>')
    out.append("</g>")
    return "".join(out)


def render(nodes: Sequence[Node], edges: Sequence[Edge], style: Style = Style(),
           header: Sequence[Tuple[str, bool]] = ()) -> str:
    """The graph as one ``<svg>`` element; ``header``: (text, bold) lines above it.
    Edges between unknown nodes or from a node to itself are left out."""
    ids = [n.id for n in nodes]
    known = set(ids)
    edges = sorted({ed for ed in edges if ed.source in known and ed.target in known
                    and ed.source != ed.target}, key=lambda ed: (ids.index(ed.source),
                                                                 ids.index(ed.target), ed.key))
    level = levels(ids, edges)
    heights = {n.id: 2 * style.pad_y + style.line_h * max(len(n.lines), style.min_lines)
               for n in nodes}
    top = style.margin + (20 * len(header) + 10 if header else 0)
    pos = _positions(nodes, level, heights, style, top)
    columns = max(level.values(), default=0) + 1
    width = 2 * style.margin + columns * (style.box_w + style.gap_x)
    height = max([pos[i][1] + heights[i] for i in pos] + [top]) + style.gap_y + style.margin
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="{style.font}" '
           f'font-size="{style.font_size}" class="{style.css_class}">',
           '<defs><marker id="graph-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
           'markerWidth="6" markerHeight="6" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#6b7280"/></marker></defs>',
           '<rect width="100%" height="100%" fill="white"/>']
    for k, (text, bold) in enumerate(header):
        weight = ' font-size="14" font-weight="bold"' if bold else ""
        out.append(f'<text x="{style.margin}" y="{style.margin + 14 + 20 * k}"{weight}>'
                   f'{e(text)}</text>')
    out += [_edge(ed, pos, heights, style) for ed in edges]
    out += [_box(n, *pos[n.id], heights[n.id], style) for n in nodes]
    out.append("</svg>")
    return "\n".join(out) + "\n"

