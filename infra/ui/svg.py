"""The dashboard's pictures as inline SVG: a sparkline and a run's component timeline
written by hand (cheap enough for every page load, no matplotlib import on a run's first
page; each bar's and point's title says what it is), and matplotlib figures through the
run report's ``plots.py`` (``to_svg``) for the compare page (a gated metric per slice for
each run, the runs' training curves overlaid) and the serving page (the canary's share)."""
from __future__ import annotations

import html
from typing import Dict, List, Optional, Sequence, Tuple

RUN_COLORS = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2"]


def sparkline(values: Sequence[float], lower: Optional[float] = None,
              upper: Optional[float] = None, width: int = 140, height: int = 32,
              labels: Sequence[str] = ()) -> str:
    """A line of ``values`` (oldest first), the threshold as a dashed line, the last value
    as a dot (red when it misses the threshold); each point's title is its label."""
    if not values:
        return ""
    bounds = [b for b in (lower, upper) if b is not None]
    lo, hi = min(list(values) + bounds), max(list(values) + bounds)
    span = (hi - lo) or 1.0
    pad = 3

    def xy(i, v):
        x = pad + (width - 2 * pad) * (i / max(len(values) - 1, 1))
        y = pad + (height - 2 * pad) * (1 - (v - lo) / span)
        return x, y

    pts = [xy(i, v) for i, v in enumerate(values)]
    out = [f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}">']
    for b in bounds:
        _, y = xy(0, b)
        out.append(f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#9ca3af" '
                   f'stroke-dasharray="3 2"><title>threshold {b:g}</title></line>')
    out.append('<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="'
               + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
    last = values[-1]
    miss = (lower is not None and last < lower) or (upper is not None and last > upper)
    for i, (x, y) in enumerate(pts):
        label = labels[i] if i < len(labels) else ""
        r = 2.6 if i == len(pts) - 1 else 1.4
        color = ("#dc2626" if miss else "#16a34a") if i == len(pts) - 1 else "#2563eb"
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{color}">'
                   f'<title>{html.escape(label)} {values[i]:.4f}</title></circle>')
    out.append("</svg>")
    return "".join(out)


def timeline(components: Sequence, width: int = 720) -> Optional[str]:
    """A run's components (``report.model.ComponentRun``, in run order): a bar from when
    each started (relative to the first) for as long as it took, colored by state (the
    run report's colors), its duration and state beside it; None when nothing has times."""
    from tfxkit.infra.metadata.report.plots import STATE_COLORS, timeline_spans

    spans = timeline_spans(components)
    if not spans:
        return None
    rows = [c for c, _, _ in spans]
    right = max(s + d for _, s, d in spans) * 1.25 + 1
    label_w, row_h, axis_h = 150, 18, 22
    plot_w = width - label_w - 10
    height = row_h * len(rows) + axis_h
    x = lambda t: label_w + plot_w * t / right  # noqa: E731
    out = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" font-size="11" '
           'font-family="sans-serif">']
    for i, (c, start, dur) in enumerate(spans):
        y = i * row_h
        color = STATE_COLORS.get(c.state, "#6b7280")
        name, state = html.escape(c.node_id), html.escape(c.state)
        bar_w = max(plot_w * dur / right, 2.0)
        out.append(f'<g class="bar" data-node="{name}" data-state="{state}">'
                   f'<title>{name}: {state}, started at +{start:.1f} s, took {dur:.1f} s</title>'
                   f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{name}</text>'
                   f'<rect x="{x(start):.1f}" y="{y + 3}" width="{bar_w:.1f}" height="12" '
                   f'fill="{color}"/>'
                   f'<text x="{x(start) + bar_w + 4:.1f}" y="{y + 13}" fill="#374151">'
                   f'{dur:.1f} s {state}</text></g>')
    base = row_h * len(rows) + 2
    out.append(f'<line x1="{label_w}" x2="{width - 10}" y1="{base}" y2="{base}" '
               'stroke="#9ca3af"/>')
    step = _tick_step(right)
    t = 0.0
    while t <= right:
        out.append(f'<text x="{x(t):.1f}" y="{base + 14}" text-anchor="middle" '
                   f'fill="#6b7280">{t:g} s</text>')
        t += step
    out.append("</svg>")
    return "".join(out)


def _tick_step(span: float) -> float:
    """A round step giving 4-8 ticks over ``span`` seconds."""
    step = 1.0
    for m in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600):
        step = float(m)
        if span / step <= 8:
            break
    return step


def metric_bars(metric: str, slices: Sequence[str], runs: Sequence[str],
                values: Dict[Tuple[str, str], Optional[float]], lower: Optional[float] = None,
                upper: Optional[float] = None) -> Optional[str]:
    """A gated metric per slice, one bar per run, the bounds as dashed lines."""
    if not any(v is not None for v in values.values()):
        return None
    from tfxkit.infra.metadata.report.plots import _plt, to_svg  # pylint: disable=protected-access

    plt = _plt()
    n = len(runs)
    fig, ax = plt.subplots(figsize=(6.0, 0.3 * len(slices) * max(n, 1) + 0.9))
    h = 0.8 / max(n, 1)
    for j, run in enumerate(runs):
        ys = [i + j * h for i in range(len(slices))]
        vals = [values.get((s, run)) for s in slices]
        ax.barh(ys, [v if v is not None else 0 for v in vals], height=h * 0.9,
                color=RUN_COLORS[j % len(RUN_COLORS)], label=run)
        for y, v in zip(ys, vals):
            if v is not None:
                ax.text(v, y, f" {v:.4f}", va="center", fontsize=6)
    for bound, label in ((lower, "lower bound"), (upper, "upper bound")):
        if bound is not None:
            ax.axvline(bound, color="#111827", ls="--", lw=1, label=f"{label} {bound:g}")
    ax.set_yticks([i + h * (n - 1) / 2 for i in range(len(slices))], list(slices))
    ax.invert_yaxis()
    ax.set_title(metric)
    ax.legend(fontsize=6, frameon=False, loc="lower left", bbox_to_anchor=(1.0, 0.0))
    return to_svg(fig)


def overlaid_curves(runs: Sequence[str], histories: Sequence[Dict[str, List[float]]]
                    ) -> List[Tuple[str, str]]:
    """(metric, svg) per Keras metric: each run's train (solid) and eval (dashed) curve."""
    names: List[str] = []
    for h in histories:
        for k in h:
            base = k[4:] if k.startswith("val_") else k
            if base not in names:
                names.append(base)
    if not names:
        return []
    from tfxkit.infra.metadata.report.plots import _plt, to_svg  # pylint: disable=protected-access

    plt = _plt()
    out = []
    for name in sorted(names, key=lambda n: (n != "loss", n)):
        fig, ax = plt.subplots(figsize=(4.2, 2.4))
        for j, (run, h) in enumerate(zip(runs, histories)):
            color = RUN_COLORS[j % len(RUN_COLORS)]
            for key, ls, part in ((name, "-", "train"), ("val_" + name, "--", "eval")):
                vals = h.get(key)
                if vals:
                    ax.plot(range(1, len(vals) + 1), vals, ls=ls, color=color, marker="o",
                            ms=2, label=f"{run} {part}")
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        out.append((name, to_svg(fig)))
    return out


def canary_plot(decisions: Sequence[Dict]) -> Optional[str]:
    """The canary's traffic share at each decision (oldest first), one line per canary
    version, the final decision marked (promote green, rollback red)."""
    pts: Dict[str, List[Tuple[int, float, str]]] = {}
    for i, d in enumerate(decisions):
        share = d.get("next_share", d.get("share"))
        if d.get("action") == "promote":
            share = 1.0
        elif d.get("action") == "rollback":
            share = 0.0
        if share is None or d.get("canary") is None:
            continue
        pts.setdefault(str(d["canary"]), []).append((i, float(share), d.get("action") or ""))
    if not pts:
        return None
    from tfxkit.infra.metadata.report.plots import _plt, to_svg  # pylint: disable=protected-access

    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 2.0))
    for j, (version, p) in enumerate(sorted(pts.items())):
        ax.step([x for x, _, _ in p], [y for _, y, _ in p], where="post",
                color=RUN_COLORS[j % len(RUN_COLORS)], label=f"canary {version}")
        for x, y, action in p:
            if action in ("promote", "rollback"):
                ax.scatter([x], [y], color="#16a34a" if action == "promote" else "#dc2626",
                           s=30, zorder=3)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("decision", fontsize=7)
    ax.set_ylabel("canary share", fontsize=7)
    ax.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return to_svg(fig)
