"""Online predictions from the model registry, with micro-batching and canary rollout.

``POST /predict`` takes raw features as JSON (TF Serving's row format)::

    {"instances": [{"bill_length_mm": 39.1, "island": "Torgersen", ...}, ...]}

Each instance becomes a serialized ``tf.Example`` typed by the model's own raw feature
spec (read from the ``tf.io.parse_example`` op inside its ``serving_default`` signature,
so it is exactly what the transform graph parses; missing features are allowed), and goes
through the pushed SavedModel (transform and model together). The answer::

    {"predictions": [{"class": "Adelie", "class_id": 0, "probabilities": [...]}, ...],
     "model_version": "1795425323", "request_id": "9f2c...", "model": "penguin-species"}

Requests that arrive together share one model call (``MicroBatcher``: up to
``max_batch_size`` instances, waiting at most ``max_wait_ms`` after the oldest one; while
a call runs the next batch gathers).

The model is the registry's serving version. With ``serving.canary`` configured, a newly
pushed version is a canary (``Rollout``): it takes a share of the requests, its errors,
latency and labelled feedback (``POST /feedback``) are compared with the stable version's
by ``infra/canary/policy.py``'s policy every ``interval_s``, and it is ramped, promoted (the
registry serves it) or rolled back (the registry's pointer returns to the stable version).
Every decision goes to the decision log with its evidence (``infra/canary/decision_log.py``).
"""
from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from tfxkit.infra.canary import policy as policy_mod
from tfxkit.infra.canary.decision_log import DecisionLog, decision_log_path, last_stable
from tfxkit.infra.canary.policy import policy_from_config
from tfxkit.infra.serving.arm import Arm, load_arm, split_outputs
from tfxkit.infra.serving.errors import InstanceError, ModelError, TooLarge
from tfxkit.infra.serving.examples import FeatureSpec, encode_instances
from tfxkit.infra.serving.feedback import FeedbackBook
from tfxkit.infra.serving.json_body import SHAPE, dumps, iter_instances, loads

# Requests up to these sizes are parsed, encoded and answered on the event loop (cheaper
# than a thread hop); bigger ones in the service's CPU threads, a little at a time.
INLINE_BYTES = 256 * 1024
INLINE_INSTANCES = 256


_trim_lock = threading.Lock()
_last_trim = [0.0]


def release_memory(min_interval_s: float = 1.0) -> None:
    """Gives freed heap back to the system after a big request (glibc keeps it
    otherwise: RSS that never comes down). At most once per ``min_interval_s``."""
    with _trim_lock:
        now = time.monotonic()
        if now - _last_trim[0] < min_interval_s:
            return
        _last_trim[0] = now
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


# -- the service ------------------------------------------------------------------------

class Rollout:
    """State of a canary: the stable and canary arms and the current step."""

    def __init__(self, canary: Arm, step: int = 0):
        self.canary, self.step = canary, step


class OnlineService:
    """The models behind ``POST /predict`` and the canary controller.

    ``registry``: a ``Registry`` (its serving version is served; new versions become
    canaries when ``policy`` is given, else are followed directly). ``model_dir``: serve
    one SavedModel from a path instead (no registry, no canary)."""

    def __init__(self, name: str, registry=None, model_dir: Optional[str] = None,
                 policy: Optional[policy_mod.Policy] = None, log: Optional[DecisionLog] = None,
                 key_field: Optional[str] = None, max_batch_size: int = 256,
                 max_wait_ms: float = 2.0, poll_s: float = 10.0,
                 loader: Callable[..., Arm] = load_arm, seed: Optional[int] = None,
                 max_instances: Optional[int] = None, feedback_instances: int = 200_000,
                 cpu_threads: int = 2, scalar_features: Sequence[str] = ()):
        if (registry is None) == (model_dir is None):
            raise ValueError("give a registry or a model_dir")
        self.max_instances = max_instances
        # features the config's transform reads as one value each (it takes a list's first
        # value): a list is refused, whatever the model's parse op (variable-length) says
        self.scalar_features = tuple(scalar_features)
        # parsing, encoding and answering big requests, off the event loop
        self._cpu_threads, self._cpu_pool = cpu_threads, None
        self.name, self.registry, self.model_dir = name, registry, model_dir
        self.policy, self.log, self.key_field = policy, log, key_field
        self.max_batch_size, self.max_wait_ms, self.poll_s = max_batch_size, max_wait_ms, poll_s
        self.loader = loader
        self.stable: Optional[Arm] = None
        self.rollout: Optional[Rollout] = None
        self.book = FeedbackBook(max_instances=feedback_instances)
        self.error: Optional[str] = None  # why nothing is served yet
        self._rng = random.Random(seed)
        self._task: Optional[asyncio.Task] = None
        self._lock: Optional[asyncio.Lock] = None
        self._booted: Optional[asyncio.Event] = None  # set once start-up is over
        self.decisions: List[Dict[str, Any]] = []  # this process's, newest last

    # lifecycle --------------------------------------------------------------------------
    async def _load(self, version: str, path: str) -> Arm:
        metric = self.policy.quality_metric if self.policy else None
        arm = await asyncio.to_thread(self.loader, version, path, self.max_batch_size,
                                      self.max_wait_ms, metric)
        if self.scalar_features:
            spec = arm.spec if isinstance(arm.spec, FeatureSpec) else FeatureSpec(arm.spec)
            for name in self.scalar_features:
                if name in spec:
                    spec.sizes.setdefault(name, 1)
            arm.spec = spec
        # What is loaded by now (TensorFlow, the model: hundreds of thousands of objects)
        # lives as long as the process: out of the collector's sight, so that a full
        # collection, which a big request's objects set off, does not walk it all while
        # holding the GIL (250 ms with a 50 MB request, the event loop stopped meanwhile).
        import gc

        gc.freeze()
        return arm

    async def start(self, wait: bool = False):
        """Loads the model and starts the controller in the background (the server
        accepts requests at once: /predict answers 503 until the model is loaded);
        ``wait``: return only once start-up is over (``wait_ready``)."""
        self._lock = asyncio.Lock()
        self._booted = asyncio.Event()
        self.error = "loading the model"
        self._task = asyncio.get_running_loop().create_task(self._loop())
        # a controller that ends before its first step (stopped at once) still ends start-up
        booted = self._booted  # this start's event, also if start() is called again
        self._task.add_done_callback(lambda _task: booted.set())
        if wait:
            await self.wait_ready()

    @property
    def ready(self) -> bool:
        """Start-up is over (see ``wait_ready``)."""
        return self._booted is not None and self._booted.is_set()

    async def wait_ready(self):
        """Returns once start-up is over: the serving version is loaded and, with a canary
        policy, the rollout decided (a version pushed while the server was down is loaded
        and its canary started), or ``error`` says why not. Not a poll of ``error``: that
        is cleared as soon as the stable version can serve, while the canary may still be
        loading."""
        if self._booted is None:
            raise RuntimeError("start() was not called")
        await self._booted.wait()

    async def _boot(self):
        if self.model_dir is not None:
            import os

            base = os.path.basename(os.path.normpath(self.model_dir))
            self.stable = await self._load(base if base.isdigit() else "local", self.model_dir)
            self.error = None
            return
        await self.tick()

    async def stop(self):
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # pylint: disable=broad-except
                pass
        for arm in {id(a): a for a in self._arms()}.values():
            await arm.batcher.close()
        if self._cpu_pool is not None:
            self._cpu_pool.shutdown(wait=False)

    def _arms(self) -> List[Arm]:
        return [a for a in (self.stable, self.rollout.canary if self.rollout else None) if a]

    async def _loop(self):
        booted = self._booted
        try:
            await self._boot()
        except asyncio.CancelledError:
            raise
        except Exception as e:  # pylint: disable=broad-except
            self.error = f"{type(e).__name__}: {e}"
        finally:
            booted.set()
        if self.model_dir is not None:
            return
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
                self.error = f"{type(e).__name__}: {e}"  # serving goes on with what it has

    def _record(self, record: Dict[str, Any]) -> Dict[str, Any]:
        record = {"model": self.name, **record}
        if self.log is not None:
            record = self.log.append(record)
        self.decisions.append(record)
        del self.decisions[:-1000]
        return record

    async def tick(self) -> Optional[Dict[str, Any]]:
        """One round of the controller: follow the registry, start a canary, or decide."""
        async with self._lock:
            return await self._tick()

    async def _tick(self):
        reg = self.registry
        index = await asyncio.to_thread(reg.index)
        serving = index.get("serving")
        versions = sorted(index.get("versions", {}), key=int)
        if self.stable is None:
            if serving is None:
                self.error = (f"the registry {reg.path} has no serving version yet: run "
                              "tfxkit run until a model is pushed")
                return None
            first = serving
            if self.policy is not None and self.log is not None:
                # a push while the server was down: start from what it ran (the log's
                # stable), so that the new version still goes through a canary
                last = await asyncio.to_thread(last_stable, self.log)
                if last in versions and int(last) < int(serving):
                    first = last
            self.stable = await self._load(first, reg.version_path(first))
            self.error = None
            if self.policy is None:
                return None
        S = self.stable.version
        if self.policy is None:  # no canary: follow the registry's pointer
            if serving is not None and serving != S:
                return await self._swap(serving, f"the registry now serves {serving}")
            return None
        if self.rollout is not None:
            return await self._decide()
        rejected = await asyncio.to_thread(self.log.rejected) if self.log else set()
        candidates = [v for v in versions if int(v) > int(S) and v not in rejected]
        if candidates:
            return await self._start_canary(candidates[-1], S)
        if serving is not None and serving != S:  # an operator's rollback or override
            return await self._swap(serving, f"the registry's serving pointer was moved to "
                                             f"{serving} (not a newer version: no canary)")
        return None

    async def _swap(self, version: str, reason: str):
        arm = await self._load(version, self.registry.version_path(version))
        old, self.stable = self.stable, arm
        rec = self._record({"action": policy_mod.FOLLOW, "stable": version,
                            "previous": old.version if old else None, "reasons": [reason]})
        if old is not None:
            await old.batcher.close()
        return rec

    async def _start_canary(self, version: str, stable: str):
        arm = await self._load(version, self.registry.version_path(version))
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
        ro = self.rollout
        d = policy_mod.decide(self.stable.window.stats(), ro.canary.window.stats(), ro.step,
                              self.policy)
        S, C = self.stable.version, ro.canary.version
        record = {"action": d.action, "stable": S, "canary": C, "step": d.step,
                  "share": d.share, "next_share": d.next_share, "reasons": d.reasons,
                  "evidence": {"stable": d.stable, "canary": d.canary, "margins": d.margins}}
        reason = f"canary {C} at {d.share:.0%}: " + "; ".join(d.reasons)
        if d.action == policy_mod.ROLLBACK:
            await asyncio.to_thread(self.registry.set_serving, S, reason, "tfxkit-canary",
                                    "rollback")
            self.rollout = None
            rec = self._record(record)
            await ro.canary.batcher.close()
            self.stable.reset()
            return rec
        if d.action == policy_mod.PROMOTE:
            await asyncio.to_thread(self.registry.set_serving, C, reason, "tfxkit-canary",
                                    "promote")
            old, self.stable, self.rollout = self.stable, ro.canary, None
            rec = self._record(record)
            await old.batcher.close()
            self.stable.reset()
            return rec
        if d.action == policy_mod.RAMP:
            ro.step = d.next_step
            self.stable.reset()
            ro.canary.reset()
        return self._record(record)

    # requests ---------------------------------------------------------------------------
    def _route(self) -> Arm:
        ro = self.rollout
        if ro is not None and self._rng.random() < self.policy.share(ro.step):
            return ro.canary
        return self.stable

    def readiness(self) -> List[str]:
        """Why the service cannot answer /predict now (empty: it can)."""
        if self.stable is None:
            return [self.error or "no model loaded yet"]
        return [p for p in (a.problem() for a in self._arms()) if p]

    def _arm(self) -> Arm:
        if self.stable is None:
            raise LookupError(self.error or "no model loaded yet")
        arm = self._route()
        gone = arm.gone()
        if gone is not None and arm is not self.stable and self.stable.gone() is None:
            arm = self.stable  # the canary's folder is gone: the stable version answers
        elif gone is not None:
            raise LookupError(gone)  # 503 naming it, not a failed model call (500)
        return arm

    @property
    def _cpu(self) -> ThreadPoolExecutor:
        if self._cpu_pool is None or self._cpu_pool._shutdown:
            self._cpu_pool = ThreadPoolExecutor(self._cpu_threads,
                                                thread_name_prefix="tfxkit-cpu")
        return self._cpu_pool

    def _release_memory(self):
        if self._cpu_pool is not None and not self._cpu_pool._shutdown:
            self._cpu_pool.submit(release_memory)

    async def _cpu_call(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._cpu, fn, *args)

    async def predict(self, body: Any) -> Dict[str, Any]:
        """A /predict answer; raises InstanceError (400), TooLarge (413), ModelError (500)
        or LookupError (503: nothing to serve)."""
        t0 = time.perf_counter()
        if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
            raise InstanceError(SHAPE)
        instances = body["instances"]
        if not instances:
            raise InstanceError("instances is empty")
        if self.max_instances is not None and len(instances) > self.max_instances:
            raise TooLarge(f"{len(instances)} instances in one request, more than "
                           f"{self.max_instances} (serving.max_instances): send them in parts")
        arm = self._arm()
        ignore = (self.key_field,) if self.key_field else ()
        if len(instances) <= INLINE_INSTANCES:
            examples, keys = encode_instances(instances, arm.spec, ignore, self.key_field)
        else:
            examples, keys = await self._cpu_call(encode_instances, instances, arm.spec,
                                                  ignore, self.key_field)
        return await self._score(arm, examples, keys, t0, as_bytes=False)

    async def predict_json(self, raw) -> bytes:
        """``predict`` of a raw JSON body (bytes or bytearray), answered as JSON bytes. A
        small body is handled on the event loop; a big one is parsed and encoded one
        instance at a time in a CPU thread (never the whole document as Python objects),
        scored in chunks of the batcher's ``max_batch_size`` (other requests' batches run
        in between) and its answer serialized a chunk at a time."""
        if len(raw) <= INLINE_BYTES:
            body = loads(raw)
            return await self.predict_bytes(body)
        t0 = time.perf_counter()
        arm = self._arm()
        ignore = (self.key_field,) if self.key_field else ()
        examples, keys = await self._cpu_call(_encode_raw, raw, arm.spec, ignore,
                                              self.key_field, self.max_instances)
        del raw
        return await self._score(arm, examples, keys, t0, as_bytes=True)

    async def predict_bytes(self, body: Any) -> bytes:
        return dumps(await self.predict(body))

    async def _score(self, arm: Arm, examples: List[bytes], keys: Optional[list], t0: float,
                     as_bytes: bool):
        size = arm.batcher.max_batch_size
        outs = []
        try:
            for start in range(0, len(examples), size):
                outs.append(await arm.batcher.submit(examples[start:start + size]))
        except ModelError as e:
            arm.window.record((time.perf_counter() - t0) * 1000.0, ok=False)
            arm.failures += 1
            arm.last_failure, arm.last_failure_at = str(e), time.monotonic()
            raise
        arm.failures = 0
        n = len(examples)
        del examples
        rid = uuid.uuid4().hex
        meta = {"model_version": arm.version, "request_id": rid, "model": self.name}
        args = (arm, outs, keys, rid, meta, as_bytes)
        if n <= INLINE_INSTANCES:
            out = self._answer(*args)
        else:
            out = await self._cpu_call(self._answer, *args)
            # give the freed heap back once this request's objects are gone (the answer
            # is sent after this returns)
            loop = asyncio.get_running_loop()
            for delay in (0.0, 2.0):
                loop.call_later(delay, self._release_memory)
        arm.window.record((time.perf_counter() - t0) * 1000.0, ok=True)
        return out

    def _answer(self, arm: Arm, outs: List[Dict[str, np.ndarray]], keys: Optional[list],
                rid: str, meta: Dict[str, Any], as_bytes: bool):
        """The answer of a scored request (a dict, or JSON bytes serialized a chunk at a
        time), and its instances remembered for feedback."""
        answers, preds, parts = [], [], []
        for out in outs:
            n = len(next(iter(out.values()))) if out else 0
            chunk = split_outputs(out, n)
            answers.extend(arm.answer_of(p) for p in chunk)
            if as_bytes:
                parts.append(dumps(chunk)[1:-1])
            else:
                preds.extend(chunk)
        self.book.remember(rid, arm.version, answers, keys)
        if not as_bytes:
            return {"predictions": preds, **meta}
        return b"".join([b'{"predictions":[', b",".join(p for p in parts if p), b"],",
                         dumps(meta)[1:]])

    def feedback(self, body: Any) -> Dict[str, Any]:
        items = body.get("feedback") if isinstance(body, dict) and "feedback" in body else body
        items = items if isinstance(items, list) else [items]
        accepted, duplicates, unknown, stale, errors = 0, 0, [], 0, []
        arms = {a.version: a for a in self._arms()}
        for i, item in enumerate(items):
            try:
                got = self.book.take(item)
            except KeyError as e:
                unknown.append(e.args[0])
                continue
            except LookupError:
                duplicates += 1
                continue
            except ValueError as e:
                errors.append(f"feedback[{i}]: {e}")
                continue
            for version, answer, label in got:
                arm = arms.get(version)
                if arm is None:
                    stale += 1  # the version is no longer loaded
                    continue
                try:
                    arm.window.add_feedback(answer, label)
                except (TypeError, ValueError):
                    errors.append(f"feedback[{i}]: label {label!r} is not a number")
                    continue
                accepted += 1
        return {"accepted": accepted, "duplicates": duplicates, "unknown": unknown,
                "not_counted": stale, "errors": errors}

    def status(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"model": self.name, "error": self.error, "ready": self.ready,
                               "stable": None, "canary": None, "feedback_book": self.book.stats()}
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


def _encode_raw(raw, spec, ignore, key_field, max_instances):
    return encode_instances(iter_instances(raw, max_instances), spec, ignore, key_field)


def service_from_config(cfg, model_dir: Optional[str] = None) -> OnlineService:
    from tfxkit.components.registry.registry import Registry

    s = cfg.serving
    key = cfg.inference.key if cfg.inference else None
    limits = dict(max_instances=s.max_instances, feedback_instances=s.feedback_instances)
    if cfg.features.module is None:  # the config's transform: one value per raw column
        limits["scalar_features"] = cfg.features.raw_columns()
    if model_dir:
        return OnlineService(cfg.name, model_dir=model_dir, key_field=key,
                             max_batch_size=s.max_batch_size, max_wait_ms=s.max_wait_ms,
                             **limits)
    policy = policy_from_config(cfg)
    return OnlineService(cfg.name, registry=Registry(cfg.registry_path, name=cfg.name),
                         policy=policy, log=DecisionLog(decision_log_path(cfg)),
                         key_field=key, max_batch_size=s.max_batch_size,
                         max_wait_ms=s.max_wait_ms, poll_s=s.poll_s, **limits)
