"""The report's pictures: matplotlib (Agg) figures returned as inline ``<svg>`` text.

Text stays text in the SVG (``svg.fonttype: none``), so the page can be searched and
printed sharply; every figure gets its own id salt, so the inline SVGs' ids never clash.
"""
from __future__ import annotations

import io
import itertools
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

CURRENT = "#2563eb"
PREVIOUS = "#f97316"
STATE_COLORS = {"ran": "#16a34a", "cached": "#0891b2", "resolved": "#0891b2",
                "reused": "#0891b2", "failed": "#dc2626", "running": "#ca8a04",
                "canceled": "#ea580c", "not run": "#9ca3af"}
_ids = itertools.count()
MaxNLocator = None  # matplotlib's, set by _plt()


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    global MaxNLocator
    from matplotlib.ticker import MaxNLocator

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 8, "axes.titlesize": 9,
                         "axes.spines.top": False, "axes.spines.right": False,
                         "font.family": "sans-serif"})
    return plt


def to_svg(fig) -> str:
    plt = _plt()
    plt.rcParams["svg.hashsalt"] = f"tfxkit-report-{next(_ids)}"
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]  # drop the XML prolog and DOCTYPE
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text


def timeline_spans(components: Sequence[Any]) -> List[Tuple[Any, float, float]]:
    """(component, start, duration) of each component that has times: its start (MLMD
    create time) relative to the run's first, else right after the one before it."""
    rows = [c for c in components if c.start is not None or c.elapsed is not None]
    t0 = min((c.start for c in rows if c.start is not None), default=0.0)
    out, cursor = [], 0.0
    for c in rows:
        start = (c.start - t0) if c.start is not None else cursor
        dur = c.elapsed if c.elapsed is not None else ((c.end or c.start) - c.start)
        dur = max(dur or 0.0, 0.0)
        cursor = start + dur
        out.append((c, start, dur))
    return out


def timeline(components: Sequence[Any]) -> Optional[str]:
    """One bar per component: when it started (MLMD create time, relative to the run's
    first) and how long it took, colored by state."""
    spans = timeline_spans(components)
    if not spans:
        return None
    plt = _plt()
    rows = [c for c, _, _ in spans]
    t0 = min((c.start for c in rows if c.start is not None), default=0.0)
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(rows) + 0.7))
    for i, (c, start, dur) in enumerate(spans):
        ax.barh(i, max(dur, 0.05), left=start, color=STATE_COLORS.get(c.state, "#6b7280"),
                height=0.6)
        ax.text(start + max(dur, 0.05), i, f" {dur:.1f} s {c.state}", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [c.node_id for c in rows])
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the run's first component started")
    right = max(((c.start - t0 if c.start is not None else 0) + (c.elapsed or 0)) for c in rows)
    ax.set_xlim(0, right * 1.25 + 1)
    return to_svg(fig)


def feature_plot(f, previous_label: str = "previous run") -> Optional[str]:
    """A numeric feature's histogram or a categorical one's top values, as fractions of
    the examples, with the previous run's overlaid."""
    plt = _plt()
    if f.kind == "numeric" and f.histogram:
        fig, ax = plt.subplots(figsize=(3.3, 1.45))
        total = sum(n for _, _, n in f.histogram) or 1
        lows = [lo for lo, _, _ in f.histogram]
        widths = [max(hi - lo, 1e-9) for lo, hi, _ in f.histogram]
        ax.bar(lows, [n / total for _, _, n in f.histogram], width=widths, align="edge",
               color=CURRENT, alpha=0.75, label="this run")
        if f.previous is not None and f.previous.histogram:
            ptotal = sum(n for _, _, n in f.previous.histogram) or 1
            xs, ys = [], []
            for lo, hi, n in f.previous.histogram:
                xs += [lo, hi]
                ys += [n / ptotal, n / ptotal]
            ax.plot(xs, ys, color=PREVIOUS, lw=1.4, label=previous_label)
            ax.legend(fontsize=6, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                      ncol=2, borderaxespad=0.1)
        ax.set_ylabel("fraction", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.tick_params(labelsize=6)
        return to_svg(fig)
    if f.kind == "categorical" and f.top:
        top = f.top[:8]
        fig, ax = plt.subplots(figsize=(3.3, 0.22 * len(top) + 0.55))
        total = (f.present or sum(n for _, n in f.top)) or 1
        labels = [str(v)[:18] for v, _ in top]
        ax.barh(range(len(top)), [n / total for _, n in top], color=CURRENT, alpha=0.75,
                height=0.6, label="this run")
        if f.previous is not None and f.previous.top:
            prev = dict(f.previous.top)
            ptotal = (f.previous.present or sum(prev.values())) or 1
            ax.scatter([prev.get(v, 0) / ptotal for v, _ in top], range(len(top)),
                       color=PREVIOUS, marker="D", s=14, zorder=3, label=previous_label)
            ax.legend(fontsize=6, frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0),
                      ncol=2, borderaxespad=0.1)
        ax.set_yticks(range(len(top)), labels, fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("fraction of present values", fontsize=7)
        ax.tick_params(labelsize=6)
        return to_svg(fig)
    return None


def missing_plot(features: Sequence[Any]) -> Optional[str]:
    if not features:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 0.22 * len(features) + 0.6))
    names = [f.name for f in features]
    ax.barh(range(len(features)), [f.missing_pct for f in features], color=CURRENT,
            height=0.55, label="this run")
    if any(f.previous is not None for f in features):
        ax.scatter([f.previous.missing_pct if f.previous is not None else 0 for f in features],
                   range(len(features)), color=PREVIOUS, marker="D", s=14, zorder=3,
                   label="previous run")
        ax.legend(fontsize=7, frameon=False)
    ax.set_yticks(range(len(features)), names)
    ax.invert_yaxis()
    ax.set_xlabel("% of examples missing the feature")
    ax.set_xlim(0, max([f.missing_pct for f in features] + [1]) * 1.2)
    return to_svg(fig)


def training_curves(history: Dict[str, List[float]]) -> List[Tuple[str, str]]:
    """(metric, svg) per metric: the training value and the eval split's (val_) per epoch."""
    plt = _plt()
    out = []
    names = [k for k in history if not k.startswith("val_")]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    for name in sorted(names, key=lambda n: (n != "loss", n)):
        fig, ax = plt.subplots(figsize=(3.6, 2.1))
        for key, label, color in ((name, "train", CURRENT), ("val_" + name, "eval", PREVIOUS)):
            vals = history.get(key)
            if vals:
                ax.plot(range(1, len(vals) + 1), vals, marker="o", ms=2.5, color=color,
                        label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7, frameon=False)
        out.append((name, to_svg(fig)))
    return out


def tuning_plot(trials: Sequence[Dict[str, Any]], direction: str = "max",
                metric: str = "objective", default_id: Optional[str] = None) -> Optional[str]:
    """The objective of each trial in trial order, the best so far as a step line, the
    config's own settings (``default_id``) marked."""
    scored = [(i, t) for i, t in enumerate(trials) if t.get("score") is not None]
    if not scored:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 2.3))
    xs = [i for i, _ in scored]
    ys = [float(t["score"]) for _, t in scored]
    ax.plot(xs, ys, "o", ms=4, color=CURRENT, label="trial")
    best, run = [], None
    for y in ys:
        run = y if run is None else (max(run, y) if direction == "max" else min(run, y))
        best.append(run)
    ax.step(xs, best, where="post", color=CURRENT, alpha=0.5, label=f"best so far ({direction})")
    for i, t in scored:
        if default_id is not None and str(t.get("trial_id")) == str(default_id):
            ax.plot([i], [float(t["score"])], "s", ms=7, mfc="none", color=PREVIOUS,
                    label="config's settings")
    ax.set_xticks(xs, [str(t.get("trial_id")) for _, t in scored])
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.legend(fontsize=7, frameon=False)
    return to_svg(fig)


def slice_metric_plot(metric: str, rows: Sequence[Any], lower: Optional[float] = None,
                      upper: Optional[float] = None) -> Optional[str]:
    """A gated metric per slice: the candidate's value, the baseline's, the bound."""
    rows = [m for m in rows if m.value is not None]
    if not rows:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 0.3 * len(rows) + 0.8))
    ys = range(len(rows))
    colors = ["#dc2626" if m.ok is False else CURRENT for m in rows]
    ax.barh(list(ys), [m.value for m in rows], color=colors, height=0.55, label="candidate")
    if any(m.baseline is not None for m in rows):
        ax.scatter([m.baseline if m.baseline is not None else float("nan") for m in rows],
                   list(ys), color=PREVIOUS, marker="D", s=18, zorder=3, label="baseline")
    for bound, label in ((lower, "lower bound"), (upper, "upper bound")):
        if bound is not None:
            ax.axvline(bound, color="#111827", ls="--", lw=1, label=f"{label} {bound:g}")
    for y, m in zip(ys, rows):
        ax.text(m.value, y, f" {m.value:.4f}", va="center", fontsize=7)
    ax.set_yticks(list(ys), [m.slice for m in rows])
    ax.invert_yaxis()
    ax.set_title(metric)
    hi = max([m.value for m in rows] + [m.baseline for m in rows if m.baseline is not None]
             + [b for b in (lower, upper) if b is not None])
    ax.set_xlim(0, hi * 1.18 if hi > 0 else 1)
    ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(1.0, 0.0))
    return to_svg(fig)


def prediction_plot(p) -> Optional[str]:
    """The distribution of one prediction output, with the previous run's overlaid."""
    if not p.values:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 2.2))
    if p.kind == "categorical":
        from collections import Counter

        cur = Counter(map(str, p.values))
        prev = Counter(map(str, p.previous or []))
        labels = sorted(set(cur) | set(prev))
        xs = range(len(labels))
        n, pn = sum(cur.values()) or 1, sum(prev.values()) or 1
        w = 0.4 if prev else 0.7
        ax.bar([x - (w / 2 if prev else 0) for x in xs], [cur[k] / n for k in labels], width=w,
               color=CURRENT, label="this run")
        if prev:
            ax.bar([x + w / 2 for x in xs], [prev[k] / pn for k in labels], width=w,
                   color=PREVIOUS, label="previous run")
        ax.set_xticks(list(xs), labels)
        ax.set_ylabel("fraction")
    else:
        vals = [float(v) for v in p.values]
        pvals = [float(v) for v in p.previous or []]
        lo, hi = min(vals + pvals), max(vals + pvals)
        bins = 20 if hi > lo else 1
        ax.hist(vals, bins=bins, range=(lo, hi if hi > lo else lo + 1), density=True,
                color=CURRENT, alpha=0.7, label="this run")
        if pvals:
            ax.hist(pvals, bins=bins, range=(lo, hi if hi > lo else lo + 1), density=True,
                    histtype="step", color=PREVIOUS, lw=1.5, label="previous run")
        ax.set_ylabel("density")
    ax.set_title(f"{p.model + ': ' if p.model else ''}{p.output}")
    ax.legend(fontsize=7, frameon=False)
    return to_svg(fig)


def _forest(ax, rows, bounds, title: str) -> None:
    """Points with interval bars, one row per metric; ``bounds``: {metric: [limits]}."""
    names = [n for n, _ in rows[0][2]]
    for k, (label, color, entries) in enumerate(rows):
        off = (k - (len(rows) - 1) / 2) * 0.22
        shown = [(y, en) for y, (_, en) in enumerate(entries) if en is not None]
        for i, (y, en) in enumerate(shown):
            err = [[en["value"] - en["lower"]], [en["upper"] - en["value"]]]
            ax.errorbar(en["value"], y + off, xerr=err, fmt="o", ms=4, color=color,
                        capsize=3, lw=1.4, label=None if i else label)
    for y, name in enumerate(names):
        for limit in bounds.get(name, []):
            ax.plot([limit, limit], [y - 0.4, y + 0.4], color="#111827", ls="--", lw=1)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12),
              ncol=2, borderaxespad=0.1)


def _with_interval(ope: Dict[str, Any], side: str) -> Dict[str, Dict[str, Any]]:
    return {n: en for n, en in (ope.get(side) or {}).items()
            if en.get("lower") is not None and en.get("upper") is not None}


def ope_plot(ope: Dict[str, Any]) -> Optional[str]:
    """A bandit's policy value estimates with their bootstrap intervals: the candidate's
    and the baseline's (left), the change vs the baseline (right, 0 marked); the gate's
    bounds as dashed ticks."""
    cand, base, change = (_with_interval(ope, side) for side in ("candidate", "baseline",
                                                                  "change"))
    from tfxkit.infra.metadata.ope import metric_names

    names = [n for n in metric_names(ope, ("candidate", "baseline")) if n in cand or n in base]
    if not names:
        return None
    bounds: Dict[str, Dict[str, List[float]]] = {"abs": {}, "change": {}}
    for v in ope.get("thresholds") or []:
        kind = {"lower_bound": "abs", "upper_bound": "abs", "absolute_change": "change"}.get(
            v.get("bound"))
        if kind and v.get("threshold") is not None:
            bounds[kind].setdefault(v["metric"], []).append(float(v["threshold"]))
    plt = _plt()
    panels = 2 if change else 1
    fig, axes = plt.subplots(1, panels, figsize=(3.8 * panels + 0.8, 0.5 * len(names) + 1.1),
                             squeeze=False, sharey=True)
    rows = [("candidate", CURRENT, [(n, cand.get(n)) for n in names])]
    if base:
        rows.append(("baseline", PREVIOUS, [(n, base.get(n)) for n in names]))
    _forest(axes[0][0], rows, bounds["abs"], "policy value")
    if change:
        ax = axes[0][1]
        ax.axvline(0, color="#9ca3af", lw=1)
        _forest(ax, [("change vs baseline", "#7c3aed", [(n, change.get(n)) for n in names])],
                bounds["change"], "change vs baseline")
    return to_svg(fig)


def monitoring_plot(windows: Sequence[Any], kind: str = "skew") -> Optional[str]:
    """Each feature's ``kind`` (skew or drift) distance over the monitored windows, as a
    multiple of its threshold (1 = the threshold, dashed): a line per feature, the flagged
    points in red."""
    series: Dict[str, List[Tuple[float, float, bool]]] = {}
    for w in windows:
        if w.end is None:
            continue
        for d in w.features:
            if d.get("kind") != kind or d.get("value") is None or not d.get("threshold"):
                continue
            series.setdefault(d["feature"], []).append(
                (w.end / 3600.0, d["value"] / d["threshold"], bool(d.get("flagged"))))
    if not series:
        return None
    plt = _plt()
    t0 = min(x for pts in series.values() for x, _, _ in pts)
    fig, ax = plt.subplots(figsize=(7.0, 2.2))
    for name, pts in sorted(series.items()):
        ax.plot([x - t0 for x, _, _ in pts], [y for _, y, _ in pts], marker="o", ms=3,
                lw=1.2, label=name)
        bad = [(x - t0, y) for x, y, flagged in pts if flagged]
        if bad:
            ax.scatter([x for x, _ in bad], [y for _, y in bad], color="#dc2626", s=28,
                       zorder=4)
    ax.axhline(1.0, color="#6b7280", ls="--", lw=1)
    ax.set_xlabel("window end (hours after the first window)", fontsize=7)
    ax.set_ylabel(f"{kind} / threshold", fontsize=7)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return to_svg(fig)
