"""HyperparametersGen component.

Writes the hyperparameters to train with (fixed values from config, plus the pick of a
small search) as a ``HyperParameters`` artifact in the layout of TFX's Tuner, so the stock
Trainer's ``hyperparameters`` input hands them to ``run_fn`` as ``fn_args.hyperparameters``.
The chosen values are custom properties of the artifact (ML Metadata, ``tfxkit lineage``).
Both settings are execution properties (``values``, ``search``) (JSON, keys sorted): TFX's cache key sees them.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from tfxkit.components.hyperparameters_gen import choose, executor


class HyperparametersGenSpec(types.ComponentSpec):
    # ``values``, not ``hyperparameters``: that is the output's name (the Trainer's input)
    PARAMETERS = {"values": ExecutionParameter(type=str),
                  "search": ExecutionParameter(type=str, optional=True)}
    # optional, unread today: it orders the component after the data, and issue 20's tuner
    # trains its candidates on it
    INPUTS = {"examples": ChannelParameter(type=standard_artifacts.Examples, optional=True)}
    OUTPUTS = {"hyperparameters": ChannelParameter(type=standard_artifacts.HyperParameters)}


class HyperparametersGen(base_component.BaseComponent):
    SPEC_CLASS = HyperparametersGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, hyperparameters: Dict[str, Any],
                 search: Optional[Dict[str, Any]] = None,
                 examples: Optional[types.BaseChannel] = None):
        fixed = choose.validate(hyperparameters)  # a bad value fails here, not in the run
        if search:
            search = choose.validate_search(search, fixed)
        super().__init__(spec=HyperparametersGenSpec(
            values=json.dumps(fixed, sort_keys=True),
            search=json.dumps(search, sort_keys=True) if search else None,
            examples=examples,
            hyperparameters=types.Channel(type=standard_artifacts.HyperParameters)))
