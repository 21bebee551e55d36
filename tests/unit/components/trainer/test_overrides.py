"""The Trainer's run-time overrides (``trainer/overrides.py``): the runtime parameters of a
Kubeflow / Vertex run applied to the model section (0: the config's value)."""
import pytest


def test_trainer_overrides():
    from tfxkit.components.trainer.overrides import apply

    base = {"task": "multiclass", "model": {"epochs": 30, "steps": None,
                                            "learning_rate": 0.01}}
    assert apply(base, epochs=0, train_steps=0, learning_rate=0.0) == base
    out = apply(base, epochs=5, train_steps=200, learning_rate=0.003)
    assert out["model"] == {"epochs": 5, "steps": 200, "learning_rate": 0.003}
    assert base["model"]["epochs"] == 30  # a copy
    with pytest.raises(ValueError, match="epochs"):
        apply(base, epochs=-1)
