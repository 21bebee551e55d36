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
pushed version is a canary: it takes a share of the requests, and its errors, latency and
labelled feedback (``POST /feedback``, ``feedback.py``) are compared with the stable
version's; ``canary_controller.py`` follows the registry and decides. The service built
from a config: ``service_config.py``.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from tfxkit.infra.canary import policy as policy_mod
from tfxkit.infra.canary.decision_log import DecisionLog
from tfxkit.infra.serving.arm import Arm, load_arm, split_outputs
from tfxkit.infra.serving.canary_controller import CanaryController, Rollout
from tfxkit.infra.serving.cpu_pool import CpuPool
from tfxkit.infra.serving.errors import InstanceError, ModelError, TooLarge
from tfxkit.infra.serving.examples import FeatureSpec, encode_instances
from tfxkit.infra.serving.choice_log import ChoiceLog
from tfxkit.infra.serving.feedback import FeedbackBook, score_feedback
from tfxkit.infra.serving.json_body import SHAPE, dumps, iter_instances, loads
from tfxkit.infra.serving.request_log import RequestLog

# Requests up to these sizes are parsed, encoded and answered on the event loop (cheaper
# than a thread hop); bigger ones in the service's CPU threads, a little at a time.
INLINE_BYTES = 256 * 1024
INLINE_INSTANCES = 256


class OnlineService:
    """The models behind ``POST /predict``: start-up, the request path, feedback.

    ``registry``: a ``Registry`` (its serving version is served; new versions become
    canaries when ``policy`` is given, else are followed directly: ``controller``).
    ``model_dir``: serve one SavedModel from a path instead (no registry, no canary)."""

    def __init__(self, name: str, registry=None, model_dir: Optional[str] = None,
                 policy: Optional[policy_mod.Policy] = None, log: Optional[DecisionLog] = None,
                 key_field: Optional[str] = None, max_batch_size: int = 256,
                 max_wait_ms: float = 2.0, poll_s: float = 10.0,
                 loader: Callable[..., Arm] = load_arm, seed: Optional[int] = None,
                 max_instances: Optional[int] = None, feedback_instances: int = 200_000,
                 cpu_threads: int = 2, scalar_features: Sequence[str] = (),
                 choices: Optional[ChoiceLog] = None,
                 requests: Optional[RequestLog] = None):
        if (registry is None) == (model_dir is None):
            raise ValueError("give a registry or a model_dir")
        self.max_instances = max_instances
        # features the config's transform reads as one value each (it takes a list's first
        # value): a list is refused, whatever the model's parse op (variable-length) says
        self.scalar_features = tuple(scalar_features)
        # parsing, encoding and answering big requests, off the event loop
        self.cpu = CpuPool(cpu_threads)
        self.name, self.model_dir, self.key_field = name, model_dir, key_field
        self.policy = policy  # its quality metric is each loaded version's
        self.max_batch_size, self.max_wait_ms = max_batch_size, max_wait_ms
        self.loader = loader
        self.controller = CanaryController(name, self._load, registry, policy, log,
                                           poll_s=poll_s, seed=seed)
        self.book = FeedbackBook(max_instances=feedback_instances)
        # a bandit policy's answered choices and their rewards, for the next round
        self.choices = choices
        # every answered request (sampled), for monitoring: request_log.py
        self.requests = requests
        # called with each model call's batch size (the /metrics histogram)
        self.on_batch: Optional[Callable[[int], None]] = None
        self._task: Optional[asyncio.Task] = None
        self._booted: Optional[asyncio.Event] = None  # set once start-up is over

    # the controller's state ------------------------------------------------------------
    @property
    def stable(self) -> Optional[Arm]:
        return self.controller.stable

    @property
    def rollout(self) -> Optional[Rollout]:
        return self.controller.rollout

    @property
    def decisions(self) -> List[Dict[str, Any]]:
        return self.controller.decisions

    @property
    def error(self) -> Optional[str]:
        """Why nothing is served yet."""
        return self.controller.error

    @error.setter
    def error(self, value: Optional[str]):
        self.controller.error = value

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
        arm.batcher.on_batch = self._batched
        # What is loaded by now (TensorFlow, the model: hundreds of thousands of objects)
        # lives as long as the process: out of the collector's sight, so that a full
        # collection, which a big request's objects set off, does not walk it all while
        # holding the GIL (250 ms with a 50 MB request, the event loop stopped meanwhile).
        import gc

        gc.freeze()
        return arm

    def _batched(self, n: int) -> None:
        if self.on_batch is not None:
            self.on_batch(n)

    async def start(self, wait: bool = False):
        """Loads the model and starts the controller in the background (the server
        accepts requests at once: /predict answers 503 until the model is loaded);
        ``wait``: return only once start-up is over (``wait_ready``)."""
        self.controller.lock = asyncio.Lock()
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
            self.controller.stable = await self._load(base if base.isdigit() else "local",
                                                      self.model_dir)
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
        for arm in {id(a): a for a in self.controller.arms()}.values():
            await arm.batcher.close()
        if self.choices is not None:
            await asyncio.to_thread(self.choices.close)  # what is queued gets written
        if self.requests is not None:
            await asyncio.to_thread(self.requests.close)
        self.cpu.shutdown()

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
        if self.model_dir is None:
            await self.controller.run()

    async def tick(self) -> Optional[Dict[str, Any]]:
        """One round of the controller: follow the registry, start a canary, or decide."""
        return await self.controller.tick()

    # requests ---------------------------------------------------------------------------
    def readiness(self) -> List[str]:
        """Why the service cannot answer /predict now (empty: it can)."""
        if self.stable is None:
            return [self.error or "no model loaded yet"]
        return [p for p in (a.problem() for a in self.controller.arms()) if p]

    def _arm(self) -> Arm:
        if self.stable is None:
            raise LookupError(self.error or "no model loaded yet")
        arm = self.controller.route()
        gone = arm.gone()
        if gone is not None and arm is not self.stable and self.stable.gone() is None:
            arm = self.stable  # the canary's folder is gone: the stable version answers
        elif gone is not None:
            raise LookupError(gone)  # 503 naming it, not a failed model call (500)
        return arm

    @property
    def _ignored(self) -> tuple:
        """Instance fields that are no model feature (the key)."""
        return (self.key_field,) if self.key_field else ()

    def arm_name(self, arm: Arm) -> str:
        """``stable`` or ``canary``: which of the rollout's versions ``arm`` is."""
        return "stable" if arm is self.stable else "canary"

    async def predict(self, body: Any, route: str = "/predict") -> Dict[str, Any]:
        """A /predict answer; raises InstanceError (400), TooLarge (413), ModelError (500)
        or LookupError (503: nothing to serve). ``route``: the route template that asked,
        for the request log."""
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
        if len(instances) <= INLINE_INSTANCES:
            examples, keys = encode_instances(instances, arm.spec, self._ignored,
                                              self.key_field)
        else:
            examples, keys = await self.cpu.call(encode_instances, instances, arm.spec,
                                                 self._ignored, self.key_field)
        logged = instances if self._sampled() else None
        return await self._score(arm, examples, keys, t0, as_bytes=False, route=route,
                                 logged_instances=logged)

    def _sampled(self) -> bool:
        return self.requests is not None and self.requests.sampled()

    async def predict_json(self, raw, route: str = "/predict") -> bytes:
        """``predict`` of a raw JSON body (bytes or bytearray), answered as JSON bytes. A
        small body is handled on the event loop; a big one is parsed and encoded one
        instance at a time in a CPU thread (never the whole document as Python objects),
        scored in chunks of the batcher's ``max_batch_size`` (other requests' batches run
        in between) and its answer serialized a chunk at a time."""
        if len(raw) <= INLINE_BYTES:
            body = loads(raw)
            return await self.predict_bytes(body, route)
        t0 = time.perf_counter()
        arm = self._arm()
        examples, keys = await self.cpu.call(_encode_raw, raw, arm.spec, self._ignored,
                                             self.key_field, self.max_instances)
        # a sampled big request: its instances are parsed again in the log's writer thread
        logged = raw if self._sampled() else None
        del raw
        return await self._score(arm, examples, keys, t0, as_bytes=True, route=route,
                                 logged_instances=logged)

    async def predict_bytes(self, body: Any, route: str = "/predict") -> bytes:
        return dumps(await self.predict(body, route))

    async def _call_model(self, arm: Arm, examples: List[bytes], t0: float) -> list:
        """The model's outputs for ``examples``, in chunks of the batcher's size; a failure
        counts against the version (latency window, failures in a row)."""
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
        return outs

    async def _score(self, arm: Arm, examples: List[bytes], keys: Optional[list], t0: float,
                     as_bytes: bool, route: str = "/predict", logged_instances: Any = None):
        outs = await self._call_model(arm, examples, t0)
        n = len(examples)
        logged = examples if self.choices is not None and arm.task == "bandit" else None
        del examples
        rid = uuid.uuid4().hex
        meta = {"model_version": arm.version, "request_id": rid, "model": self.name}
        answered: Optional[list] = [] if logged_instances is not None else None
        args = (arm, outs, keys, rid, meta, as_bytes, logged, answered)
        if n <= INLINE_INSTANCES:
            out = self._answer(*args)
        else:
            out = await self.cpu.call(self._answer, *args)
            # give the freed heap back once this request's objects are gone (the answer
            # is sent after this returns)
            loop = asyncio.get_running_loop()
            for delay in (0.0, 2.0):
                loop.call_later(delay, self.cpu.release_memory)
        latency_ms = (time.perf_counter() - t0) * 1000.0
        arm.window.record(latency_ms, ok=True)
        if answered is not None:  # the writer thread serializes them
            self.requests.log(rid, self.name, arm.version, self.arm_name(arm), route,
                              latency_ms, logged_instances, answered, self._ignored)
        return out

    def _answer(self, arm: Arm, outs: List[Dict[str, np.ndarray]], keys: Optional[list],
                rid: str, meta: Dict[str, Any], as_bytes: bool,
                logged: Optional[List[bytes]] = None, answered: Optional[list] = None):
        """The answer of a scored request (a dict, or JSON bytes serialized a chunk at a
        time), and its instances remembered for feedback (and, ``logged``: a bandit's
        choices written to the choice log with the examples they were made for)."""
        answers, preds, parts, chosen = [], [], [], []
        for out in outs:
            n = len(next(iter(out.values()))) if out else 0
            chunk = split_outputs(out, n)
            answers.extend(arm.answer_of(p) for p in chunk)
            if logged is not None:
                chosen.extend(chunk)
            if answered is not None:
                answered.extend(chunk)
            if as_bytes:
                parts.append(dumps(chunk)[1:-1])
            else:
                preds.extend(chunk)
        self.book.remember(rid, arm.version, answers, keys)
        if logged is not None:
            self.choices.choices(rid, arm.version, chosen, keys, logged)
        if not as_bytes:
            return {"predictions": preds, **meta}
        return b"".join([b'{"predictions":[', b",".join(p for p in parts if p), b"],",
                         dumps(meta)[1:]])

    def feedback(self, body: Any) -> Dict[str, Any]:
        """A /feedback answer (``feedback.score_feedback``)."""
        return score_feedback(self.book, self.controller.arms(), body,
                              self.choices.rewards if self.choices is not None else None)

    def status(self) -> Dict[str, Any]:
        """A /canary answer: the service's state and the controller's."""
        out: Dict[str, Any] = {"model": self.name, "error": self.error, "ready": self.ready,
                               "stable": None, "canary": None, "feedback_book": self.book.stats()}
        if self.choices is not None:
            out["choice_log"] = self.choices.stats()
        if self.requests is not None:
            out["request_log"] = self.requests.stats()
        out.update(self.controller.status())
        return out


def _encode_raw(raw, spec, ignore, key_field, max_instances):
    return encode_instances(iter_instances(raw, max_instances), spec, ignore, key_field)
