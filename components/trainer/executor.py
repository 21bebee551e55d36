"""Trainer executor: TFX's GenericExecutor after merging the per-run parameters into
``custom_config`` (see ``overrides.py``)."""
from __future__ import annotations

import json
from typing import Any, Dict, List

from absl import logging
from tfx import types
from tfx.components.trainer import executor as trainer_executor

from tfxkit.components.trainer import overrides


class Executor(trainer_executor.GenericExecutor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        props = dict(exec_properties)
        values = {k: props.pop(k, None) for k in overrides.PARAMETERS}
        custom = json.loads(props.get("custom_config") or "{}")
        props["custom_config"] = json.dumps(overrides.apply(custom, **values))
        logging.info("per-run training parameters: %s", values)
        super().Do(input_dict, output_dict, props)
