"""The one benchmark harness every tfxkit benchmark uses.

A comparison runs two *sides* (a baseline, usually stock TFX, and tfxkit) on the same
input, each run in a fresh process, in alternating order (A B B A A B ...), ``runs``
times each, and reports medians and the spread (min..max) of every figure and of the
per-pair ratios. Each side process reports its own phases; phases named in ``FIXED``
(process start, imports, model load, Beam start-up, ...) are fixed costs, printed apart
from the per-row work, so a ratio always says what it includes:

- ``total``: wall time of the whole process, as a user sees it (fixed costs included);
- ``work``: the side's ``work`` phase only (per-row work, fixed costs excluded), unless
  the comparison's ``work_includes`` says what else a side could not split off.

A side is a command line; the process prints one line ``BENCH_RESULT {json}`` at the
end, made with :class:`Phases`::

    ph = Phases()                     # first thing in the child, before heavy imports
    import tensorflow as tf
    ph.mark("imports")
    model = load()
    ph.mark("model_load")
    score(rows)
    ph.mark("work")
    ph.emit(rows=len(rows))

Results go to ``bench-results/NAME.json`` (with the git commit, the machine's load
average before and after every run, and every raw run) and a picture,
``bench-results/NAME.png``.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results"
MARK = "BENCH_RESULT "
# Phases that are fixed costs (paid once per process or per job, whatever the rows).
FIXED = ("process_start", "imports", "model_load", "beam_start", "setup", "server_start",
         "warmup", "probe")
# ("probe": a side's run on a tiny input before the measured one, where fixed costs cannot
# be marked from outside, e.g. inside a TFX executor: Beam start-up + model load.)
_START = time.time()
MIN_RUNS = 3  # runs per side for a figure; fewer is marked a development run
WORK_DEFAULT = "the 'work' phase only: fixed costs excluded"


class Phases:
    """Phase timer for a side's process: ``mark(name)`` closes the phase that ran since
    the previous mark (or since this module was imported)."""

    def __init__(self):
        self.phases: Dict[str, float] = {}
        self._t = _START
        self.started = _START

    def mark(self, name: str) -> float:
        now = time.time()
        self.phases[name] = self.phases.get(name, 0.0) + now - self._t
        self._t = now
        return self.phases[name]

    def emit(self, **extra) -> None:
        print(MARK + json.dumps({"started": self.started, "phases": self.phases, **extra}),
              flush=True)


@dataclass
class Side:
    name: str
    cmd: Sequence[str]
    env: Optional[Dict[str, str]] = None
    cwd: Optional[str] = None
    # A callable run (in this process) before every run of this side, untimed: e.g. to
    # reset a pipeline's state so every run is cold.
    before: Optional[object] = None


@dataclass
class Run:
    side: str
    index: int
    wall_s: float
    phases: Dict[str, float]
    extra: dict
    loadavg_before: List[float]
    loadavg_after: List[float]

    @property
    def fixed_s(self) -> float:
        return sum(v for k, v in self.phases.items() if k in FIXED)

    @property
    def work_s(self) -> float:
        return self.phases.get("work", float("nan"))


@dataclass
class Comparison:
    name: str
    a: str
    b: str
    runs: List[Run] = field(default_factory=list)
    note: str = ""
    # What this comparison's "work" phase holds on each side, printed on the work-ratio
    # line: where a side cannot split off every fixed cost, the ratio says so.
    work_includes: str = ""
    # Numbers each run reports in its BENCH_RESULT (``extra``), e.g. requests/s or p99 ms:
    # summarized per side and as paired ratios a/b, like the times.
    metrics: Sequence[str] = ()

    def of(self, side: str) -> List[Run]:
        return [r for r in self.runs if r.side == side]

    def summary(self) -> dict:
        runs = min((len(self.of(self.a)), len(self.of(self.b))))
        out = {"a": self.a, "b": self.b, "note": self.note, "sides": {}, "ratios": {},
               "work_includes": self.work_includes or WORK_DEFAULT,
               # fewer than MIN_RUNS runs per side: a development run, not a figure
               "dev_only": runs < MIN_RUNS}
        for side in (self.a, self.b):
            rs = self.of(side)
            phases = sorted({k for r in rs for k in r.phases})
            out["sides"][side] = {
                "runs": len(rs),
                "wall_s": spread([r.wall_s for r in rs]),
                "fixed_s": spread([r.fixed_s for r in rs]),
                "work_s": spread([r.work_s for r in rs]),
                "phases": {k: spread([r.phases.get(k, 0.0) for r in rs]) for k in phases},
            }
        pairs = list(zip(self.of(self.a), self.of(self.b)))
        out["ratios"]["total"] = spread([a.wall_s / b.wall_s for a, b in pairs])
        out["ratios"]["work"] = spread([a.work_s / b.work_s for a, b in pairs
                                        if b.work_s > 0])
        if self.metrics:
            out["metrics"] = {side: {m: spread([_num(r.extra.get(m)) for r in self.of(side)])
                                     for m in self.metrics} for side in (self.a, self.b)}
            out["metric_ratios"] = {
                m: spread([_num(a.extra.get(m)) / _num(b.extra.get(m)) for a, b in pairs
                           if _num(b.extra.get(m))]) for m in self.metrics}
        return out


def _num(x) -> float:
    """A metric value as a float (NaN when absent or not a number)."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def spread(xs: Sequence[float]) -> dict:
    xs = [x for x in xs if x == x]  # drop NaN
    if not xs:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def order(runs: int) -> List[int]:
    """0/1 side indices in alternating order: A B B A A B B A ..."""
    seq = []
    for i in range(runs):
        seq += [0, 1] if i % 2 == 0 else [1, 0]
    return seq


def loadavg() -> List[float]:
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return list(os.getloadavg())


def run_side(side: Side, index: int, log_dir: Path, timeout: float) -> Run:
    if callable(side.before):
        side.before()
    log = log_dir / f"{side.name}-{index}.log"
    env = dict(os.environ, **(side.env or {}))
    before = loadavg()
    t0 = time.time()
    with open(log, "w") as f:
        p = subprocess.run(list(map(str, side.cmd)), stdout=subprocess.PIPE, stderr=f,
                           env=env, cwd=side.cwd, text=True, timeout=timeout)
        f.write(p.stdout)
    wall = time.time() - t0
    if p.returncode:
        raise SystemExit(f"{side.name} run {index} failed (exit {p.returncode}); see {log}")
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith(MARK)]
    if not lines:
        raise SystemExit(f"{side.name} run {index} printed no {MARK.strip()} line; see {log}")
    res = json.loads(lines[-1][len(MARK):])
    phases = {"process_start": max(0.0, res.pop("started") - t0), **res.pop("phases")}
    return Run(side.name, index, wall, phases, res, before, loadavg())


def compare(name: str, a: Side, b: Side, runs: int = 3, log_dir: Optional[Path] = None,
            timeout: float = 1800, note: str = "", warmup: bool = False,
            metrics: Sequence[str] = (), work_includes: str = "") -> Comparison:
    """Runs a and b alternately (A B B A ...), ``runs`` times each, in fresh processes.
    ``warmup`` first runs each side once untimed (page cache, compiled bytecode).
    ``metrics``: keys of the sides' BENCH_RESULT to summarize and pair (see Comparison)."""
    log_dir = Path(log_dir or RESULTS / "logs" / name)
    log_dir.mkdir(parents=True, exist_ok=True)
    comp = Comparison(name, a.name, b.name, note=note, metrics=tuple(metrics),
                      work_includes=work_includes)
    sides = (a, b)
    if warmup:
        for s in sides:
            print(f"  [{name}] warm-up {s.name} ...", flush=True)
            run_side(s, 0, log_dir, timeout)
    counts = [0, 0]
    for k in order(runs):
        counts[k] += 1
        s = sides[k]
        print(f"  [{name}] {s.name} run {counts[k]}/{runs} ...", end=" ", flush=True)
        r = run_side(s, counts[k], log_dir, timeout)
        shown = "".join(f", {m} {_num(r.extra.get(m)):.4g}" for m in comp.metrics)
        print(f"{r.wall_s:.2f} s (fixed {r.fixed_s:.2f}, work {r.work_s:.3f}{shown}; "
              f"load {r.loadavg_before[0]:.1f})", flush=True)
        comp.runs.append(r)
    return comp


def compare_rounds(pairs: Sequence[tuple], runs: int = 3, log_dir: Optional[Path] = None,
                   timeout: float = 1800, warmup: bool = False,
                   metrics: Sequence[str] = ()) -> List[Comparison]:
    """Several comparisons that share a side (e.g. tfxkit against stock and against a
    plain loop), run together: ``pairs`` are ``(name, a, b)`` or ``(name, a, b, note)``.
    Each of ``runs`` rounds runs every distinct side once, in first-seen order, reversed
    every other round (S T P, P T S, ...), so each pair alternates (A B, B A, ...) and a
    shared side runs ``runs`` times, not once per comparison. A comparison pairs its two
    sides' runs of the same round."""
    sides: List[Side] = []
    for p in pairs:
        for s in p[1:3]:
            if all(s.name != t.name for t in sides):
                sides.append(s)
    comps = [Comparison(p[0], p[1].name, p[2].name, note=p[3] if len(p) > 3 else "",
                        work_includes=p[4] if len(p) > 4 else "",
                        metrics=tuple(metrics)) for p in pairs]
    label = "+".join(c.name for c in comps)
    log_dir = Path(log_dir or RESULTS / "logs" / label)
    log_dir.mkdir(parents=True, exist_ok=True)
    if warmup:
        for s in sides:
            print(f"  [{label}] warm-up {s.name} ...", flush=True)
            run_side(s, 0, log_dir, timeout)
    for i in range(runs):
        for s in (sides if i % 2 == 0 else sides[::-1]):
            print(f"  [{label}] {s.name} run {i + 1}/{runs} ...", end=" ", flush=True)
            r = run_side(s, i + 1, log_dir, timeout)
            shown = "".join(f", {m} {_num(r.extra.get(m)):.4g}" for m in metrics)
            print(f"{r.wall_s:.2f} s (fixed {r.fixed_s:.2f}, work {r.work_s:.3f}{shown}; "
                  f"load {r.loadavg_before[0]:.1f})", flush=True)
            for c in comps:
                if s.name in (c.a, c.b):
                    c.runs.append(r)
    return comps


def _fmt(s: dict, unit: str = "s", digits: int = 2) -> str:
    if s["median"] is None:
        return "n/a"
    return (f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}..{s['max']:.{digits}f})")


def report(comp: Comparison, per: Optional[int] = None, per_label: str = "rows") -> str:
    """A text table: each side's wall, fixed and work time (median (min..max)), each
    phase, and both ratios with what they include."""
    s = comp.summary()
    lines = [f"{comp.name}: {comp.a} vs {comp.b}, {s['sides'][comp.a]['runs']} runs each, "
             f"alternating, separate processes"]
    if s["dev_only"]:
        lines.append(f"  DEVELOPMENT RUN: fewer than {MIN_RUNS} runs per side, not a figure")
    if comp.note:
        lines.append(f"  {comp.note}")
    for side in (comp.a, comp.b):
        d = s["sides"][side]
        line = (f"  {side:<28} wall {_fmt(d['wall_s'])}  fixed {_fmt(d['fixed_s'])}  "
                f"work {_fmt(d['work_s'], digits=3)}")
        if per and d["work_s"]["median"]:
            line += f"  = {per / d['work_s']['median']:,.0f} {per_label}/s of work"
        lines.append(line)
        lines.append("      phases: " + ", ".join(
            f"{k} {v['median']:.2f}" for k, v in d["phases"].items()))
    rt, rw = s["ratios"]["total"], s["ratios"]["work"]
    lines.append(f"  ratio {comp.a}/{comp.b}, total wall (process start, imports and every "
                 f"fixed cost included): {_fmt(rt, 'x')}")
    lines.append(f"  ratio {comp.a}/{comp.b}, work ({s['work_includes']}): "
                 f"{_fmt(rw, 'x')}")
    for m in comp.metrics:
        per_side = []
        for side in (comp.a, comp.b):
            d = s["metrics"][side][m]
            digits = 1 if abs(d["median"] or 0) >= 100 else 3
            per_side.append(f"{side} {_fmt(d, '', digits)}")
        lines.append(f"  {m}: {'  '.join(per_side)}; paired ratio {comp.a}/{comp.b} "
                     f"{_fmt(s['metric_ratios'][m], 'x')}")
    return "\n".join(lines)


def git_commit() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "HEAD") or "unknown",
            # bench-results/ is what the benchmarks write (a partial save included)
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".",
                              ":(exclude)bench-results"))}


def save(name: str, comparisons: Sequence[Comparison], params: dict,
         extra: Optional[dict] = None, started_load: Optional[List[float]] = None) -> Path:
    """Writes bench-results/NAME.json (every raw run and the summaries) and NAME.png."""
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "benchmark": name,
        **git_commit(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "loadavg_start": started_load, "loadavg_end": loadavg()},
        "params": params,
        "ratio_definitions": {
            "total": "a/b of each side's whole-process wall time: process start, imports, "
                     "model load, Beam start-up and the work",
            "work": "a/b of each side's 'work' phase: the per-row work only"},
        "comparisons": [{"name": c.name, "summary": c.summary(),
                         "runs": [r.__dict__ for r in c.runs]} for c in comparisons],
        **(extra or {}),
    }
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    os.replace(tmp, path)
    plot(name, comparisons)
    return path


def plot(name: str, comparisons: Sequence[Comparison]) -> Optional[Path]:
    """One picture: per comparison, each run's wall time split into fixed costs and
    work, side by side, with the median total ratio in the title; and per metric of a
    comparison (``Comparison.metrics``), each run's value with the median paired ratio."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = [(c, None) for c in comparisons]
    panels += [(c, m) for c in comparisons for m in c.metrics]
    n = len(panels)
    if not n:  # targets only (e.g. bench_serving.py --parts bandit): its own picture
        return None
    cols = n if n <= 4 else 4
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    for ax, (c, metric) in zip(flat, panels):
        s = c.summary()
        labels, fixed, work, values = [], [], [], []
        for side in (c.a, c.b):
            for r in c.of(side):
                labels.append(f"{side}\n#{r.index}")
                fixed.append(r.fixed_s)
                work.append(max(0.0, r.wall_s - r.fixed_s))
                if metric:
                    values.append(_num(r.extra.get(metric)))
        xs = range(len(labels))
        colors = ["#9aa5b1" if lab.startswith(c.a) else "#2b6cb0" for lab in labels]
        if metric:
            ax.bar(xs, values, color=colors)
            ax.set_xticks(list(xs), labels, fontsize=6)
            ax.set_ylabel(metric)
            rm = s["metric_ratios"][metric]
            title = f"{c.name}: {metric}"
            if rm["median"]:
                title += f"\n{c.a}/{c.b} {rm['median']:.2f}x (paired median)"
            ax.set_title(title, fontsize=8)
            continue
        ax.bar(xs, fixed, color="#e2e8f0", edgecolor=colors, label="fixed costs")
        ax.bar(xs, work, bottom=fixed, color=colors, label="work (rest of wall)")
        ax.set_xticks(list(xs), labels, fontsize=6)
        ax.set_ylabel("seconds")
        rt = s["ratios"]["total"]
        rw = s["ratios"]["work"]
        title = c.name
        if rt["median"]:
            title += f"\n{c.a}/{c.b} total {rt['median']:.2f}x"
        if rw["median"]:
            title += f", work {rw['median']:.2f}x"
        ax.set_title(title, fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    path = RESULTS / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def header(name: str, params: dict) -> List[float]:
    """Prints what is measured and where; returns the load average at the start."""
    load = loadavg()
    c = git_commit()
    print(f"== {name} (commit {c['commit'][:12]}{'+dirty' if c['dirty'] else ''}, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cpus)")
    print("   " + ", ".join(f"{k}={v}" for k, v in params.items()), flush=True)
    return load


def python() -> str:
    return sys.executable
