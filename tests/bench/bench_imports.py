"""Benchmark: what the commands that need TensorFlow pay in imports (issue 18, target:
<= 8 s of imports per command on a quiet machine), measured with ``python -X importtime``,
on the harness (separate processes, commands alternating, medians and spread).

Each run is a fresh ``python -X importtime tests/bench/import_probe.py ARGS``: the real
``tfxkit`` CLI, stopped where the command's start-up ends (``import_probe.py``), so the
imports measured are the ones its code path makes, not a list:

- ``run``: ``tfxkit run --force`` on a copy of the template that has never run, up to the
  first component's launch (the local runner, the pipeline factory, the compiler, the
  launcher: everything imported before a component runs);
- ``predict``: ``tfxkit predict`` on the trained use case, up to the first component's
  launch;
- ``report``: ``tfxkit report --run RUN`` of the training run (evaluation included), the
  whole command;
- ``serve``: ``tfxkit serve``, up to the SavedModel load (TensorFlow imported, the model
  not yet read);
- ``validate`` and ``run-no-change`` (``tfxkit run`` on unchanged inputs: the fast path):
  the whole command, which must import no TensorFlow at all.

Per run, from ``-X importtime``'s stderr between the probe's two markers: the command's
import time (the sum of the cumulative times of the outermost imports: every import of
the command once) and per top-level package (``google.cloud`` and the like by their
first two names) its cumulative time (its outermost imports, what they import included)
and its self time (its own modules only; these add up to the total); and the wall time
from the probe's start to the stop. ``-X importtime`` itself adds a little to every
import. The use case is the multiclass template, trained once, untimed (``--work`` keeps
it between invocations; a first ``tfxkit run`` on it, untimed, records the fingerprint
of the sources as they are, so that the no-change side takes the fast path).

    make bench-imports
    python tests/bench/bench_imports.py --runs 5 --work .bench-work/imports
Results: bench-results/imports.json and .png.
"""
import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402
import import_probe  # noqa: E402

NAME = "imports"
TARGET_S = 8.0
TF_COMMANDS = ("run", "predict", "report", "serve")
NO_TF_COMMANDS = ("validate", "run-no-change")
# the reference: tfxkit run with lazy_imports.startup doing nothing (as before it existed)
REFERENCE = ("run-eager",)
TOP = 10
KEPT = 30  # packages per run kept in the JSON (by cumulative and by self time)
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S.*?)\s*$")


def parse_importtime(text: str):
    """``[(self_us, cumulative_us, level, module)]`` of ``-X importtime``'s lines between
    the probe's BEGIN and END markers (all lines when there is no BEGIN)."""
    lines = text.splitlines()
    if import_probe.BEGIN in lines:
        lines = lines[lines.index(import_probe.BEGIN) + 1:]
    out = []
    for line in lines:
        if line == import_probe.END:
            break
        m = _LINE.match(line)
        if m:
            out.append((int(m[1]), int(m[2]), len(m[3]) // 2, m[4]))
    return out


def package(module: str) -> str:
    """The top-level package a module is counted under (``google.cloud`` and the other
    namespace packages of ``google`` by two names)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "google" and len(parts) > 1 else parts[0]


def summarize(entries):
    """(total_s, {package: cumulative_s}, {package: self_s}) of parsed lines.

    ``-X importtime`` prints a module after the modules it imports (one level deeper), so
    the lines rebuild the tree. Total: the outermost imports' cumulative times. A
    package's cumulative time: its imports reached from another package (or outermost),
    what they import included; its self time: its modules' own times (these add up to
    the total)."""
    pending = defaultdict(list)
    for self_us, cum_us, level, name in entries:
        node = (self_us, cum_us, name, pending.pop(level + 1, []))
        pending[level].append(node)
    roots = pending.get(0, [])
    total = sum(n[1] for n in roots)
    cum, own = defaultdict(int), defaultdict(int)
    stack = [(n, None) for n in roots]
    while stack:
        (self_us, cum_us, name, children), parent = stack.pop()
        pkg = package(name)
        own[pkg] += self_us
        if pkg != parent:
            cum[pkg] += cum_us
        stack.extend((c, pkg) for c in children)
    return (total / 1e6, {k: v / 1e6 for k, v in cum.items()},
            {k: v / 1e6 for k, v in own.items()})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tfxkit(*args, timeout=1800):
    exe = Path(harness.python()).with_name("tfxkit")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def prepare(work: Path):
    """(trained config, fresh config, training run id): the template trained once (kept
    under ``work``), and a copy that never ran (for ``run``, stopped before its first
    component: it leaves a run behind, which must not be the trained one's newest)."""
    src = harness.ROOT / "templates" / "multiclass"
    ignore = shutil.ignore_patterns(".tfxkit", "models", "__pycache__")
    trained, fresh = work / "multiclass", work / "multiclass-fresh"
    if not (trained / "models").is_dir():
        shutil.rmtree(trained, ignore_errors=True)
        shutil.copytree(src, trained, ignore=ignore)
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(src, fresh, ignore=ignore)
    config = trained / "config.yaml"
    print(f"setup (untimed): tfxkit run {config}", flush=True)
    first = tfxkit("run", config)
    if first.returncode != 0:
        raise SystemExit(f"the setup run failed (exit {first.returncode}):\n"
                         f"{first.stdout[-2000:]}{first.stderr[-2000:]}")
    runs = re.findall(r"(?:^Run |Nothing changed since run )(\S+?):? ", first.stdout, re.M)
    print("  " + first.stdout.strip().splitlines()[-1], flush=True)
    # the report's run: the first training run (the setup run may be all cached)
    id_file = trained / "training-run-id"
    if not id_file.exists():
        if not runs:
            raise SystemExit(f"the setup run named no run:\n{first.stdout[-2000:]}")
        id_file.write_text(runs[-1])
    return config, fresh / "config.yaml", id_file.read_text().strip()


def sides(config, fresh, run_id, work: Path):
    probe = [harness.python(), "-X", "importtime", str(HERE / "import_probe.py")]
    report_out = work / "report.html"
    return {
        "run": harness.Side("run", probe + ["run", "--force", str(fresh)]),
        "run-eager": harness.Side("run-eager", probe + ["run", "--force", str(fresh)],
                                  env={import_probe.EAGER: "1"}),
        "predict": harness.Side("predict", probe + ["predict", str(config)]),
        "report": harness.Side("report", probe + ["report", str(config), "--run", run_id,
                                                  "-o", str(report_out)]),
        "serve": harness.Side("serve", probe + ["serve", str(config), "--port", "0"]),
        "validate": harness.Side("validate", probe + ["validate", str(config)]),
        "run-no-change": harness.Side("run-no-change", probe + ["run", str(config)]),
    }


def measure(all_sides, runs: int, log_dir: Path):
    """Every command ``runs`` times, in rounds (order reversed every other round)."""
    names = list(all_sides)
    results = defaultdict(list)
    for i in range(runs):
        for name in (names if i % 2 == 0 else names[::-1]):
            side = all_sides[name]
            if name == "serve":  # a free port for each run
                side.cmd = [*side.cmd[:-1], str(free_port())]
            print(f"  [{NAME}] {name} run {i + 1}/{runs} ...", end=" ", flush=True)
            r = harness.run_side(side, i + 1, log_dir, timeout=900)
            log = (log_dir / f"{name}-{i + 1}.log").read_text()
            total, cum, own = summarize(parse_importtime(log))
            r.extra.update(imports_s=total, cumulative_s=cum, self_s=own)
            print(f"imports {total:.2f} s, to stop {r.phases['command']:.2f} s "
                  f"({r.extra.get('stopped_at')}; load {r.loadavg_before[0]:.1f})",
                  flush=True)
            results[name].append(r)
    return results


def command_summary(name, rs):
    imports = harness.spread([r.extra["imports_s"] for r in rs])
    pkgs = sorted({p for r in rs for p in r.extra["cumulative_s"]})
    cum = {p: statistics.median([r.extra["cumulative_s"].get(p, 0.0) for r in rs])
           for p in pkgs}
    own = {p: statistics.median([r.extra["self_s"].get(p, 0.0) for r in rs])
           for p in {p for r in rs for p in r.extra["self_s"]}}
    loaded = sorted({m for r in rs for m in r.extra.get("loaded", [])})
    statuses = sorted({r.extra.get("exit_status") for r in rs}, key=str)
    out = {
        "runs": len(rs), "imports_s": imports,
        "to_stop_s": harness.spread([r.phases["command"] for r in rs]),
        "process_start_s": harness.spread([r.phases["process_start"] for r in rs]),
        "wall_s": harness.spread([r.wall_s for r in rs]),
        "stopped_at": sorted({r.extra.get("stopped_at") for r in rs}),
        "exit_status": statuses, "loaded": loaded,
        "top_cumulative_s": dict(sorted(cum.items(), key=lambda kv: -kv[1])[:TOP]),
        "top_self_s": dict(sorted(own.items(), key=lambda kv: -kv[1])[:TOP]),
        "dev_only": len(rs) < harness.MIN_RUNS,
    }
    if name in REFERENCE:
        out["target"] = "none (the reference: lazy_imports.startup off)"
        out["target_met"] = None
    elif name in NO_TF_COMMANDS:
        out["target"] = "imports no TensorFlow (and no TFX, Beam)"
        heavy = [m for m in loaded if m in ("tensorflow", "tfx", "apache_beam")]
        out["target_met"] = not heavy and all(c in (0, 3) for c in statuses)
    else:
        out["target"] = f"imports <= {TARGET_S:g} s"
        out["target_met"] = imports["median"] <= TARGET_S
    return out


def report(summary) -> str:
    fmt = harness._fmt
    lines = []
    for name, s in summary.items():
        head = (f"{name}: imports {fmt(s['imports_s'])}, wall to the stop "
                f"{fmt(s['to_stop_s'])} (+ process start {fmt(s['process_start_s'])}), "
                f"{s['runs']} runs, stopped at: {', '.join(s['stopped_at'])}")
        if s["dev_only"]:
            head += "  DEVELOPMENT RUN, not a figure"
        lines.append(head)
        lines.append(f"    heavy modules imported: {', '.join(s['loaded']) or 'none'}")
        if name in TF_COMMANDS + REFERENCE:
            lines.append("    top packages, cumulative s (self s), median:")
            for pkg, t in s["top_cumulative_s"].items():
                lines.append(f"      {pkg:<34} {t:6.2f}  ({s['top_self_s'].get(pkg, 0.0):.2f})")
        if s["target_met"] is not None:
            lines.append(f"    target {s['target']}: "
                         f"{'met' if s['target_met'] else 'MISSED'}")
    return "\n".join(lines)


def plot(summary, results) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    names = [n for n in summary if n in TF_COMMANDS + REFERENCE]
    fig, axes = plt.subplots(1, len(names), figsize=(4.6 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names):
        s = summary[name]
        pkgs = list(s["top_cumulative_s"])[::-1]
        ax.barh(pkgs, [s["top_cumulative_s"][p] for p in pkgs], color="#9ec5e8",
                label="cumulative")
        ax.barh(pkgs, [s["top_self_s"].get(p, 0.0) for p in pkgs], color="#2b6cb0",
                label="self")
        ax.axvline(TARGET_S, color="#c53030", lw=1, ls="--", label=f"target {TARGET_S:g} s")
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlabel("seconds (median)")
        m = s["imports_s"]["median"]
        verdict = {True: "met", False: "MISSED", None: "reference, lazy imports off"}
        ax.set_title(f"tfxkit {name}: imports {m:.2f} s\n"
                     f"({verdict[s['target_met']]}), top {TOP} packages", fontsize=8)
        ax.legend(fontsize=6)
    loads = [x for rs in results.values() for r in rs
             for x in (r.loadavg_before[0], r.loadavg_after[0])]
    fig.suptitle(f"python -X importtime, commit {harness.git_commit()['commit'][:10]}; "
                 f"1-min load average {min(loads):.1f}..{max(loads):.1f} during the runs "
                 f"({harness.os.cpu_count()} cpus)", fontsize=8)
    fig.tight_layout()
    fig.savefig(harness.RESULTS / f"{NAME}.png", dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", default=str(harness.ROOT / ".bench-work" / "imports"),
                    help="folder for the use cases (the trained one is kept)")
    ap.add_argument("--only", nargs="*", choices=TF_COMMANDS + NO_TF_COMMANDS + REFERENCE,
                    help="measure only these commands")
    args = ap.parse_args()
    params = {"runs": args.runs, "template": "multiclass", "commands": args.only or "all"}
    load = harness.header(NAME, params)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    config, fresh, run_id = prepare(work)
    all_sides = sides(config, fresh, run_id, work)
    if args.only:
        all_sides = {k: v for k, v in all_sides.items() if k in args.only}
    log_dir = harness.RESULTS / "logs" / NAME
    log_dir.mkdir(parents=True, exist_ok=True)
    results = measure(all_sides, args.runs, log_dir)
    summary = {name: command_summary(name, rs) for name, rs in results.items()}
    saved = None
    if "run" in results and "run-eager" in results:  # paired by round
        saved = harness.spread([e.extra["imports_s"] - r.extra["imports_s"]
                                for e, r in zip(results["run-eager"], results["run"])])
    print()
    print(report(summary))
    loads = [x for rs in results.values() for r in rs
             for x in (r.loadavg_before[0], r.loadavg_after[0])]
    if saved:
        print(f"lazy_imports.startup saves tfxkit run {harness._fmt(saved)} of imports "
              f"(run-eager minus run, paired by round)")
    print(f"1-min load average during the runs: {min(loads):.1f}..{max(loads):.1f} "
          f"({harness.os.cpu_count()} cpus); import times rise with the load")
    for rs in results.values():  # the JSON keeps each run's largest packages only
        for r in rs:
            for key in ("cumulative_s", "self_s"):
                r.extra[key] = dict(sorted(r.extra[key].items(),
                                           key=lambda kv: -kv[1])[:KEPT])
    harness.RESULTS.mkdir(exist_ok=True)
    path = harness.save(NAME, [], params, started_load=load, extra={
        "target_s": TARGET_S, "commands": summary, "lazy_saves_run_s": saved,
        "runs": {name: [r.__dict__ for r in rs] for name, rs in results.items()},
        "measured": "python -X importtime: the sum of the outermost imports' cumulative "
                    "times between the probe's markers (the command's imports); "
                    "to_stop_s: the probe's start to the stop (first component launch, "
                    "model load, or the command's end)"})
    plot(summary, results)
    print(f"results: {path}")


if __name__ == "__main__":
    main()
