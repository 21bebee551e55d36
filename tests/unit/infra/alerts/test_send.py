"""Sending (infra/alerts/send.py) without a network: the apprise objects each target
becomes, what is never printed, and a fire() that never raises. The sends to a real
receiver: tests/integration/infra/alerts/test_send.py."""
import io
import threading
import time

import pytest

from tfxkit.infra.alerts import send as s
from tfxkit.infra.alerts.message import build
from tfxkit.pipelines.config.alerts import Alerts

SLACK = "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


def _cfg(*targets, timeout_s=2):
    return Alerts(targets=list(targets), timeout_s=timeout_s)


def test_webhook_urls_become_apprise_json_urls():
    assert s.webhook_url("http://127.0.0.1:8080/hook") == "json://127.0.0.1:8080/hook"
    assert s.webhook_url("https://ops.example.com") == "jsons://ops.example.com/"
    assert (s.webhook_url("https://u:p@ops.example.com/a/b?token=x y&z=")
            == "jsons://u:p@ops.example.com/a/b?-token=x%20y&-z=")


def test_the_webhook_notifier_carries_our_fields_and_timeouts():
    a = build("failed_run", "t", "m", {"node": "Trainer"}, use_case="p", run_id="r")
    cfg = _cfg({"webhook": "https://ops.example.com/hook?token=abcdef"}, timeout_s=3)
    n, secrets = s.notifier_for(a, cfg.targets[0], 3, env={})
    assert type(n).__name__ == "NotifyJSON" and n.secure
    assert n.payload_extras == a.fields()
    assert n.params == {"token": "abcdef"}
    assert n.socket_connect_timeout == 3 and n.socket_read_timeout == 3
    assert "abcdef" in secrets and "hook" in secrets


def test_slack_and_apprise_urls_come_from_the_environment():
    a = build("canary_rollback", "t", "m")
    slack = _cfg({"slack": {"webhook_url_env": "SL"}}).targets[0]
    n, secrets = s.notifier_for(a, slack, 2, env={"SL": SLACK})
    assert type(n).__name__ == "NotifySlack" and n.socket_read_timeout == 2
    assert SLACK in secrets and "TIiajkdnlazkcOXrIdevi7" in secrets
    with pytest.raises(ValueError, match=r"the environment variable SL is not set"):
        s.notifier_for(a, slack, 2, env={})
    with pytest.raises(ValueError, match=r"\$SL is not a Slack incoming-webhook URL"):
        s.notifier_for(a, slack, 2, env={"SL": "json://127.0.0.1/x"})
    other = _cfg({"apprise": "AP"}).targets[0]
    n, _ = s.notifier_for(a, other, 2, env={"AP": "json://127.0.0.1:9/x"})
    assert type(n).__name__ == "NotifyJSON"
    with pytest.raises(ValueError, match=r"\$AP holds no URL apprise knows"):
        s.notifier_for(a, other, 2, env={"AP": "nonsense-without-scheme"})


def test_fire_never_raises_and_prints_no_secret(monkeypatch):
    err = io.StringIO()
    cfg = _cfg({"slack": {"webhook_url_env": "SL"}}, {"apprise": "AP"})

    def boom(self, **kwargs):
        raise RuntimeError(f"cannot reach {SLACK}")

    from apprise.plugins.slack import NotifySlack
    monkeypatch.setattr(NotifySlack, "notify", boom)
    out = s.fire(cfg, "failed_run", "t", "m", env={"SL": SLACK}, stderr=err)
    assert out == [("slack $SL", False, "RuntimeError: cannot reach ***"),
                   ("apprise $AP", False, "ValueError: the environment variable AP is not set")]
    printed = err.getvalue()
    assert "TIiajkdnlazkcOXrIdevi7" not in printed and "hooks.slack.com/services" not in printed
    assert printed.count("tfxkit: alert failed_run to ") == 2
    assert s.fire(None, "failed_run", "t", "m") == []
    bad = s.fire(cfg, "oops", "t", "m", stderr=err)
    assert bad[0][:2] == ("alerts", False) and "unknown alert kind" in bad[0][2]


def test_targets_not_listening_to_a_kind_get_nothing(monkeypatch):
    sent = []
    from apprise.plugins.custom_json import NotifyJSON
    monkeypatch.setattr(NotifyJSON, "notify", lambda self, **kw: sent.append(kw) or True)
    cfg = _cfg({"webhook": "http://127.0.0.1:9/a", "on": ["drift"]},
               {"webhook": "http://127.0.0.1:9/b", "on": ["skew"]})
    assert s.fire(cfg, "skew", "skew on x", "m") == [("webhook http://127.0.0.1:9", True, None)]
    assert [kw["title"] for kw in sent] == ["[tfxkit] skew: skew on x"]
    assert sent[0]["notify_type"] == "warning"


def test_fire_returns_within_its_timeout_when_a_send_hangs(monkeypatch):
    from apprise.plugins.custom_json import NotifyJSON
    release = threading.Event()
    monkeypatch.setattr(NotifyJSON, "notify", lambda self, **kw: release.wait(30))
    err = io.StringIO()
    t0 = time.monotonic()
    out = s.fire(_cfg({"webhook": "http://127.0.0.1:9/a"}, timeout_s=0.5), "drift", "t", "m",
                 stderr=err)
    took = time.monotonic() - t0
    release.set()
    assert out == [("webhook http://127.0.0.1:9", False, "no answer within 0.5 s")]
    assert took < 3, took


def test_the_decision_alerter_fires_on_rollbacks_only():
    calls = []
    cfg = _cfg({"webhook": "http://127.0.0.1:9/a"})
    on_decision = s.decision_alerter(cfg, "penguin", fire_fn=lambda *a, **k: calls.append((a, k)))
    assert on_decision({"action": "ramp", "stable": "1", "canary": "2"}) is None
    t = on_decision({"action": "rollback", "stable": "1", "canary": "2", "step": 0,
                     "share": 0.1, "reasons": ["error rate 0.2 > 0.01 + 0.0"],
                     "evidence": {"canary": {"errors": 20}}})
    t.join(5)
    assert not t.is_alive() and len(calls) == 1
    (cfg_, kind, title, message), kw = calls[0]
    assert cfg_ is cfg and kind == "canary_rollback"
    assert title == "canary 2 rolled back to 1"
    assert "error rate 0.2 > 0.01" in message
    assert kw["use_case"] == "penguin" and kw["model_version"] == "2"
    assert kw["details"]["evidence"] == {"canary": {"errors": 20}}


def test_apprise_log_lines_lose_the_secrets_at_any_level(monkeypatch, caplog):
    import logging

    from apprise.plugins.custom_json import NotifyJSON

    def leaky(self, **kw):
        self.logger.debug("JSON POST URL: http://127.0.0.1:9/hook/abcdef123?token=zyxw9876")
        self.logger.warning("Failed to send JSON notification to /hook/abcdef123")
        return False

    monkeypatch.setattr(NotifyJSON, "notify", leaky)
    caplog.set_level(logging.DEBUG, logger="apprise")
    err = io.StringIO()
    out = s.fire(_cfg({"webhook": "http://127.0.0.1:9/hook/abcdef123?token=zyxw9876"}),
                 "failed_run", "t", "m", stderr=err)
    assert out == [("webhook http://127.0.0.1:9", False,
                    "Failed to send JSON notification to /***/***")]
    logged = caplog.text
    assert "JSON POST URL" in logged and "Failed to send" in logged
    assert "abcdef123" not in logged and "zyxw9876" not in logged
    assert "abcdef123" not in err.getvalue()
    assert not logging.getLogger("apprise").filters  # removed after the send


def test_fire_catches_what_sending_raises(monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(s, "send", broken)
    err = io.StringIO()
    out = s.fire(_cfg({"webhook": "http://127.0.0.1:9/a"}), "drift", "t", "m", stderr=err)
    assert out == [("alerts", False, "RuntimeError: can't start new thread")]
    assert "alert 'drift' not sent: RuntimeError" in err.getvalue()
