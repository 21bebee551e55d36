"""Infra validation of a candidate SavedModel, in plain Python (tested without TFX).

``validate`` starts a separate process (``python -m tfxkit.components.serving_check.probe``
with this interpreter) that loads the model the way a server would, sends real serialized
tf.Examples through each serving signature that takes them, checks the outputs, and times
``requests`` requests of batch 1 against ``serving_default``. A model that cannot load,
crashes or hangs the process, returns bad outputs or is too slow is not blessed, with the
reason. Loading in another process keeps a model that crashes TensorFlow (or leaks memory,
or pins threads) away from the pipeline, as a model server would.

The model process gets an allow-listed environment (``child_env``), not the pipeline's:
the pipeline's environment holds secrets (the MLMD password, cloud keys, tokens) that a
model under test has no business reading.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

PROBE_MODULE = "tfxkit.components.serving_check.probe"
PROBABILITY_KEYS = ("probabilities", "probability", "probs")

# What the model process inherits from the pipeline's environment, and nothing else:
# where programs, libraries, home and temp folders are; locale and time zone; how Python
# finds tfxkit; and the TensorFlow / CUDA / threading settings that change how a model
# loads and runs (device visibility, logging, Keras 2, oneDNN, thread pools, XLA).
CHILD_ENV_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ",
    "TMPDIR", "TMP", "TEMP", "LD_LIBRARY_PATH",
    "PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "PYTHONHASHSEED",
    "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "VIRTUAL_ENV",
    "XLA_FLAGS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
    # gs:// models: the path of the credentials file (the model process can read the
    # file anyway, as the same user); the key itself is never in the environment here
    "GOOGLE_APPLICATION_CREDENTIALS",
})
CHILD_ENV_PREFIXES = ("LC_", "TF_", "CUDA_", "NVIDIA_", "KMP_")
# Never passed, even when allow-listed above: Terraform's TF_VAR_* carry secrets, and a
# name that says it is a secret is one (TF_SOME_TOKEN, CUDA_..._KEY).
CHILD_ENV_DENY = re.compile(
    r"^TF_VAR_|PASSW|SECRET|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|_KEY$|"
    r"_AUTH|SESSION|COOKIE", re.IGNORECASE)


def child_env(environ: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of the model process: the allow-listed variables of ``environ``
    (default ``os.environ``) minus any secret-looking name, with Keras 2 and quiet
    TensorFlow logs by default."""
    environ = os.environ if environ is None else environ
    env = {}
    for name, value in environ.items():
        allowed = name in CHILD_ENV_NAMES or name.startswith(CHILD_ENV_PREFIXES)
        if allowed and (name == "GOOGLE_APPLICATION_CREDENTIALS"
                        or not CHILD_ENV_DENY.search(name)):
            env[name] = value
    env.setdefault("TF_USE_LEGACY_KERAS", "1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


@dataclass
class Result:
    blessed: bool
    reason: str
    examples: int = 0
    requests: int = 0
    latency_p50_ms: Optional[float] = None
    latency_p99_ms: Optional[float] = None
    max_latency_ms: Optional[float] = None
    load_s: Optional[float] = None
    signatures: Dict[str, Any] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)
    elapsed_s: Optional[float] = None
    # push.tflite: the TFLite check's report (components/tflite/check.py): signature,
    # size_bytes, sha256, rows, max_abs_diff, per_output, tolerance, problems
    tflite: Optional[Dict[str, Any]] = None

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def check_outputs(signature: str, outputs: Dict[str, np.ndarray], n: int,
                  prob_atol: float = 1e-3) -> List[str]:
    """Problems with one signature's outputs for a batch of ``n`` examples: every output
    has the batch dimension ``n``; numbers are finite; probabilities lie in [0, 1] and
    (with more than one column) sum to 1 per example."""
    problems: List[str] = []
    if not outputs:
        return [f"{signature}: returned no outputs"]
    for name, arr in sorted(outputs.items()):
        arr = np.asarray(arr)
        where = f"{signature}: output {name!r}"
        if arr.ndim == 0:
            problems.append(f"{where} is a scalar, expected a batch dimension of {n}")
            continue
        if arr.shape[0] != n:
            problems.append(f"{where} has shape {list(arr.shape)}: batch dimension "
                            f"{arr.shape[0]} for {n} examples")
            continue
        if np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
            bad = ~np.isfinite(arr.astype(np.float64))
            if bad.any():
                rows = int(bad.reshape(n, -1).any(axis=1).sum())
                kind = "NaN" if np.isnan(arr.astype(np.float64)).any() else "infinite"
                problems.append(f"{where} has {kind} values for {rows} of {n} examples")
                continue
            if name.lower() in PROBABILITY_KEYS:
                flat = arr.reshape(n, -1).astype(np.float64)
                if (flat < -prob_atol).any() or (flat > 1 + prob_atol).any():
                    problems.append(f"{where}: probabilities outside [0, 1] (min "
                                    f"{flat.min():.4g}, max {flat.max():.4g})")
                elif flat.shape[1] > 1:
                    sums = flat.sum(axis=1)
                    worst = float(np.abs(sums - 1).max())
                    if worst > prob_atol:
                        problems.append(f"{where}: probabilities do not sum to 1 (off by up "
                                        f"to {worst:.4g})")
    return problems


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """The q-th percentile (nearest rank: the value at or above q% of the values)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100.0 * len(s)) - 1))
    return float(s[k])


def judge(report: Dict[str, Any], max_latency_ms: float) -> Result:
    """The verdict on a probe's report."""
    res = Result(blessed=False, reason="", examples=report.get("examples", 0),
                 load_s=report.get("load_s"), signatures=report.get("signatures", {}),
                 max_latency_ms=max_latency_ms)
    problems = list(report.get("problems", []))
    for sig in res.signatures.values():
        problems += sig.get("problems", [])
    res.tflite = report.get("tflite")
    if res.tflite is not None:
        problems += res.tflite.get("problems", [])
    lat = report.get("latencies_ms") or []
    res.requests = len(lat)
    res.latency_p50_ms = percentile(lat, 50)
    res.latency_p99_ms = percentile(lat, 99)
    if not problems and res.examples == 0:
        problems.append("no examples to send (the eval split is empty)")
    if not problems and not lat:
        problems.append("no latency measured (serving_default was not called)")
    if not problems and res.latency_p99_ms > max_latency_ms:
        problems.append(f"p99 latency {res.latency_p99_ms:.3g} ms over {len(lat)} requests "
                        f"of batch 1 exceeds max_latency_ms {max_latency_ms:g}")
    res.problems = problems
    res.blessed = not problems
    if problems:
        res.reason = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)"
                                                if len(problems) > 5 else "")
    else:
        sigs = ", ".join(sorted(res.signatures))
        res.reason = (f"{res.examples} eval examples through {sigs}: outputs well-formed; "
                      f"p99 latency {res.latency_p99_ms:.3g} ms (p50 "
                      f"{res.latency_p50_ms:.3g} ms) over {res.requests} requests of batch 1 "
                      f"<= {max_latency_ms:g} ms")
        t = res.tflite
        if t is not None:
            res.reason += (f"; TFLite ({t['signature']}, {t['size_bytes']} bytes"
                           f"{', Select TF ops' if t.get('select_tf_ops') else ''}) matches "
                           f"the SavedModel on {t['rows']} eval rows: max abs diff "
                           f"{t['max_abs_diff']:.3g} <= {t['tolerance']:g}")
    return res


def _tail(text: str, n: int = 600) -> str:
    text = (text or "").strip()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    keep = "\n".join(lines[-6:])
    return keep[-n:]


def validate(model_dir: str, example_files: Sequence[str], examples: int = 100,
             requests: int = 100, max_latency_ms: float = 200.0, timeout_s: float = 300.0,
             warmup: int = 5, python: Optional[str] = None,
             tflite: Optional[Dict[str, Any]] = None,
             tflite_dir: Optional[str] = None) -> Result:
    """Loads ``model_dir`` in a separate process and checks it on the first ``examples``
    serialized tf.Examples of ``example_files`` (TFRecord, gzipped if named ``*.gz``);
    returns the verdict (never raises for a bad model). ``tflite`` (the config's
    ``push.tflite``: transform, select_tf_ops, tolerance): the process also converts the
    model to TFLite and compares the interpreter's outputs with the SavedModel's on the
    same examples (``components/tflite/check.py``), writing ``model.tflite`` and
    ``tflite.json`` into ``tflite_dir`` (a local folder)."""
    t0 = time.monotonic()
    if tflite and not tflite_dir:
        raise ValueError("validate: tflite needs a tflite_dir to write the model into")
    with tempfile.TemporaryDirectory(prefix="tfxkit-infra-") as tmp:
        req_path, out_path = os.path.join(tmp, "request.json"), os.path.join(tmp, "report.json")
        with open(req_path, "w") as f:
            json.dump({"model_dir": model_dir, "files": list(example_files),
                       "examples": examples, "requests": requests, "warmup": warmup,
                       "tflite": tflite or None, "tflite_dir": tflite_dir}, f)
        env = child_env()
        cmd = [python or sys.executable, "-m", PROBE_MODULE, req_path, out_path]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  env=env)
        except subprocess.TimeoutExpired:
            return Result(False, f"the model server process did not finish within "
                          f"timeout_s {timeout_s:g} s (loading and {requests} requests)",
                          max_latency_ms=max_latency_ms, elapsed_s=time.monotonic() - t0)
        report = None
        if os.path.isfile(out_path):
            with open(out_path) as f:
                report = json.load(f)
        if report is None:
            return Result(False, f"the model server process exited with code "
                          f"{proc.returncode} before reporting: {_tail(proc.stderr)}",
                          max_latency_ms=max_latency_ms, elapsed_s=time.monotonic() - t0)
    res = judge(report, max_latency_ms)
    if tflite and res.tflite is None and res.blessed:  # asked for, never reported
        res.blessed, res.reason = False, "tflite: the model process made no TFLite report"
        res.problems.append(res.reason)
    res.elapsed_s = time.monotonic() - t0
    return res
