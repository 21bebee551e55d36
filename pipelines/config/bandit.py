"""``bandit:``: a contextual bandit (``task: bandit``, issue 16). The context features are
``features:`` as for every task, ``label`` names the reward column, and this section the
logged action and its propensity, the action list, the reward model, the serving policy's
exploration, which policy is served and the bootstrap of the off-policy estimates.

Its eval metrics (``BANDIT_METRICS``): the off-policy estimates of the greedy policy's
value (``policy_value_ips``, ``policy_value_snips``, ``policy_value_dr``: higher is better;
``lower_bound`` and changes against the baseline, computed on the whole eval split only)
and the reward model's metrics: regression errors (``mse``, ``rmse``, ``mae``; rewards are
numbers such as -1, 0, +1, so ``mape`` is not offered) and ``auc``, its predicted reward of
the logged action ranking the rows with a positive reward (a click) above the others."""
from __future__ import annotations

from typing import List, Literal, Optional

from pydantic import Field, field_validator, model_validator

from .base import _Strict

# The off-policy estimates an eval metric may gate on (components/off_policy/estimators.py)
OPE_METRICS = ("policy_value_ips", "policy_value_snips", "policy_value_dr")
# ... and the reward model's metrics (a regression on the chosen action's reward)
REWARD_MODEL_METRICS = ("mse", "rmse", "mae", "auc")
BANDIT_METRICS = OPE_METRICS + REWARD_MODEL_METRICS

_DEFAULT_EPSILON = 0.1
_DEFAULT_TEMPERATURE = 1.0


class Exploration(_Strict):
    """How the serving (exploring) policy picks from the reward model's scores:
    ``epsilon_greedy`` (the best action with probability 1 - epsilon + epsilon / K, any
    other with epsilon / K) or ``softmax`` (Boltzmann: P(a) ~ exp(score_a / temperature)).
    Only the kind's own parameter may be given; it defaults to 0.1 (epsilon) or 1.0
    (temperature)."""

    kind: Literal["epsilon_greedy", "softmax"] = "epsilon_greedy"
    epsilon: Optional[float] = Field(None, ge=0, le=1)
    temperature: Optional[float] = Field(None, gt=0)

    @model_validator(mode="after")
    def _parameters(self):
        if self.kind == "epsilon_greedy":
            if self.temperature is not None:
                raise ValueError("temperature is for kind softmax; epsilon_greedy takes "
                                 "epsilon (in [0, 1])")
            if self.epsilon is None:
                self.epsilon = _DEFAULT_EPSILON
        else:
            if self.epsilon is not None:
                raise ValueError("epsilon is for kind epsilon_greedy; softmax takes "
                                 "temperature (> 0)")
            if self.temperature is None:
                self.temperature = _DEFAULT_TEMPERATURE
        return self


class Bootstrap(_Strict):
    """The nonparametric bootstrap of the off-policy estimates' intervals: ``resamples``
    resamples of the eval rows, a ``level`` percentile interval, seeded."""

    resamples: int = Field(500, ge=10)
    level: float = Field(0.95, gt=0, lt=1)
    seed: int = 0


class Bandit(_Strict):
    """The logged bandit feedback and the policy learned from it."""

    action: str = Field(min_length=1)        # the logged action column
    actions: List[str] = Field(min_length=2)  # every action, in output order
    propensity: str = Field(min_length=1)    # P(logging policy chose the logged action)
    # per_action: one output per action; shared: one network over context x action
    reward_model: Literal["per_action", "shared"] = "per_action"
    importance_weighted: bool = False        # weight the chosen action's loss by 1/propensity
    exploration: Exploration = Exploration()
    serve: Literal["exploring", "greedy"] = "exploring"  # what serving_default is
    bootstrap: Bootstrap = Bootstrap()

    @field_validator("actions", mode="before")
    @classmethod
    def _actions_as_text(cls, v):
        # `actions: [1, 2, 3]` in YAML: integer ids, compared with the data as text
        if isinstance(v, list):
            return [str(a) if isinstance(a, int) and not isinstance(a, bool) else a
                    for a in v]
        return v

    @field_validator("actions")
    @classmethod
    def _distinct(cls, v):
        if any(not a for a in v):
            raise ValueError("an action name is empty")
        dup = sorted({a for a in v if v.count(a) > 1})
        if dup:
            raise ValueError(f"actions must be distinct, {dup} appear more than once")
        return v

    @model_validator(mode="after")
    def _columns(self):
        if self.action == self.propensity:
            raise ValueError(f"action and propensity are both column {self.action!r}; "
                             "the logged action and its probability are two columns")
        return self
