"""infra/serving/service_config.py: the service a config describes; with
``serving.alias`` the version a registry alias names, followed as the alias moves, and
never the registry's serving pointer moved from there; with ``alerts:``, the canary
controller's rollbacks fire ``canary_rollback``."""
import asyncio
import threading

import pytest

from tfxkit.components.registry.errors import UnknownAlias
from tfxkit.components.registry.registry import Registry
from tfxkit.infra.serving.service_config import AliasView, service_from_config
from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG, fake_loader, push


def test_alias_view(tmp_path):
    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "a", {"class": "A"})
    v2 = push(reg, tmp_path, "b", {"class": "B"})
    view = AliasView(reg, "champion")
    with pytest.raises(UnknownAlias, match="unknown model alias 'champion'"):
        view.index()
    reg.set_alias("champion", v1)
    assert view.index()["serving"] == v1 and reg.serving().version == v2
    assert view.version_path(v1) == reg.version_path(v1)
    assert view.aliases() == {"champion": v1}
    with pytest.raises(RuntimeError, match="not moved"):
        view.set_serving(v2)


def test_serving_an_alias_follows_it(tmp_path):
    from tfxkit.pipelines.config import load_config

    cfg = load_config(TEMPLATE_CONFIG, overrides=[f"push.registry={tmp_path}/models",
                                                  "serving.alias=challenger",
                                                  "serving.poll_s=3600"])
    reg = Registry(cfg.registry_path, name=cfg.name)
    v1 = push(reg, tmp_path, "a", {"class": "A"})
    v2 = push(reg, tmp_path, "b", {"class": "B"})
    reg.set_alias("challenger", v1)
    svc = service_from_config(cfg)
    assert svc.policy is None and isinstance(svc.controller.registry, AliasView)
    svc.loader = fake_loader()

    async def main():
        await svc.start(wait=True)
        r = await svc.predict({"instances": [{"island": "Biscoe"}]})
        assert r["model_version"] == v1 and r["predictions"][0]["class"] == "A"
        reg.set_alias("challenger", v2)
        await svc.tick()
        r = await svc.predict({"instances": [{"island": "Biscoe"}]})
        assert r["model_version"] == v2 and r["predictions"][0]["class"] == "B"
        await svc.stop()

    asyncio.run(main())
    assert reg.serving().version == v2 and reg.aliases() == {"challenger": v2}
    # a bad alias name is a config error naming the field
    from tfxkit.pipelines.config import ConfigError

    with pytest.raises(ConfigError, match="serving.alias"):
        load_config(TEMPLATE_CONFIG, overrides=["serving.alias=Bad Name"])


def test_alerts_give_the_controller_a_rollback_alerter(tmp_path, monkeypatch):
    from tfxkit.infra.alerts import send
    from tfxkit.infra.serving.service_config import service_from_config
    from tfxkit.pipelines.config import load_config

    cfg = load_config(TEMPLATE_CONFIG, overrides=[f"push.registry={tmp_path}/models"])
    assert service_from_config(cfg).controller.on_decision is None
    cfg = load_config(TEMPLATE_CONFIG, overrides=[
        f"push.registry={tmp_path}/models",
        'alerts={"targets": [{"webhook": "http://127.0.0.1:9/hook"}]}'])
    fired, done = [], threading.Event()

    def fake_fire(*args, **kwargs):
        fired.append((args, kwargs))
        done.set()

    monkeypatch.setattr(send, "fire", fake_fire)
    on_decision = service_from_config(cfg).controller.on_decision
    assert on_decision({"action": "hold", "stable": "1", "canary": "2"}) is None
    t = on_decision({"action": "rollback", "stable": "1", "canary": "2",
                     "reasons": ["p99 latency 9 ms > 1.5 x 2 ms"]})
    assert done.wait(5) and t is not None
    t.join(5)
    [((alerts, kind, title, message), kw)] = fired
    assert alerts is cfg.alerts and kind == "canary_rollback"
    assert title == "canary 2 rolled back to 1" and "p99 latency 9 ms" in message
    assert kw["use_case"] == cfg.name and kw["model_version"] == "2"
