"""The lineage of a pushed model as plain dataclasses (what ``walk.model_lineage``
returns and ``render`` draws)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional


class LineageError(LookupError):
    """No pushed model (or not the one asked for), or a broken chain."""


@dataclass
class Step:
    """One component execution of the chain with the key facts of its outputs."""
    component: str              # node id, e.g. "Trainer"
    execution_id: Optional[int] = None
    state: Optional[str] = None  # COMPLETE / CACHED / ...
    run_id: Optional[str] = None
    started: Optional[float] = None   # seconds since the epoch
    elapsed_s: Optional[float] = None
    inputs: Dict[str, List[int]] = field(default_factory=dict)   # key -> artifact ids
    outputs: Dict[str, List[int]] = field(default_factory=dict)
    facts: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Lineage:
    pipeline: str
    model_version: str
    pushed_path: Optional[str]
    run_id: Optional[str]            # the run that pushed the model
    config_hash: Optional[str]
    git_commit: Optional[str]
    steps: List[Step] = field(default_factory=list)
    artifacts: Dict[int, Dict[str, Any]] = field(default_factory=dict)  # id -> type, uri, props
    runs: Dict[str, Dict[str, str]] = field(default_factory=dict)       # run id -> properties

    def step(self, component: str) -> Optional[Step]:
        return next((s for s in self.steps if s.component == component), None)

    def steps_of(self, component: str) -> List[Step]:
        return [s for s in self.steps if s.component == component]

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["artifacts"] = {str(k): v for k, v in self.artifacts.items()}
        return d
