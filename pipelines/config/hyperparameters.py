"""``hyperparameters:``: what HyperparametersGen hands the Trainer (issue 16): fixed
``values`` and an optional small ``search`` (a grid, ``strategy: first|random``, seeded).
They override the model section's values of the same name (``run_fn.merge_hyperparameters``);
other names reach a user's ``build_model``. Checked by the component's own rules
(``components/hyperparameters_gen/choose.py``), so the config refuses what the run would."""
from __future__ import annotations

from typing import Any, Dict, Optional

from pydantic import model_validator

from .base import _Strict


class Hyperparameters(_Strict):
    values: Dict[str, Any] = {}
    search: Optional[Dict[str, Any]] = None

    @model_validator(mode="after")
    def _check(self):
        from tfxkit.components.hyperparameters_gen import choose

        fixed = choose.validate(self.values, "hyperparameters.values")
        search = choose.validate_search(self.search, fixed) if self.search else None
        if not fixed and not search:
            raise ValueError("hyperparameters: give values, a search, or both")
        self.values, self.search = fixed, search
        return self
