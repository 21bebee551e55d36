"""Benchmark: tfxkit's multiclass template vs a hand-written stock TFX pipeline.

Same data (palmerpenguins, 344 rows), same components, LocalDagRunner-style local runs,
SQLite MLMD, measured in one run of this script: a cold run, then an identical second
run (stock TFX re-evaluates against itself and pushes again; tfxkit is fully cached),
then a third. Each run is a fresh process, so imports are included, as a user sees it.

    make bench          # prints the table and ratios, writes bench_foundation.png
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent / "tfxkit"
ENV = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3",
           PYTHONWARNINGS="ignore")


def timed(cmd, log):
    t = time.monotonic()
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=ENV)
    if r.returncode:
        sys.exit(f"failed ({r.returncode}): {' '.join(map(str, cmd))}; see {log}")
    return time.monotonic() - t


def versions(path):
    return len(os.listdir(path)) if os.path.isdir(path) else 0


def main():
    work = Path(tempfile.mkdtemp(prefix="tfxkit-bench-"))
    data = work / "stock-data"
    data.mkdir()
    shutil.copy(ROOT / "templates/multiclass/data/penguins.csv", data)
    case = work / "tfxkit-case"
    shutil.copytree(ROOT / "templates/multiclass", case,
                    ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
    stock_cmd = [sys.executable, HERE / "stock_penguin/pipeline.py", data, work / "stock"]
    kit_cmd = [BIN, "run", case / "config.yaml"]
    rows = []
    for i, label in enumerate(["cold", "identical re-run", "third run"], 1):
        print(f"[{label}] stock TFX ...", flush=True)
        s = timed(stock_cmd, work / f"stock-{i}.log")
        print(f"[{label}] tfxkit ...", flush=True)
        k = timed(kit_cmd, work / f"tfxkit-{i}.log")
        rows.append((label, s, k, versions(work / "stock/models"), versions(case / "models")))
    print(f"\n{'run':<18} {'stock TFX':>10} {'tfxkit':>8} {'ratio':>7}  versions pushed (stock/tfxkit)")
    for label, s, k, vs, vk in rows:
        print(f"{label:<18} {s:9.1f}s {k:7.1f}s {s / k:6.2f}x  {vs}/{vk}")
    print(f"\nlogs in {work}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        xs = range(len(rows))
        ax.bar([x - 0.2 for x in xs], [r[1] for r in rows], 0.4, label="stock TFX")
        ax.bar([x + 0.2 for x in xs], [r[2] for r in rows], 0.4, label="tfxkit")
        ax.set_xticks(list(xs), [r[0] for r in rows])
        ax.set_ylabel("wall time (s)")
        ax.set_title("penguin pipeline, 344 rows")
        ax.legend()
        fig.tight_layout()
        fig.savefig(ROOT / "bench_foundation.png", dpi=100)
        print(f"plot: {ROOT / 'bench_foundation.png'}")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
