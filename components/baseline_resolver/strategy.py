"""LatestBlessedBaselineStrategy.

Stock ``LatestBlessedModelStrategy`` returns the latest blessed model, which after a
first run is the candidate itself: a second identical run then re-evaluates the model
against itself and pushes it again. This strategy also receives the candidate (the
Trainer's output) and returns the latest blessed model *other than* the candidate, so
an identical re-run resolves the same (empty) baseline as before and is fully cached.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.components.common import resolver
from tfx.types import standard_artifacts

CANDIDATE = "candidate"
MODEL = "model"
BLESSING = "model_blessing"


def latest_blessed_other_than(models: List[types.Artifact], blessings: List[types.Artifact],
                              candidate_ids: set) -> Dict[str, List[types.Artifact]]:
    blessed = {b.get_int_custom_property("current_model_id"): b for b in blessings
               if b.get_int_custom_property("blessed") == 1}
    for model in sorted(models, key=lambda a: a.id, reverse=True):
        if model.id in blessed and model.id not in candidate_ids:
            return {MODEL: [model], BLESSING: [blessed[model.id]]}
    return {MODEL: [], BLESSING: []}


class LatestBlessedBaselineStrategy(resolver.ResolverStrategy):
    """Inputs: ``model`` (all models), ``model_blessing`` (all blessings), ``candidate``."""

    def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        for key, kind in ((MODEL, standard_artifacts.Model),
                          (BLESSING, standard_artifacts.ModelBlessing)):
            for a in input_dict.get(key, []):
                if not isinstance(a, kind):
                    raise RuntimeError(f"{key}: expected {kind.TYPE_NAME}, got {a.type_name}")
        candidates = {a.id for a in input_dict.get(CANDIDATE, [])}
        result = latest_blessed_other_than(input_dict.get(MODEL, []),
                                           input_dict.get(BLESSING, []), candidates)
        result[CANDIDATE] = list(input_dict.get(CANDIDATE, []))
        return result
