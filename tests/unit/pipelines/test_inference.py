"""The batch-inference pipeline's inputs (pipelines/inference.py): the model it scores with."""
import pytest

from tfxkit.components.registry.registry import Registry
from tests.unit.components.registry.test_registry import model


def test_batch_inference_uses_the_registry_serving_version(tmp_path):
    """latest_pushed_model: the registry's serving version (a rollback changes it), no
    MLMD needed; an unknown or missing registry falls back to MLMD (none here: an error)."""
    import shutil
    from pathlib import Path

    from tfxkit.pipelines.config import load_config
    from tfxkit.pipelines.inference import InferenceError, latest_pushed_model

    src = Path(__file__).resolve().parents[3] / "templates" / "multiclass" / "config.yaml"
    case = tmp_path / "case"
    case.mkdir()
    shutil.copy(src, case / "config.yaml")
    cfg = load_config(case / "config.yaml", overrides=["push.registry=reg"])
    with pytest.raises(InferenceError, match="no pushed model yet"):
        latest_pushed_model(cfg)
    reg = Registry(str(case / "reg"))
    v1, _ = reg.publish(model(tmp_path, "a", b"1"), {"model_uri": "/x/Trainer/model/1"})
    v2, _ = reg.publish(model(tmp_path, "b", b"2"), {})
    got = latest_pushed_model(cfg)
    assert (got.version, got.path, got.model_id) == (v2, str(case / "reg" / v2), 0)
    reg.set_serving(v1)
    got = latest_pushed_model(cfg)
    assert (got.version, got.model_uri) == (v1, "/x/Trainer/model/1")
