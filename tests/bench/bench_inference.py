"""Benchmark: batch inference on the same rows, side by side, on the harness
(tests/bench/harness.py: separate processes, alternating order, medians and spread).

Sides (each a fresh ``python bench_inference.py --side NAME ...`` process):

- ``stock``:  TFX 1.16's BulkInferrer executor (tfx-bsl RunInference through Beam);
- ``tfxkit``: tfxkit's BatchInferrer executor (Beam, model load, reading, PredictionLogs);
- ``plain``:  a plain TensorFlow loop: tf.data reads the same gzipped TFRecords into
  batches, then the SavedModel's serving signature is called on each batch and its
  outputs fetched as numpy (no PredictionLogs written).

Comparisons: stock vs tfxkit and plain vs tfxkit, on the same ``--rows`` (200,000)
examples with the same batch size (``--batch-size``, 4096) where it can be set (see
below), in ``--runs`` (3) rounds (``harness.compare_rounds``: stock tfxkit plain, then
plain tfxkit stock, ...; each pair alternates, and each tfxkit run is paired with the
stock and the plain run of its round).

Phases, and how each is measured:

- ``process_start``: launching the interpreter until this script's first line ran;
- ``imports``: TensorFlow, Beam, TFX / tfxkit modules (marked in the process);
- ``probe`` (executors only, a fixed cost): the executor run once on ``--probe-rows``
  examples (less than one batch) before the measured run, in the same process: the
  executor's own fixed costs (Beam pipeline construction and start-up, model load, the
  first model call), which cannot be marked from outside the executor;
- ``probe_warm`` (executors only; neither fixed nor work, in the total): the same tiny run
  once more, now warm: what the measured run repeats of those fixed costs;
- ``work`` (executors): the executor run on all rows, whole, as a user calls it. Nothing
  is subtracted, so it still holds a second (warm) Beam start-up and model load;
- ``model_load``, ``read``, ``warmup`` (plain loop): ``tf.saved_model.load``; tf.data
  reading and inflating all rows into batches in memory (per-row, but not model work: it
  counts in the total, not in ``work``); the first signature call (on the probe rows);
- ``work`` (plain loop): the signature called on every batch, outputs fetched as numpy.

So the harness's ``total`` ratio includes the probes (the executors' totals are
overstated by them) and its ``work`` ratio includes the executors' repeated start-up
(their work is overstated by about ``probe_warm``). Two estimates are printed beside:
the per-row part (executors: ``work - probe_warm``; plain loop: ``read + work``) and a
user's single run (executors: wall minus twice ``probe_warm``; plain: its wall).

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
keys) ingested as an Examples artifact, and the probe rows. After the timed runs, the
predictions stock and tfxkit wrote in their last run are compared on every row (keys,
class, probabilities within 1e-5); a difference exits 1.

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


def tfxkit_runner(model_dir, batch_size, sizes):
    from tfx.types import standard_artifacts

    from tfxkit.components.batch_inference import infer
    from tfxkit.components.batch_inference.executor import Executor

    called = infer.Predictor.__call__

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
    sizes, probe_sizes = [], []
    if args.side == "plain":
        import tensorflow as tf

        ph.mark("imports")
        fn = tf.saved_model.load(args.model_dir).signatures["serving_default"]
        [input_key] = fn.structured_input_signature[1]
        ph.mark("model_load")
        data = tf.data.TFRecordDataset(split_files(args.examples), compression_type="GZIP")
        batches = list(data.batch(args.batch_size))
        ph.mark("read")
        probe = tf.data.TFRecordDataset(split_files(args.probe), compression_type="GZIP")
        for b in probe.batch(args.batch_size):
            _ = {k: v.numpy() for k, v in fn(**{input_key: b}).items()}
            probe_sizes.append(int(b.shape[0]))
        ph.mark("warmup")
        for b in batches:
            _ = {k: v.numpy() for k, v in fn(**{input_key: b}).items()}
            sizes.append(int(b.shape[0]))
        ph.mark("work")
    else:
        if args.side == "stock":
            run = stock_runner(args.model_dir, args.scratch, args.stock_batching,
                               args.batch_size, sizes)
        else:
            run = tfxkit_runner(args.model_dir, args.batch_size, sizes)
        ph.mark("imports")
        run(args.probe, os.path.join(args.scratch, f"{args.side}-probe-out"))
        probe_sizes, sizes[:] = list(sizes), []
        ph.mark("probe")
        run(args.probe, os.path.join(args.scratch, f"{args.side}-probe-out"))
        sizes[:] = []
        ph.mark("probe_warm")
        run(args.examples, args.out)
        ph.mark("work")
    ph.emit(rows=sum(sizes), batches=batch_stats(sizes),
                        probe_batches=batch_stats(probe_sizes))


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


def per_row(r):
    """Estimate of a run's per-row part: an executor's work minus its warm probe (the
    Beam start-up and model load its work repeats); the plain loop's read + work."""
    if "probe_warm" in r.phases:
        return r.work_s - r.phases["probe_warm"]
    return r.work_s + r.phases.get("read", 0.0)


def single_run(r):
    """Estimate of a user's process (fixed costs once, no probes): an executor's wall
    minus twice its warm probe (the probe itself and the repeat inside work)."""
    return r.wall_s - 2 * r.phases.get("probe_warm", 0.0)


def estimates(comp):
    pairs = list(zip(comp.of(comp.a), comp.of(comp.b)))
    return ({"per_row": harness.spread([per_row(a) / per_row(b) for a, b in pairs
                                        if per_row(b) > 0]),
             "single_run": harness.spread([single_run(a) / single_run(b) for a, b in pairs])},
            {side: {"per_row_s": harness.spread([per_row(r) for r in comp.of(side)]),
                    "single_run_s": harness.spread([single_run(r) for r in comp.of(side)])}
             for side in (comp.a, comp.b)})


def print_report(comps, rows):
    """The harness tables, the batch sizes, the estimates and the headline ratios;
    returns the estimates."""
    print()
    summary = {}
    for c in comps:
        print(harness.report(c, per=rows, per_label="rows"))
        print(batches_line(c))
        ratios, per_side = estimates(c)
        summary[c.name] = {"estimates": ratios, "per_side": per_side}
        for sd in (c.a, c.b):
            d = per_side[sd]
            med = d["per_row_s"]["median"]
            speed = (f" = {rows / med:,.0f} rows/s" if med and med > 0 else
                     " (not measurable at this size: the warm probe is as long as the work)")
            print(f"  estimates {sd:<8} per-row part {harness._fmt(d['per_row_s'], 's', 3)}"
                  f"{speed}; a user's single run {harness._fmt(d['single_run_s'])}")
        print(f"  estimate, ratio {c.a}/{c.b} of the per-row part (executors: work minus "
              f"warm probe; plain: read + work): {harness._fmt(ratios['per_row'], 'x')}")
        print(f"  estimate, ratio {c.a}/{c.b} of a user's single run (wall without the "
              f"probes): {harness._fmt(ratios['single_run'], 'x')}")
        print()
    f = harness._fmt
    for c, head in ((comps[1], "tfxkit BatchInferrer as a fraction of the plain loop's speed "
                               "(plain/tfxkit times; target 0.5):"),
                    (comps[0], "tfxkit BatchInferrer against stock BulkInferrer (stock/tfxkit "
                               "times; above 1 = tfxkit faster):")):
        r, e = c.summary()["ratios"], summary[c.name]["estimates"]
        print(head)
        print(f"  work     {f(r['work'], 'x')}  (harness 'work': the executors' whole Do() on "
              f"all rows, a second Beam start-up and model load included)")
        print(f"  total    {f(r['total'], 'x')}  (whole processes: every fixed cost, and the "
              f"executors' probes)")
        print(f"  per-row  {f(e['per_row'], 'x')}  (estimate: executors' work minus warm "
              f"probe; plain loop's read + work)")
        print(f"  user run {f(e['single_run'], 'x')}  (estimate: one process, fixed costs once)")
    print(batches_line(comps[0]).replace("  batch sizes", "batch sizes"))
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--batch-size", type=int, default=4096,
                    help="examples per model call (tfxkit, the plain loop; stock if fixed)")
    ap.add_argument("--probe-rows", type=int, default=256,
                    help="rows of the executors' fixed-cost probe run (under one batch)")
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
    for hidden in ("--model-dir", "--examples", "--probe", "--out", "--scratch"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        return side_main(args)
    if args.quick and not any(a.startswith("--rows") for a in sys.argv[1:]):
        args.rows = 5000

    params = {"rows": args.rows, "batch_size": args.batch_size,
              "probe_rows": args.probe_rows, "runs": args.runs,
              "stock_batching": args.stock_batching, "quick": args.quick}
    load = harness.header("inference", params)
    work = os.path.abspath(args.work) if args.work else \
        tempfile.mkdtemp(prefix="tfxkit-bench-inference-")
    os.makedirs(work, exist_ok=True)
    print(f"setup (once, untimed) in {work}", flush=True)
    model_dir = os.path.abspath(args.model) if args.model else train(work)
    examples = make_examples(work, args.rows, f"examples-{args.rows}")
    probe = make_examples(work, args.probe_rows, f"examples-{args.probe_rows}")
    print(f"  model {model_dir}\n  {args.rows} rows in {examples}\n"
          f"  {args.probe_rows} probe rows in {probe}", flush=True)
    out = {s: os.path.join(work, "out", s) for s in SIDES}

    def side(name):
        cmd = [harness.python(), os.path.abspath(__file__), "--side", name,
               "--model-dir", model_dir, "--examples", examples, "--probe", probe,
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
         f"same {args.rows} rows, executors' Do() in fresh processes; "
         f"tfxkit batches of {args.batch_size}; {stock_note}",
         "each executor's whole Do() on all rows, which repeats a warm Beam start-up and "
         "model load (see probe_warm and the per-row estimate)"),
        ("plain-vs-tfxkit", side("plain"), tfxkit,
         f"same {args.rows} rows, batches of {args.batch_size}; the ratio is "
         "tfxkit's fraction of the plain loop's speed; the plain loop writes no "
         "PredictionLogs and its reading is a phase of its own",
         "plain: the signature calls only (no reading, no output); tfxkit: its whole "
         "Do() (Beam and model load again, reading, writing PredictionLogs): NOT equal "
         "work, see the per-row estimate"),
    ], runs=args.runs)

    summary = print_report(comps, args.rows)

    print("\nchecking stock and tfxkit wrote the same predictions (last runs, every row; "
          "untimed) ...", flush=True)
    ok, check = same_predictions(out["stock"], out["tfxkit"], args.rows)
    print(f"  same predictions on {check['rows_checked']} of {args.rows} rows "
          f"(class, probabilities within 1e-5): {ok}"
          + ("" if ok else f"; {check}"))
    path = harness.save("inference", comps, params, started_load=load, extra={
        "measured": {
            "probe": f"executor Do() on {args.probe_rows} rows in the side's process before "
                     "the measured run: Beam start-up + model load + first call",
            "probe_warm": "the same again, warm: what the measured run repeats",
            "estimate per_row": "executors: work - probe_warm; plain: read + work",
            "estimate single_run": "executors: wall - 2 * probe_warm; plain: wall",
            "work(executors)": "executor Do() on all rows, whole (holds a second, warm, Beam "
                               "start-up and model load; nothing subtracted)",
            "work(plain)": "signature calls on in-memory batches + fetching outputs",
            "read(plain)": "tf.data reading/inflating every row into batches (in total, "
                           "not in work)"},
        "estimates": summary, "equality_check": check,
        "work_dir": work, "model_dir": model_dir})
    print(f"results: {path} and {path.with_suffix('.png')}; outputs in {work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
