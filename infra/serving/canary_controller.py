"""The canary controller of the online service: which model versions answer ``POST /predict``.

It follows the model registry one round (``tick``) at a time, every ``poll_s`` seconds
(``policy.interval_s`` while a canary runs): the first round loads the registry's serving
version as the stable one. Without a canary policy a later round follows the registry's
serving pointer. With one, a version newer than the stable one becomes a canary
(``Rollout``) taking a share of the requests, and each round ``infra/canary/policy.py``
compares its live signals with the stable version's: hold, ramp to the next share,
promote it (the registry serves it) or roll it back (the registry's pointer returns to the
stable version). Every decision goes to the decision log with its evidence
(``infra/canary/decision_log.py``), to ``decisions`` and to ``on_decision`` when set (the
config's alerts: ``infra/alerts``' ``decision_alerter`` fires ``canary_rollback``).
"""
from __future__ import annotations

import asyncio
import random
from typing import Any, Awaitable, Callable, Dict, List, Optional

from tfxkit.infra.canary import policy as policy_mod
from tfxkit.infra.canary.decision_log import DecisionLog, last_stable
from tfxkit.infra.serving.arm import Arm


class Rollout:
    """State of a canary: the stable and canary arms and the current step."""

    def __init__(self, canary: Arm, step: int = 0):
        self.canary, self.step = canary, step


class CanaryController:
    """The loaded versions of an ``OnlineService``: ``stable``, the canary's ``rollout``,
    ``error`` (why nothing is served yet) and this process's ``decisions`` (newest last).

    ``load(version, path)``: a coroutine that loads a version as an ``Arm``. ``registry``:
    what is followed (None: the service serves one SavedModel from a path, loaded once
    into ``stable``). ``policy``: canary rollout (None: the serving pointer is followed);
    ``log``: the decision log. ``seed``: of the draw that routes a request to the canary.
    ``on_decision(record)``: called with each decision recorded; it must not block (an
    alert sends in a thread of its own), and what it raises is ignored."""

    def __init__(self, name: str, load: Callable[[str, str], Awaitable[Arm]], registry=None,
                 policy: Optional[policy_mod.Policy] = None, log: Optional[DecisionLog] = None,
                 poll_s: float = 10.0, seed: Optional[int] = None):
        self.name, self.load, self.registry = name, load, registry
        self.policy, self.log, self.poll_s = policy, log, poll_s
        self.stable: Optional[Arm] = None
        self.rollout: Optional[Rollout] = None
        self.error: Optional[str] = None
        self.decisions: List[Dict[str, Any]] = []
        self.lock: Optional[asyncio.Lock] = None  # one round at a time; set by the service
        self.on_decision: Optional[Callable[[Dict[str, Any]], Any]] = None
        self._rng = random.Random(seed)

    def arms(self) -> List[Arm]:
        """The loaded versions: the stable one, and the canary during a rollout."""
        return [a for a in (self.stable, self.rollout.canary if self.rollout else None) if a]

    def route(self) -> Arm:
        """The version that answers the next request: the canary for its share."""
        ro = self.rollout
        if ro is not None and self._rng.random() < self.policy.share(ro.step):
            return ro.canary
        return self.stable

    async def run(self):
        """Rounds until cancelled, every ``poll_s`` seconds (``policy.interval_s`` while a
        canary runs); a failed round is in ``error`` and serving goes on with what it has."""
        while True:
            wait = self.policy.interval_s if (self.rollout and self.policy) else self.poll_s
            await asyncio.sleep(wait)
            try:
                await self.tick()
                if self.stable is not None:
                    self.error = None
            except asyncio.CancelledError:
                raise
            except Exception as e:  # pylint: disable=broad-except
                self.error = f"{type(e).__name__}: {e}"

    async def tick(self) -> Optional[Dict[str, Any]]:
        """One round: follow the registry, start a canary, or decide. Returns the decision
        recorded (None: nothing to decide)."""
        async with self.lock:
            return await self._tick()

    async def _tick(self):
        index = await asyncio.to_thread(self.registry.index)
        serving = index.get("serving")
        versions = sorted(index.get("versions", {}), key=int)
        if self.stable is None:
            if not await self._load_first(serving, versions) or self.policy is None:
                return None
        if self.policy is None:  # no canary: follow the registry's pointer
            if serving is not None and serving != self.stable.version:
                return await self._swap(serving, f"the registry now serves {serving}")
            return None
        if self.rollout is not None:
            return await self._decide()
        return await self._next_canary(serving, versions)

    async def _load_first(self, serving: Optional[str], versions: List[str]) -> bool:
        """Loads the first stable version (False, with ``error`` saying why, when the
        registry serves none yet)."""
        if serving is None:
            self.error = (f"the registry {self.registry.path} has no serving version yet: run "
                          "tfxkit run until a model is pushed")
            return False
        first = serving
        if self.policy is not None and self.log is not None:
            # a push while the server was down: start from what it ran (the log's
            # stable), so that the new version still goes through a canary
            last = await asyncio.to_thread(last_stable, self.log)
            if last in versions and int(last) < int(serving):
                first = last
        self.stable = await self.load(first, self.registry.version_path(first))
        self.error = None
        return True

    async def _next_canary(self, serving: Optional[str], versions: List[str]):
        """Without a rollout: the newest version newer than the stable one and never
        rejected becomes the canary; else an operator's move of the pointer is followed."""
        S = self.stable.version
        rejected = await asyncio.to_thread(self.log.rejected) if self.log else set()
        candidates = [v for v in versions if int(v) > int(S) and v not in rejected]
        if candidates:
            return await self._start_canary(candidates[-1], S)
        if serving is not None and serving != S:  # an operator's rollback or override
            return await self._swap(serving, f"the registry's serving pointer was moved to "
                                             f"{serving} (not a newer version: no canary)")
        return None

    def _record(self, record: Dict[str, Any]) -> Dict[str, Any]:
        record = {"model": self.name, **record}
        if self.log is not None:
            record = self.log.append(record)
        self.decisions.append(record)
        del self.decisions[:-1000]
        if self.on_decision is not None:
            try:
                self.on_decision(record)
            except Exception:  # pylint: disable=broad-except  (an alert never stops a rollout)
                pass
        return record

    async def _swap(self, version: str, reason: str):
        arm = await self.load(version, self.registry.version_path(version))
        old, self.stable = self.stable, arm
        rec = self._record({"action": policy_mod.FOLLOW, "stable": version,
                            "previous": old.version if old else None, "reasons": [reason]})
        if old is not None:
            await old.batcher.close()
        return rec

    async def _start_canary(self, version: str, stable: str):
        arm = await self.load(version, self.registry.version_path(version))
        reason = (f"version {version} is newer than the serving {stable}: canary at "
                  f"{self.policy.share(0):.0%} of requests")
        index = await asyncio.to_thread(self.registry.index)
        if index.get("serving") != stable:  # the push moved the pointer; it moves on promotion
            await asyncio.to_thread(self.registry.set_serving, stable,
                                    f"canary of {version} started; {stable} serves until "
                                    f"{version} is promoted", "tfxkit-canary", "canary")
        self.rollout = Rollout(arm, 0)
        self.stable.reset(self.policy.quality_metric)
        arm.reset(self.policy.quality_metric)
        return self._record({"action": policy_mod.START, "stable": stable, "canary": version,
                             "step": 0, "share": self.policy.share(0),
                             "next_share": self.policy.share(0), "reasons": [reason],
                             "evidence": {"margins": self.policy.margins()}})

    async def _decide(self):
        """The policy's decision on the canary's step, carried out and recorded."""
        ro = self.rollout
        d = policy_mod.decide(self.stable.window.stats(), ro.canary.window.stats(), ro.step,
                              self.policy)
        S, C = self.stable.version, ro.canary.version
        record = {"action": d.action, "stable": S, "canary": C, "step": d.step,
                  "share": d.share, "next_share": d.next_share, "reasons": d.reasons,
                  "evidence": {"stable": d.stable, "canary": d.canary, "margins": d.margins}}
        reason = f"canary {C} at {d.share:.0%}: " + "; ".join(d.reasons)
        if d.action == policy_mod.ROLLBACK:
            return await self._roll_back(record, reason)
        if d.action == policy_mod.PROMOTE:
            return await self._promote(record, reason)
        if d.action == policy_mod.RAMP:
            ro.step = d.next_step
            self.stable.reset()
            ro.canary.reset()
        return self._record(record)

    async def _roll_back(self, record: Dict[str, Any], reason: str):
        """The registry serves the stable version again; the canary is unloaded."""
        canary = self.rollout.canary
        await asyncio.to_thread(self.registry.set_serving, self.stable.version, reason,
                                "tfxkit-canary", "rollback")
        self.rollout = None
        rec = self._record(record)
        await canary.batcher.close()
        self.stable.reset()
        return rec

    async def _promote(self, record: Dict[str, Any], reason: str):
        """The registry serves the canary, now the stable version; the old one is unloaded."""
        canary = self.rollout.canary
        await asyncio.to_thread(self.registry.set_serving, canary.version, reason,
                                "tfxkit-canary", "promote")
        old, self.stable, self.rollout = self.stable, canary, None
        rec = self._record(record)
        await old.batcher.close()
        self.stable.reset()
        return rec

    def status(self) -> Dict[str, Any]:
        """The stable and canary versions with their live signals, the policy and the
        last decision (``GET /canary``)."""
        out: Dict[str, Any] = {"stable": None, "canary": None}
        if self.stable is not None:
            out["stable"] = {"version": self.stable.version,
                             **self.stable.window.stats().evidence(),
                             "batching": self.stable.batcher.stats()}
        if self.rollout is not None:
            c = self.rollout.canary
            out["canary"] = {"version": c.version, "step": self.rollout.step,
                             "share": self.policy.share(self.rollout.step),
                             **c.window.stats().evidence(), "batching": c.batcher.stats()}
        if self.policy is not None:
            out["policy"] = self.policy.margins() | {"steps": self.policy.final_steps,
                                                     "interval_s": self.policy.interval_s}
        out["last_decision"] = self.decisions[-1] if self.decisions else None
        return out
