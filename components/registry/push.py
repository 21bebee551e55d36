"""The RegistryPusher's decision and push, in plain Python (tested without TFX).

A push needs BOTH a model blessing (the Evaluator's) and an infra blessing (the
InfraValidator's), each present and blessed; unlike TFX's stock Pusher, which pushes when
it is given no blessing input. Anything else is a refusal with the reason, recorded as
``pushed`` 0 on the PushedModel (the run does not fail: the model is simply not pushed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from tfxkit.components.registry.registry import Registry


@dataclass
class Gate:
    """One blessing input as the pusher sees it: absent (None) or blessed or not."""
    blessed: Optional[bool]
    reason: str = ""


@dataclass
class Outcome:
    pushed: bool
    reason: str
    version: Optional[str] = None
    path: Optional[str] = None
    sha256: Optional[str] = None
    trimmed: tuple = ()
    action: str = ""  # push | identical | restore (see Registry.publish_detailed); "" refused


def refusal(model_blessing: Optional[Gate], infra_blessing: Optional[Gate]) -> Optional[str]:
    """Why the model must not be pushed (None: it may)."""
    why = []
    if model_blessing is None or model_blessing.blessed is None:
        why.append("no model blessing: the Evaluator's blessing is required to push")
    elif not model_blessing.blessed:
        why.append("the model was not blessed by the Evaluator"
                   + (f" ({model_blessing.reason})" if model_blessing.reason else ""))
    if infra_blessing is None or infra_blessing.blessed is None:
        why.append("no infra blessing: a passed infra validation is required to push")
    elif not infra_blessing.blessed:
        why.append("infra validation failed"
                   + (f": {infra_blessing.reason}" if infra_blessing.reason else ""))
    return "; ".join(why) or None


def push(registry_path: str, model_dir: str, meta: Dict[str, Any],
         model_blessing: Optional[Gate], infra_blessing: Optional[Gate],
         keep_versions: int = 5, name: Optional[str] = None, by: Optional[str] = None,
         card: Optional[Callable[[str, Dict[str, Any]], Dict[str, bytes]]] = None
         ) -> Outcome:
    """Publishes ``model_dir`` when both gates passed; trims to ``keep_versions``. A model
    identical to the serving version is not pushed, once the serving version's folder is
    checked; a missing or changed one is restored from ``model_dir`` (pushed, saying so).
    ``card(version, record)``: the model card's files, put into the version's folder
    before it appears (``Registry.publish_detailed``'s ``extra``)."""
    why = refusal(model_blessing, infra_blessing)
    if why:
        return Outcome(False, why)
    reg = Registry(registry_path, name=name)
    done = reg.publish_detailed(model_dir, meta, by=by, extra=card)
    version = done.version
    rec = reg.get(version)
    trimmed = tuple(reg.trim(keep_versions, by=by)) if done.action == "push" else ()
    if done.action == "restore":  # the first note says what was restored and why
        return Outcome(True, "; ".join(done.notes), version, rec["path"], rec["sha256"],
                       action=done.action)
    also = f" ({'; '.join(done.notes)})" if done.notes else ""
    if done.action == "push":
        return Outcome(True, f"pushed as version {version}{also}", version, rec["path"],
                       rec["sha256"], trimmed, action=done.action)
    return Outcome(False, f"identical to the serving version {version} (same content "
                   f"hash, its folder checked): nothing new to push{also}", version,
                   rec["path"], rec["sha256"], action=done.action)
