"""Benchmark: tfxkit's ArrowExampleGen vs stock CsvExampleGen on the same ETA CSV.

One process run: both components run as one-node TFX pipelines (the local runner, SQLite
MLMD) on the same file; prints the wall-time ratio and checks that the multiset of
examples is identical and that each split's share is within 1 point of its ratio.
Then the ArrowExampleGen alone on a file 10x larger, in a child process, for time
growth and peak memory.

    make bench-ingest                     # 300k rows, then 3M rows
    python tests/bench/bench_example_gen.py --rows 30000 --big-rows 0
"""
import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def make_csv(out_dir, rows):
    from tfxkit.pipelines.datasets import eta

    [path] = eta.write_days(out_dir, rows=rows, days=1)
    return path


def run_one(component, work, name):
    from tfx.orchestration import metadata, pipeline as tfx_pipeline

    from tfxkit.infra.local_runner import run_pipeline
    from tfxkit.infra.summary import output_artifacts

    db = os.path.join(work, f"{name}.sqlite")
    p = tfx_pipeline.Pipeline(pipeline_name=name, pipeline_root=os.path.join(work, name),
                              components=[component], enable_cache=False,
                              metadata_connection_config=metadata.sqlite_metadata_connection_config(db))
    t = time.monotonic()
    result = run_pipeline(p)
    elapsed = time.monotonic() - t
    [examples] = output_artifacts(metadata.sqlite_metadata_connection_config(db),
                                  result.nodes[0].execution_id)["examples"]
    return elapsed, examples


def canonical_examples(uri):
    """{split: Counter of canonical examples}: sorted (feature, kind, values) tuples."""
    import tensorflow as tf

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


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path, work):
    """Runs the ArrowExampleGen executor alone (TensorFlow and TFX imported); prints JSON
    with its time and the process's peak memory."""
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from tfxkit.components.example_gen.component import ArrowExampleGen
    from tfxkit.components.example_gen.executor import Executor

    comp = ArrowExampleGen(input_base=os.path.dirname(path), pattern=os.path.basename(path),
                           key="trip_id")
    props = {k: proto_utils.proto_to_json(v) if hasattr(v, "DESCRIPTOR") else v
             for k, v in comp.exec_properties.items()}
    examples = standard_artifacts.Examples()
    examples.uri = os.path.join(work, "arrow-big")
    baseline = peak_rss_mb()
    t = time.monotonic()
    Executor().Do({}, {"examples": [examples]}, props)
    elapsed = time.monotonic() - t
    print(json.dumps({"seconds": elapsed, "baseline_rss_mb": baseline,
                      "peak_rss_mb": peak_rss_mb()}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--big-rows", type=int, default=3_000_000)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)

    import tfxkit  # noqa: F401
    from tfx.components import CsvExampleGen
    from tfx.proto import example_gen_pb2 as eg

    from tfxkit.components.example_gen.component import ArrowExampleGen

    work = tempfile.mkdtemp(prefix="tfxkit-bench-ingest-")
    print(f"generating {args.rows} rows ...", flush=True)
    path = make_csv(os.path.join(work, "data"), args.rows)
    base, pattern = os.path.dirname(path), os.path.basename(path)
    stock = CsvExampleGen(
        input_base=base,
        input_config=eg.Input(splits=[eg.Input.Split(name="all", pattern=pattern)]),
        output_config=eg.Output(split_config=eg.SplitConfig(
            splits=[eg.SplitConfig.Split(name="train", hash_buckets=8),
                    eg.SplitConfig.Split(name="eval", hash_buckets=2)],
            partition_feature_name="trip_id"))).with_id("CsvExampleGen")
    ours = ArrowExampleGen(input_base=base, pattern=pattern,
                           key="trip_id").with_id("ArrowExampleGen")
    print("stock CsvExampleGen ...", flush=True)
    t_stock, ex_stock = run_one(stock, work, "stock")
    print("tfxkit ArrowExampleGen ...", flush=True)
    t_ours, ex_ours = run_one(ours, work, "arrow")
    print(f"\n{args.rows} rows: CsvExampleGen {t_stock:.1f} s, ArrowExampleGen {t_ours:.1f} s: "
          f"{t_stock / t_ours:.1f}x faster", flush=True)

    a, b = canonical_examples(ex_stock.uri), canonical_examples(ex_ours.uri)
    all_a, all_b = sum(a.values(), collections.Counter()), sum(b.values(), collections.Counter())
    same = all_a == all_b
    print(f"multiset of examples identical: {same} ({sum(all_a.values())} vs {sum(all_b.values())})")
    ok = same
    for name, want in (("train", 0.8), ("eval", 0.2)):
        share = sum(b[name].values()) / sum(all_b.values())
        stock_share = sum(a[name].values()) / sum(all_a.values())
        within = abs(share - want) <= 0.01
        ok &= within
        print(f"  {name}: {share:.4f} (configured {want}, stock {stock_share:.4f}) "
              f"{'ok' if within else 'OFF BY MORE THAN 1 POINT'}")

    if args.big_rows:
        print(f"\ngenerating {args.big_rows} rows ...", flush=True)
        big = make_csv(os.path.join(work, "big"), args.big_rows)
        out = subprocess.run([sys.executable, __file__, "--child", big, work],
                             capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-3000:])
            sys.exit(1)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        small = subprocess.run([sys.executable, __file__, "--child", path, work + "/s"],
                               capture_output=True, text=True)
        rs = json.loads(small.stdout.strip().splitlines()[-1])
        print(f"{args.rows} rows alone: {rs['seconds']:.1f} s, peak RSS {rs['peak_rss_mb']:.0f} MB "
              f"(after imports {rs['baseline_rss_mb']:.0f} MB)")
        print(f"{args.big_rows} rows alone: {r['seconds']:.1f} s "
              f"({r['seconds'] / rs['seconds']:.1f}x the time for "
              f"{args.big_rows / args.rows:.0f}x the rows), peak RSS {r['peak_rss_mb']:.0f} MB "
              f"({'under' if r['peak_rss_mb'] < 2048 else 'OVER'} 2 GB)")
        ok &= r["peak_rss_mb"] < 2048
    print(f"\nlogs and outputs in {work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
