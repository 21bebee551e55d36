"""tfxkit's Trainer: stock TFX Trainer (GenericExecutor, ``run_fn``) plus three exec
properties an orchestrator can set per run: ``epochs``, ``train_steps`` and
``learning_rate``. Give them ``RuntimeParameter``s and the Kubeflow V2 / Vertex spec
exposes them as pipeline parameters (``root.inputDefinitions.parameters``)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from tfxkit.components.trainer import executor

IntParam = Optional[Union[int, data_types.RuntimeParameter]]


class TrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = {
        **standard_component_specs.TrainerSpec.PARAMETERS,
        "epochs": ExecutionParameter(type=int, optional=True),
        "train_steps": ExecutionParameter(type=int, optional=True),
        "learning_rate": ExecutionParameter(type=float, optional=True),
    }


class Trainer(base_component.BaseComponent):
    SPEC_CLASS = TrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, transform_graph: types.BaseChannel,
                 schema: types.BaseChannel, run_fn: str, custom_config: Dict[str, Any],
                 epochs: IntParam = None, train_steps: IntParam = None,
                 learning_rate: Optional[Union[float, data_types.RuntimeParameter]] = None,
                 hyperparameters: Optional[types.BaseChannel] = None,
                 base_model: Optional[types.BaseChannel] = None):
        super().__init__(spec=TrainerSpec(
            examples=examples, transform_graph=transform_graph, schema=schema,
            hyperparameters=hyperparameters, base_model=base_model,
            train_args=trainer_pb2.TrainArgs(), eval_args=trainer_pb2.EvalArgs(),
            run_fn=run_fn, custom_config=json_utils.dumps(custom_config),
            epochs=epochs, train_steps=train_steps, learning_rate=learning_rate,
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun)))
