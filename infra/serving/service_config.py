"""The ``OnlineService`` a config describes (``tfxkit serve``): its ``serving`` section
(batching, limits, polling), the inference key, the scalar raw columns of the config's
own transform, the registry with the canary policy and decision log (or, with
``serving.alias``, the version a registry alias names, followed as it moves), or one
SavedModel from a path; a bandit's choice log, and the request log. With ``alerts:``, a
canary rollback fires ``canary_rollback`` (``infra/alerts``)."""
from __future__ import annotations

from typing import Any, Dict, Optional

from tfxkit.infra.canary.decision_log import DecisionLog, decision_log_path
from tfxkit.infra.canary.policy import policy_from_config
from tfxkit.infra.serving.choice_export import choice_log_path
from tfxkit.infra.serving.choice_log import ChoiceLog
from tfxkit.infra.serving.online_service import OnlineService
from tfxkit.infra.serving.request_log import RequestLog, request_log_path


class AliasView:
    """A registry seen through one alias: its serving version is the one the alias names
    (the canary controller follows it like the serving pointer). Nothing is written
    through it: serving an alias runs no canary."""

    def __init__(self, registry, alias: str):
        self.registry, self.alias = registry, alias
        self.path, self.name = registry.path, registry.name

    def index(self) -> Dict[str, Any]:
        from tfxkit.components.registry.errors import UnknownAlias

        index = self.registry.index()
        aliases = index.get("aliases") or {}
        if self.alias not in aliases:
            raise UnknownAlias(self.alias, aliases, sorted(index["versions"], key=int))
        return {**index, "serving": aliases[self.alias]}

    def version_path(self, version: str) -> str:
        return self.registry.version_path(version)

    def aliases(self) -> Dict[str, str]:
        return self.registry.aliases()

    def set_serving(self, *args, **kwargs):
        raise RuntimeError(f"serving alias {self.alias!r}: the registry's serving pointer is "
                           "not moved from here")


def service_from_config(cfg, model_dir: Optional[str] = None) -> OnlineService:
    from tfxkit.components.registry.registry import Registry

    s = cfg.serving
    key = cfg.inference.key if cfg.inference else None
    limits = dict(max_instances=s.max_instances, feedback_instances=s.feedback_instances)
    if cfg.features.module is None:  # the config's transform: one value per raw column
        limits["scalar_features"] = cfg.features.raw_columns()
    if cfg.task == "bandit":  # the served choices and their rewards, for the next round
        limits["choices"] = ChoiceLog(choice_log_path(cfg))
    rl = s.request_log
    if rl.enabled:  # every online prediction, sampled (request_log.py)
        limits["requests"] = RequestLog(request_log_path(cfg), rl.sample_rate, rl.max_queue)
    if model_dir:
        return OnlineService(cfg.name, model_dir=model_dir, key_field=key,
                             max_batch_size=s.max_batch_size, max_wait_ms=s.max_wait_ms,
                             **limits)
    registry = Registry(cfg.registry_path, name=cfg.name)
    if s.alias:
        return OnlineService(cfg.name, registry=AliasView(registry, s.alias), key_field=key,
                             max_batch_size=s.max_batch_size, max_wait_ms=s.max_wait_ms,
                             poll_s=s.poll_s, **limits)
    policy = policy_from_config(cfg)
    service = OnlineService(cfg.name, registry=registry,
                            policy=policy, log=DecisionLog(decision_log_path(cfg)),
                            key_field=key, max_batch_size=s.max_batch_size,
                            max_wait_ms=s.max_wait_ms, poll_s=s.poll_s, **limits)
    if getattr(cfg, "alerts", None) is not None:  # a rollback fires canary_rollback
        from tfxkit.infra.alerts import decision_alerter

        service.controller.on_decision = decision_alerter(cfg.alerts, cfg.name)
    return service
