"""Benchmark: stock CsvExampleGen vs tfxkit's ArrowExampleGen on the same ETA CSV, on the
harness (tests/bench/harness.py: separate processes, alternating order, medians and
spread, fixed costs apart from the work).

Both sides read the same file (``--rows`` rows of pipelines/datasets/eta.py, one day) and
split it the same way: 8:2 hash buckets on ``trip_id`` (stock: ``partition_feature_name``
with hash_buckets 8/2; tfxkit: ``key: trip_id``, splits 8/2). Each run is a fresh
``python bench_example_gen.py --side NAME`` process that runs its component as a one-node
pipeline with TFX's own LocalDagRunner (SQLite MLMD, cache off, a fresh pipeline root and
MLMD every run). Phases:

- ``process_start``: launching the interpreter until this script's first line ran;
- ``imports``: TensorFlow, TFX's orchestration, the component and its executor's modules
  (stock: Beam and tfx_bsl's CSV decoder; tfxkit: DuckDB, pyarrow, tfx_bsl's encoder);
- ``beam_start`` (stock only, ArrowExampleGen has no Beam): a one-element Beam pipeline on
  the DirectRunner, i.e. Beam's one-time start-up in a process; each executor run still
  builds and starts its own Beam pipeline, and that stays in its ``work``;
- ``setup``: building the component and the one-node pipeline;
- ``work``: ``LocalDagRunner().run(pipeline)``: compiling the one node, the driver
  (input fingerprint: stock stats the files, tfxkit hashes their contents), the executor,
  publishing to MLMD. ``component_s`` in each run's extra is MLMD's own execution time.

Order: one untimed warm-up run of each side first (so both read the CSV from a warm page
cache and neither pays a first start-up alone), then ``--runs`` runs each, alternating
(A B B A A B). Then, outside the timed runs, the warm-up outputs are compared: the
multiset of examples (every feature, type and value) must be identical and each split's
share (tfxkit's) within 1 point of 8:2, else exit 1. The hash functions differ (stock: farmhash of
the key; tfxkit: md5), so the same share is made of different rows.

Growth check (``--big-rows``, default 3,000,000; 0 skips it): ArrowExampleGen's executor
alone, in a fresh process, on ``--rows`` and on ``--big-rows`` rows: time growth and peak
memory (VmHWM); fails over 2 GB.

    make bench-ingest                               # 300k rows, 3 runs each, then 3M rows
    python tests/bench/bench_example_gen.py --quick # 20k rows, 3 runs each, no big file
Results: bench-results/ingest.json and .png (logs in bench-results/logs/ingest).
"""
import argparse
import collections
import glob
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (first: its import time is the side's phase clock start)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PYTHONWARNINGS", "ignore")
NAME = "ingest"
KEY = "trip_id"
SPLITS = (("train", 8), ("eval", 2))
SIDES = {"stock": "CsvExampleGen", "tfxkit": "ArrowExampleGen"}
NOTE = ("stock CsvExampleGen vs tfxkit ArrowExampleGen: same file, same 8:2 hash split on trip_id (stock: farmhash of the key, tfxkit: md5, "
        "so different rows per split, same shares), both as one-node pipelines on TFX's "
        "LocalDagRunner with cache off; stock's work still holds the start-up of the Beam "
        "pipeline its executor builds (Beam's one-time start-up in the process is the "
        "'beam_start' phase); tfxkit's driver hashes the file's contents, stock's stats it; "
        "both use the machine's cores as they do by default (DirectRunner in-memory, one "
        "worker; DuckDB threads)")


# -- sides (child processes) ------------------------------------------------------------

def _quiet():
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)


def side(args) -> None:
    """One timed run of a side: the component as a one-node pipeline."""
    ph = harness.Phases()
    import tensorflow  # noqa: F401
    from tfx.orchestration import metadata, pipeline as tfx_pipeline
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    if args.side == "stock":
        from tfx.components import CsvExampleGen
        from tfx.components.example_gen.csv_example_gen import executor  # noqa: F401
        from tfx.proto import example_gen_pb2 as eg
    else:
        import duckdb  # noqa: F401
        import pyarrow.compute  # noqa: F401
        from tfx_bsl.coders import example_coder  # noqa: F401

        from tfxkit.components.example_gen import encode, executor  # noqa: F401
        from tfxkit.components.example_gen.component import ArrowExampleGen
    _quiet()
    ph.mark("imports")
    if args.side == "stock":
        import apache_beam as beam

        with beam.Pipeline() as p:
            _ = p | beam.Create([1]) | beam.Map(lambda x: x)
        ph.mark("beam_start")

    base, pattern = os.path.dirname(args.data), os.path.basename(args.data)
    if args.side == "stock":
        component = CsvExampleGen(
            input_base=base,
            input_config=eg.Input(splits=[eg.Input.Split(name="all", pattern=pattern)]),
            output_config=eg.Output(split_config=eg.SplitConfig(
                splits=[eg.SplitConfig.Split(name=n, hash_buckets=b) for n, b in SPLITS],
                partition_feature_name=KEY)))
    else:
        component = ArrowExampleGen(input_base=base, pattern=pattern, splits=SPLITS, key=KEY)
    component = component.with_id(SIDES[args.side])
    state = args.state
    db = os.path.join(state, "metadata.sqlite")
    os.makedirs(state, exist_ok=True)
    pipeline = tfx_pipeline.Pipeline(
        pipeline_name=f"ingest-{args.side}", pipeline_root=os.path.join(state, "root"),
        components=[component], enable_cache=False,
        metadata_connection_config=metadata.sqlite_metadata_connection_config(db))
    ph.mark("setup")
    LocalDagRunner().run(pipeline)
    ph.mark("work")
    from bench_pipeline import mlmd_executions

    execs = mlmd_executions(db, f"ingest-{args.side}")
    ph.mark("check")
    ph.emit(rows=args.rows, component=SIDES[args.side],
            component_s=execs[0]["s"] if execs else None)


def alone(args) -> None:
    """The ArrowExampleGen executor alone (growth check): time and peak memory."""
    ph = harness.Phases()
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from tfxkit.components.example_gen.component import ArrowExampleGen
    from tfxkit.components.example_gen.executor import Executor

    _quiet()
    ph.mark("imports")
    comp = ArrowExampleGen(input_base=os.path.dirname(args.data),
                           pattern=os.path.basename(args.data), splits=SPLITS, key=KEY)
    props = {k: proto_utils.proto_to_json(v) if hasattr(v, "DESCRIPTOR") else v
             for k, v in comp.exec_properties.items()}
    examples = standard_artifacts.Examples()
    shutil.rmtree(args.state, ignore_errors=True)
    examples.uri = args.state
    baseline = peak_rss_mb()
    ph.mark("setup")
    Executor().Do({}, {"examples": [examples]}, props)
    ph.mark("work")
    ph.emit(rows=args.rows, baseline_rss_mb=baseline, peak_rss_mb=peak_rss_mb())


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the parent -------------------------------------------------------------------------

def make_csv(out_dir, rows):
    from tfxkit.pipelines.datasets import eta

    [path] = eta.write_days(out_dir, rows=rows, days=1)
    return path


def keep_first(state, first):
    """``before`` hook: a fresh pipeline root and MLMD every run; the first (warm-up)
    run's output is kept aside for the equality check."""
    def before():
        if os.path.isdir(state):
            if not os.path.isdir(first):
                os.rename(state, first)
            else:
                shutil.rmtree(state)
    return before


def canonical_examples(root):
    """{split: Counter of canonical examples}: sorted (feature, kind, values) tuples."""
    import tensorflow as tf

    [uri] = glob.glob(os.path.join(root, "root", "*", "examples", "*"))
    out = {}
    for split_dir in sorted(glob.glob(os.path.join(uri, "Split-*"))):
        c = collections.Counter()
        for f in glob.glob(os.path.join(split_dir, "*")):
            for raw in tf.data.TFRecordDataset(f, compression_type="GZIP").as_numpy_iterator():
                ex = tf.train.Example.FromString(raw)
                items = []
                for k, v in ex.features.feature.items():
                    kind = v.WhichOneof("kind")
                    vals = tuple(getattr(v, kind).value) if kind else ()
                    if vals:
                        items.append((k, kind, vals))
                c[tuple(sorted(items))] += 1
        out[os.path.basename(split_dir)[len("Split-"):]] = c
    return out


def equality(stock_dir, kit_dir) -> dict:
    a, b = canonical_examples(stock_dir), canonical_examples(kit_dir)
    all_a = sum(a.values(), collections.Counter())
    all_b = sum(b.values(), collections.Counter())
    n_a, n_b = sum(all_a.values()), sum(all_b.values())
    res = {"identical_multiset": all_a == all_b, "examples": {"stock": n_a, "tfxkit": n_b},
           "splits": {}}
    total = sum(w for _, w in SPLITS)
    for name, w in SPLITS:
        want = w / total
        kit = sum(b.get(name, {}).values()) / max(n_b, 1)
        stock = sum(a.get(name, {}).values()) / max(n_a, 1)
        # tfxkit's share must be within 1 point (stock's is shown, not judged)
        res["splits"][name] = {"configured": want, "tfxkit": kit, "stock": stock,
                               "ok": abs(kit - want) <= 0.01 + 1e-9}
    res["ok"] = res["identical_multiset"] and all(s["ok"] for s in res["splits"].values())
    return res


def growth(args, work, path, log_dir) -> dict:
    """ArrowExampleGen's executor alone on --rows and --big-rows rows (one run each)."""
    print(f"\ngrowth check: generating {args.big_rows:,} rows ...", flush=True)
    big = make_csv(os.path.join(work, "big"), args.big_rows)
    out = {}
    for label, data, rows in (("rows", path, args.rows), ("big_rows", big, args.big_rows)):
        s = harness.Side(f"arrow-alone-{rows}", [
            harness.python(), __file__, "--alone", "--data", data, "--rows", rows,
            "--state", os.path.join(work, f"alone-{rows}")])
        r = harness.run_side(s, 1, log_dir, 3600)
        out[label] = {"rows": rows, "wall_s": r.wall_s, "work_s": r.work_s,
                      "fixed_s": r.fixed_s, "phases": r.phases, **r.extra}
        shutil.rmtree(os.path.join(work, f"alone-{rows}"), ignore_errors=True)
    small, large = out["rows"], out["big_rows"]
    out["time_growth"] = large["work_s"] / small["work_s"]
    out["rows_growth"] = args.big_rows / args.rows
    out["peak_rss_limit_mb"] = 2048
    out["ok"] = large["peak_rss_mb"] < 2048
    return out


def growth_text(g) -> str:
    s, b = g["rows"], g["big_rows"]
    return "\n".join([
        "growth check: ArrowExampleGen executor alone, one fresh process per size",
        f"  {s['rows']:>10,} rows: work {s['work_s']:.1f} s, peak RSS {s['peak_rss_mb']:.0f} MB "
        f"(after imports {s['baseline_rss_mb']:.0f} MB)",
        f"  {b['rows']:>10,} rows: work {b['work_s']:.1f} s, peak RSS {b['peak_rss_mb']:.0f} MB "
        f"(after imports {b['baseline_rss_mb']:.0f} MB)",
        f"  {g['time_growth']:.1f}x the time for {g['rows_growth']:.0f}x the rows; peak RSS "
        f"{'under' if g['ok'] else 'OVER'} 2 GB"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each side (>= 3)")
    ap.add_argument("--big-rows", type=int, default=3_000_000,
                    help="rows of the growth check (0: skip it)")
    ap.add_argument("--quick", action="store_true",
                    help="development: 20k rows, 3 runs each, no growth check")
    ap.add_argument("--work", default=None, help="work folder (default: a new temp folder)")
    ap.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    ap.add_argument("--alone", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--state", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        return side(args)
    if args.alone:
        return alone(args)
    if args.quick:
        args.rows, args.runs, args.big_rows = 20_000, 3, 0

    params = {"rows": args.rows, "runs": args.runs, "big_rows": args.big_rows,
              "split": "train:eval 8:2 hash buckets on trip_id", "warmup": True}
    load = harness.header(NAME, params)
    work = args.work or tempfile.mkdtemp(prefix="tfxkit-bench-ingest-")
    print(f"generating {args.rows:,} rows in {work} ...", flush=True)
    path = make_csv(os.path.join(work, "data"), args.rows)
    env = {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}
    sides = []
    for name in ("stock", "tfxkit"):
        state, first = os.path.join(work, name), os.path.join(work, f"{name}-first")
        sides.append(harness.Side(
            SIDES[name],
            [harness.python(), __file__, "--side", name, "--data", path, "--rows", args.rows,
             "--state", state],
            env=env, before=keep_first(state, first)))
    log_dir = harness.RESULTS / "logs" / NAME
    comp = harness.compare(f"{NAME} {args.rows:,} rows", *sides, runs=args.runs,
                           log_dir=log_dir, note=NOTE, warmup=True,
                           work_includes="the one-node pipeline run (LocalDagRunner); "
                           "stock's also starts the Beam pipeline its executor builds")

    print("\nequality check (the warm-up runs' outputs, untimed) ...", flush=True)
    eq = equality(os.path.join(work, "stock-first"), os.path.join(work, "tfxkit-first"))
    eq_lines = [f"equality: multiset of examples identical: {eq['identical_multiset']} "
                f"(stock {eq['examples']['stock']:,}, tfxkit {eq['examples']['tfxkit']:,})"]
    for name, s in eq["splits"].items():
        eq_lines.append(f"  {name}: tfxkit {s['tfxkit']:.4f}, stock {s['stock']:.4f} "
                        f"(configured {s['configured']:.1f}) "
                        f"{'ok' if s['ok'] else 'OFF BY MORE THAN 1 POINT'}")
    g = growth(args, work, path, log_dir) if args.big_rows else None

    text = [harness.report(comp, per=args.rows), *eq_lines]
    comp_s = {side: harness.spread([r.extra.get("component_s") or float("nan")
                                    for r in comp.of(side)]) for side in (comp.a, comp.b)}
    text.append("  component's own execution in MLMD: " + ", ".join(
        f"{side} {harness._fmt(comp_s[side])}" for side in (comp.a, comp.b)))
    if g:
        text.append(growth_text(g))
    print("\n" + "\n".join(text))
    out = harness.save(NAME, [comp], params, started_load=load,
                       extra={"equality": eq, "growth": g, "component_s": comp_s,
                              "report": "\n".join(text)})
    ok = eq["ok"] and (g is None or g["ok"])
    if not args.work:  # data and outputs (hundreds of MB with --big-rows)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nresults: {out} and {out.with_suffix('.png')}; logs in {log_dir}"
          + (f"; work folder {work}" if args.work else ""))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
