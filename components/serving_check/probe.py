"""The model-server side of infra validation, run as its own process:

    python -m tfxkit.components.serving_check.probe REQUEST.json REPORT.json

Loads the SavedModel, sends the examples through every signature that takes serialized
tf.Examples (one string input), checks the outputs (``check.check_outputs``), then times
requests of batch 1 against ``serving_default``. Writes REPORT.json; a model that cannot
load is reported as a problem (exit 0); only a crash leaves no report.
"""
from __future__ import annotations

import json
import os
import sys
import time
import traceback


def _read_examples(files, n):
    out = []
    remote = [f for f in files if "://" in f]
    if remote:
        import tensorflow as tf

        for path in files:
            ds = tf.data.TFRecordDataset(path, compression_type="GZIP"
                                         if path.endswith(".gz") else None)
            for rec in ds.take(n - len(out)):
                out.append(rec.numpy())
            if len(out) >= n:
                break
        return out
    from tfxkit.components.common.records import read_batches

    for batch in read_batches(list(files), batch_size=n):
        out += batch[: n - len(out)]
        if len(out) >= n:
            break
    return out


def probe(req):
    from tfxkit.components.serving_check.check import check_outputs

    report = {"examples": 0, "signatures": {}, "latencies_ms": [], "problems": []}
    try:
        examples = _read_examples(req["files"], int(req["examples"]))
    except Exception as e:  # pylint: disable=broad-except
        report["problems"].append(f"cannot read the eval examples: {type(e).__name__}: {e}")
        return report
    report["examples"] = len(examples)
    t0 = time.perf_counter()
    try:
        import tensorflow as tf

        model = tf.saved_model.load(req["model_dir"])
    except Exception as e:  # pylint: disable=broad-except
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        report["problems"].append(f"cannot load the SavedModel {req['model_dir']}: "
                                  f"{type(e).__name__}: {msg}"[:500])
        return report
    report["load_s"] = time.perf_counter() - t0
    sigs = dict(model.signatures)
    if "serving_default" not in sigs:
        report["problems"].append(f"the model has no serving_default signature (it has "
                                  f"{', '.join(sigs) or 'none'})")
    if not examples:
        return report
    callers = {}
    for name, fn in sorted(sigs.items()):
        inputs = fn.structured_input_signature[1]
        strings = [k for k, s in inputs.items() if s.dtype == tf.string]
        entry = {"inputs": {k: str(s.shape) for k, s in inputs.items()}, "problems": []}
        report["signatures"][name] = entry
        if len(inputs) != 1 or not strings:
            if name == "serving_default":
                entry["problems"].append(f"serving_default should take one string input of "
                                         f"serialized tf.Examples (it takes {list(inputs)})")
            else:
                entry["skipped"] = "does not take serialized tf.Examples"
            continue
        key = strings[0]
        callers[name] = (fn, key)
        t1 = time.perf_counter()
        try:
            out = fn(**{key: tf.constant(examples, dtype=tf.string)})
            arrays = {k: v.numpy() for k, v in out.items()}
        except Exception as e:  # pylint: disable=broad-except
            msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
            entry["problems"].append(f"{name}: failed on {len(examples)} eval examples: "
                                     f"{type(e).__name__}: {msg}"[:500])
            continue
        entry["batch_s"] = time.perf_counter() - t1
        entry["outputs"] = {k: {"shape": list(v.shape), "dtype": str(v.dtype)}
                            for k, v in arrays.items()}
        entry["problems"] += check_outputs(name, arrays, len(examples))
    if "serving_default" in callers and not report["signatures"]["serving_default"]["problems"]:
        fn, key = callers["serving_default"]
        warm = int(req.get("warmup", 5))
        n = int(req["requests"])
        lat = []
        for i in range(warm + n):
            one = tf.constant([examples[i % len(examples)]], dtype=tf.string)
            t1 = time.perf_counter()
            out = fn(**{key: one})
            for v in out.values():
                v.numpy()  # the response is complete when it can be serialized
            if i >= warm:
                lat.append((time.perf_counter() - t1) * 1000.0)
        report["latencies_ms"] = lat
    if req.get("tflite"):
        report["tflite"] = _tflite(req, examples, model)
    return report


def _tflite(req, examples, model):
    """push.tflite: conversion and the output comparison (components/tflite/check.py);
    any failure is a problem of the report, never a crash of the probe."""
    try:
        from tfxkit.components.tflite.check import check

        return check(req["model_dir"], examples, req["tflite"], req["tflite_dir"],
                     model=model)
    except Exception as e:  # pylint: disable=broad-except
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return {"problems": [f"tflite: the check failed: {type(e).__name__}: {msg}"[:500]],
                "traceback": traceback.format_exc()[-2000:]}


def main(argv):
    req_path, out_path = argv[1], argv[2]
    with open(req_path) as f:
        req = json.load(f)
    try:
        report = probe(req)
    except Exception as e:  # pylint: disable=broad-except
        report = {"examples": 0, "signatures": {}, "latencies_ms": [],
                  "problems": [f"the model server process failed: {type(e).__name__}: {e}"],
                  "traceback": traceback.format_exc()[-2000:]}
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(report, f)
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
