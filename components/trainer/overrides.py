"""Per-run training parameters merged into the Trainer's ``custom_config`` (no TFX here).

``epochs``, ``train_steps`` and ``learning_rate`` are exec properties of tfxkit's Trainer,
so an orchestrator can set them per run (Kubeflow V2 / Vertex runtime parameters). A
value of 0 (or None) keeps the config's; ``train_steps`` > 0 caps training at that many
steps in all.
"""
from __future__ import annotations

import copy
from typing import Any, Dict, Optional

PARAMETERS = ("epochs", "train_steps", "learning_rate")


def apply(custom_config: Dict[str, Any], epochs: Optional[int] = None,
          train_steps: Optional[int] = None,
          learning_rate: Optional[float] = None) -> Dict[str, Any]:
    """A copy of ``custom_config`` with the given per-run values in ``model``."""
    out = copy.deepcopy(custom_config or {})
    model = out.setdefault("model", {})
    for name, value in (("epochs", epochs), ("train_steps", train_steps),
                        ("learning_rate", learning_rate)):
        if value is None or value == 0:
            continue
        if value < 0:
            raise ValueError(f"{name} must be positive, got {value}")
        if name == "epochs":
            model["epochs"] = int(value)
        elif name == "train_steps":
            model["steps"] = int(value)
        else:
            model["learning_rate"] = float(value)
    return out
