"""ValidationGate component.

Stock ExampleValidator blocks nothing unless something consumes its result. This
gate consumes it: with ``on_anomalies='fail'`` an anomaly fails the gate, and the
Transform that is ordered after it (and so training) never runs; with ``warn`` the
anomalies are logged and recorded on the output artifact.
"""
from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from tfxkit.components.validation_gate import executor


class DataValidation(types.Artifact):
    """The gate's verdict: custom properties ``anomalies`` and ``passed``."""

    TYPE_NAME = "tfxkit.DataValidation"


class ValidationGateSpec(types.ComponentSpec):
    PARAMETERS = {"on_anomalies": ExecutionParameter(type=str)}
    INPUTS = {"anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies)}
    OUTPUTS = {"result": ChannelParameter(type=DataValidation)}


class ValidationGate(base_component.BaseComponent):
    SPEC_CLASS = ValidationGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, anomalies: types.BaseChannel, on_anomalies: str = "fail"):
        if on_anomalies not in ("fail", "warn"):
            raise ValueError(f"on_anomalies must be 'fail' or 'warn', got {on_anomalies!r}")
        super().__init__(spec=ValidationGateSpec(
            anomalies=anomalies, on_anomalies=on_anomalies,
            result=types.Channel(type=DataValidation)))
