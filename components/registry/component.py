"""RegistryPusher component: publishes a blessed, infra-validated model into tfxkit's
model registry (``registry.py``) and records the push as TFX's Pusher does (a
``PushedModel`` with ``pushed`` 1/0, ``pushed_destination``, ``pushed_version``), plus the
reason, the content hash, the metrics, config hash, git commit and the training data.

Both blessings are required: a missing or unblessed input is a refusal (``pushed`` 0 and
the reason), never a push.

The config hash and git commit it records are execution properties (``config_hash``,
``git_commit``: the factory sets them from the config and the run's recorded properties),
so they reach the executor wherever it runs. Like every execution property they are part
of the cache key: a run with the same config at the same commit is cached as before.

Every pushed version gets a model card (``components/model_card``): from the
evaluation (every slice's metrics and thresholds), the train split's ``statistics``, the
``examples`` and the ``card`` execution property (JSON: the config's ``card:`` section and
``eval.fairness``)."""
from typing import Optional

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from tfxkit.components.registry import executor


class RegistryPusherSpec(types.ComponentSpec):
    PARAMETERS = {
        "registry": ExecutionParameter(type=str),
        "keep_versions": ExecutionParameter(type=int),
        "model_name": ExecutionParameter(type=str, optional=True),
        "config_hash": ExecutionParameter(type=str, optional=True),
        "git_commit": ExecutionParameter(type=str, optional=True),
        # the model card: the config's card: section and eval.fairness (JSON)
        "card": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        "model_blessing": ChannelParameter(type=standard_artifacts.ModelBlessing, optional=True),
        "infra_blessing": ChannelParameter(type=standard_artifacts.InfraBlessing, optional=True),
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation, optional=True),
        "examples": ChannelParameter(type=standard_artifacts.Examples, optional=True),
        "statistics": ChannelParameter(type=standard_artifacts.ExampleStatistics,
                                       optional=True),
    }
    OUTPUTS = {"pushed_model": ChannelParameter(type=standard_artifacts.PushedModel)}


class RegistryPusher(base_component.BaseComponent):
    SPEC_CLASS = RegistryPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, model: types.BaseChannel, registry: str,
                 model_blessing: Optional[types.BaseChannel] = None,
                 infra_blessing: Optional[types.BaseChannel] = None,
                 evaluation: Optional[types.BaseChannel] = None,
                 examples: Optional[types.BaseChannel] = None,
                 statistics: Optional[types.BaseChannel] = None,
                 keep_versions: int = 5, model_name: Optional[str] = None,
                 config_hash: Optional[str] = None, git_commit: Optional[str] = None,
                 card: Optional[str] = None):
        if keep_versions < 1:
            raise ValueError(f"keep_versions must be at least 1, got {keep_versions}")
        if not registry:
            raise ValueError("registry: give the registry's path")
        super().__init__(spec=RegistryPusherSpec(
            model=model, model_blessing=model_blessing, infra_blessing=infra_blessing,
            evaluation=evaluation, examples=examples, statistics=statistics,
            registry=registry, keep_versions=keep_versions, model_name=model_name,
            config_hash=config_hash, git_commit=git_commit, card=card,
            pushed_model=types.Channel(type=standard_artifacts.PushedModel)))
