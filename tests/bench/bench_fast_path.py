"""Benchmark: a ``tfxkit run`` with nothing changed (issue 18, target: <= 3 s wall, Python
start-up included), on the harness (separate processes, alternating order, medians and
spread).

The multiclass template is trained once (untimed); then, on that same use case and the
same unchanged inputs, two sides run alternately (A B B A ...), ``--runs`` times each:

- ``forced``: ``tfxkit run --force``: the pipeline runs with every component cached (what
  every no-change run cost before the fast path: TensorFlow and TFX imported, the
  pipeline compiled, MLMD consulted per component, the summary and report written);
- ``fast``: ``tfxkit run``: the fast path: the config and data checks, the inputs'
  fingerprint, one MLMD read, and nothing else (no TensorFlow/TFX import).

Both end with nothing new pushed and the same model serving. Each run is
``python bench_fast_path.py --side forced|fast CONFIG``: phases ``process_start``, ``imports``
(the tfxkit command module) and ``work`` (the command itself, ``main([...])``: for
``forced`` that includes importing TensorFlow/TFX, which is what it costs). The target is
on ``fast``'s total wall time.

    make bench-fast-path
    python tests/bench/bench_fast_path.py --runs 3
Results: bench-results/fast-path.json and .png.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402  (first: its import time is the side's phase clock start)

NAME = "fast-path"
TARGET_S = 3.0


def side_main(side: str, config: str) -> None:
    ph = harness.Phases()
    from tfxkit.infra.cli import main
    ph.mark("imports")
    args = ["run", config] + (["--force"] if side == "forced" else [])
    try:
        main(args, standalone_mode=False)
        code = 0
    except SystemExit as e:
        code = e.code or 0
    ph.mark("work")
    heavy = sorted(m for m in ("tensorflow", "tfx", "apache_beam") if m in sys.modules)
    ph.emit(exit_status=code, heavy_imports=heavy)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--work", help="folder for the use case (default: a temporary one)")
    ap.add_argument("--side", choices=("forced", "fast"), help=argparse.SUPPRESS)
    ap.add_argument("config", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        return side_main(args.side, args.config)
    params = {"runs": args.runs, "template": "multiclass"}
    load = harness.header(NAME, params)
    work = Path(args.work or tempfile.mkdtemp(prefix="tfxkit-bench-fast-"))
    case = work / "multiclass"
    if case.exists():
        shutil.rmtree(case)
    shutil.copytree(harness.ROOT / "templates" / "multiclass", case,
                    ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
    config = str(case / "config.yaml")
    exe = Path(harness.python()).with_name("tfxkit")
    print(f"setup (untimed): tfxkit run {config}", flush=True)
    first = subprocess.run([str(exe), "run", config], capture_output=True, text=True)
    if first.returncode != 0:
        raise SystemExit(f"the first run failed (exit {first.returncode}):\n"
                         f"{first.stdout[-2000:]}{first.stderr[-2000:]}")
    me = [harness.python(), os.path.abspath(__file__)]
    c = harness.compare(
        "no-change-run", harness.Side("forced", me + ["--side", "forced", config]),
        harness.Side("fast", me + ["--side", "fast", config]), runs=args.runs,
        work_includes="the tfxkit run command after its module's import (forced: TF/TFX "
                      "imports, the cached pipeline, summary and report; fast: config and "
                      "data checks, fingerprint, one MLMD read)",
        note="same use case and unchanged inputs on both sides; both push nothing; "
             "forced = tfxkit run --force (every component cached), fast = tfxkit run")
    print()
    print(harness.report(c))
    fast = [r for r in c.of("fast")]
    walls = harness.spread([r.wall_s for r in fast])
    heavy = sorted({m for r in fast for m in r.extra.get("heavy_imports", [])})
    met = walls["median"] <= TARGET_S and all(r.extra.get("exit_status") == 0 for r in fast)
    print(f"\nno-change run, wall with Python start-up: {harness._fmt(walls, ' s', 2)} "
          f"(target <= {TARGET_S:g} s): {'met' if met else 'MISSED'}; heavy modules "
          f"imported on the fast path: {heavy or 'none'}")
    path = harness.save(NAME, [c], params, started_load=load,
                        extra={"fast_wall_s": walls, "target_s": TARGET_S, "target_met": met,
                               "fast_heavy_imports": heavy})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
