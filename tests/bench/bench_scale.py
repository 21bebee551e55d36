"""Benchmark: scale (issue 18.4). tfxkit's ETA regression template (``tfxkit run``) on
generated data of 10k to 3M rows, against a hand-written stock TFX 1.16 pipeline doing
the same work (tests/bench/stock_eta) up to ``--stock-max`` rows (300k: stock is too slow
beyond), on the harness (tests/bench/harness.py: separate processes, alternating order,
medians and spread, fixed costs apart from the work).

Per size N (``--sizes``, default 10k,100k,300k,1M,3M), the data is made once by tfxkit's
generator (``tfxkit generate eta --rows N --days max(3, N/100k) --seed 0``, one CSV per
day) and shared by both sides: tfxkit runs a copy of templates/regression with the data
swapped (hard links), stock reads the same files with CsvExampleGen. Every run is cold
(the side's MLMD, pipeline root and pushed models wiped before it).

Training: the template trains 40 epochs at batch 64 with early stopping, which on
millions of rows would be all the benchmark measures; both sides train the same
``--epochs`` (1) at ``--batch-size`` (256) with early stopping off (tfxkit: ``--set
model.epochs=E --set model.batch_size=B --set model.early_stopping=null``; stock: the
Trainer's custom_config). The output says so.

Each side's process samples the RSS of its whole process tree (itself and every
subprocess: Beam workers, the InfraValidator's server) with psutil every
``SAMPLE_S``; RSS is summed over the processes (pages shared between them are counted
once per process, so the sum can overstate). Per component: wall time from MLMD (the
execution's create -> last update time, as bench_pipeline.py reads it) and the peak of
the sampled RSS while it ran. Phases as in bench_pipeline.py: ``process_start``,
``imports``, ``setup`` (building the pipeline; tfxkit: everything of ``tfxkit run`` before
its runner: config and data checks, the row count, MLMD check), ``work`` (the runner:
every component), ``report`` (tfxkit: summary and HTML report), ``check`` (reading MLMD).

Targets (issue 18.4): at 300k rows tfxkit's end-to-end wall <= 0.3x stock's (the paired
ratio of whole-process wall times, median); at 3M rows tfxkit end to end < 600 s with a
peak RSS < 4 GB.

    make bench-scale                                        # the full ladder
    python tests/bench/bench_scale.py --sizes 10k --runs 1  # development only
    python tests/bench/bench_scale.py --runs 3 --runs-at 1M=1,3M=1
Results: bench-results/scale.json and scale.png (wall time and peak RSS against rows,
per component, both sides, log-log; logs in bench-results/logs/scale).
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402  (first: its import time is the side's phase clock start)

ROOT = harness.ROOT
NAME = "scale"
TEMPLATE = ROOT / "templates" / "regression"
ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
SAMPLE_S = 0.2
TARGET_RATIO_ROWS, TARGET_RATIO = 300_000, 0.3
TARGET_BIG_ROWS, TARGET_WALL_S, TARGET_RSS_GB = 3_000_000, 600.0, 4.0
DIFFERENCES = [
    "tfxkit also runs ValidationGate (fails the run on anomalies) and InfraValidator (loads "
    "the candidate in a second process and sends it 100 eval examples and 100 single "
    "requests); stock has neither",
    "tfxkit pushes with its RegistryPusher (both blessings required, content hash, index, "
    "metrics recorded); stock's Pusher copies the model to a new timestamped folder",
    "ExampleGen: tfxkit's ArrowExampleGen (DuckDB reads the CSVs, tfx-bsl encodes Arrow to "
    "tf.Example, md5 of trip_id's text) vs CsvExampleGen (Beam, farmhash of trip_id): both "
    "8:2 on trip_id, so the shares are equal and the eval rows differ",
    "Beam: tfxkit's beam.mode is 'auto' (chosen from the data's size, printed in each run's "
    "beam_mode); stock runs TFX's default (in-process Beam, no arguments)",
    "Transform and Trainer: tfxkit passes import paths and a custom_config; stock passes a "
    "module file, which TFX packages as a wheel per run (in stock's work)",
    "tfxkit run also checks the config and the data (row count, values) and MLMD before "
    "the run (setup) and writes a summary and an HTML report after it (phase report)",
    "imports: stock imports tfx.v1 (with TFX's Google Cloud extensions), tfxkit only the "
    "modules it uses; logging at absl ERROR on both sides",
    "how each side runs the same work: tfxkit's Transform traces in TF1 graph mode, its "
    "Trainer leaves tf_keras internals unconverted by AutoGraph and caches the epoch's "
    "batches, unbatching them after (stock's module caches single examples, "
    "unbatch().cache(), as tfxkit did before 3cb6314: the same examples in the same order, "
    "tested; less memory on tfxkit's side), its InfraValidator runs "
    "beside the Evaluator; on the in-memory runner with examples <= beam.in_process_max_mb "
    "(512 MB by default) tfxkit's StatisticsGen and Transform do their Beam pass in "
    "their own process (TFDV's generators batch by batch; tf.Transform's plan and "
    "combiners, the analysis's input columns kept up to 512 MB decoded, the transform "
    "read and written batch by batch; which engine ran is printed per run: StatisticsGen goes to Beam when "
    "a column such as trip_id has more than 1,024 distinct values); after every component "
    "tfxkit's local runner hands the freed C heap back (malloc_trim), so RSS a component "
    "freed is not carried into the next; on that runner its Evaluator has TFMA load the Keras model "
    "once and computes the template's metrics (example count, MAE, MSE, the model's "
    "compiled metrics) on whole batches instead of one example at a time, the same TFMA "
    "extractors, validation and writers around it (evaluation_engine batched); stock "
    "builds and runs every Beam pipeline and TFMA's per-example combiners",
]


# -- sizes ------------------------------------------------------------------------------

def parse_rows(text: str) -> int:
    """'10k' -> 10000, '1M' -> 1000000, '2500' -> 2500."""
    t = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    num = t[:-1] if mult > 1 else t
    try:
        n = int(float(num) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes: {text!r} is not a row count "
                                         "(e.g. 10k, 300k, 1M)") from None
    if n < 1000:
        raise argparse.ArgumentTypeError(f"--sizes: {text!r}: at least 1000 rows")
    return n


def label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def days_for(n: int) -> int:
    """One CSV per day, about 100k rows a day (at least 3 files)."""
    return max(3, n // 100_000)


def runs_at(text: str):
    """'1M=1,3M=1' -> {1000000: 1, 3000000: 1}."""
    out = {}
    for part in filter(None, (text or "").split(",")):
        if "=" not in part:
            raise argparse.ArgumentTypeError(f"--runs-at: {part!r} is not SIZE=RUNS")
        size, n = part.split("=", 1)
        if not n.strip().isdigit() or int(n) < 1:
            raise argparse.ArgumentTypeError(f"--runs-at: {part!r}: runs must be >= 1")
        out[parse_rows(size)] = int(n)
    return out


def make_data(folder: Path, rows: int) -> Path:
    """The generator's CSVs for ``rows`` (made once; a marker beside the folder records
    rows, days and seed, so a changed size makes them again)."""
    data = folder / str(rows)
    marker = folder / f"{rows}.json"
    want = {"rows": rows, "days": days_for(rows), "seed": 0}
    if marker.exists() and json.loads(marker.read_text()) == want and data.is_dir():
        return data
    shutil.rmtree(data, ignore_errors=True)
    exe = Path(harness.python()).with_name("tfxkit")
    t0 = time.time()
    subprocess.run([str(exe), "generate", "eta", "--rows", str(rows), "--days",
                    str(want["days"]), "--seed", "0", "--out", str(data)], check=True,
                   capture_output=True, text=True)
    marker.write_text(json.dumps(want))
    print(f"  generated {label(rows)} rows in {want['days']} files ({time.time() - t0:.1f} s, "
          f"{sum(f.stat().st_size for f in data.glob('*.csv')) / 1e6:.0f} MB)", flush=True)
    return data


# -- the side's process: RSS sampling and MLMD ------------------------------------------

class TreeRss:
    """Samples the summed RSS of this process and all its descendants every SAMPLE_S in
    a thread; ``stop()`` joins it and returns [(epoch seconds, bytes)]."""

    def __init__(self, interval: float = SAMPLE_S):
        import psutil

        self._psutil, self.interval = psutil, interval
        self.samples = []
        self._stop = threading.Event()
        self._me = psutil.Process()
        self._thread = threading.Thread(target=self._loop, name="tree-rss", daemon=True)
        self._thread.start()

    def sample(self) -> int:
        total = 0
        try:
            procs = [self._me] + self._me.children(recursive=True)
        except self._psutil.Error:
            procs = [self._me]
        for p in procs:
            try:
                total += p.memory_info().rss
            except self._psutil.Error:  # gone between listing and reading
                pass
        return total

    def _loop(self):
        while not self._stop.is_set():
            self.samples.append((time.time(), self.sample()))
            self._stop.wait(self.interval)

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), self.sample()))
        return self.samples


def executions(sqlite_path, pipeline_name, since=0.0):
    """This pipeline's executions created at or after ``since``, oldest first:
    [{node, state, s, start, end}] (MLMD's create -> last update time, epoch seconds)."""
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2 as pb

    cfg = pb.ConnectionConfig()
    cfg.sqlite.filename_uri = str(sqlite_path)
    cfg.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READONLY
    store = metadata_store.MetadataStore(cfg)
    out = []
    for ctx in store.get_contexts_by_type("node"):
        if not ctx.name.startswith(pipeline_name + "."):
            continue
        for e in store.get_executions_by_context(ctx.id):
            if e.create_time_since_epoch < since * 1000 - 1:
                continue
            start, end = e.create_time_since_epoch / 1000, e.last_update_time_since_epoch / 1000
            out.append({"node": ctx.name[len(pipeline_name) + 1:],
                        "state": pb.Execution.State.Name(e.last_known_state).lower(),
                        "s": end - start, "start": start, "end": end})
    out.sort(key=lambda x: x["start"])
    return out


def peaks(components, samples):
    """Each component's peak sampled RSS (bytes) while it ran (the nearest sample when
    none fell inside a short execution); the whole run's peak."""
    for c in components:
        inside = [b for t, b in samples if c["start"] <= t <= c["end"]]
        if not inside and samples:
            mid = (c["start"] + c["end"]) / 2
            inside = [min(samples, key=lambda s: abs(s[0] - mid))[1]]
        c["peak_rss"] = max(inside) if inside else None
    return max((b for _, b in samples), default=None)


def _blessed(root):
    runs = [p for p in glob.glob(os.path.join(root, "Evaluator", "blessing", "*"))
            if os.path.basename(p).isdigit()]
    if not runs:
        return None
    return os.path.exists(os.path.join(max(runs, key=lambda p: int(os.path.basename(p))),
                                       "BLESSED"))


def _quiet():
    """What ``tfxkit run`` does to its logs (cli/common.py's quiet_logs), for stock."""
    import logging
    import warnings

    from absl import logging as absl_logging

    warnings.filterwarnings("ignore")
    absl_logging.set_verbosity(absl_logging.ERROR)
    logging.getLogger().setLevel(logging.ERROR)


def side_stock(args):
    ph = harness.Phases()
    rss = TreeRss()
    import importlib.util

    spec = importlib.util.spec_from_file_location("stock_eta_pipeline",
                                                  HERE / "stock_eta" / "pipeline.py")
    stock = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stock)  # tensorflow_model_analysis, tfx.v1
    _quiet()
    ph.mark("imports")
    p = stock.create_pipeline(args.data, args.state, args.epochs, args.batch_size)
    ph.mark("setup")
    stock.tfx.orchestration.LocalDagRunner().run(p)
    ph.mark("work")
    samples = rss.stop()
    comps = executions(os.path.join(args.state, "metadata.sqlite"), stock.NAME, ph.started)
    peak = peaks(comps, samples)
    ph.mark("check")
    ph.emit(components=comps, peak_rss=peak, exit_status=0, beam_mode="in_memory (TFX default)",
            blessed=_blessed(os.path.join(args.state, "root")), samples=len(samples))


def side_tfxkit(args):
    ph = harness.Phases()
    rss = TreeRss()
    import tfxkit.infra.run.local_runner as local_runner
    from tfxkit.infra import cli
    from tfxkit.pipelines.config import load_config

    ph.mark("imports")
    run_pipeline = local_runner.run_pipeline
    chosen = {}

    def timed_run_pipeline(pipeline, *a, **kw):  # the CLI imports it at run time
        ph.mark("setup")
        chosen["beam_args"] = list(pipeline.beam_pipeline_args or [])
        try:
            return run_pipeline(pipeline, *a, **kw)
        finally:
            ph.mark("work")

    local_runner.run_pipeline = timed_run_pipeline
    sets = [f"model.epochs={args.epochs}", f"model.batch_size={args.batch_size}",
            "model.early_stopping=null"]
    cfg = load_config(args.config)
    code = 0
    try:
        cli.main(["run", args.config, *[x for s in sets for x in ("--set", s)]],
                 standalone_mode=False)
    except SystemExit as e:
        code = e.code or 0
    ph.mark("report")
    samples = rss.stop()
    if code not in (0, 3):  # 3: completed, not blessed (reported, not a failure here)
        raise SystemExit(code)
    comps = executions(cfg.metadata_path, cfg.name, ph.started)
    peak = peaks(comps, samples)
    ph.mark("check")
    from bench_pipeline import mlmd_engines

    ph.emit(components=comps, peak_rss=peak, exit_status=code,
            beam_mode=_mode(chosen.get("beam_args", [])),
            engines=mlmd_engines(cfg.metadata_path, ph.started),
            blessed=_blessed(cfg.pipeline_root), samples=len(samples))


def _mode(beam_args):
    for a in beam_args:
        if a.startswith("--direct_running_mode="):
            workers = next((b.split("=", 1)[1] for b in beam_args
                            if b.startswith("--direct_num_workers=")), "?")
            return f"{a.split('=', 1)[1]} ({workers} workers)"
    return "in_memory" if not beam_args else " ".join(beam_args)


# -- the parent -------------------------------------------------------------------------

def _rm(*paths):
    for p in paths:
        shutil.rmtree(p, ignore_errors=True)


def make_case(work: Path, data: Path, rows: int) -> Path:
    """A copy of the regression template whose data/ holds ``data``'s CSVs (hard links)."""
    case = work / f"tfxkit-{label(rows)}"
    _rm(case)
    shutil.copytree(TEMPLATE, case, ignore=shutil.ignore_patterns(
        ".tfxkit", "models", "__pycache__", "eta-*.csv"))
    for f in sorted(data.glob("*.csv")):
        try:
            os.link(f, case / "data" / f.name)
        except OSError:
            shutil.copy2(f, case / "data" / f.name)
    return case


def _by_component(runs):
    """node -> {s: spread, peak_rss_mb: spread} over runs (executed components only)."""
    t, m = {}, {}
    for r in runs:
        for c in r.extra.get("components", []):
            if c["state"] not in ("complete",):
                continue
            t.setdefault(c["node"], []).append(c["s"])
            if c.get("peak_rss") is not None:
                m.setdefault(c["node"], []).append(c["peak_rss"] / 2**20)
    return {n: {"s": harness.spread(v), "peak_rss_mb": harness.spread(m.get(n, []))}
            for n, v in t.items()}


def side_summary(runs):
    return {"runs": len(runs),
            "wall_s": harness.spread([r.wall_s for r in runs]),
            "fixed_s": harness.spread([r.fixed_s for r in runs]),
            "work_s": harness.spread([r.work_s for r in runs]),
            "peak_rss_mb": harness.spread([r.extra["peak_rss"] / 2**20 for r in runs
                                           if r.extra.get("peak_rss")]),
            "components": _by_component(runs),
            "beam_mode": sorted({str(r.extra.get("beam_mode")) for r in runs}),
            "engines": sorted({f"{k} {v}" for r in runs
                               for k, v in (r.extra.get("engines") or {}).items()}),
            "blessed": [r.extra.get("blessed") for r in runs],
            "exit_status": [r.extra.get("exit_status") for r in runs],
            "loadavg_before": [r.loadavg_before[0] for r in runs]}


def side_lines(side, d):
    lines = [f"  {side:<7} wall {harness._fmt(d['wall_s'])}  peak RSS "
             f"{harness._fmt(d['peak_rss_mb'], ' MB', 0)}  beam {', '.join(d['beam_mode'])}; "
             f"blessed {d['blessed']}; load before each run {d['loadavg_before']}"]
    lines.append("      components (MLMD s / peak RSS MB, median): " + ", ".join(
        f"{n} {c['s']['median']:.1f}/{c['peak_rss_mb']['median'] or 0:.0f}"
        for n, c in d["components"].items()))
    if d.get("engines"):
        lines.append("      engines (MLMD, every run): " + "; ".join(d["engines"]))
    return lines


# stock's node ids for the same steps as tfxkit's (one colour per step in the plot)
SAME_STEP = {"CsvExampleGen": "ExampleGen", "latest_blessed_model_resolver": "BaselineResolver"}
PLOT_MIN_S = 0.5  # steps that never take this long are left out of the time panel


def plot(sizes_data, path: Path):
    """Wall time and peak RSS against rows, per component and end to end, both sides,
    log-log: one colour per step (stock's CsvExampleGen is ExampleGen's colour), solid
    tfxkit, dashed stock."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    steps = []
    for d in sizes_data:
        for s in d["sides"].values():
            steps += [SAME_STEP.get(n, n) for n in s["components"]
                      if SAME_STEP.get(n, n) not in steps]
    cmap = plt.get_cmap("tab20")
    color = {n: cmap(i % 20) for i, n in enumerate(steps)}
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.4))
    shown = set()
    for ax, key, unit in ((axes[0], "s", "seconds"), (axes[1], "peak_rss_mb", "MB")):
        for side, style, dark in (("tfxkit", "-", "black"), ("stock", "--", "dimgray")):
            pts = [(d["rows"], d["sides"][side]) for d in sizes_data if side in d["sides"]]
            if not pts:
                continue
            total = "wall_s" if key == "s" else "peak_rss_mb"
            ax.plot([r for r, _ in pts], [s[total]["median"] for _, s in pts], style,
                    color=dark, lw=2.4, marker="o")
            for step in steps:
                cp = []
                for r, s in pts:
                    for n, c in s["components"].items():
                        if SAME_STEP.get(n, n) == step and c[key]["median"]:
                            cp.append((r, c[key]["median"]))
                if not cp or (key == "s" and max(v for _, v in cp) < PLOT_MIN_S):
                    continue
                shown.add(step)
                ax.plot([r for r, _ in cp], [v for _, v in cp], style, color=color[step],
                        marker=".", lw=1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows (generated ETA trips)")
        ax.set_ylabel(unit)
        ax.grid(True, which="both", lw=0.3)
    axes[0].axhline(TARGET_WALL_S, color="red", lw=0.8, ls=":")
    axes[1].axhline(TARGET_RSS_GB * 1024, color="red", lw=0.8, ls=":")
    axes[0].set_title(f"wall time: end to end (whole process, thick)\nper component "
                      f"(MLMD; those >= {PLOT_MIN_S:g} s)", fontsize=8)
    axes[1].set_title(f"peak RSS of the process tree (summed, every {SAMPLE_S:g} s)\n"
                      "whole run (thick), while each component ran", fontsize=8)
    handles = [Line2D([], [], color="black", lw=2.4, marker="o", label="tfxkit end to end"),
               Line2D([], [], color="dimgray", lw=2.4, ls="--", marker="o",
                      label="stock end to end"),
               Line2D([], [], color="gray", lw=1.2, label="tfxkit (solid)"),
               Line2D([], [], color="gray", lw=1.2, ls="--", label="stock (dashed)"),
               Line2D([], [], color="red", lw=0.8, ls=":", label="3M targets: 600 s, 4 GB")]
    handles += [Line2D([], [], color=color[n], lw=1.2, marker=".",
                       label=n + (" (stock: CsvExampleGen)" if n == "ExampleGen" else ""))
                for n in steps if n in shown]
    fig.legend(handles=handles, loc="center right", fontsize=7)
    fig.suptitle("Scale: tfxkit's ETA regression template vs stock TFX doing the same work "
                 "(medians; stock up to its largest size)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.8, 0.95))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def targets(sizes_data):
    """[{target, measured, met}] of issue 18.4."""
    out = []
    by_rows = {d["rows"]: d for d in sizes_data}
    d = by_rows.get(TARGET_RATIO_ROWS)
    name = f"scale: {label(TARGET_RATIO_ROWS)} rows end to end, tfxkit/stock (<= {TARGET_RATIO}x)"
    if d and d.get("ratio_total", {}).get("median") is not None:
        r = d["ratio_total"]
        out.append({"target": name, "measured": harness._fmt(r, "x")
                    + f" paired total wall over {r['n']} pair(s)",
                    "met": r["median"] <= TARGET_RATIO, "value": r["median"]})
    else:
        out.append({"target": name, "measured": "not measured", "met": False, "value": None})
    d = by_rows.get(TARGET_BIG_ROWS)
    k = d["sides"]["tfxkit"] if d else None
    name = f"scale: {label(TARGET_BIG_ROWS)} rows tfxkit end to end (< {TARGET_WALL_S:g} s)"
    if k:
        out.append({"target": name, "measured": harness._fmt(k["wall_s"], " s", 0)
                    + f" over {k['runs']} run(s)",
                    "met": k["wall_s"]["median"] < TARGET_WALL_S, "value": k["wall_s"]["median"]})
    else:
        out.append({"target": name, "measured": "not measured", "met": False, "value": None})
    name = f"scale: {label(TARGET_BIG_ROWS)} rows tfxkit peak RSS (< {TARGET_RSS_GB:g} GB)"
    if k and k["peak_rss_mb"]["median"] is not None:
        gb = {x: (v / 1024 if x != "n" and v is not None else v)
              for x, v in k["peak_rss_mb"].items()}
        out.append({"target": name, "measured": harness._fmt(gb, " GB", 2)
                    + f" over {k['runs']} run(s)", "met": gb["median"] < TARGET_RSS_GB,
                    "value": gb["median"]})
    else:
        out.append({"target": name, "measured": "not measured", "met": False, "value": None})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10k,100k,300k,1M,3M",
                    help="row counts, comma-separated (10k, 1M, ...)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each side per size")
    ap.add_argument("--runs-at", type=runs_at, default={},
                    help="per-size runs, e.g. 1M=1,3M=1 (overrides --runs there)")
    ap.add_argument("--stock-max", type=parse_rows, default=300_000,
                    help="largest size stock runs at (stock is too slow beyond)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs on both sides")
    ap.add_argument("--batch-size", type=int, default=256, help="batch size on both sides")
    ap.add_argument("--work", default=None,
                    help="work folder (default .bench-work/scale; the data is kept there)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument("--merge", action="store_true",
                    help="keep the sizes of the existing bench-results/scale.json that this "
                         "invocation does not run (each size records its own commit)")
    ap.add_argument("--side", choices=["stock", "tfxkit"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--state", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side == "stock":
        return side_stock(args)
    if args.side == "tfxkit":
        return side_tfxkit(args)
    try:  # in the order given (the essential sizes first when time is short)
        sizes = list(dict.fromkeys(parse_rows(s) for s in args.sizes.split(",") if s.strip()))
    except argparse.ArgumentTypeError as e:
        ap.error(str(e))
    if not sizes:
        ap.error("--sizes: give at least one size")
    if args.runs < 1:
        ap.error("--runs: at least 1")

    runs_of = {n: args.runs_at.get(n, args.runs) for n in sizes}
    params = {"sizes": [label(n) for n in sizes], "runs": {label(n): r for n, r in runs_of.items()},
              "stock_max": label(args.stock_max), "epochs": args.epochs,
              "batch_size": args.batch_size, "early_stopping": "off on both sides",
              "rss": f"summed RSS of the side's process tree, sampled every {SAMPLE_S} s"}
    load = harness.header(NAME, params)
    print(f"   training on both sides: {args.epochs} epoch(s) at batch {args.batch_size}, "
          "early stopping off (the template: 40 epochs at batch 64, patience 5)", flush=True)
    work = Path(args.work or ROOT / ".bench-work" / "scale").resolve()
    work.mkdir(parents=True, exist_ok=True)
    log_dir = harness.RESULTS / "logs" / NAME
    me = [harness.python(), os.path.abspath(__file__)]
    train = ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
    comparisons, sizes_data, text = [], [], []
    if args.merge:
        comparisons, sizes_data, text = merged(set(sizes))
    commit = harness.git_commit()
    for n in sizes:
        data = make_data(work / "data", n)
        case = make_case(work, data, n)
        stock_state = work / f"stock-{label(n)}"
        kit = harness.Side("tfxkit", me + ["--side", "tfxkit", "--config",
                                           case / "config.yaml"] + train, env=ENV,
                           before=lambda c=case: _rm(c / ".tfxkit", c / "models"))
        stock = harness.Side("stock", me + ["--side", "stock", "--data", data, "--state",
                                            stock_state] + train, env=ENV,
                             before=lambda s=stock_state: _rm(s))
        entry = {"rows": n, "label": label(n), "days": days_for(n), "sides": {},
                 "commit": commit["commit"], "dirty": commit["dirty"]}
        if n <= args.stock_max:
            comp = harness.compare(
                f"{NAME} {label(n)}", kit, stock, runs=runs_of[n],
                log_dir=log_dir / label(n), timeout=args.timeout,
                note=f"{label(n)} rows; training {args.epochs} epoch(s) at batch "
                     f"{args.batch_size}, early stopping off, on both sides",
                work_includes="the runner: every component of the pipeline, cold")
            comparisons.append(comp)
            for side in ("tfxkit", "stock"):
                entry["sides"][side] = side_summary(comp.of(side))
            s = comp.summary()
            entry["ratio_total"], entry["ratio_work"] = s["ratios"]["total"], s["ratios"]["work"]
            text += [harness.report(comp)]
        else:
            runs = []
            (log_dir / label(n)).mkdir(parents=True, exist_ok=True)
            for i in range(1, runs_of[n] + 1):
                print(f"  [{NAME} {label(n)}] tfxkit run {i}/{runs_of[n]} (stock not run "
                      f"beyond {label(args.stock_max)}) ...", end=" ", flush=True)
                r = harness.run_side(kit, i, log_dir / label(n), args.timeout)
                print(f"{r.wall_s:.2f} s (fixed {r.fixed_s:.2f}, work {r.work_s:.3f}; "
                      f"load {r.loadavg_before[0]:.1f})", flush=True)
                runs.append(r)
            entry["sides"]["tfxkit"] = side_summary(runs)
            entry["runs"] = [r.__dict__ for r in runs]
            text += [f"{NAME} {label(n)}: tfxkit only ({len(runs)} run(s); stock not run "
                     f"beyond {label(args.stock_max)})"
                     + ("; fewer than 3 runs: not a median of several" if len(runs) < 3 else "")]
        for side in ("tfxkit", "stock"):
            if side in entry["sides"]:
                text += side_lines(side, entry["sides"][side])
        text.append("")
        sizes_data.append(entry)
        sizes_data.sort(key=lambda d: d["rows"])
        # saved after every size: a ladder stopped part way keeps what it measured
        last = n == sizes[-1]
        finish(args, params, load, comparisons, sizes_data, text, log_dir, work, last)


def merged(running):
    """(comparisons, sizes, report lines) of the existing scale.json's sizes that are not
    in ``running`` (--merge)."""
    path = harness.RESULTS / f"{NAME}.json"
    if not path.exists():
        return [], [], []
    old = json.loads(path.read_text())
    keep = [d for d in old.get("sizes", []) if d["rows"] not in running]
    for d in keep:
        d.setdefault("commit", old.get("commit"))
        d.setdefault("dirty", old.get("dirty"))
    names = {f"{NAME} {d['label']}" for d in keep}
    comps = []
    for c in old.get("comparisons", []):
        if c["name"] not in names:
            continue
        s = c["summary"]
        comps.append(harness.Comparison(c["name"], s["a"], s["b"], note=s.get("note", ""),
                                        work_includes=s.get("work_includes", ""),
                                        runs=[harness.Run(**r) for r in c["runs"]]))
    text = [f"(kept from {path.name}: {', '.join(d['label'] for d in keep)}, measured at "
            f"{', '.join(sorted({str(d['commit'])[:10] for d in keep}))})"] if keep else []
    return comps, keep, text


def finish(args, params, load, comparisons, sizes_data, text, log_dir, work, last):
    """Prints (at the end) the report and the targets; writes scale.json and scale.png."""
    text = list(text)
    found = targets(sizes_data)
    text.append("differences between the sides: " + "; ".join(DIFFERENCES))
    text.append(f"training on both sides: {args.epochs} epoch(s) at batch {args.batch_size}, "
                "early stopping off (not the template's 40 epochs at batch 64)")
    text.append(f"absolute times on this machine ({os.cpu_count()} cpus, shared; load "
                f"average at the start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})")
    text.append("\ntargets (issue 18.4):")
    for t in found:
        text.append(f"  {t['target']}: {t['measured']}: {'met' if t['met'] else 'NOT MET'}")
    done = [d["label"] for d in sizes_data]
    if not last:
        text.append(f"(partial: sizes {', '.join(done)} of {', '.join(params['sizes'])} so far)")
    print("\n" + "\n".join(text), flush=True)
    out = harness.save(NAME, comparisons, {**params, "sizes_done": done}, started_load=load,
                       extra={"differences": DIFFERENCES, "sizes": sizes_data,
                              "scale_targets": found, "report": "\n".join(text),
                              "complete": last})
    plot(sizes_data, out.with_suffix(".png"))  # the scale plot replaces the harness's bars
    print(f"results{'' if last else ' so far'}: {out} and {out.with_suffix('.png')}; logs in "
          f"{log_dir}; work folder {work}", flush=True)


if __name__ == "__main__":
    main()
