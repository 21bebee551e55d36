"""The report's off-policy evaluation of a bandit policy (issue 16), inside the evaluation
section: the PolicyEvaluator's estimates (the candidate's, the baseline's, the change vs the
baseline) with their bootstrap intervals, a forest plot of them, and each threshold's
verdict with its reason (``infra/metadata/ope.py`` reads them; the decision is the
evaluation's reason, shown beside the blessing)."""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from tfxkit.infra.metadata import ope
from tfxkit.infra.metadata.report import plots
from tfxkit.infra.metadata.report.html import e, figure_html, table_html

_SIDES = (("candidate", "candidate", False), ("baseline", "baseline", False),
          ("change", "change vs baseline", True))


def _cell(entry: Optional[Mapping[str, Any]], sign: bool):
    """A value and its interval; the exact numbers as data attributes."""
    if entry is None:
        return ("–", "class='num'")
    if entry.get("value") is None:  # the gate could not compute it
        return ("n/a", "class='num'")
    iv = ope.interval_text(entry, sign)
    attrs = f"class='num' data-value='{entry['value']!r}'"
    if iv:
        attrs += f" data-lower='{entry['lower']!r}' data-upper='{entry['upper']!r}'"
    text = e(ope.num(entry["value"], sign)) + (f" <span class='muted'>{e(iv)}</span>"
                                               if iv else "")
    return (text, attrs)


def _facts(o: Mapping[str, Any]) -> str:
    level = o.get("level")
    boot = None
    if isinstance(level, (int, float)):
        boot = f"{level:.0%} intervals" + (f", {o['resamples']} resamples"
                                           if o.get("resamples") else "")
    facts = [("read from", o.get("path") or o.get("source")), ("logged rows", o.get("n")),
             ("bootstrap", boot),
             ("logged reward mean", None if o.get("logged_reward_mean") is None
              else ope.num(o["logged_reward_mean"])),
             ("candidate", o.get("model")), ("baseline", o.get("baseline_model"))]
    return "<dl class='facts'>" + "".join(
        f"<dt>{e(k)}</dt><dd data-fact='{e(k)}'>{e(str(v))}</dd>" for k, v in facts
        if v is not None) + "</dl>"


def _estimates(o: Mapping[str, Any]) -> str:
    sides = [(key, label, sign) for key, label, sign in _SIDES if o.get(key)]
    rows = [{"attrs": f"data-ope-metric='{e(name)}'",
             "cells": [f"<b>{e(name)}</b>"] + [
                 _cell((o.get(key) or {}).get(name), sign) for key, _, sign in sides]}
            for name in ope.metric_names(o)]
    return table_html(["metric"] + [label for _, label, _ in sides], rows,
                      "class='ope-estimates'")


def _verdicts(o: Mapping[str, Any]) -> str:
    rows = []
    for v in o.get("thresholds") or []:
        word = ope.verdict_word(v.get("passed"))
        cls = {"pass": "ok", "FAIL": "bad", "skipped": "muted"}[word]
        iv = v.get("interval")
        sign = v["bound"] in ("absolute_change", "relative_change")  # as the change column
        rows.append({"attrs": (f"data-verdict='{word.lower()}' data-metric='{e(v['metric'])}' "
                               f"data-bound='{e(v['bound'])}'"),
                     "cells": [e(v["metric"]), e(v["bound"]),
                               (e(ope.num(v.get("threshold"))), "class='num'"),
                               (e(ope.num(v.get("value"), sign)), "class='num'"),
                               e(f"[{ope.num(iv[0], sign)}, {ope.num(iv[1], sign)}]"
                                 if iv else "–"),
                               (word, f"class='{cls}'"), e(v.get("reason") or "")]})
    if not rows:
        return ("<p class='muted' data-ope-verdicts='none'>No threshold verdicts recorded "
                "(they are in ope.json only).</p>")
    return table_html(["metric", "bound", "threshold", "value", "interval", "result",
                       "reason"], rows, "class='ope-verdicts'")


def ope_html(o: Dict[str, Any]) -> str:
    """The off-policy evaluation: facts, estimates, forest plot, verdicts."""
    parts = [f"<div class='ope' data-ope-source='{e(str(o.get('source')))}'>"
             "<h3>Off-policy evaluation</h3>",
             "<p>The policy's value (mean reward if it had chosen the actions) estimated "
             "from the logged actions, rewards and propensities of the eval split: IPS, "
             f"SNIPS and doubly robust (DR), with bootstrap intervals ({e(ope.how_text(o))})."
             " The gate compares the point estimates with the thresholds.</p>",
             _facts(o)]
    if o.get("note"):
        parts.append(f"<p class='warn' data-ope-note>{e(o['note'])}</p>")
    if any(o.get(side) for side in ope.SIDES):
        parts.append(_estimates(o))
        parts.append(figure_html(plots.ope_plot(o),
                                 "Policy value estimates with their intervals: the candidate "
                                 "(blue), the baseline (orange), the change vs the baseline "
                                 "(purple, 0 marked); the gate's bounds dashed."))
    parts.append("<h3>Threshold verdicts</h3>")
    parts.append(_verdicts(o))
    parts.append("</div>")
    return "".join(parts)
