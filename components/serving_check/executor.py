"""InfraValidator executor: finds the serving model and the split's files, calls
``check.validate`` and records the verdict on the InfraBlessing."""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import path_utils

from tfxkit.components.serving_check import check

BLESSED_FILE, NOT_BLESSED_FILE = "INFRA_BLESSED", "INFRA_NOT_BLESSED"  # as TFX's


def split_files(examples: List[types.Artifact], split: str) -> List[str]:
    files: List[str] = []
    for uri in artifact_utils.get_split_uris(examples, split):
        files += sorted(f for f in fileio.glob(os.path.join(uri, "*"))
                        if not fileio.isdir(f))
    return files


def record(blessing: types.Artifact, res: check.Result) -> None:
    blessing.set_int_custom_property("blessed", int(res.blessed))
    blessing.set_string_custom_property("reason", res.reason)
    blessing.set_int_custom_property("examples", res.examples)
    blessing.set_int_custom_property("requests", res.requests)
    if res.latency_p99_ms is not None:
        blessing.set_float_custom_property("latency_p99_ms", res.latency_p99_ms)
        blessing.set_float_custom_property("latency_p50_ms", res.latency_p50_ms)
    if res.max_latency_ms is not None:
        blessing.set_float_custom_property("max_latency_ms", res.max_latency_ms)
    t = res.tflite
    if t is not None:  # push.tflite: what the comparison found
        blessing.set_int_custom_property("tflite_ok", int(not t.get("problems")))
        for key in ("rows", "size_bytes"):
            if t.get(key) is not None:
                blessing.set_int_custom_property(f"tflite_{key}", int(t[key]))
        if t.get("max_abs_diff") is not None:
            blessing.set_float_custom_property("tflite_max_abs_diff", float(t["max_abs_diff"]))
            # also as text: ML Metadata's SQLite store keeps about 6 decimals of a double
            # (3.7e-07 reads back as 0), and TFLite's differences are often that small
            blessing.set_string_custom_property("tflite_max_abs_diff_text",
                                                repr(float(t["max_abs_diff"])))
        if t.get("tolerance") is not None:
            blessing.set_float_custom_property("tflite_tolerance", float(t["tolerance"]))
        if t.get("signature"):
            blessing.set_string_custom_property("tflite_signature", t["signature"])
    fileio.makedirs(blessing.uri)
    with fileio.open(os.path.join(blessing.uri, BLESSED_FILE if res.blessed
                                  else NOT_BLESSED_FILE), "w") as f:
        f.write(res.reason)
    with fileio.open(os.path.join(blessing.uri, "report.json"), "w") as f:
        json.dump(res.to_dict(), f, indent=1)


def copy_tflite(local_dir: str, blessing_uri: str) -> None:
    """The TFLite check's files (``model.tflite``, ``tflite.json``) into
    ``<blessing>/tflite/``, where the RegistryPusher takes them from."""
    from tfxkit.components.tflite.files import DIR

    names = sorted(os.listdir(local_dir)) if os.path.isdir(local_dir) else []
    if not names:
        return
    dest = os.path.join(blessing_uri, DIR)
    fileio.makedirs(dest)
    for name in names:
        fileio.copy(os.path.join(local_dir, name), os.path.join(dest, name), overwrite=True)


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        model = artifact_utils.get_single_instance(input_dict["model"])
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        split = exec_properties.get("split") or "eval"
        try:
            files = split_files(input_dict["examples"], split)
        except Exception as e:  # pylint: disable=broad-except
            files, err = [], f"{type(e).__name__}: {e}"
        else:
            err = None if files else f"the examples have no files in split {split!r}"
        tflite = json.loads(exec_properties.get("tflite") or "null")
        with tempfile.TemporaryDirectory(prefix="tfxkit-tflite-") as tmp:
            if err:
                res = check.Result(False, f"no eval examples to validate with: {err}")
            else:
                res = check.validate(
                    path_utils.serving_model_dir(model.uri), files,
                    examples=int(exec_properties["num_examples"]),
                    requests=int(exec_properties["requests"]),
                    max_latency_ms=float(exec_properties["max_latency_ms"]),
                    timeout_s=float(exec_properties["timeout_s"]),
                    tflite=tflite, tflite_dir=tmp if tflite else None)
            if tflite:
                copy_tflite(tmp, blessing.uri)
        (logging.info if res.blessed else logging.warning)(
            "infra validation %s: %s", "passed" if res.blessed else "FAILED", res.reason)
        record(blessing, res)
