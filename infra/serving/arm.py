"""One loaded model version (an ``Arm`` of a canary rollout: the stable or the canary
version): its predictor, raw feature spec, micro-batcher and live signals; and its
outputs for a batch as per-instance JSON values (``split_outputs``)."""
from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from tfxkit.infra.canary import policy as policy_mod
from tfxkit.infra.serving.batcher import MicroBatcher
from tfxkit.infra.serving.errors import ModelError
from tfxkit.infra.serving.examples import spec_from_graph_def


# what a bandit policy's signatures return beside scores (pipelines/policy_export.py)
BANDIT_OUTPUTS = frozenset({"action", "propensity", "ranked_actions"})


def _text(x: Any) -> Any:
    """Bytes as text, also inside the nested lists of a [n, k] string output (a bandit's
    ranked actions)."""
    if isinstance(x, bytes):
        return x.decode()
    if isinstance(x, (list, np.ndarray)):
        return [_text(y) for y in x]
    return x


def split_outputs(outputs: Dict[str, np.ndarray], n: int) -> List[Dict[str, Any]]:
    """Per-instance JSON values of a batch's outputs ([n, 1] become scalars; bytes text)."""
    cols = {}
    for k, arr in outputs.items():
        arr = np.asarray(arr)
        if arr.ndim >= 2 and arr.shape[1:] == (1,):
            arr = arr.reshape(-1)
        if arr.dtype.kind in "SO":
            cols[k] = [_text(x) for x in arr.tolist()]
        else:
            cols[k] = arr.tolist()
    return [{k: v[i] for k, v in cols.items()} for i in range(n)]


def _finite(outputs: Dict[str, np.ndarray]) -> bool:
    for arr in outputs.values():
        arr = np.asarray(arr)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            return False
    return True


# -- a loaded model version -------------------------------------------------------------

class Arm:
    """One loaded model version: its predictor, raw feature spec, batcher and the current
    step's window of live signals."""

    def __init__(self, version: str, path: str, fn: Callable, spec: Dict[str, str],
                 outputs: Sequence[str], max_batch_size: int = 256, max_wait_ms: float = 2.0,
                 metric: str = "accuracy"):
        self.version, self.path, self.spec, self.outputs = version, path, spec, list(outputs)
        self.batcher = MicroBatcher(fn, max_batch_size, max_wait_ms, name=version)
        self.window = policy_mod.Window(version, metric)
        self.metric = metric
        self.failures = 0  # model calls failed in a row
        self.last_failure: Optional[str] = None
        self.last_failure_at = 0.0

    def gone(self) -> Optional[str]:
        """Why this version cannot answer (None: it can): its folder is gone (a loaded
        SavedModel still reads its assets from there)."""
        from tfxkit.pipelines.config import is_remote

        if self.path and not is_remote(self.path) and not os.path.isdir(self.path):
            return (f"model {self.version}: its folder {self.path} is gone (deleted or "
                    "moved while served)")
        return None

    def problem(self) -> Optional[str]:
        """``gone``, or its last (at least 3) calls all failed, the last one within 30 s
        (not for ever: a server taken out of rotation gets no call that could succeed)."""
        gone = self.gone()
        if gone:
            return gone
        if self.failures >= 3 and time.monotonic() - self.last_failure_at < 30:
            return (f"model {self.version}: its last {self.failures} calls failed: "
                    f"{self.last_failure}")
        return None

    @property
    def task(self) -> str:
        if BANDIT_OUTPUTS <= set(self.outputs):
            return "bandit"
        return "regression" if "prediction" in self.outputs else "classification"

    def answer_of(self, pred: Dict[str, Any]):
        """What feedback is scored against: (class, class_id), the number, or a bandit's
        choice (action, propensity: its feedback is the reward of that choice)."""
        if self.task == "bandit":
            return (pred.get("action"), pred.get("propensity"))
        if self.task == "regression":
            v = pred.get("prediction")
            return v[0] if isinstance(v, list) else v
        return (pred.get("class"), pred.get("class_id"))

    def reset(self, metric: Optional[str] = None):
        self.window = policy_mod.Window(self.version, metric or self.metric)


def load_arm(version: str, path: str, max_batch_size: int = 256, max_wait_ms: float = 2.0,
             metric: Optional[str] = None) -> Arm:
    """Loads the SavedModel at ``path`` (blocking: call it in a thread) and warms it up."""
    from tfxkit.components.batch_inference.infer import Predictor

    predictor = Predictor(path)
    spec = spec_from_graph_def(predictor.fn.graph.as_graph_def())
    if not spec:
        raise ModelError(f"model {version} at {path}: its serving signature parses no "
                         "tf.Example features")
    out = predictor([b""])  # the first call traces; an empty example = all missing
    outputs = sorted(out)
    if metric is None:
        metric = ("reward" if BANDIT_OUTPUTS <= set(outputs) else
                  "mae" if "prediction" in outputs else "accuracy")

    def fn(items):
        res = predictor(items)
        if not _finite(res):
            raise ModelError("the model returned non-finite values")
        return res

    return Arm(version, path, fn, spec, outputs, max_batch_size, max_wait_ms, metric)
