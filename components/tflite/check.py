"""The TFLite part of infra validation, run inside the model process
(``serving_check/probe.py``): converts the candidate's TFLite signature (``convert``), runs
the TFLite interpreter and the SavedModel's ``serving_default`` on the same eval
examples and compares their outputs (``compare``); writes ``model.tflite`` and
``tflite.json`` (inputs, outputs, size, sha256, the largest difference, the rows) into
``out_dir``. Returns the report; a problem in it fails the validation.

- ``transform: include``: the .tflite takes one raw tensor per feature (signature
  ``serving_raw`` of ``pipelines/run_fn.py``); each eval tf.Example is fed as such
  (``raw_inputs``: an absent float is NaN, an absent string ``""``; a row lacking an
  integer feature, which has no "absent" value, is left out and counted);
- ``transform: separate``: the .tflite takes the transformed features (signature
  ``serving_transformed``); the check feeds it the SavedModel's ``transform_features``
  outputs on the same examples.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Dict, List, Tuple

import numpy as np

from tfxkit.components.tflite import compare as compare_mod
from tfxkit.components.tflite import convert as convert_mod
from tfxkit.components.tflite.files import INFO, MODEL

# the SavedModel signatures run_fn exports for push.tflite (pipelines/run_fn.py)
SIGNATURES = {"include": "serving_raw", "separate": "serving_transformed"}


def _values(feature, kind: str) -> list:
    if kind == "f":
        return list(feature.float_list.value) or [float(v) for v in feature.int64_list.value]
    if kind == "i":
        return list(feature.int64_list.value)
    return list(feature.bytes_list.value)


def raw_inputs(examples: List[bytes], inputs: Dict[str, Tuple[np.dtype, List[int]]]
               ) -> Tuple[Dict[str, np.ndarray], List[int], List[str]]:
    """One array per input (``{name: (dtype, shape without the batch)}``) from serialized
    tf.Examples, the rows kept and why others were left out. A float feature absent from
    an example is NaN, a string one ``b""`` (the signature's "absent"); an example that
    lacks an integer feature or has the wrong number of values is left out."""
    import tensorflow as tf

    kinds = {}
    for name, (dtype, _shape) in inputs.items():
        dt = np.dtype(dtype)
        kinds[name] = "f" if dt.kind == "f" else "i" if dt.kind in "iu" else "s"
    columns: Dict[str, list] = {name: [] for name in inputs}
    kept: List[int] = []
    skipped: Dict[str, int] = {}
    for i, raw in enumerate(examples):
        ex = tf.train.Example.FromString(raw)
        row, why = {}, None
        for name, (dtype, shape) in inputs.items():
            want = int(np.prod(shape)) if shape else 1
            vals = _values(ex.features.feature[name], kinds[name]) \
                if name in ex.features.feature else []
            if not vals and want == 1 and kinds[name] != "i":
                vals = [float("nan")] if kinds[name] == "f" else [b""]
            if len(vals) != want:
                if vals:
                    why = f"feature {name!r} has {len(vals)} values, the signature takes {want}"
                elif kinds[name] == "i" and want == 1:
                    why = f"integer feature {name!r} is absent"
                else:
                    why = f"feature {name!r} is absent, the signature takes {want} values"
                break
            row[name] = vals if shape else vals[0]
        if why:
            skipped[why] = skipped.get(why, 0) + 1
            continue
        kept.append(i)
        for name, v in row.items():
            columns[name].append(v)
    arrays = {}
    for name, (dtype, shape) in inputs.items():
        a = np.array(columns[name], dtype=np.dtype(dtype) if kinds[name] != "s" else object)
        arrays[name] = a.reshape([len(kept)] + list(shape))
    notes = [f"{n} rows left out: {why}" for why, n in sorted(skipped.items())]
    return arrays, kept, notes


# what the TFLite runtime says when a lookup table's initialisation was not converted
UNINITIALIZED_TABLE = "hashtable need to be initialized"


def interpreter_problem(error: Exception, rows: int, transform: str) -> str:
    """The validation problem for an interpreter that failed on the eval rows. A hash
    table left uninitialised (the converter keeps the lookups of a vocabulary read from
    an asset file, tft.compute_and_apply_vocabulary, but not the table's initialisation)
    gets its own explanation and the way out."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    if UNINITIALIZED_TABLE in text:
        why = ("the TFLite model's vocabulary lookups (HASHTABLE_FIND) run on tables the "
               "converter did not initialise: their initialisation from the transform's "
               "vocabulary files is not carried into the .tflite")
        if transform == "include":
            why += ("; set push.tflite.transform: separate (the .tflite takes the "
                    "transformed features; the vocabulary lookups stay in the transform)")
        return f"tflite: the interpreter failed on {rows} eval examples: {why}"
    return (f"tflite: the interpreter failed on {rows} eval examples: "
            f"{type(error).__name__}: {first}")[:700]


def _runner_inputs(runner) -> Dict[str, Tuple[np.dtype, List[int]]]:
    out = {}
    for name, d in runner.get_input_details().items():
        sig = list(d.get("shape_signature", d["shape"]))
        dtype = d["dtype"]
        out[name] = (np.bytes_ if np.dtype(dtype).kind in "SOU" else dtype,
                     [int(x) for x in sig[1:]])
    return out


def interpreter(content: bytes):
    """A TFLite interpreter of ``content``: TensorFlow's own (``tf.lite.Interpreter``,
    which runs Flex ops; deprecated from TF 2.20 in favour of LiteRT, still there with a
    warning), else LiteRT's (``ai_edge_litert``, where a later TensorFlow has dropped it).
    Here rather than in pipelines/compat.py: components import nothing of pipelines."""
    import tensorflow as tf

    lite = getattr(tf, "lite", None)
    if lite is not None and hasattr(lite, "Interpreter"):
        return lite.Interpreter(model_content=content)
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as e:
        raise ImportError(f"no TFLite interpreter: this TensorFlow {tf.__version__} has no "
                          "tf.lite.Interpreter and ai_edge_litert is not installed") from e
    return Interpreter(model_content=content)


def check(model_dir: str, examples: List[bytes], cfg: Dict[str, Any], out_dir: str,
          model=None) -> Dict[str, Any]:
    """Converts, runs and compares (see the module's docstring); ``cfg``: the config's
    ``push.tflite`` (``transform``, ``select_tf_ops``, ``tolerance``). ``model``: the
    SavedModel already loaded (``tf.saved_model.load``), else it is loaded here."""
    import tensorflow as tf

    transform = cfg.get("transform", "include")
    tolerance = float(cfg.get("tolerance", 1e-4))
    signature = SIGNATURES[transform]
    report: Dict[str, Any] = {"signature": signature, "transform": transform,
                              "tolerance": tolerance, "problems": [], "notes": []}
    model = model if model is not None else tf.saved_model.load(model_dir)
    if signature not in model.signatures:
        report["problems"].append(
            f"tflite: the model has no {signature!r} signature to convert (it has "
            f"{', '.join(sorted(model.signatures))}); the Trainer exports it when "
            f"push.tflite is on: was the model trained without it?")
        return report
    t0 = time.perf_counter()
    try:
        conv = convert_mod.convert(model_dir, signature, bool(cfg.get("select_tf_ops")),
                                   transform)
    except convert_mod.ConversionError as e:
        report["problems"].append(f"tflite: {e}")
        report["unsupported_ops"] = e.ops
        return report
    report["convert_s"] = time.perf_counter() - t0
    report.update(select_tf_ops=conv.select_tf_ops, flex_ops=conv.flex_ops,
                  size_bytes=len(conv.content),
                  sha256=hashlib.sha256(conv.content).hexdigest())
    if not examples:
        report["problems"].append("tflite: no eval examples to compare the outputs on")
        return report
    runner = interpreter(conv.content).get_signature_runner(signature)
    specs = _runner_inputs(runner)
    report["inputs"] = {k: {"dtype": np.dtype(d).name, "shape": [None] + s}
                        for k, (d, s) in specs.items()}
    serialized = tf.constant(examples, dtype=tf.string)
    if transform == "include":
        feeds, kept, notes = raw_inputs(examples, specs)
        report["notes"] += notes
    else:
        fn = model.signatures["transform_features"]
        key = list(fn.structured_input_signature[1])[0]
        transformed = fn(**{key: serialized})
        feeds = {}
        for name, (dtype, shape) in specs.items():
            if name not in transformed:
                report["problems"].append(f"tflite: input {name!r} is not a transform output")
                return report
            feeds[name] = transformed[name].numpy().astype(dtype).reshape([-1] + shape)
        kept = list(range(len(examples)))
    if not kept:
        report["problems"].append("tflite: no eval example could be fed to the TFLite "
                                  "model: " + "; ".join(report["notes"]))
        return report
    fn = model.signatures["serving_default"]
    key = list(fn.structured_input_signature[1])[0]
    expected = {k: v.numpy()[kept] for k, v in fn(**{key: serialized}).items()}
    t1 = time.perf_counter()
    try:
        actual = {k: np.asarray(v) for k, v in runner(**feeds).items()}
    except Exception as e:  # pylint: disable=broad-except
        report["problems"].append(interpreter_problem(e, len(kept), transform))
        return report
    report["run_s"] = time.perf_counter() - t1
    report["outputs"] = {k: {"dtype": str(v.dtype), "shape": [None] + list(v.shape[1:])}
                         for k, v in actual.items()}
    cmp = compare_mod.compare(expected, actual, tolerance)
    report.update(rows=cmp.rows, rows_skipped=len(examples) - len(kept),
                  max_abs_diff=cmp.max_abs_diff, per_output=cmp.per_output,
                  mismatched_rows=cmp.mismatched_rows)
    report["problems"] += [f"tflite: {p}" for p in cmp.problems]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, MODEL), "wb") as f:
        f.write(conv.content)
    info = {k: v for k, v in report.items() if k != "problems"}
    with open(os.path.join(out_dir, INFO), "w") as f:
        json.dump(info, f, indent=1, default=str)
    return report
