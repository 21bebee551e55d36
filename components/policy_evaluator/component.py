"""PolicyEvaluator component: the Evaluator of a bandit policy (issue 16). TFMA scores a
model on labelled rows; a policy's value cannot be read off the logged rewards, since the
candidate would have chosen other actions. This component estimates it off-policy (IPS,
SNIPS, doubly robust, with bootstrap intervals) on the eval split of the raw logged data,
for the candidate and the latest blessed policy (the baseline), applies the thresholds
and writes a ``ModelBlessing`` as TFMA's Evaluator does (custom property ``blessed`` 1/0,
files ``BLESSED`` / ``NOT_BLESSED``), with every estimate in ``ope.json``. It never fails
the run for a bad policy: the RegistryPusher refuses a model that is not blessed."""
import json
from typing import Any, Dict, Mapping, Optional, Sequence

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from tfxkit.components.policy_evaluator import executor, gate


class PolicyEvaluatorSpec(types.ComponentSpec):
    PARAMETERS = {
        "bandit": ExecutionParameter(type=str),      # JSON: action, actions, propensity
        "label": ExecutionParameter(type=str),       # the reward column
        "thresholds": ExecutionParameter(type=str),  # JSON: [{name, lower_bound, ...}]
        "bootstrap": ExecutionParameter(type=str),   # JSON: resamples, level, seed
        "split": ExecutionParameter(type=str),
        "batch_size": ExecutionParameter(type=int),
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "model": ChannelParameter(type=standard_artifacts.Model),
        "baseline_model": ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {"blessing": ChannelParameter(type=standard_artifacts.ModelBlessing)}


class PolicyEvaluator(base_component.BaseComponent):
    SPEC_CLASS = PolicyEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel,
                 bandit: Mapping[str, Any], label: str,
                 thresholds: Sequence[Mapping[str, Any]],
                 baseline_model: Optional[types.BaseChannel] = None,
                 bootstrap: Optional[Mapping[str, Any]] = None, split: str = "eval",
                 batch_size: int = 1024, blessing: Optional[types.BaseChannel] = None):
        """``bandit``: the config's bandit section (a dict: ``action``, ``actions``,
        ``propensity``; other keys are ignored); ``label``: the reward column;
        ``thresholds``: the bandit's ``eval.metrics`` as dicts (``name`` and bounds);
        ``bootstrap``: ``resamples``, ``level``, ``seed``."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        section: Dict[str, Any] = {k: bandit[k] for k in ("action", "actions", "propensity")}
        boot = dict(bootstrap or {})
        unknown = set(boot) - {"resamples", "level", "seed"}
        if unknown:
            raise ValueError(f"bootstrap: unknown settings {sorted(unknown)}")
        super().__init__(spec=PolicyEvaluatorSpec(
            examples=examples, model=model, baseline_model=baseline_model,
            bandit=json.dumps(section, sort_keys=True), label=label,
            thresholds=json.dumps(gate.check_thresholds(thresholds), sort_keys=True),
            bootstrap=json.dumps(boot, sort_keys=True), split=split,
            batch_size=int(batch_size),
            blessing=blessing or types.Channel(type=standard_artifacts.ModelBlessing)))
