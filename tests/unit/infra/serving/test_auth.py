"""The bearer-token check (infra/serving/auth.py): 401 on predict, feedback and every write
route without the token (also routes added after create_app), reads, health and /metrics
open; ``auth_reads``; the token from an environment variable only; ``tfxkit serve``."""
import pytest
from fastapi.testclient import TestClient

from tfxkit.components.registry.registry import Registry
from tfxkit.infra.serving.app import create_app
from tfxkit.infra.serving.auth import TokenMissing, token_from_env
from tfxkit.infra.serving.online_service import OnlineService
from tests.unit.infra.serving.test_online_service import (TEMPLATE_CONFIG, fake_loader, push,
                                                          wait_loaded)

TOKEN = "s3cret-token"
GOOD = {"Authorization": f"Bearer {TOKEN}"}


def app_with_token(tmp_path, **kw):
    reg = Registry(str(tmp_path / "models"))
    push(reg, tmp_path, "v1", {"class": "A"})
    svc = OnlineService("penguins", registry=reg, loader=fake_loader(), poll_s=3600)
    app = create_app(online=svc, token=TOKEN, **kw)

    @app.post("/later/{model}:act")  # a route added after create_app
    async def later(model: str):
        return {"ok": model}

    @app.delete("/things/{x}")
    async def delete(x: str):
        return {"deleted": x}

    return app, svc


def test_without_or_with_a_wrong_token_writes_are_401(tmp_path):
    app, svc = app_with_token(tmp_path)
    body = {"instances": [{"island": "Dream"}]}
    with TestClient(app) as cl:
        wait_loaded(cl, svc)
        for path in ("/predict", "/models/penguins/predict", "/feedback",
                     "/v1/models/penguins:predict", "/v2/models/penguins/infer",
                     "/later/m:act"):
            for headers in ({}, {"Authorization": "Bearer nope"},
                            {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"}):
                r = cl.post(path, json=body, headers=headers)
                assert r.status_code == 401, (path, headers, r.text)
                assert r.headers["www-authenticate"].startswith("Bearer")
                assert "bearer token" in r.json()["detail"]
        assert cl.delete("/things/a").status_code == 401
        assert cl.delete("/things/a", headers=GOOD).json() == {"deleted": "a"}
        r = cl.post("/predict", json=body, headers=GOOD)
        assert r.status_code == 200 and r.json()["predictions"][0]["class"] == "A"
        assert cl.post("/later/m:act", headers=GOOD).json() == {"ok": "m"}
        # reads, health and /metrics stay open
        for path in ("/health", "/health/live", "/health/ready", "/canary", "/metrics"):
            assert cl.get(path).status_code == 200, path
        metrics = cl.get("/metrics").text
        assert 'route="/predict",status="401"' in metrics  # the refusals are counted


def test_auth_reads_also_checks_reads_but_not_health_or_metrics(tmp_path):
    app, svc = app_with_token(tmp_path, auth_reads=True)
    with TestClient(app) as cl:
        wait_loaded(cl, svc)
        assert cl.get("/canary").status_code == 401
        assert cl.get("/canary", headers=GOOD).status_code == 200
        for path in ("/health", "/health/live", "/health/ready", "/metrics"):
            assert cl.get(path).status_code == 200, path


def test_without_a_token_nothing_is_checked(tmp_path):
    reg = Registry(str(tmp_path / "models"))
    push(reg, tmp_path, "v1", {"class": "A"})
    svc = OnlineService("penguins", registry=reg, loader=fake_loader(), poll_s=3600)
    with TestClient(create_app(online=svc)) as cl:
        wait_loaded(cl, svc)
        assert cl.post("/predict", json={"instances": [{}]}).status_code == 200


def test_the_token_comes_from_an_environment_variable_only():
    assert token_from_env("TOK", {"TOK": " abc "}) == "abc"
    with pytest.raises(TokenMissing, match="TOK .*is not set"):
        token_from_env("TOK", {})
    with pytest.raises(TokenMissing, match="TOK .*is empty"):
        token_from_env("TOK", {"TOK": ""})
    from tfxkit.pipelines.config import load_config

    cfg = load_config(TEMPLATE_CONFIG, overrides=["serving.auth_token_env=TFXKIT_TOKEN"])
    assert cfg.serving.auth_token_env == "TFXKIT_TOKEN"
    with pytest.raises(Exception, match="token"):  # no field for the token itself
        load_config(TEMPLATE_CONFIG, overrides=["serving.token=abc"])
    with pytest.raises(Exception, match="auth_token_env"):  # a name, not a token
        load_config(TEMPLATE_CONFIG, overrides=["serving.auth_token_env=Bearer abc/+="])


def test_build_app_reads_the_token_from_the_configured_variable(tmp_path, monkeypatch):
    from tfxkit.infra.serving.app import build_app
    from tfxkit.pipelines.config import load_config

    cfg = load_config(TEMPLATE_CONFIG, overrides=[f"push.registry={tmp_path}/models",
                                                  "serving.auth_token_env=TFXKIT_T"])
    monkeypatch.setenv("TFXKIT_T", "xyz")
    with TestClient(build_app(cfg, online=False, batch=False)) as cl:
        assert cl.post("/anything").status_code == 401
        assert cl.post("/anything", headers={"Authorization": "Bearer xyz"}).status_code \
            == 404
        assert cl.get("/health/live").status_code == 200
