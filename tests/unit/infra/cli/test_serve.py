"""``tfxkit serve`` and ``tfxkit canary`` (``infra/cli/serve.py``): the canary's status and
history read back from its decision log."""
import json

from tfxkit.infra.canary.decision_log import DecisionLog
from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG


def test_cli_canary_status_and_history(tmp_path):
    from click.testing import CliRunner

    from tfxkit.infra.cli import main

    sets = ["--set", f"push.registry={tmp_path}/models"]
    run = CliRunner().invoke
    r = run(main, ["canary", TEMPLATE_CONFIG, "status", *sets])
    assert r.exit_code == 0 and "no canary decisions yet" in r.output
    log = DecisionLog(str(tmp_path / "models" / "canary.jsonl"))
    ev = {"stable": {"version": "1", "requests": 900, "errors": 0, "error_rate": 0.0,
                     "p50_ms": 3.0, "p99_ms": 9.0, "feedback": 300, "quality": 0.97},
          "canary": {"version": "2", "requests": 100, "errors": 0, "error_rate": 0.0,
                     "p50_ms": 3.1, "p99_ms": 9.5, "feedback": 40, "quality": 0.95},
          "margins": {"max_quality_drop": 0.02}}
    log.append({"action": "start", "stable": "1", "canary": "2", "step": 0, "share": 0.1,
                "next_share": 0.1, "reasons": ["version 2 is newer"]})
    log.append({"action": "ramp", "stable": "1", "canary": "2", "step": 0, "share": 0.1,
                "next_share": 0.25, "reasons": ["no worse within every margin"],
                "evidence": ev})
    r = run(main, ["canary", TEMPLATE_CONFIG, *sets])
    assert r.exit_code == 0, r.output
    assert "canary 2 at 25% of requests (stable 1)" in r.output
    assert "p99 9.50 ms" in r.output and "quality 0.9500 on 40 labels" in r.output
    log.append({"action": "rollback", "stable": "1", "canary": "2", "step": 1, "share": 0.25,
                "next_share": 0.0, "reasons": ["accuracy 0.5 vs stable 0.97"], "evidence": ev})
    r = run(main, ["canary", TEMPLATE_CONFIG, "status", *sets])
    assert "no canary running; last decision" in r.output and "rollback" in r.output
    r = run(main, ["canary", TEMPLATE_CONFIG, "history", *sets])
    lines = r.output.splitlines()
    assert [l.split()[1] for l in lines if not l.startswith(" ")] == \
        ["start", "ramp", "rollback"]
    assert "25%->0%" in r.output and "accuracy 0.5 vs stable 0.97" in r.output
    r = run(main, ["canary", TEMPLATE_CONFIG, "history", "--json", *sets])
    assert [json.loads(l)["action"] for l in r.output.splitlines()] == \
        ["start", "ramp", "rollback"]
    r = run(main, ["canary", TEMPLATE_CONFIG, "--set", "serving.canary.steps=[2]"])
    assert r.exit_code == 2 and "steps" in r.output


def test_cli_serve_binds_loopback_and_refuses_an_unset_token_variable(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from tfxkit.infra.cli import main
    from tfxkit.infra.serving import http_server

    ran = []
    monkeypatch.setattr(http_server, "serve", lambda cfg, host, port, **kw: ran.append(
        (host, port, cfg.serving.auth_token_env)))
    monkeypatch.delenv("TFXKIT_NO_SUCH_TOKEN", raising=False)
    sets = ["--set", f"push.registry={tmp_path}/models"]
    run = CliRunner().invoke
    r = run(main, ["serve", TEMPLATE_CONFIG, *sets])
    assert r.exit_code == 0, r.output
    assert ran == [("127.0.0.1", 8080, None)]  # loopback unless told otherwise
    assert "auth: none" in r.output and "/metrics" in r.output
    r = run(main, ["serve", TEMPLATE_CONFIG, *sets, "--token-env", "TFXKIT_NO_SUCH_TOKEN"])
    assert r.exit_code == 2 and "TFXKIT_NO_SUCH_TOKEN" in r.output
    assert "not set" in r.output and len(ran) == 1
    monkeypatch.setenv("TFXKIT_NO_SUCH_TOKEN", "")
    r = run(main, ["serve", TEMPLATE_CONFIG, *sets, "--token-env", "TFXKIT_NO_SUCH_TOKEN"])
    assert r.exit_code == 2 and "empty" in r.output
    monkeypatch.setenv("TFXKIT_NO_SUCH_TOKEN", "t0k")
    r = run(main, ["serve", TEMPLATE_CONFIG, *sets, "--token-env", "TFXKIT_NO_SUCH_TOKEN",
                   "--host", "0.0.0.0"])
    assert r.exit_code == 0, r.output
    assert ran[-1] == ("0.0.0.0", 8080, "TFXKIT_NO_SUCH_TOKEN") and "t0k" not in r.output
    r = run(main, ["serve", TEMPLATE_CONFIG, *sets, "--set",
                   "serving.auth_token_env=TFXKIT_UNSET_TOO"])
    assert r.exit_code == 2 and "serving.auth_token_env" in r.output


def test_serve_alias(tmp_path, monkeypatch):
    """--alias NAME: an unknown alias exits 2 naming the ones there are; a known one is
    passed on as serving.alias (the server itself is not started here)."""
    from click.testing import CliRunner

    from tfxkit.components.registry.registry import Registry
    from tfxkit.infra.cli import main
    from tests.unit.components.registry.test_registry import model

    reg = Registry(str(tmp_path / "models"), name="penguin-species")
    v1, _ = reg.publish(model(tmp_path, "a", b"1"), {})
    reg.set_alias("champion", v1)
    started = []
    monkeypatch.setattr("tfxkit.infra.serving.http_server.serve",
                        lambda cfg, *a, **kw: started.append(cfg))
    args = ["serve", TEMPLATE_CONFIG, "--set", f"push.registry={tmp_path}/models"]
    bad = CliRunner().invoke(main, args + ["--alias", "challenger"])
    assert bad.exit_code == 2 and not started
    assert "unknown model alias 'challenger'" in bad.output
    assert f"champion -> {v1}" in bad.output
    ok = CliRunner().invoke(main, args + ["--alias", "champion"])
    assert ok.exit_code == 0, ok.output
    assert started[0].serving.alias == "champion"
    assert "alias champion (no canary" in ok.output
