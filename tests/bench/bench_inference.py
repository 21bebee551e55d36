"""Benchmark: batch inference on the same rows, side by side, on the harness
(tests/bench/harness.py: separate processes, alternating order, medians and spread).

Sides (each a fresh ``python bench_inference.py --side NAME ...`` process, which imports
what it needs and then runs once, cold, as a user's process does):

- ``stock``:  TFX 1.16's BulkInferrer executor (tfx-bsl RunInference through Beam);
- ``tfxkit``: tfxkit's BatchInferrer executor (on the in-memory direct runner, Beam's
  default, it scores in the process without a Beam job; see its executor);
- ``plain``:  a plain TensorFlow loop: ``tf.saved_model.load``, then tf.data reads the
  same gzipped TFRecords in batches and the same serving signature (it parses the
  serialized tf.Examples in the graph) is called once per batch, its outputs fetched as
  numpy. It WRITES NOTHING: tfxkit and stock write one PredictionLog per row (the
  request's serialized example and every output, gzipped TFRecords) on top of that.

Phases: ``process_start`` and ``imports`` (TensorFlow; TFX, Beam and tfxkit for the
executors) are fixed costs, printed apart. ``work`` is everything after the imports, on
every side: the model load (and Beam's start-up where a side has one), reading every
row, the first and every model call, and the side's output (none for the plain loop). So
the model load is counted on both sides, once, cold; nobody runs a warm-up.

The target (issue 18 point 5): ``batch inference >= 0.8x a plain loop``, the median over
rounds of plain ``work`` / tfxkit ``work`` (a speed ratio: 1 = as fast as the plain loop,
above 1 = faster), with its min..max. Equal terms: the same ``--rows`` (200,000) from the
same files, the same ``--batch-size`` (4096) per model call (counted on both sides and
printed), the same SavedModel signature, the model load in both; the plain loop's missing
output makes the ratio err in the plain loop's favour.

Comparisons, in ``--runs`` (3) rounds (``harness.compare_rounds``: stock tfxkit plain,
then plain tfxkit stock, ...; each tfxkit run is paired with the stock and the plain run
of its round): stock vs tfxkit and plain vs tfxkit.

Batch size: tfxkit and the plain loop use ``--batch-size``. Stock BulkInferrer's batches
are made by ``beam.BatchElements()`` inside Beam's RunInference with its defaults
(adaptive: starts at 1 and grows towards a 5% per-batch overhead, at most 10,000, never
across bundles). BulkInferrer has no batch setting, and tfx-bsl 1.16's
``InferenceSpecType.batch_parameters`` is ignored: its ``_ModelHandlerWrapper`` does not
forward ``batch_elements_kwargs()``. So by default stock runs as shipped and the batch
sizes each side actually used are counted and printed beside the ratios;
``--stock-batching fixed`` patches that wrapper in the stock process so BatchElements
makes batches of exactly ``--batch-size`` (no longer stock, but equal batches).

Setup, done once and shared by all sides, untimed: the multiclass template trained with
``tfxkit run`` (or ``--model``), the rows (the template's inference rows repeated with new
keys) ingested as an Examples artifact. After the timed runs, the predictions stock and
tfxkit wrote in their last run are compared on every row (keys, class, probabilities
within 1e-5); a difference exits 1.

    make bench-inference                          # full size (200k rows, 3 runs each)
    python tests/bench/bench_inference.py --quick # 5k rows, 3 runs each, for development
    python tests/bench/bench_inference.py --model templates/multiclass/models/<version>
Results: bench-results/inference.json and .png.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (first: its import time is the side's phase clock start)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("PYTHONWARNINGS", "ignore")
ROOT = harness.ROOT
SIDES = ("stock", "tfxkit", "plain")
SPLIT = "inference"


# -- setup (once, untimed) --------------------------------------------------------------

def train(work):
    case = os.path.join(work, "multiclass")
    if not os.path.isdir(case):
        shutil.copytree(ROOT / "templates" / "multiclass", case,
                        ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
    found = saved_models(os.path.join(case, "models"))
    if not found:
        tfxkit = os.path.join(os.path.dirname(sys.executable), "tfxkit")
        log = os.path.join(work, "train.log")
        print(f"  training the multiclass template (log {log}) ...", flush=True)
        with open(log, "w") as f:
            subprocess.run([tfxkit, "run", os.path.join(case, "config.yaml"), "--set",
                            "model.epochs=10"], check=True, stdout=f, stderr=subprocess.STDOUT)
        found = saved_models(os.path.join(case, "models"))
    if not found:
        sys.exit(f"no pushed SavedModel under {case}/models")
    return found[-1]


def saved_models(registry):
    return sorted(os.path.dirname(p) for p in
                  glob.glob(os.path.join(registry, "*", "saved_model.pb")))


def make_examples(work, rows, name):
    """``rows`` penguins to score (the template's inference rows, repeated with new keys),
    ingested as an Examples artifact's single split."""
    out = os.path.join(work, name)
    if os.path.isdir(os.path.join(out, f"Split-{SPLIT}")):
        return out
    import duckdb

    from tfxkit.components.example_gen import ingest

    src = ROOT / "templates" / "multiclass" / "data" / "inference" / "penguins.csv"
    parquet = os.path.join(work, f"{name}.parquet")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute(f"""COPY (
        SELECT printf('u%09d', row_number() OVER ()) AS penguin_id, * EXCLUDE (penguin_id)
        FROM read_csv('{src}'), range(0, {rows} // 60 + 1) LIMIT {rows})
        TO '{parquet}' (FORMAT parquet)""")
    ingest.ingest([parquet], "parquet", out, splits=[(SPLIT, 1)])
    os.remove(parquet)
    return out


# -- the sides (each in its own process) ------------------------------------------------

def examples_artifact(uri):
    from tfx.types import standard_artifacts

    a = standard_artifacts.Examples()
    a.uri = uri
    a.split_names = json.dumps([SPLIT])
    return a


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def stock_runner(model_dir, scratch, batching, batch_size, sizes):
    """A function (examples_uri, out_uri) running stock BulkInferrer's executor."""
    from tfx.components.bulk_inferrer.executor import Executor
    from tfx.proto import bulk_inferrer_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils
    from tfx_bsl.beam import run_inference

    wrapper = run_inference._ModelHandlerWrapper  # pylint: disable=protected-access
    counted = wrapper.run_inference

    def run_and_count(self, batch, model, inference_args=None):
        sizes.append(len(batch))
        return counted(self, batch, model, inference_args)

    wrapper.run_inference = run_and_count  # counts batch sizes; the call is unchanged
    if batching == "fixed":  # not stock: what batch_parameters would do if forwarded
        wrapper.batch_elements_kwargs = lambda self: {"min_batch_size": batch_size,
                                                      "max_batch_size": batch_size}
    # a Trainer's Model artifact keeps its SavedModel under Format-Serving
    model = standard_artifacts.Model()
    model.uri = fresh(os.path.join(scratch, "stock-model"))
    os.symlink(model_dir, os.path.join(model.uri, "Format-Serving"))

    def run(examples_uri, out_uri):
        result = standard_artifacts.InferenceResult()
        result.uri = fresh(out_uri)
        Executor().Do(
            {"examples": [examples_artifact(examples_uri)], "model": [model]},
            {"inference_result": [result]},
            {"data_spec": proto_utils.proto_to_json(bulk_inferrer_pb2.DataSpec()),
             "model_spec": proto_utils.proto_to_json(bulk_inferrer_pb2.ModelSpec())})

    return run


def tfxkit_runner(model_dir, batch_size, sizes, loads):
    from tfx.types import standard_artifacts

    from tfxkit.components.batch_inference import infer
    from tfxkit.components.batch_inference.executor import Executor

    called, init = infer.Predictor.__call__, infer.Predictor.__init__

    def timed_init(self, *a, **k):
        t = time.time()
        init(self, *a, **k)
        loads.append(time.time() - t)

    infer.Predictor.__init__ = timed_init  # times the model load; the load is unchanged

    def call_and_count(self, serialized):
        sizes.append(len(serialized))
        return called(self, serialized)

    infer.Predictor.__call__ = call_and_count  # counts batch sizes; the call is unchanged
    model = standard_artifacts.Model()
    model.uri = model_dir

    def run(examples_uri, out_uri):
        result = standard_artifacts.InferenceResult()
        result.uri = fresh(out_uri)
        Executor().Do({"examples": [examples_artifact(examples_uri)], "model": [model]},
                      {"inference_result": [result]},
                      {"params": json.dumps({"splits": [SPLIT], "batch_size": batch_size})})

    return run


def split_files(examples_uri):
    return sorted(glob.glob(os.path.join(examples_uri, f"Split-{SPLIT}", "*.gz")))


def side_main(args):
    ph = harness.Phases()
    sizes, loads = [], []  # examples per model call; model load seconds (inside work)
    if args.side == "plain":
        import tensorflow as tf

        ph.mark("imports")
        t = time.time()
        fn = tf.saved_model.load(args.model_dir).signatures["serving_default"]
        loads.append(time.time() - t)
        [input_key] = fn.structured_input_signature[1]
        data = tf.data.TFRecordDataset(split_files(args.examples), compression_type="GZIP")
        for b in data.batch(args.batch_size):
            _ = {k: v.numpy() for k, v in fn(**{input_key: b}).items()}
            sizes.append(int(b.shape[0]))
        ph.mark("work")
    else:
        if args.side == "stock":
            run = stock_runner(args.model_dir, args.scratch, args.stock_batching,
                               args.batch_size, sizes)
        else:
            run = tfxkit_runner(args.model_dir, args.batch_size, sizes, loads)
        ph.mark("imports")
        run(args.examples, args.out)
        ph.mark("work")
    ph.emit(rows=sum(sizes), batches=batch_stats(sizes), model_load_s=sum(loads) or None)


def batch_stats(sizes):
    if not sizes:
        return {"n": 0}
    s = sorted(sizes)
    return {"n": len(s), "min": s[0], "median": s[len(s) // 2], "max": s[-1],
            "mean": round(sum(s) / len(s), 1), "rows": sum(s)}


# -- checks and report ------------------------------------------------------------------

def predictions(uri):
    from tfxkit.components.common.records import iter_records
    from tfxkit.components.prediction_store.rows import prediction_rows

    out = {}
    for f in sorted(glob.glob(os.path.join(uri, "prediction_logs-*"))):
        for k, p in prediction_rows(iter_records(f), "penguin_id"):
            out[k] = p
    return out


def same_predictions(stock_uri, tfxkit_uri, rows):
    a, b = predictions(stock_uri), predictions(tfxkit_uri)
    bad = [k for k in a.keys() & b.keys()
           if a[k]["class"] != b[k]["class"]
           or max(abs(x - y) for x, y in zip(a[k]["probabilities"],
                                             b[k]["probabilities"])) >= 1e-5]
    ok = len(a) == len(b) == rows and a.keys() == b.keys() and not bad
    return ok, {"rows_checked": len(a.keys() & b.keys()), "stock_rows": len(a),
                "tfxkit_rows": len(b), "differing": len(bad), "examples": bad[:5],
                "equal": ok}


def batches_line(comp):
    parts = []
    for side in (comp.a, comp.b):
        bs = comp.of(side)[-1].extra.get("batches", {})
        if bs.get("n"):
            parts.append(f"{side} {bs['n']} calls, {bs['min']}..{bs['max']} "
                         f"(median {bs['median']}, mean {bs['mean']})")
    return "  batch sizes actually used (examples per model call, last run): " + \
        "; ".join(parts)


def loads_line(comp):
    """The model load's share of each side's work (timed inside it, not subtracted)."""
    parts = []
    for side in (comp.a, comp.b):
        xs = [r.extra["model_load_s"] for r in comp.of(side) if r.extra.get("model_load_s")]
        if xs:
            parts.append(f"{side} {harness._fmt(harness.spread(xs))}"
                         + (" (in a thread, while the first batches are read)"
                            if side == "tfxkit" else ""))
    return ("  model load, inside work (counted, not subtracted): " + "; ".join(parts)
            if parts else "  model load: not timed (inside the executor)")


TARGET = 0.8
TARGET_NAME = f"batch inference >= {TARGET:g}x a plain loop"
TERMS = ("plain work / tfxkit work: everything after the imports on each side (model load "
         "cold on both, reading every row, every model call, output); same rows, same "
         "files, same batch size, same signature; the plain loop writes nothing, tfxkit "
         "writes a PredictionLog per row")


def target(comp):
    """The target line's figures: plain/tfxkit work ratio over the paired rounds."""
    r = comp.summary()["ratios"]["work"]
    return {"target": TARGET_NAME, "threshold": TARGET, "ratio": r,
            "met": bool(r.get("median") is not None and r["median"] >= TARGET),
            "terms": TERMS, "runs": r.get("n")}


def print_report(comps, rows, quick=False):
    """The harness tables, the batch sizes and the headline ratios; returns the target."""
    print()
    for c in comps:
        print(harness.report(c, per=rows, per_label="rows"))
        print(batches_line(c))
        print(loads_line(c))
        print()
    f = harness._fmt
    for c, head in ((comps[1], "tfxkit BatchInferrer as a fraction of the plain loop's speed "
                               "(plain/tfxkit times; 1 = as fast):"),
                    (comps[0], "tfxkit BatchInferrer against stock BulkInferrer (stock/tfxkit "
                               "times; above 1 = tfxkit faster):")):
        r = c.summary()["ratios"]
        print(head)
        print(f"  work     {f(r['work'], 'x')}  (everything after the imports: model load, "
              f"Beam start-up where there is one, reading, model calls, output)")
        print(f"  total    {f(r['total'], 'x')}  (whole processes: imports included)")
    print(batches_line(comps[0]).replace("  batch sizes", "batch sizes"))
    t = target(comps[1])
    print(f"\nTARGET {t['target']}: {f(t['ratio'], 'x')} over {t['runs']} paired runs: "
          f"{'MET' if t['met'] else 'NOT MET'}"
          + (" (DEVELOPMENT RUN: fewer than 3 runs, or --quick; not a figure)"
             if quick or (t["runs"] or 0) < harness.MIN_RUNS else "")
          + f"\n  ({t['terms']})")
    return t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch-size", type=int, default=4096,
                    help="examples per model call (tfxkit, the plain loop; stock if fixed)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each side per comparison")
    ap.add_argument("--stock-batching", choices=["stock", "fixed"], default="stock",
                    help="stock: BulkInferrer as shipped (adaptive BatchElements); fixed: "
                         "patched to --batch-size")
    ap.add_argument("--model", help="a pushed SavedModel dir (default: train the template)")
    ap.add_argument("--work", help="folder for the model, the examples and the outputs "
                                   "(kept; reused by a later run: default a new temp dir)")
    ap.add_argument("--quick", action="store_true",
                    help="development: 5,000 rows (unless --rows), 3 runs each")
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    for hidden in ("--model-dir", "--examples", "--out", "--scratch"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        return side_main(args)
    if args.quick and not any(a.startswith("--rows") for a in sys.argv[1:]):
        args.rows = 5000

    params = {"rows": args.rows, "batch_size": args.batch_size, "runs": args.runs,
              "stock_batching": args.stock_batching, "quick": args.quick}
    load = harness.header("inference", params)
    work = os.path.abspath(args.work) if args.work else \
        tempfile.mkdtemp(prefix="tfxkit-bench-inference-")
    os.makedirs(work, exist_ok=True)
    print(f"setup (once, untimed) in {work}", flush=True)
    model_dir = os.path.abspath(args.model) if args.model else train(work)
    examples = make_examples(work, args.rows, f"examples-{args.rows}")
    print(f"  model {model_dir}\n  {args.rows} rows in {examples}", flush=True)
    out = {s: os.path.join(work, "out", s) for s in SIDES}

    def side(name):
        cmd = [harness.python(), os.path.abspath(__file__), "--side", name,
               "--model-dir", model_dir, "--examples", examples,
               "--out", out[name], "--scratch", os.path.join(work, "scratch", name),
               "--batch-size", str(args.batch_size), "--stock-batching", args.stock_batching]
        os.makedirs(os.path.join(work, "scratch", name), exist_ok=True)
        return harness.Side(name, cmd, before=lambda: shutil.rmtree(out[name], True))

    stock_note = ("stock batches: Beam BatchElements defaults (adaptive 1..10000; "
                  "BulkInferrer cannot set them)" if args.stock_batching == "stock" else
                  f"stock batches: forced to {args.batch_size} by patching tfx-bsl's "
                  "_ModelHandlerWrapper (not stock)")
    tfxkit = side("tfxkit")
    # rounds stock tfxkit plain / plain tfxkit stock / ...: each tfxkit run is paired
    # with the stock and the plain run of its round
    comps = harness.compare_rounds([
        ("stock-vs-tfxkit", side("stock"), tfxkit,
         f"same {args.rows} rows, executors' Do() once, cold, in fresh processes; "
         f"tfxkit batches of {args.batch_size}; {stock_note}",
         "each executor's Do() on all rows, cold: Beam start-up (stock), model load, "
         "reading, model calls, PredictionLogs written"),
        ("plain-vs-tfxkit", side("plain"), tfxkit,
         f"same {args.rows} rows, batches of {args.batch_size}; the ratio is "
         "tfxkit's fraction of the plain loop's speed; the plain loop writes nothing",
         "everything after the imports, model load included on both sides: plain = "
         "load + tf.data reading + signature calls (no output); tfxkit = its Do() "
         "(load, reading, calls, PredictionLogs written)"),
    ], runs=args.runs)

    tgt = print_report(comps, args.rows, args.quick)

    print("\nchecking stock and tfxkit wrote the same predictions (last runs, every row; "
          "untimed) ...", flush=True)
    ok, check = same_predictions(out["stock"], out["tfxkit"], args.rows)
    print(f"  same predictions on {check['rows_checked']} of {args.rows} rows "
          f"(class, probabilities within 1e-5): {ok}"
          + ("" if ok else f"; {check}"))
    path = harness.save("inference", comps, params, started_load=load, extra={
        "measured": {
            "imports": "TensorFlow (plain); TFX, Beam, tfxkit (executors): fixed, apart",
            "work(executors)": "executor Do() on all rows, once, cold (Beam start-up for "
                               "stock, model load, reading, model calls, PredictionLogs)",
            "work(plain)": "tf.saved_model.load + tf.data reading + a signature call per "
                           "batch, outputs fetched as numpy; nothing written"},
        "target": tgt, "equality_check": check,
        "work_dir": work, "model_dir": model_dir})
    print(f"results: {path} and {path.with_suffix('.png')}; outputs in {work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
