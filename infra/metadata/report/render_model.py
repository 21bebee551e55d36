"""The report's model sections: training (epochs, hyperparameters, curves), evaluation
(blessing, gated metrics per slice or a bandit's off-policy evaluation: ``render_ope.py``,
infra validation, push) and batch predictions."""
from __future__ import annotations

import json
from collections import Counter
from typing import List, Optional

from tfxkit.infra.metadata.report import plots
from tfxkit.infra.metadata.report.components import report_status
from tfxkit.infra.metadata.report.html import e, figure_html, fmt_metric, fmt_num, table_html
from tfxkit.infra.metadata.report.model import Report, SliceMetric
from tfxkit.infra.metadata.report.render_ope import ope_html


def _not_trained_reason(rep: Report) -> str:
    stopped = rep.stopped
    if stopped is not None and stopped.node_id.startswith("Trainer"):
        if stopped.state == "canceled":
            return f"Nothing was trained: the Trainer was {stopped.error or 'canceled'}."
        return f"Nothing was trained: the Trainer failed: {stopped.error or 'no reason recorded'}."
    if stopped is not None:
        return (f"Nothing was trained: the run stopped at {stopped.node_id}, before the "
                "Trainer.")
    status, reason = report_status(rep)
    if status != "succeeded":
        said = {"failed": "failed", "canceled": "was canceled"}.get(status, "has not finished")
        return f"Nothing was trained: the run {said} ({reason or 'no reason recorded'})."
    return "Nothing was trained: the Trainer did not run in this run."


def warm_start_html(info) -> str:
    """A line on whether the Trainer started from the latest blessed model
    (``model.warm_start``), from which version, or why not; empty when warm start is off
    or nothing was recorded."""
    if not info or info.get("mode", "none") == "none":
        return ""
    if info.get("warm_started"):
        version = info.get("from_version")
        where = (f"version <b>{e(str(version))}</b> ({e(str(info.get('from')))})" if version
                 else e(str(info.get("from"))))
        return (f"<p data-warm-start='true'>Warm-started from the latest blessed model: "
                f"{where}.</p>")
    return (f"<p data-warm-start='false'>Not warm-started (trained cold): "
            f"{e(str(info.get('reason') or ''))}.</p>")


def training_section(rep: Report) -> str:
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
    warm = warm_start_html(t.warm_start)
    if warm:
        parts.append(warm)
    if t.hyperparameters:
        hp = {k: v for k, v in t.hyperparameters.items() if k not in ("module",) or v}
        parts.append("<dl class='facts'>" + "".join(
            f"<dt>{e(k)}</dt><dd>{e(json.dumps(v) if not isinstance(v, str) else v)}</dd>"
            for k, v in hp.items()) + "</dl>")
    if t.history:
        last = [{"attrs": f"data-history='{e(k)}'",
                 "cells": [e(k), (fmt_metric(v[-1]), "class='num'"),
                           (fmt_metric(min(v)) if "loss" in k else fmt_metric(max(v)), "class='num'")]}
                for k, v in sorted(t.history.items())]
        parts.append(table_html(["metric", "last epoch", "best"], last, "class='history'"))
        parts.append("<div class='grid'>" + "".join(
            figure_html(svg) for _, svg in plots.training_curves(t.history)) + "</div>")
    else:
        parts.append("<p class='muted'>No per-epoch history was recorded (history.json) for "
                     "this model.</p>")
    if t.model_uri:
        parts.append(f"<p class='muted'>Model: {e(t.model_uri)}</p>")
    parts.append("</section>")
    return "".join(parts)


def tuning_section(rep: Report) -> str:
    """``model.tune:``: the trials table (values and objective per trial) and the plot of
    objective vs trial; empty when the run has no Tuner."""
    t = rep.tuning
    if t is None:
        return ""
    parts = ["<section id='tuning' data-section='tuning'><h2>Tuning</h2>"]
    note = " (cached: the trials of an earlier run with the same inputs)" \
        if t.state == "cached" else ""
    parts.append(f"<p data-trials='{len(t.trials)}'>{len(t.trials)} trial"
                 f"{'s' if len(t.trials) != 1 else ''} ({e(t.algorithm or '?')} search, "
                 f"{e(str(t.epochs_per_trial or '?'))} epochs each), scored on the eval split "
                 f"by <b>{e(t.keras_metric or '?')}</b> (gated metric {e(t.objective or '?')}"
                 f", {e(t.direction)}imized){e(note)}.</p>")
    if t.error:
        parts.append(f"<p class='verdict bad'>The Tuner's output could not be read: "
                     f"{e(t.error)}</p>")
    best, default = t.best, t.default
    if best is not None and default is not None:
        parts.append(f"<p data-best='{best['score']}' data-default='{default['score']}'>"
                     f"Best trial {e(str(best['trial_id']))}: {fmt_metric(best['score'])}; "
                     f"the config's own settings (trial {e(str(default['trial_id']))}): "
                     f"{fmt_metric(default['score'])}.</p>")
    if t.best_values:
        parts.append("<p>The Trainer's hyperparameters input (best_hyperparameters):</p>"
                     "<dl class='facts'>" + "".join(
                         f"<dt>{e(k)}</dt><dd>{e(json.dumps(v))}</dd>"
                         for k, v in t.best_values.items()) + "</dl>")
    if t.trials:
        names = sorted({k for tr in t.trials for k in tr["values"]})
        rows = [{"attrs": f"data-trial='{e(str(tr['trial_id']))}'"
                 + (" class='best'" if tr is best else ""),
                 "cells": [e(str(tr["trial_id"])) + (" (config)" if tr is default else "")
                           + (" (best)" if tr is best else "")]
                 + [e(json.dumps(tr["values"].get(n))) for n in names]
                 + [(fmt_metric(tr["score"]) if tr["score"] is not None else "-",
                     "class='num'")]} for tr in t.trials]
        parts.append(table_html(["trial"] + names + [t.keras_metric or "score"], rows,
                                "class='trials'"))
        svg = plots.tuning_plot(t.trials, t.direction, t.keras_metric or "objective",
                                default["trial_id"] if default else None)
        if svg:
            parts.append(figure_html(svg))
    parts.append("</section>")
    return "".join(parts)


def _verdicts(rep: Report) -> str:
    """The blessing and why, the baseline, infra validation and the push."""
    ev = rep.evaluation
    parts = []
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
    if rep.model_card:
        parts.append(f"<p data-model-card='{e(rep.model_card)}'>Model card of version "
                     f"{e(rep.pushed_version or '')}: <a href='{e(card_href(rep.model_card))}'>"
                     f"{e(rep.model_card)}</a> (and model_card.json beside it).</p>")
    elif rep.pushed is False:
        why = rep.push_reason or "the model was not blessed"
        parts.append(f"<p class='bad' data-push-reason>Not pushed: {e(why)}</p>")
    return "".join(parts)


def card_href(path: str) -> str:
    """A link to a model card: a local path as a file:// URL, a bucket path as it is."""
    import pathlib
    import re

    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path):
        return path
    return pathlib.Path(path).absolute().as_uri()


def _gated_metrics(gated: List[SliceMetric], names: List[str]) -> str:
    """The gated metrics per slice: a table, and a plot per metric."""
    parts = ["<h3>Gated metrics per slice</h3>"]
    rows = [{"attrs": (f"data-metric='{e(m.metric)}' data-slice='{e(m.slice)}' "
                       f"data-value='{m.value!r}'"),
             "cells": [e(m.slice), f"<b>{e(m.metric)}</b>", (fmt_metric(m.value), "class='num'"),
                       e(m.threshold), (fmt_metric(m.baseline), "class='num'"),
                       ("–" if m.diff is None else f"{m.diff:+.4f}", "class='num'"),
                       (fmt_num(m.example_count, 0), "class='num'"),
                       ("ok" if m.ok else "FAIL", f"class='{'ok' if m.ok else 'bad'}'")]}
            for m in gated]
    parts.append(table_html(["slice", "metric", "value", "threshold", "baseline",
                             "change", "examples", "result"], rows, "class='gated'"))
    for name in names:
        ms = [m for m in gated if m.metric == name]
        lower = _bound(ms[0].threshold, ">=")
        upper = _bound(ms[0].threshold, "<=")
        parts.append(figure_html(plots.slice_metric_plot(name, ms, lower, upper),
                                 f"{name} per slice: the candidate (bars, red where it "
                                 "failed), the baseline (diamonds), the bound (dashed)."))
    return "".join(parts)


def evaluation_section(rep: Report) -> str:
    parts = ["<section id='evaluation' data-section='evaluation'><h2>Evaluation</h2>"]
    ev = rep.evaluation
    if ev is None:
        why = _not_trained_reason(rep) if not rep.trained else "The Evaluator did not run."
        parts.append(f"<p class='muted'>No evaluation. {e(why)}</p></section>")
        return "".join(parts)
    parts.append(_verdicts(rep))
    if ev.error:
        parts.append(f"<p class='bad'>Metrics unreadable: {e(ev.error)}</p>")
    gated = [m for m in ev.metrics if m.gated]
    if gated:
        parts.append(_gated_metrics(gated, ev.gated_names))
    others = [m for m in ev.metrics if not m.gated and m.slice == "Overall"]
    if others:
        parts.append("<h3>Other metrics (overall)</h3>")
        rows = [[e(m.metric), (fmt_metric(m.value), "class='num'"),
                 (fmt_metric(m.baseline), "class='num'")] for m in others]
        parts.append(table_html(["metric", "value", "baseline"], rows, "class='other-metrics'"))
    if ev.ope is not None:  # a bandit's gate
        parts.append(ope_html(ev.ope))
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


def predictions_section(rep: Report) -> str:
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
            summary = (f"mean {fmt_num(sum(vals) / len(vals))}, min {fmt_num(min(vals))}, max "
                       f"{fmt_num(max(vals))}") if vals else ""
        drift = "–" if o.drift is None else f"{o.drift:.3f}"
        rows.append({"attrs": f"data-output='{e(o.output)}' data-count='{len(o.values)}'",
                     "cells": [e(o.model or rep.pipeline), e(o.output),
                               (str(len(o.values)), "class='num'"), e(summary),
                               (drift, "class='num'")]})
        figs.append(figure_html(plots.prediction_plot(o)))
    parts.append(table_html(["model", "output", "examples", "distribution", "drift vs previous"],
                        rows, "class='predictions'"))
    parts.append("<div class='grid'>" + "".join(figs) + "</div></section>")
    return "".join(parts)
