"""What an alert says: ``Alert`` (the kind, a title, a message, and where known the use
case, run id and model version, plus details), its text body and its JSON fields."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from tfxkit.pipelines.config.alerts import KINDS

# apprise's notify types: how a chat client colours the alert
_SEVERITY = {"failed_run": "failure", "not_blessed": "warning", "canary_rollback": "warning",
             "skew": "warning", "drift": "warning"}


@dataclass
class Alert:
    kind: str
    title: str
    message: str
    use_case: Optional[str] = None
    run_id: Optional[str] = None
    model_version: Optional[str] = None
    details: Dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        """apprise's notify type: ``failure`` or ``warning``."""
        return _SEVERITY[self.kind]

    def full_title(self) -> str:
        """``[tfxkit penguin-species] failed_run: Run failed in Trainer``."""
        who = f"tfxkit {self.use_case}" if self.use_case else "tfxkit"
        return f"[{who}] {self.kind}: {self.title}"

    def body(self) -> str:
        """The message, then one line per known fact and detail (what a chat shows)."""
        lines = [self.message]
        facts = [("use case", self.use_case), ("run", self.run_id),
                 ("model version", self.model_version)]
        lines += [f"{k}: {v}" for k, v in facts if v is not None]
        lines += [f"{k}: {_text(v)}" for k, v in self.details.items()]
        return "\n".join(lines)

    def fields(self) -> Dict[str, Any]:
        """The fields a JSON webhook gets beside apprise's own (version, title, message,
        type): ``kind``, ``use_case``, ``run_id``, ``model_version``, ``details``."""
        return {"kind": self.kind, "use_case": self.use_case, "run_id": self.run_id,
                "model_version": self.model_version, "details": _jsonable(self.details)}


def build(kind: str, title: str, message: str, details: Optional[Dict[str, Any]] = None,
          use_case: Optional[str] = None, run_id: Optional[str] = None,
          model_version: Optional[str] = None) -> Alert:
    """An ``Alert``; an unknown kind is a ValueError naming the kinds."""
    if kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}; the kinds: {', '.join(KINDS)}")
    return Alert(kind, str(title), str(message), use_case,
                 None if run_id is None else str(run_id),
                 None if model_version is None else str(model_version), dict(details or {}))


def _text(v) -> str:
    j = _jsonable(v)
    return j if isinstance(j, str) else json.dumps(j, sort_keys=True)


def _jsonable(v):
    """``v`` with anything JSON cannot hold as its ``str``."""
    return json.loads(json.dumps(v, default=str))
