"""The ``push:`` and ``serving:`` sections (``config/serving.py``): the canary policy and the
HTTP server's limits a config gives, and the values refused."""
import os

import pytest

from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG


def test_serving_config(tmp_path):
    from tfxkit.infra.canary.decision_log import decision_log_path
    from tfxkit.infra.canary.policy import policy_from_config
    from tfxkit.pipelines.config import ConfigError, load_config

    cfg = load_config(TEMPLATE_CONFIG, overrides=[f"push.registry={tmp_path}/models"])
    assert cfg.serving.canary is None and policy_from_config(cfg) is None
    assert decision_log_path(cfg) == f"{tmp_path}/models/canary.jsonl"
    cfg = load_config(TEMPLATE_CONFIG, overrides=[
        "serving.canary.steps=[0.05, 0.5]", "serving.canary.min_requests=10",
        "serving.canary.log=canary-decisions.jsonl", "serving.max_wait_ms=0"])
    p = policy_from_config(cfg)
    assert p.final_steps == [0.05, 0.5, 1.0] and p.min_requests == 10
    assert p.quality_metric == "accuracy" and cfg.serving.max_wait_ms == 0
    from tfxkit.infra.serving.limits import Limits

    limits = Limits.from_config(load_config(TEMPLATE_CONFIG, overrides=[
        "serving.max_body_mb=2", "serving.header_timeout_s=0.5"]))
    assert limits.max_body == 2 << 20 and limits.header_timeout_s == 0.5
    defaults = Limits.from_config(cfg)  # the dataclass's defaults are the config's
    assert defaults == Limits(store_timeout_s=defaults.store_timeout_s)
    assert decision_log_path(cfg) == os.path.join(cfg.base_dir, "canary-decisions.jsonl")
    for bad, field in [("serving.canary.steps=[0.5, 0.2]", "steps"),
                       ("serving.canary.steps=[1.0]", "steps"),
                       ("serving.canary.quality_metric=mae", "quality_metric"),
                       ("serving.canary.quality_metric=reward", "quality_metric"),
                       ("serving.canary.max_p99_latency_ratio=0.5", "max_p99_latency_ratio"),
                       ("serving.max_batch_size=0", "max_batch_size"),
                       ("serving.max_body_mb=0", "max_body_mb"),
                       ("serving.max_instances=0", "max_instances"),
                       ("serving.max_connections=0", "max_connections"),
                       ("serving.header_timeout_s=0", "header_timeout_s"),
                       ("serving.store_threads=0", "store_threads"),
                       ("serving.canary.bogus=1", "bogus")]:
        with pytest.raises(ConfigError) as e:
            load_config(TEMPLATE_CONFIG, overrides=[bad])
        assert field in str(e.value), (bad, str(e.value))


def test_request_log_and_auth_fields(tmp_path):
    from tfxkit.infra.serving.request_log import request_log_path
    from tfxkit.pipelines.config import ConfigError, load_config

    cfg = load_config(TEMPLATE_CONFIG, overrides=[f"push.registry={tmp_path}/models"])
    rl = cfg.serving.request_log
    assert (rl.enabled, rl.sample_rate, rl.path, rl.max_queue) == (False, 1.0, None, 10_000)
    assert request_log_path(cfg) == f"{tmp_path}/models/requests"
    assert cfg.serving.auth_token_env is None and cfg.serving.auth_reads is False
    for bad, field in (("serving.request_log.sample_rate=-0.1", "sample_rate"),
                       ("serving.request_log.max_queue=0", "max_queue"),
                       ("serving.request_log.tokens=1", "tokens"),
                       ("serving.auth_token=abc", "auth_token"),
                       ("serving.auth_token_env=1BAD", "auth_token_env")):
        with pytest.raises(ConfigError, match=field):
            load_config(TEMPLATE_CONFIG, overrides=[bad])


def test_push_tflite(tmp_path):
    """``push.tflite``: off by default; ``true`` is the defaults; a mapping is validated,
    its errors naming the field; not for a bandit."""
    from tfxkit.pipelines.config import ConfigError, load_config

    cfg = load_config(TEMPLATE_CONFIG)
    assert cfg.push.tflite.enabled is False
    t = load_config(TEMPLATE_CONFIG, overrides=["push.tflite=true"]).push.tflite
    assert (t.enabled, t.tolerance, t.transform, t.select_tf_ops) == (True, 1e-4, "include",
                                                                       False)
    t = load_config(TEMPLATE_CONFIG, overrides=[
        "push.tflite={transform: separate, tolerance: 0.001}"]).push.tflite
    assert (t.enabled, t.tolerance, t.transform) == (True, 0.001, "separate")
    assert load_config(TEMPLATE_CONFIG, overrides=["push.tflite=false"]).push.tflite.enabled \
        is False
    assert load_config(TEMPLATE_CONFIG, overrides=[
        "push.tflite={enabled: false, select_tf_ops: true}"]).push.tflite.enabled is False
    for bad, field in (("push.tflite.transform=inside", "transform"),
                       ("push.tflite.tolerance=0", "tolerance"),
                       ("push.tflite.tolerance=-1", "tolerance"),
                       ("push.tflite.select_tf_ops=maybe", "select_tf_ops"),
                       ("push.tflite.flex=1", "flex"),
                       ("push.tflite=7", "tflite")):
        with pytest.raises(ConfigError) as e:
            load_config(TEMPLATE_CONFIG, overrides=[bad])
        assert field in str(e.value), (bad, str(e.value))


def test_push_tflite_is_not_for_a_bandit():
    from tests.conftest import TEMPLATES
    from tfxkit.pipelines.config import ConfigError, load_config

    with pytest.raises(ConfigError) as e:
        load_config(TEMPLATES / "bandit" / "config.yaml", overrides=["push.tflite=true"])
    assert "push.tflite: only for binary, multiclass and regression tasks" in str(e.value)
