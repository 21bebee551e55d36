"""PredictionStorer: BulkInferrer/BatchInferrer results -> a prediction store (SQLite,
PostgreSQL or Redis), keyed by a column that travelled with each example. A run becomes
visible all at once; the previous runs stay for rollback."""
import json
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from tfxkit.components.prediction_store import executor


class PredictionRun(types.Artifact):
    """One stored run of predictions: run_id, rows, use_case, model_version, store."""

    TYPE_NAME = "tfxkit.PredictionRun"


class PredictionStorerSpec(types.ComponentSpec):
    PARAMETERS = {"params": ExecutionParameter(type=str)}
    INPUTS = {"inference_result": ChannelParameter(type=standard_artifacts.InferenceResult)}
    OUTPUTS = {"prediction_run": ChannelParameter(type=PredictionRun)}


class PredictionStorer(base_component.BaseComponent):
    SPEC_CLASS = PredictionStorerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, inference_result: types.BaseChannel, store_kind: str, store_target: str,
                 key: str, use_case: str, model_version: str,
                 password_env: Optional[str] = None, keep_runs: int = 2,
                 on_duplicate_key: str = "fail", timeout_s: float = 5.0):
        params = {"store": {"kind": store_kind, "target": store_target,
                            "password_env": password_env, "keep_runs": keep_runs,
                            "timeout_s": timeout_s},
                  "key": key, "use_case": use_case, "model_version": model_version,
                  "on_duplicate_key": on_duplicate_key}
        super().__init__(spec=PredictionStorerSpec(
            params=json.dumps(params, sort_keys=True), inference_result=inference_result,
            prediction_run=types.Channel(type=PredictionRun)))
