"""The ``alerts:`` section (``config/alerts.py``): targets, kinds, timeouts, and the
secrets the YAML may not hold."""
import os

import pytest

from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG


def test_alerts_from_yaml(tmp_path):
    from tfxkit.pipelines.config import load_config
    from tfxkit.pipelines.config.alerts import KINDS

    cfg = load_config(TEMPLATE_CONFIG)
    assert cfg.alerts is None
    cfg = load_config(TEMPLATE_CONFIG, overrides=[
        'alerts={"timeout_s": 3, "targets": [{"webhook": "https://ops.example.com/hook?k=v"}, '
        '{"slack": {"webhook_url_env": "SLACK_URL"}, "on": ["failed_run", "canary_rollback"]}, '
        '{"apprise": "OPS_APPRISE"}]}'])
    a = cfg.alerts
    assert a.timeout_s == 3 and len(a.targets) == 3
    assert a.targets[0].on == list(KINDS)
    assert [t.label() for t in a.targets] == ["webhook https://ops.example.com",
                                             "slack $SLACK_URL", "apprise $OPS_APPRISE"]
    assert [t.label() for t in a.targets_for("failed_run")] == [t.label() for t in a.targets]
    assert [t.label() for t in a.targets_for("drift")] == ["webhook https://ops.example.com",
                                                          "apprise $OPS_APPRISE"]
    with pytest.raises(ValueError, match="unknown alert kind 'oops'"):
        a.targets_for("oops")


@pytest.mark.parametrize("targets, message", [
    ('[{"slack": "https://hooks.slack.com/services/T0/B0/XXXX"}]', "webhook_url_env"),
    ('[{"slack": {"webhook_url": "https://hooks.slack.com/services/T0/B0/XXXX"}}]',
     "webhook_url_env"),
    ('[{"webhook": "https://hooks.slack.com/services/T0/B0/XXXX"}]', "webhook_url_env"),
    ('[{"slack": {"webhook_url_env": "https://hooks.slack.com/services/T0/B0/X"}}]',
     "looks like a URL"),
    ('[{"apprise": "slack://T0/B0/XXXX"}]', "looks like a URL"),
    ('[{"webhook": "ftp://example.com/x"}]', "not an http:// or https:// URL"),
    ('[{"webhook": "https://a.example/x", "apprise": "X"}]', "exactly one of"),
    ('[{"on": ["drift"]}]', "exactly one of"),
    ('[{"webhook": "https://a.example/x", "on": ["fire"]}]', "failed_run"),
    ('[{"webhook": "https://a.example/x", "on": []}]', "at least one kind"),
    ('[]', "at least one target"),
])
def test_bad_targets_are_refused_naming_the_field(targets, message):
    from tfxkit.pipelines.config import ConfigError, load_config

    with pytest.raises(ConfigError) as e:
        load_config(TEMPLATE_CONFIG, overrides=[f'alerts={{"targets": {targets}}}'])
    assert "alerts" in str(e.value) and message in str(e.value), str(e.value)
    assert "XXXX" not in str(e.value)  # a secret is never echoed


@pytest.mark.parametrize("timeout", ["0", "-1", "121"])
def test_timeout_is_bounded(timeout):
    from tfxkit.pipelines.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="timeout_s"):
        load_config(TEMPLATE_CONFIG, overrides=[
            f'alerts={{"timeout_s": {timeout}, "targets": [{{"apprise": "A"}}]}}'])


def test_on_written_plainly_in_yaml_is_the_kinds(tmp_path):
    """PyYAML reads an unquoted ``on:`` key as True: it still means the kinds."""
    import shutil

    from tfxkit.pipelines.config import load_config

    case = tmp_path / "case"
    shutil.copytree(os.path.dirname(TEMPLATE_CONFIG), case,
                    ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
    cfg_file = case / "config.yaml"
    cfg_file.write_text(cfg_file.read_text() + (
        "\nalerts:\n"
        "  targets:\n"
        "    - slack: {webhook_url_env: SLACK_URL}\n"
        "      on: [failed_run, canary_rollback]\n"
        "    - webhook: http://127.0.0.1:8080/hook\n"))
    a = load_config(cfg_file).alerts
    assert a.targets[0].on == ["failed_run", "canary_rollback"]
    assert a.targets[1].on == ["failed_run", "not_blessed", "canary_rollback", "skew", "drift"]
