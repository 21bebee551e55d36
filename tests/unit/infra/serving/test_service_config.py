"""The service a config describes (infra/serving/service_config.py): with ``alerts:``, the
canary controller's rollbacks fire ``canary_rollback``."""
import threading

from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG


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
