"""InfraValidator component: TFX's InfraValidator needs Docker or Kubernetes and TF Serving;
this one loads the candidate SavedModel in a separate Python process (this interpreter),
sends real serialized examples of the eval split through its serving signatures, checks
the outputs and the latency of batch-1 requests, and writes an ``InfraBlessing``
(custom property ``blessed`` 1/0, as TFX's, plus ``reason``). It never fails the run for a
bad model: the RegistryPusher refuses to push one that is not blessed."""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from tfxkit.components.serving_check import executor


class InfraValidatorSpec(types.ComponentSpec):
    PARAMETERS = {
        "split": ExecutionParameter(type=str),
        "num_examples": ExecutionParameter(type=int),
        "requests": ExecutionParameter(type=int),
        "max_latency_ms": ExecutionParameter(type=float),
        "timeout_s": ExecutionParameter(type=float),
        # push.tflite as JSON (transform, select_tf_ops, tolerance); absent: no TFLite check
        "tflite": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {"model": ChannelParameter(type=standard_artifacts.Model),
              "examples": ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {"blessing": ChannelParameter(type=standard_artifacts.InfraBlessing)}


class InfraValidator(base_component.BaseComponent):
    SPEC_CLASS = InfraValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
    # tfxkit's local runner may run it in a second thread beside the next component (the
    # Evaluator): it reads no sys.argv or absl flags and loads the model in a child process
    RUNS_BESIDE = True

    def __init__(self, model: types.BaseChannel, examples: types.BaseChannel,
                 split: str = "eval", num_examples: int = 100, requests: int = 100,
                 max_latency_ms: float = 200.0, timeout_s: float = 300.0,
                 tflite: Optional[str] = None,
                 blessing: Optional[types.BaseChannel] = None):
        if num_examples < 1 or requests < 1:
            raise ValueError("num_examples and requests must be at least 1")
        if max_latency_ms <= 0 or timeout_s <= 0:
            raise ValueError("max_latency_ms and timeout_s must be positive")
        super().__init__(spec=InfraValidatorSpec(
            model=model, examples=examples, split=split, num_examples=num_examples,
            requests=requests, max_latency_ms=float(max_latency_ms),
            timeout_s=float(timeout_s), tflite=tflite or None,
            blessing=blessing or types.Channel(type=standard_artifacts.InfraBlessing)))
