"""``card:`` (optional): what a person says about the model on its model card (issue 20).
Every pushed version gets a card (``components/model_card``) whether or not this section
exists; these fields fill its "intended use" part."""
from __future__ import annotations

from typing import List, Optional

from pydantic import field_validator

from .base import _Strict


class Card(_Strict):
    overview: Optional[str] = None
    intended_use: Optional[str] = None
    limitations: Optional[str] = None
    owners: List[str] = []
    ethical_considerations: Optional[str] = None
    references: List[str] = []  # URLs

    @field_validator("references")
    @classmethod
    def _urls(cls, v):
        for u in v:
            if not u.startswith(("http://", "https://")):
                raise ValueError(f"{u!r}: a reference is a http(s) URL")
        return v
