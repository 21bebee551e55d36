"""The registry's history: events (who did what to which version, when), numbered,
merged from the index and the version records without repeats."""
from __future__ import annotations

import datetime
import getpass
import json
import socket
from typing import Any, Dict, List, Optional

# history actions that do not change the serving pointer (every other one points it at
# the event's version: push, restore, rollback, promote, canary, rebuild, repair); alias
# and unalias set and remove an alias (the event's ``alias``) on the event's version
NOT_SERVING_ACTIONS = ("trim", "adopt", "alias", "unalias")
ALIAS_ACTIONS = ("alias", "unalias")
HISTORY_MAX = 1000  # history entries kept in the index


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def default_by() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # pylint: disable=broad-except
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def event_key(e: Dict[str, Any]):
    """History order: time, then the registry's event number."""
    n = e.get("n")
    return (str(e.get("at") or ""), n if isinstance(n, int) else 0)


def merge_events(events) -> List[Dict[str, Any]]:
    """The events without repeats, oldest first."""
    seen, out = set(), []
    for e in events:
        k = json.dumps(e, sort_keys=True, default=str)
        if k not in seen:
            seen.add(k)
            out.append(e)
    return sorted(out, key=event_key)


def add_event(index: Dict[str, Any], action: str, version: Optional[str],
              by: Optional[str] = None, at: Optional[str] = None, **extra) -> Dict[str, Any]:
    n = max((e["n"] for e in index["history"] if isinstance(e.get("n"), int)), default=0)
    e = {"at": at or now(), "n": n + 1, "action": action, "version": version,
         "by": by or default_by(), **extra}
    index["history"].append(e)
    return e
