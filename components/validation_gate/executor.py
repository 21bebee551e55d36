"""ValidationGate executor: unpacks the anomalies artifact and calls gate.check."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.utils import io_utils

from tfxkit.components.validation_gate import gate


def read_anomalies(artifact: types.Artifact) -> Dict[str, Any]:
    out = {}
    for split in artifact_utils.decode_split_names(artifact.split_names):
        uri = artifact_utils.get_split_uri([artifact], split)
        path = io_utils.get_only_uri_in_dir(uri)
        out[split] = anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(path))
    return out


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        anomalies = read_anomalies(artifact_utils.get_single_instance(input_dict["anomalies"]))
        result = artifact_utils.get_single_instance(output_dict["result"])
        lines = gate.check(anomalies, exec_properties["on_anomalies"])
        for line in lines:
            logging.warning("data anomaly (on_anomalies=warn): %s", line)
        result.set_int_custom_property("anomalies", len(lines))
        result.set_int_custom_property("passed", 1)
        # fileio: on Kubeflow / Vertex the artifact is remote (gs://)
        with fileio.open(os.path.join(result.uri, "anomalies.json"), "w") as f:
            json.dump(lines, f, indent=1)
