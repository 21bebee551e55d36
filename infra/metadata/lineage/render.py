"""The lineage for people and programs: text (``render_text``), JSON (``to_json``) and an
SVG graph (``render_svg``, drawn by ``infra/metadata/graph_svg.py``)."""
from __future__ import annotations

import json
import os
from typing import Any, List, Optional

from tfxkit.infra.metadata import graph_svg, ope
from tfxkit.infra.metadata.lineage.model import Lineage, Step
from tfxkit.infra.run.properties import CONFIG_HASH, GIT_COMMIT


def _short(v: Any, n: int = 60) -> str:
    t = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    return t if len(t) <= n else t[: n - 3] + "..."


def _fmt(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def _hyper(h: Any) -> str:
    if not isinstance(h, dict):
        return _short(h)
    keep = ("kind", "hidden_units", "optimizer", "learning_rate", "batch_size", "epochs", "steps",
            "dropout", "early_stopping", "module")
    return ", ".join(f"{k}={_short(h[k], 30)}" for k in keep if h.get(k) is not None)


def _hyperparameters_input(f) -> str:
    """The Trainer's ``hyperparameters`` input (they override the model section)."""
    hp = f.get("hyperparameters_input")
    if not hp:
        return ""
    how = f" ({hp['chosen_by']})" if hp.get("chosen_by") else ""
    values = hp.get("values")
    if not isinstance(values, dict):
        return f"hyperparameters input{how}: unreadable"
    return _short(f"hyperparameters input{how}: "
                  + ", ".join(f"{k}={_short(v, 30)}" for k, v in values.items()), 120)


def _warm_start(f) -> str:
    """``warm-started from version V (uri)`` or ``cold: why`` (``model.warm_start``)."""
    w = f.get("warm_start")
    if not isinstance(w, dict) or w.get("mode", "none") == "none":
        return ""
    if w.get("warm_started"):
        v = w.get("from_version")
        return f"warm-started from {f'version {v} ' if v else ''}({w.get('from')})"
    return f"cold: {w.get('reason') or 'not warm-started'}"


def _trainer_lines(f) -> List[str]:
    lines = [_hyper(f.get("hyperparameters")), _hyperparameters_input(f), _warm_start(f),
             f"model {_short(f.get('model_uri') or '', 50)}"]
    return [x for x in lines if x]


def _example_gen_lines(f) -> List[str]:
    files = f.get("input_files") or []
    lines = [f"span {f.get('span')}" + (f", version {f['version']}" if f.get("version") else ""),
             "rows " + ", ".join(f"{k} {v}" for k, v in sorted(f.get("rows", {}).items()))
             + (f", rejected {f['rows_rejected']}" if f.get("rows_rejected") else "")]
    if isinstance(files, list):
        lines += [f"file {os.path.basename(x)}" for x in files[:3]]
        if len(files) > 3:
            lines.append(f"... {len(files) - 3} more files")
    if f.get("fingerprint"):
        lines.append(f"fingerprint {_short(str(f['fingerprint']).rsplit(':', 1)[-1], 20)}")
    return lines


def _anomalies_lines(f) -> List[str]:
    a = f.get("anomalies")
    if a is None:
        return ["anomalies: unreadable"]
    return ["no anomalies"] if not a else [f"{len(a)} anomalies"] + [_short(x, 56) for x in a[:3]]


def _transform_lines(f) -> List[str]:
    feats = f.get("features") or {}
    return [f"graph {_short(f.get('transform_graph_uri') or '', 50)}",
            f"dense {len(feats.get('dense') or [])}, vocab {len(feats.get('vocab') or {})}"
            if isinstance(feats, dict) else ""]


def _evaluator_lines(f) -> List[str]:
    lines = [f"blessed={f.get('blessed')}" + ("" if f.get("baseline_model_id") else " (no baseline)")]
    for m in f.get("metrics", []):
        base = "" if m.get("baseline") is None else f" base {_fmt(m['baseline'])}"
        ok = {True: "ok", False: "FAIL", None: ""}[m.get("ok")]
        lines.append(f"{m['name']} {_fmt(m.get('value'))} [{m.get('threshold')}]{base} {ok}")
    if f.get("metrics_error"):
        lines.append(f"metrics unreadable: {_short(f['metrics_error'], 40)}")
    if f.get("ope") is not None:
        lines += _ope_lines(f["ope"])
    return lines


def _ope_lines(o) -> List[str]:
    """A bandit's off-policy evaluation: the estimates with their intervals (candidate,
    baseline, change), the reward model's metrics, each threshold's verdict, the decision."""
    lines = [f"off-policy evaluation ({o.get('source')}): n {o.get('n')}"
             + (f", {o['resamples']} bootstrap resamples" if o.get("resamples") else "")]
    if o.get("note"):
        lines.append(f"note: {o['note']}")
    for side, label, sign in (("candidate", "", False), ("baseline", "baseline ", False),
                              ("change", "change vs baseline ", True)):
        est = o.get(side) or {}
        names = ope.metric_names(o, (side,))
        with_iv = [n for n in names if est[n].get("lower") is not None]
        lines += [label + ope.estimate_text(n, est[n], o, sign) for n in with_iv]
        plain = [f"{n} {ope.num(est[n]['value'], sign)}" for n in names if n not in with_iv]
        if plain:
            lines.append(f"{label or 'candidate '}reward model: " + ", ".join(plain))
    for v in o.get("thresholds") or []:
        lines.append(f"{ope.verdict_word(v.get('passed')):7} {v['metric']} {v['bound']} "
                     f"{ope.num(v.get('threshold'))}: {v.get('reason')}")
    lines.append(f"decision: {o.get('reason') or 'not recorded'}")
    return lines


# component prefix -> its lines from the step's facts
_LINES = (
    (("ExampleGen",), _example_gen_lines),
    (("StatisticsGen",), lambda f: [f"statistics {_short(f.get('statistics_uri') or '', 50)}"]),
    (("SchemaGen", "SchemaImporter"),
     lambda f: [f"{f.get('features')} features" if f.get("features") is not None else "schema",
                _short(f.get("schema_uri") or "", 50)]),
    (("ExampleValidator",), _anomalies_lines),
    (("ValidationGate",), lambda f: [f"passed={f.get('passed')} anomalies={f.get('anomalies')} "
                                     f"on_anomalies={f.get('on_anomalies')}"]),
    (("Transform",), _transform_lines),
    (("Trainer",), _trainer_lines),
    (("Evaluator",), _evaluator_lines),
    (("InfraValidator",), lambda f: [f"blessed={f.get('blessed')}",
                                     _short(f.get("reason") or "", 56)]),
    (("Pusher",), lambda f: [f"version {f.get('version')}", _short(f.get("path") or "", 56)]),
)


def step_lines(s: Step) -> List[str]:
    """The key facts of a step, a few short lines."""
    for prefixes, lines in _LINES:
        if s.component.startswith(prefixes):
            return lines(s.facts)
    return []


def render_text(lin: Lineage) -> List[str]:
    lines = [f"Model {lin.pipeline} version {lin.model_version}  ->  {lin.pushed_path}",
             f"  pushed by run {lin.run_id}",
             f"  config hash {lin.config_hash or 'not recorded'}   git commit "
             f"{lin.git_commit or 'not recorded'}"]
    for s in lin.steps:
        state = "" if s.state in (None, "COMPLETE") else f" ({s.state.lower()})"
        took = "" if s.elapsed_s is None else f", {s.elapsed_s:.1f} s"
        run = "" if s.run_id in (None, lin.run_id) else f", run {s.run_id}"
        lines.append(f"{s.component}  execution {s.execution_id}{state}{took}{run}")
        for line in step_lines(s):
            if line:
                lines.append(f"    {line}")
        if s.component.startswith("Evaluator"):
            for r in s.facts.get("reasons", []):
                lines.append(f"    why: {r}")
    other = {r: p for r, p in lin.runs.items() if r != lin.run_id}
    for r, p in sorted(other.items()):
        lines.append(f"run {r}: config hash {p.get(CONFIG_HASH, 'not recorded')}, "
                     f"git commit {p.get(GIT_COMMIT, 'not recorded')}")
    return lines


def to_json(lin: Lineage) -> str:
    return json.dumps(lin.to_dict(), indent=1, sort_keys=True, default=str)


_COLORS = {"ExampleGen": "#dbeafe", "StatisticsGen": "#e0f2fe", "SchemaGen": "#e0f2fe",
           "SchemaImporter": "#e0f2fe", "ExampleValidator": "#fef9c3",
           "ValidationGate": "#fef9c3", "Transform": "#ede9fe", "Trainer": "#dcfce7",
           "Evaluator": "#ffedd5", "Pusher": "#fce7f3"}

# wide boxes of several lines, the artifact keys written beside the arrows
STYLE = graph_svg.Style(box_w=300, line_h=15, pad_x=10, pad_y=10, min_lines=1, gap_x=60,
                        gap_y=24, margin=20, char_w=6.6, font="monospace", title_size=12,
                        edge_labels=True, css_class="lineage")


def render_svg(lin: Lineage) -> str:
    """A left-to-right graph: one box per execution (its key facts), arrows along the
    artifacts that connect them; a header with the version, config hash and commit."""
    ids: List[str] = []
    for i, s in enumerate(lin.steps):  # a step met twice (one ExampleGen, two examples) twice
        node = f"{s.component} #{s.execution_id}"
        ids.append(node if node not in ids else f"{node} ({i})")
    producer = {}
    for node, s in zip(ids, lin.steps):
        for out in s.outputs.values():
            for aid in out:
                producer.setdefault(aid, node)
    edges = [graph_svg.Edge(producer[aid], node, key)
             for node, s in zip(ids, lin.steps) for key, ins in s.inputs.items()
             for aid in ins if aid in producer]
    nodes = [graph_svg.Node(node, [f"{s.component}  #{s.execution_id}"]
                            + [x for x in step_lines(s) if x],
                            fill=_COLORS.get(s.component.split(".")[0], "#f3f4f6"),
                            title=f"{s.component} execution {s.execution_id} ({s.state or ''}),"
                                  f" run {s.run_id or ''}")
             for node, s in zip(ids, lin.steps)]
    header = [(f"{lin.pipeline} model {lin.model_version}", True),
              (f"pushed to {lin.pushed_path or ''} by run {lin.run_id or ''}", False),
              (f"config hash {lin.config_hash or 'not recorded'}   git commit "
               f"{lin.git_commit or 'not recorded'}", False)]
    return graph_svg.render(nodes, edges, STYLE, header)
