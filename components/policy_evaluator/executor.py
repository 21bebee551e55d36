"""PolicyEvaluator executor: reads the eval split's logged rows, calls the candidate's (and
the baseline's) ``greedy`` signature, and records ``gate.evaluate``'s verdict on the
ModelBlessing: ``blessed`` 1/0 and ``reason``, the headline numbers, the files ``BLESSED`` /
``NOT_BLESSED`` (as TFMA's Evaluator writes them) and ``ope.json``."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from tfxkit.components.common import records
from tfxkit.components.policy_evaluator import gate

BLESSED_FILE, NOT_BLESSED_FILE = "BLESSED", "NOT_BLESSED"  # as TFMA's Evaluator
REPORT_FILE = "ope.json"
SIGNATURE = "greedy"  # the evaluation policy: no exploration


def policy_dir(model_uri: str) -> str:
    """A Trainer's Model keeps its SavedModel under Format-Serving; a pushed one at its root."""
    serving = os.path.join(model_uri, "Format-Serving")
    return serving if fileio.exists(serving) else model_uri


def split_files(examples: types.Artifact, split: str) -> List[str]:
    uri = artifact_utils.get_split_uri([examples], split)
    files = sorted(f for f in fileio.glob(os.path.join(uri, "*"))
                   if not fileio.isdir(f) and not os.path.basename(f).startswith("."))
    if not files:
        raise ValueError(f"the examples have no files in split {split!r} ({uri})")
    return files


def greedy_predict(model_uri: str):
    """The policy's ``greedy`` signature on a batch of serialized raw tf.Examples."""
    import tensorflow as tf

    path = policy_dir(model_uri)
    loaded = tf.saved_model.load(path)
    if SIGNATURE not in loaded.signatures:
        raise ValueError(f"model {path} has no {SIGNATURE!r} signature (it has "
                         f"{', '.join(loaded.signatures)}); a bandit policy exports it")
    fn = loaded.signatures[SIGNATURE]

    def predict(batch: List[bytes]) -> Dict[str, Any]:
        return {k: v.numpy() for k, v in fn(examples=tf.constant(batch)).items()}
    predict.loaded = loaded  # keeps the SavedModel's variables alive
    return predict


def run(files: List[str], model_uri: str, baseline_uri: Optional[str],
        props: Dict[str, Any]) -> Dict[str, Any]:
    """``gate.evaluate`` on the split's files: the content of ``ope.json``."""
    bandit = json.loads(props["bandit"])
    label = props["label"]
    size = int(props.get("batch_size") or 1024)
    batches = list(records.read_batches(files, size))
    logged = gate.logged_columns((r for b in batches for r in b), bandit["action"], label,
                                 bandit["propensity"])
    candidate = gate.score(greedy_predict(model_uri), batches, bandit["actions"])
    baseline = None
    if baseline_uri is not None:
        baseline = gate.score(greedy_predict(baseline_uri), batches, bandit["actions"],
                              "baseline")
    result = gate.evaluate(logged, candidate, baseline, bandit, label,
                           json.loads(props["thresholds"]),
                           json.loads(props.get("bootstrap") or "{}"))
    result["model"], result["baseline_model"] = model_uri, baseline_uri
    return result


def record(blessing: types.Artifact, result: Dict[str, Any],
           model_id: Optional[int] = None, baseline_id: Optional[int] = None) -> None:
    """The verdict on the blessing, as TFMA's Evaluator records it: ``blessed``, the
    models' URIs and MLMD ids (``current_model_id`` is what the baseline resolvers,
    tfxkit's and TFX's LatestBlessedModelStrategy, match blessings to models by)."""
    blessing.set_int_custom_property("blessed", int(result["blessed"]))
    if model_id is not None:
        blessing.set_int_custom_property("current_model_id", int(model_id))
    if baseline_id is not None:
        blessing.set_int_custom_property("baseline_model_id", int(baseline_id))
    blessing.set_string_custom_property("reason", result["reason"])
    blessing.set_string_custom_property("current_model", result["model"])
    if result["baseline_model"]:
        blessing.set_string_custom_property("baseline_model", result["baseline_model"])
    for name, value in gate.headline(result).items():
        blessing.set_float_custom_property(name, float(value))
    fileio.makedirs(blessing.uri)
    with fileio.open(os.path.join(blessing.uri, BLESSED_FILE if result["blessed"]
                                  else NOT_BLESSED_FILE), "w") as f:
        f.write(result["reason"])
    with fileio.open(os.path.join(blessing.uri, REPORT_FILE), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)


def policy_metrics(blessing_uri: str) -> Dict[str, float]:
    """The candidate's numbers in a blessing's ``ope.json``, as the registry records a
    version's metrics: each policy value with ``_lower``/``_upper`` (its interval) and the
    reward model's metrics; {} when the blessing has no ``ope.json`` (a TFMA Evaluator's)."""
    path = os.path.join(blessing_uri, REPORT_FILE)
    if not fileio.exists(path):
        return {}
    with fileio.open(path) as f:
        result = json.load(f)
    return {k: v for k, v in gate.headline({"n": result["n"],
                                            "candidate": result["candidate"]}).items()
            if k != "n"}


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict["model"])
        baselines = input_dict.get("baseline_model") or []
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        # every span of a rolling window (data.rolling_window): the eval split of each
        split = exec_properties.get("split") or "eval"
        files = [f for examples in input_dict["examples"] for f in split_files(examples, split)]
        result = run(files, model.uri, baselines[0].uri if baselines else None,
                     exec_properties)
        (logging.info if result["blessed"] else logging.warning)(
            "off-policy gate: %s", result["reason"])
        record(blessing, result, model.id, baselines[0].id if baselines else None)
