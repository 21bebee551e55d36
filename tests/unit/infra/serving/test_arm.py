"""A model's outputs split into one answer per instance (infra/serving/arm.py)."""
import json

import numpy as np
import pytest

from tfxkit.infra.serving.arm import split_outputs


def test_split_outputs():
    out = split_outputs({"class": np.array([[b"A"], [b"B"]]), "class_id": np.array([[0], [1]]),
                         "probabilities": np.array([[0.9, 0.1], [0.2, 0.8]], np.float32)}, 2)
    assert out[1]["class"] == "B" and out[1]["class_id"] == 1
    assert out[0]["probabilities"] == pytest.approx([0.9, 0.1])
    json.dumps(out)


def test_split_outputs_decodes_rows_of_text():
    """A bandit policy's ranked actions: [n, k] bytes (object or fixed-width) become lists
    of text, JSON-serializable (the online answer was a 500 on them)."""
    ranked = np.array([[b"deals", b"trending"], [b"trending", b"deals"]], dtype=object)
    for arr in (ranked, ranked.astype("S")):
        out = split_outputs({"ranked_actions": arr, "action": np.array([[b"deals"], [b"x"]],
                                                                        dtype=object)}, 2)
        assert out[1]["ranked_actions"] == ["trending", "deals"]
        assert out[0]["action"] == "deals"
        json.dumps(out)


def test_a_policys_outputs_make_a_bandit_arm_scored_by_reward():
    from tfxkit.infra.serving.arm import Arm

    outs = ["action", "action_id", "action_probabilities", "propensity", "ranked_actions",
            "scores"]
    arm = Arm("1", "", lambda x: x, {}, outs, metric="reward")
    assert arm.task == "bandit"
    assert arm.answer_of({"action": "deals", "propensity": 0.8, "scores": [1]}) == \
        ("deals", 0.8)
    assert Arm("1", "", lambda x: x, {}, ["class", "class_id"]).task == "classification"
