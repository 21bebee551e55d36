"""BatchInferrer: TFX's BulkInferrer contract (Examples + Model in, InferenceResult of
PredictionLogs out) at the speed of a plain loop over the SavedModel signature.

Stock BulkInferrer batches inside tfx-bsl's RunInference and builds each PredictionLog
with the protobuf API; here each Beam worker scores a whole input shard in batches,
overlapping the model call with encoding and writing. With ``upstream`` (another
BatchInferrer's result) instead of ``examples``, it scores the upstream's input examples
with some of the upstream's outputs added as features: a chain of models.
"""
import json
from typing import Dict, Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from tfxkit.components.batch_inference import executor


class BatchInferrerSpec(types.ComponentSpec):
    PARAMETERS = {"params": ExecutionParameter(type=str)}  # JSON: splits, batch_size, ...
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples, optional=True),
        "upstream": ChannelParameter(type=standard_artifacts.InferenceResult, optional=True),
        "model": ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {"inference_result": ChannelParameter(type=standard_artifacts.InferenceResult)}


class BatchInferrer(base_beam_component.BaseBeamComponent):
    SPEC_CLASS = BatchInferrerSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, examples: Optional[types.BaseChannel] = None,
                 upstream: Optional[types.BaseChannel] = None,
                 splits: Sequence[str] = ("inference",), batch_size: int = 4096,
                 signature: str = "serving_default", chain: Optional[Dict[str, str]] = None):
        if (examples is None) == (upstream is None):
            raise ValueError("give examples, or upstream (a chain), not both")
        if upstream is not None and not chain:
            raise ValueError("a chained BatchInferrer needs chain: {feature: upstream output}")
        params = {"splits": list(splits), "batch_size": batch_size, "signature": signature,
                  "chain": dict(chain or {})}
        super().__init__(spec=BatchInferrerSpec(
            params=json.dumps(params, sort_keys=True), examples=examples, upstream=upstream,
            model=model,
            inference_result=types.Channel(type=standard_artifacts.InferenceResult)))
