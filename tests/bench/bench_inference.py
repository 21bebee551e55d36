"""Benchmark: batch-inference throughput (examples/s), in one process run, of
  (a) TFX's stock BulkInferrer (its executor, on a subset: it is slow),
  (b) a plain loop calling the same SavedModel signature on batches of 1000 of the same
      serialized examples (already in memory), and
  (c) tfxkit's BatchInferrer (its executor: Beam job, model load, reading, writing the
      PredictionLogs) on all of them.
Target: (c) at least 0.5 of (b). Checks that (a) and (c) wrote the same predictions.

    make bench-inference                           # trains the multiclass template first
    python tests/bench/bench_inference.py --model templates/multiclass/models/<version>
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def train(work):
    import shutil

    case = os.path.join(work, "multiclass")
    shutil.copytree(os.path.join(ROOT, "templates", "multiclass"), case,
                    ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
    tfxkit = os.path.join(os.path.dirname(sys.executable), "tfxkit")
    subprocess.run([tfxkit, "run", os.path.join(case, "config.yaml"), "--set",
                    "model.epochs=10"], check=True)
    [version] = os.listdir(os.path.join(case, "models"))
    return os.path.join(case, "models", version)


def make_examples(work, rows, name):
    """``rows`` penguins to score (the template's inference rows, repeated with new keys),
    ingested as an Examples artifact's single split."""
    import duckdb

    from tfxkit.components.example_gen import ingest

    src = os.path.join(ROOT, "templates", "multiclass", "data", "inference", "penguins.csv")
    parquet = os.path.join(work, f"{name}.parquet")
    duckdb.connect().execute(f"""COPY (
        SELECT printf('u%09d', row_number() OVER ()) AS penguin_id, * EXCLUDE (penguin_id)
        FROM read_csv('{src}'), range(0, {rows} // 60 + 1) LIMIT {rows})
        TO '{parquet}' (FORMAT parquet)""")
    out = os.path.join(work, name)
    ingest.ingest([parquet], "parquet", out, splits=[("inference", 1)])
    return out


def examples_artifact(uri):
    from tfx.types import standard_artifacts

    a = standard_artifacts.Examples()
    a.uri = uri
    a.split_names = '["inference"]'
    return a


def run_stock(model_dir, examples_uri, work):
    from tfx.components.bulk_inferrer.executor import Executor
    from tfx.proto import bulk_inferrer_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    model = standard_artifacts.Model()
    model.uri = os.path.dirname(model_dir)  # Format-Serving is looked up under the uri ...
    os.makedirs(os.path.join(work, "stock-model"), exist_ok=True)
    link = os.path.join(work, "stock-model", "Format-Serving")
    if not os.path.exists(link):
        os.symlink(model_dir, link)
    model.uri = os.path.join(work, "stock-model")
    result = standard_artifacts.InferenceResult()
    result.uri = os.path.join(work, "stock-out")
    os.makedirs(result.uri, exist_ok=True)
    t = time.monotonic()
    Executor().Do({"examples": [examples_artifact(examples_uri)], "model": [model]},
                  {"inference_result": [result]},
                  {"data_spec": proto_utils.proto_to_json(bulk_inferrer_pb2.DataSpec()),
                   "model_spec": proto_utils.proto_to_json(bulk_inferrer_pb2.ModelSpec())})
    return time.monotonic() - t, result.uri


def run_ours(model_dir, examples_uri, work, name="ours-out", batch_size=4096):
    from tfx.types import standard_artifacts

    from tfxkit.components.batch_inference.executor import Executor

    model = standard_artifacts.Model()
    model.uri = model_dir
    result = standard_artifacts.InferenceResult()
    result.uri = os.path.join(work, name)
    os.makedirs(result.uri, exist_ok=True)
    t = time.monotonic()
    Executor().Do({"examples": [examples_artifact(examples_uri)], "model": [model]},
                  {"inference_result": [result]},
                  {"params": json.dumps({"splits": ["inference"], "batch_size": batch_size})})
    return time.monotonic() - t, result.uri


def run_plain(model_dir, examples_uri):
    import tensorflow as tf

    from tfxkit.components.batch_inference.infer import read_batches

    files = sorted(glob.glob(os.path.join(examples_uri, "Split-inference", "*")))
    batches = list(read_batches(files, 1000))
    fn = tf.saved_model.load(model_dir).signatures["serving_default"]
    fn(examples=tf.constant(batches[0]))  # warm up (tracing)
    t = time.monotonic()
    n = 0
    for b in batches:
        out = fn(examples=tf.constant(b))
        _ = {k: v.numpy() for k, v in out.items()}
        n += len(b)
    return time.monotonic() - t, n


def predictions(uri, limit=None):
    from tfxkit.components.batch_inference.infer import iter_records
    from tfxkit.components.prediction_store.rows import prediction_rows

    out = {}
    for f in sorted(glob.glob(os.path.join(uri, "prediction_logs-*"))):
        for k, p in prediction_rows(iter_records(f), "penguin_id"):
            out[k] = p
            if limit and len(out) >= limit:
                return out
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--stock-rows", type=int, default=20_000)
    ap.add_argument("--batch-size", type=int, default=4096,
                    help="tfxkit's examples per model call (its default)")
    ap.add_argument("--model", help="a pushed SavedModel dir (default: train the template)")
    args = ap.parse_args()
    import tfxkit  # noqa: F401

    work = tempfile.mkdtemp(prefix="tfxkit-bench-inference-")
    model_dir = os.path.abspath(args.model) if args.model else train(work)
    print(f"model {model_dir}\nmaking {args.rows} and {args.stock_rows} examples ...", flush=True)
    big = make_examples(work, args.rows, "examples")
    small = make_examples(work, args.stock_rows, "examples-small")

    print("plain loop ...", flush=True)
    t_plain, n = run_plain(model_dir, big)
    print("tfxkit BatchInferrer ...", flush=True)
    t_ours, ours_uri = run_ours(model_dir, big, work, batch_size=args.batch_size)
    print(f"stock BulkInferrer ({args.stock_rows} examples) ...", flush=True)
    t_stock, stock_uri = run_stock(model_dir, small, work)

    plain, ours, stock = n / t_plain, args.rows / t_ours, args.stock_rows / t_stock
    print(f"\nbatch inference, examples/s (one run):")
    print(f"  plain loop (signature on batches of 1000, {n} in memory): {plain:12,.0f}")
    print(f"  tfxkit BatchInferrer ({args.rows}, files to PredictionLogs, batches of "
          f"{args.batch_size}): {ours:12,.0f}"
          f"  = {ours / plain:.2f} of the plain loop (target 0.5), {ours / stock:.0f}x stock")
    print(f"  stock BulkInferrer ({args.stock_rows}):                             {stock:12,.0f}")

    _, ours_small = run_ours(model_dir, small, work, "ours-small")
    a, b = predictions(stock_uri), predictions(ours_small)
    same = a.keys() == b.keys() and all(
        a[k]["class"] == b[k]["class"] and
        max(abs(x - y) for x, y in zip(a[k]["probabilities"], b[k]["probabilities"])) < 1e-5
        for k in a)
    print(f"  same predictions as stock on the {len(a)} examples it scored: {same}")
    print(f"outputs in {work}")
    sys.exit(0 if same and ours / plain >= 0.5 else 1)


if __name__ == "__main__":
    main()
