"""HyperparametersGen executor: chooses the values (``choose.py``), writes them in the
Tuner's layout and records them as custom properties of the output artifact."""
from __future__ import annotations

import json
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from tfxkit.components.hyperparameters_gen import choose


def record(artifact: types.Artifact, values: Dict[str, Any], chosen_by: str) -> None:
    """The values as custom properties: ``hyperparameters`` (all of them, JSON),
    ``chosen_by``, and one ``hp_<name>`` each (numbers as numbers, the rest as JSON)."""
    artifact.set_string_custom_property("hyperparameters", json.dumps(values, sort_keys=True))
    artifact.set_string_custom_property("chosen_by", chosen_by)
    for k, v in values.items():
        if isinstance(v, bool) or isinstance(v, int):
            artifact.set_int_custom_property(f"hp_{k}", int(v))
        elif isinstance(v, float):
            artifact.set_float_custom_property(f"hp_{k}", v)
        elif isinstance(v, str):
            artifact.set_string_custom_property(f"hp_{k}", v)
        else:
            artifact.set_string_custom_property(f"hp_{k}", json.dumps(v))


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        fixed = json.loads(exec_properties["values"])
        search = json.loads(exec_properties.get("search") or "null")
        values = choose.choose(fixed, search)
        out = artifact_utils.get_single_instance(output_dict["hyperparameters"])
        path = choose.write(out.uri, values, (search or {}).get("space"))
        record(out, values, choose.chosen_by(search))
        logging.info("hyperparameters (%s) written to %s: %s", choose.chosen_by(search),
                     path, values)
