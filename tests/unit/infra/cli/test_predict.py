"""``tfxkit predict`` and ``tfxkit predictions`` (``infra/cli/predict.py``): a store that
cannot be opened is one line naming it, no traceback, never its password."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
BIN = Path(sys.executable).parent / "tfxkit"


def test_predictions_command_names_the_store_without_a_traceback(tmp_path):
    case = tmp_path / "case"
    case.mkdir()
    (case / "config.yaml").write_text((ROOT / "templates/multiclass/config.yaml").read_text())
    folder = tmp_path / "store-is-a-folder"
    folder.mkdir()
    r = subprocess.run([str(BIN), "predictions", str(case / "config.yaml"), "--set",
                        f"inference.store={{sqlite: '{folder}'}}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert f"sqlite {folder}" in lines[0] and "unable to open database file" in lines[0]
    # a redis store that is down: one line naming it and its URL, never the password
    r = subprocess.run([str(BIN), "predictions", str(case / "config.yaml"), "--set",
                        "inference.store={redis: 'redis://u@127.0.0.1:1/0', "
                        "password_env: TFXKIT_TEST_STORE_PW}"],
                       capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TFXKIT_TEST_STORE_PW": "s3cret"})
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "redis redis://u@127.0.0.1:1/0" in r.stderr and "s3cret" not in r.stderr


def test_model_ref_picks_an_aliased_or_numbered_version(tmp_path, capsys):
    """--model-ref: the config's own inference model scored by an alias's (or a version's)
    folder; an unknown ref exits 2 naming the aliases and versions there are."""
    import pytest

    from tfxkit.components.registry.registry import Registry
    from tfxkit.infra.cli.predict import pushed_ref, with_model_ref
    from tfxkit.pipelines.config import load_config
    from tests.unit.components.registry.test_registry import model

    cfg = load_config(str(ROOT / "templates/multiclass/config.yaml"),
                      overrides=[f"push.registry={tmp_path}/models"])
    with pytest.raises(SystemExit) as e:
        pushed_ref(cfg, "champion")
    assert e.value.code == 1 and "has no model registry" in capsys.readouterr().err
    reg = Registry(cfg.registry_path, name=cfg.name)
    v1, _ = reg.publish(model(tmp_path, "a", b"1"), {"model_uri": "/nowhere/model"})
    v2, _ = reg.publish(model(tmp_path, "b", b"2"), {})
    reg.set_alias("champion", v1)
    serving = pushed_ref(cfg, v2)
    models = with_model_ref(cfg, {cfg.inference_models[0].name: serving}, "champion")
    [m] = models.values()
    assert m.version == v1 and m.path == reg.version_path(v1)
    assert m.model_uri == "/nowhere/model" and m.model_id == 0
    assert pushed_ref(cfg, v2).version == v2
    with pytest.raises(SystemExit) as e:
        pushed_ref(cfg, "challenger")
    err = capsys.readouterr().err
    assert e.value.code == 2 and "unknown model alias 'challenger'" in err
    assert f"champion -> {v1}" in err and v2 in err
    with pytest.raises(SystemExit) as e:
        pushed_ref(cfg, "42")
    assert e.value.code == 2 and "unknown model version '42'" in capsys.readouterr().err
