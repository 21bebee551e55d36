"""Labelled feedback (``POST /feedback``): which version answered each request and what
it predicted, so that a label is scored against the version that answered."""
from __future__ import annotations

import collections
import math
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple


# -- feedback accounting ----------------------------------------------------------------

class FeedbackBook:
    """Which version answered each request (and key) and what it predicted, for labelled
    feedback; the newest ``capacity`` requests, and at most ``max_instances`` instances
    in all, are remembered (a request with more instances than that is not). One label
    per instance. Thread-safe (big requests are remembered from a worker thread)."""

    def __init__(self, capacity: int = 200_000, max_instances: int = 200_000):
        self.capacity, self.max_instances = capacity, max_instances
        self._req: "collections.OrderedDict[str, Tuple[str, list, list]]" = \
            collections.OrderedDict()
        self._keys: Dict[str, Tuple[str, int]] = {}
        self.instances = 0
        self._lock = threading.Lock()

    def remember(self, request_id: str, version: str, answers: list,
                 keys: Optional[list]) -> bool:
        """False when the request alone has more instances than the book holds. The lock
        is held a slice of keys at a time: the event loop (``take``) never waits long
        for a big request being remembered in a worker thread."""
        n = len(answers)
        if n > self.max_instances:
            return False
        skeys = [None if k is None else str(k) for k in keys] if keys else None
        entry = (version, list(answers), [False] * n, skeys)
        with self._lock:
            self._req[request_id] = entry
            self.instances += n
            evicted = []
            while len(self._req) > self.capacity or self.instances > self.max_instances:
                rid, old = self._req.popitem(last=False)
                self.instances -= len(old[1])
                evicted.append((rid, old[3]))
        step = 4096
        for start in range(0, len(skeys or ()), step):
            with self._lock:
                for i in range(start, min(start + step, len(skeys))):
                    if skeys[i] is not None:
                        self._keys[skeys[i]] = (request_id, i)
        for rid, old_keys in evicted:
            for start in range(0, len(old_keys or ()), step):
                with self._lock:
                    for k in old_keys[start:start + step]:
                        if k is not None and self._keys.get(k, (None,))[0] == rid:
                            del self._keys[k]
        return True

    def __len__(self):
        return len(self._req)

    def stats(self) -> Dict[str, int]:
        return {"requests": len(self._req), "instances": self.instances,
                "keys": len(self._keys), "max_instances": self.max_instances}

    def take(self, item: Dict[str, Any]) -> List[Tuple[str, Any, Any]]:
        """(version, answer, label) for each labelled instance of a feedback item; raises
        KeyError (unknown request or key), LookupError (already labelled) or ValueError."""
        return [t[:3] for t in self.take_refs(item)]

    def take_refs(self, item: Dict[str, Any]) -> List[Tuple[str, Any, Any, str, int]]:
        """``take``, each with the request id and instance index it labels."""
        if not isinstance(item, dict):
            raise ValueError(f"a feedback item is an object, got {type(item).__name__}")
        for field in ("request_id", "key"):
            v = item.get(field)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (str, int))):
                raise ValueError(f"{field} is a string; got {type(v).__name__} {v!r:.60}")
        if "index" in item and (isinstance(item["index"], bool)
                                or not isinstance(item["index"], int)):
            raise ValueError(f"index is an integer; got {item['index']!r:.60}")
        with self._lock:
            return self._take(item)

    def _take(self, item: Dict[str, Any]) -> List[Tuple[str, Any, Any]]:
        if "key" in item and "request_id" not in item:
            ref = self._keys.get(str(item["key"]))
            if ref is None or ref[0] not in self._req:
                raise KeyError(f"key {item['key']!r}")
            rid, idx = ref
            labels = {idx: item.get("label")}
        else:
            rid = item.get("request_id")
            if rid is None:
                raise ValueError("a feedback item needs request_id or key")
            rid = str(rid)
            if rid not in self._req:
                raise KeyError(f"request_id {rid!r}")
            n = len(self._req[rid][1])
            if "labels" in item:
                if not isinstance(item["labels"], list) or len(item["labels"]) != n:
                    raise ValueError(f"request {rid} had {n} instance(s); labels must be a "
                                     "list of as many")
                labels = dict(enumerate(item["labels"]))
            elif "index" in item:
                idx = item["index"]
                if not isinstance(idx, int) or not 0 <= idx < n:
                    raise ValueError(f"index {idx!r} is out of range for request {rid} "
                                     f"({n} instance(s))")
                labels = {idx: item.get("label")}
            else:
                if n != 1:
                    raise ValueError(f"request {rid} had {n} instances: give labels (a list) "
                                     "or index")
                labels = {0: item.get("label")}
        version, answers, seen, _ = self._req[rid]
        out = []
        for idx, label in labels.items():
            if label is None:
                continue
            if seen[idx]:
                raise LookupError(f"request {rid} instance {idx} already has feedback")
            seen[idx] = True
            out.append((version, answers[idx], label, rid, idx))
        return out


def score_feedback(book: FeedbackBook, arms: List[Any], body: Any,
                   labelled: Optional[Callable[[List[Tuple[str, int, Any]]], None]] = None
                   ) -> Dict[str, Any]:
    """A ``POST /feedback`` body (one item, a list, or ``{"feedback": [...]}``) taken from
    the book and each label added to the live signals of the loaded version (an ``Arm``)
    that answered; the counts of what was accepted and why the rest was not.
    ``labelled``: called once with (request_id, index, label) of every numeric label
    taken, also of a version no longer loaded (a bandit's rewards: the choice log)."""
    items = body.get("feedback") if isinstance(body, dict) and "feedback" in body else body
    items = items if isinstance(items, list) else [items]
    accepted, duplicates, unknown, stale, errors = 0, 0, [], 0, []
    by_version = {a.version: a for a in arms}
    taken: List[Tuple[str, int, Any]] = []
    for i, item in enumerate(items):
        try:
            got = book.take_refs(item)
        except KeyError as e:
            unknown.append(e.args[0])
            continue
        except LookupError:
            duplicates += 1
            continue
        except ValueError as e:
            errors.append(f"feedback[{i}]: {e}")
            continue
        for version, answer, label, rid, idx in got:
            if labelled is not None and _number(label):
                taken.append((rid, idx, label))
            arm = by_version.get(version)
            if arm is None:
                stale += 1  # the version is no longer loaded
                continue
            try:
                arm.window.add_feedback(answer, label)
            except (TypeError, ValueError):
                errors.append(f"feedback[{i}]: label {label!r} is not a number")
                continue
            accepted += 1
    if taken:
        labelled(taken)
    return {"accepted": accepted, "duplicates": duplicates, "unknown": unknown,
            "not_counted": stale, "errors": errors}


def _number(x: Any) -> bool:
    """A JSON number (not a bool), finite: what a reward is."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
