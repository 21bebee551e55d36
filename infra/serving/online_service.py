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
import base64
import collections
import json
import math
import os
import random
import re
import struct
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfxkit.components.common.records import field, varint
from tfxkit.infra.canary import policy as policy_mod
from tfxkit.infra.canary.decision_log import DecisionLog


class InstanceError(ValueError):
    """A request the server cannot turn into examples (a 400 naming what is wrong)."""


class TooLarge(InstanceError):
    """A request over a limit (a 413 naming the limit)."""


class ModelError(RuntimeError):
    """The model failed on a batch (a 500 naming the version)."""


# Requests up to these sizes are parsed, encoded and answered on the event loop (cheaper
# than a thread hop); bigger ones in the service's CPU threads, a little at a time.
INLINE_BYTES = 256 * 1024
INLINE_INSTANCES = 256


# -- the raw feature spec, from the model itself ----------------------------------------

_TYPES = {1: "float", 2: "float", 9: "int", 3: "int", 7: "bytes"}  # DataType enum


class FeatureSpec(dict):
    """{feature: "float"|"int"|"bytes"}, and what the parse op says of its dense
    (``FixedLenFeature``) features: ``sizes`` {feature: values per example} (1 for shape []
    or [1]: a scalar) and ``required`` (the dense features without a default value)."""

    def __init__(self, *args, sizes: Optional[Dict[str, int]] = None,
                 required: Sequence[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.sizes: Dict[str, int] = dict(sizes or {})
        self.required = set(required)


def _dense_size(shape) -> Optional[int]:
    """Values per example of a dense feature's TensorShapeProto (None: unknown)."""
    if shape.unknown_rank:
        return None
    n = 1
    for d in shape.dim:
        if d.size < 0:
            return None
        n *= d.size
    return n


def spec_from_graph_def(graph_def) -> FeatureSpec:
    """{feature: "float"|"int"|"bytes"} from the ``ParseExampleV2``/``ParseExample`` ops of a
    GraphDef (the signature's function and the functions it calls), with the dense
    features' sizes and which of them have no default (``FeatureSpec``)."""
    import tensorflow as tf

    spec = FeatureSpec()
    bodies = [list(graph_def.node)] + [list(f.node_def) for f in graph_def.library.function]
    for nodes in bodies:
        by_name = {n.name: n for n in nodes}

        def const(ref: str):
            node = by_name.get(ref.split(":")[0].lstrip("^"))
            if node is None or node.op != "Const":
                return None
            return [v.decode() if isinstance(v, bytes) else str(v)
                    for v in np.asarray(tf.make_ndarray(node.attr["value"].tensor)).reshape(-1)]

        for n in nodes:
            if n.op == "ParseExampleV2":
                # inputs: serialized, names, sparse_keys, dense_keys, ragged_keys, defaults...
                groups = [(n.input[2], [t for t in n.attr["sparse_types"].list.type]),
                          (n.input[3], [t for t in n.attr["Tdense"].list.type]),
                          (n.input[4], [t for t in n.attr["ragged_value_types"].list.type])]
                for ref, types in groups:
                    keys = const(ref) or []
                    for k, t in zip(keys, types):
                        spec[k] = _TYPES.get(t, "bytes")
                dense = const(n.input[3]) or []
                shapes = list(n.attr["dense_shapes"].list.shape)
                defaults = list(n.input[5:5 + len(dense)])
                _dense_rules(spec, dense, shapes, defaults, const)
            elif n.op == "ParseExample":
                ns, nd = n.attr["Nsparse"].i, n.attr["Ndense"].i
                sparse_refs = list(n.input[2:2 + ns])
                dense_refs = list(n.input[2 + ns:2 + ns + nd])
                for refs, types in ((sparse_refs, n.attr["sparse_types"].list.type),
                                    (dense_refs, n.attr["Tdense"].list.type)):
                    for ref, t in zip(refs, types):
                        k = const(ref)
                        if k:
                            spec[k[0]] = _TYPES.get(t, "bytes")
                dense = [(const(r) or [None])[0] for r in dense_refs]
                defaults = list(n.input[2 + ns + nd:2 + ns + 2 * nd])
                _dense_rules(spec, dense, list(n.attr["dense_shapes"].list.shape), defaults,
                             const)
    return spec


def _dense_rules(spec: FeatureSpec, keys, shapes, defaults, const) -> None:
    for i, k in enumerate(keys):
        if k is None:
            continue
        size = _dense_size(shapes[i]) if i < len(shapes) else None
        if size is not None:
            spec.sizes[k] = size
        if i < len(defaults):
            value = const(defaults[i])
            if value is not None and len(value) == 0:  # an empty default: required
                spec.required.add(k)


# -- tf.Example wire format (no TensorFlow needed; components/common/records.py) --------

def _values(name: str, value, kind: str, where: str) -> Optional[list]:
    vals = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for v in vals:
        if v is None:
            continue
        if kind == "float":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise InstanceError(f"{where}: feature {name!r} is a number; got {v!r}")
            out.append(float(v))
        elif kind == "int":
            if isinstance(v, bool):
                v = int(v)
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if not isinstance(v, int):
                raise InstanceError(f"{where}: feature {name!r} is an integer; got {v!r}")
            out.append(v)
        else:
            if isinstance(v, dict) and set(v) == {"b64"}:
                try:
                    out.append(base64.b64decode(v["b64"], validate=True))
                except ValueError:
                    raise InstanceError(f"{where}: feature {name!r}: bad base64") from None
            elif isinstance(v, str):
                out.append(v.encode())
            elif isinstance(v, int) and not isinstance(v, bool):
                out.append(str(v).encode())
            else:
                raise InstanceError(f"{where}: feature {name!r} is a string; got {v!r}")
    return out


def encode_example(instance: Dict[str, Any], spec: Dict[str, str], where: str = "instance",
                   ignore: Sequence[str] = ()) -> bytes:
    """A serialized ``tf.Example`` of one JSON instance, typed by ``spec``; ``None`` or an
    absent feature is missing (the transform graph imputes it)."""
    if not isinstance(instance, dict):
        raise InstanceError(f"{where}: expected an object of feature values, got "
                            f"{type(instance).__name__}")
    unknown = [k for k in instance if k not in spec and k not in ignore]
    if unknown:
        raise InstanceError(f"{where}: unknown feature(s) {', '.join(map(repr, unknown))}; "
                            f"the model takes {', '.join(sorted(spec))}")
    sizes = getattr(spec, "sizes", None)
    required = getattr(spec, "required", None)
    if required:
        missing = [k for k in sorted(required) if instance.get(k) is None]
        if missing:
            raise InstanceError(f"{where}: feature(s) {', '.join(map(repr, missing))} are "
                                "required (the model has no default for them)")
    entries = []
    for name in sorted(instance):
        if name not in spec:
            continue
        kind = spec[name]
        vals = _values(name, instance[name], kind, where)
        if sizes and name in sizes and len(vals) != sizes[name] and \
                (vals or name in required):
            want = sizes[name]
            got = (f"a list of {len(vals)}" if isinstance(instance[name], (list, tuple))
                   else "one value")
            if want == 1:
                raise InstanceError(f"{where}: feature {name!r} is a scalar (one value); "
                                    f"got {got}")
            raise InstanceError(f"{where}: feature {name!r} takes {want} values; got {got}")
        if not vals:
            continue
        if kind == "float":
            try:
                packed = struct.pack(f"<{len(vals)}f", *vals)
            except (OverflowError, struct.error):
                raise InstanceError(f"{where}: feature {name!r} is out of float32 range") \
                    from None
            feature = field(2, field(1, packed))
        elif kind == "int":
            if any(not -(1 << 63) <= v < (1 << 63) for v in vals):
                raise InstanceError(f"{where}: feature {name!r} is out of int64 range")
            feature = field(3, field(1, b"".join(varint(v) for v in vals)))
        else:
            feature = field(1, b"".join(field(1, v) for v in vals))
        entries.append(field(1, field(1, name.encode()) + field(2, feature)))
    return field(1, b"".join(entries)) if entries else b""


def split_outputs(outputs: Dict[str, np.ndarray], n: int) -> List[Dict[str, Any]]:
    """Per-instance JSON values of a batch's outputs ([n, 1] become scalars; bytes text)."""
    cols = {}
    for k, arr in outputs.items():
        arr = np.asarray(arr)
        if arr.ndim >= 2 and arr.shape[1:] == (1,):
            arr = arr.reshape(-1)
        if arr.dtype.kind in "SO":
            cols[k] = [x.decode() if isinstance(x, bytes) else
                       [y.decode() if isinstance(y, bytes) else y for y in x]
                       if isinstance(x, np.ndarray) else x for x in arr.tolist()]
        else:
            cols[k] = arr.tolist()
    return [{k: v[i] for k, v in cols.items()} for i in range(n)]


def _finite(outputs: Dict[str, np.ndarray]) -> bool:
    for arr in outputs.values():
        arr = np.asarray(arr)
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            return False
    return True


# -- request bodies -----------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
SHAPE = 'expected {"instances": [{feature: value, ...}, ...]}'


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def loads(raw) -> Any:
    """A JSON body (bytes or bytearray); InstanceError when it is not JSON."""
    try:
        import orjson

        return orjson.loads(raw)
    except ImportError:  # pragma: no cover
        try:
            return _DECODER.decode(bytes(raw).decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise InstanceError(f"the body is not JSON: {e}") from None
    except ValueError as e:
        raise InstanceError(f"the body is not JSON: {e}") from None


def iter_instances(raw, max_instances: Optional[int] = None):
    """The elements of a JSON body's ``"instances"`` list, one at a time, without building
    the whole document: each element is decoded by one short call of the C scanner, so a
    thread running this gives the GIL back between elements (``orjson.loads`` of a 50 MB
    body holds it for a quarter of a second, and its objects take several times the
    body's size). Raises InstanceError (not JSON, or not ``{"instances": [...]}``) or
    TooLarge (more than ``max_instances``), before decoding the rest."""
    try:
        text = raw.decode("utf-8") if not isinstance(raw, str) else raw
    except UnicodeDecodeError as e:
        raise InstanceError(f"the body is not JSON: {e}") from None
    scan, ws = _DECODER.raw_decode, _WS.match

    def bad(msg, at):
        return InstanceError(f"the body is not JSON: {msg} at character {at}")

    i = ws(text, 0).end()
    if text[i:i + 1] != "{":
        if text[i:i + 1] in ("[", '"') or text[i:i + 1].isdigit():
            raise InstanceError(SHAPE)
        raise bad("expected an object", i)
    i = ws(text, i + 1).end()
    seen = False
    if text[i:i + 1] == "}":
        raise InstanceError(SHAPE)
    while True:
        try:
            key, i = scan(text, i)
        except ValueError as e:
            raise InstanceError(f"the body is not JSON: {e}") from None
        if not isinstance(key, str):
            raise bad("expected a key", i)
        i = ws(text, i).end()
        if text[i:i + 1] != ":":
            raise bad("expected ':'", i)
        i = ws(text, i + 1).end()
        if key == "instances" and not seen:
            seen = True
            if text[i:i + 1] != "[":
                raise InstanceError(SHAPE)
            i = ws(text, i + 1).end()
            n = 0
            if text[i:i + 1] == "]":
                i += 1
            else:
                while True:
                    try:
                        value, i = scan(text, i)
                    except ValueError as e:
                        raise InstanceError(f"the body is not JSON: {e}") from None
                    n += 1
                    if max_instances is not None and n > max_instances:
                        raise TooLarge(f"more than {max_instances} instances in one request "
                                       "(serving.max_instances): send them in parts")
                    yield value
                    i = ws(text, i).end()
                    c = text[i:i + 1]
                    if c == ",":
                        i = ws(text, i + 1).end()
                    elif c == "]":
                        i += 1
                        break
                    else:
                        raise bad("expected ',' or ']'", i)
        else:
            try:
                _, i = scan(text, i)
            except ValueError as e:
                raise InstanceError(f"the body is not JSON: {e}") from None
        i = ws(text, i).end()
        c = text[i:i + 1]
        if c == ",":
            i = ws(text, i + 1).end()
        elif c == "}":
            break
        else:
            raise bad("expected ',' or '}'", i)
    if ws(text, i + 1).end() != len(text):
        raise bad("extra data", i + 1)
    if not seen:
        raise InstanceError(SHAPE)


def encode_instances(instances, spec: Dict[str, str], ignore: Sequence[str] = (),
                     key_field: Optional[str] = None,
                     max_instances: Optional[int] = None) -> Tuple[List[bytes], Optional[list]]:
    """(serialized examples, keys or None) of an iterable of JSON instances."""
    examples: List[bytes] = []
    keys: Optional[list] = [] if key_field else None
    for i, x in enumerate(instances):
        if max_instances is not None and i >= max_instances:
            raise TooLarge(f"more than {max_instances} instances in one request "
                           "(serving.max_instances): send them in parts")
        examples.append(encode_example(x, spec, f"instances[{i}]", ignore))
        if keys is not None:
            keys.append(x.get(key_field))
    if not examples:
        raise InstanceError("instances is empty")
    return examples, keys


def _dumps(value) -> bytes:
    try:
        import orjson

        return orjson.dumps(value)
    except ImportError:  # pragma: no cover
        return json.dumps(value, separators=(",", ":")).encode()


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


# -- micro-batching ---------------------------------------------------------------------

class _Pending:
    __slots__ = ("items", "future", "at")

    def __init__(self, items, future, at):
        self.items, self.future, self.at = items, future, at


class MicroBatcher:
    """Gathers the items of requests that arrive together into one call of ``fn``
    (blocking: ``fn(list_of_items) -> {output: array with one row per item}``, run in a
    thread of its own, one call at a time), then hands each request its rows.

    A batch closes at ``max_batch_size`` items or ``max_wait_ms`` after its oldest
    request arrived, whichever comes first; requests that arrive during a call are the
    next batch. ``calls``, ``items`` and ``batch_sizes`` count what happened."""

    def __init__(self, fn: Callable[[List[Any]], Dict[str, np.ndarray]],
                 max_batch_size: int = 256, max_wait_ms: float = 2.0, name: str = "model"):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.fn, self.max_batch_size, self.max_wait = fn, max_batch_size, max_wait_ms / 1000.0
        self.name = name
        self.calls = self.items = 0
        self.batch_sizes: collections.deque = collections.deque(maxlen=10_000)
        self._buf: collections.deque = collections.deque()
        self._count = 0
        self._wake: Optional[asyncio.Event] = None
        self._full: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"tfxkit-batch-{name}")
        self._closed = False
        self._inflight: List[_Pending] = []

    def _start(self):
        if self._task is None:
            self._wake, self._full = asyncio.Event(), asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, items: List[Any]) -> Dict[str, np.ndarray]:
        """The rows of ``fn``'s outputs for ``items`` (in order)."""
        if self._closed:
            raise ModelError(f"model {self.name} is no longer loaded")
        self._start()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._buf.append(_Pending(list(items), fut, loop.time()))
        self._count += len(items)
        self._wake.set()
        if self._count >= self.max_batch_size:
            self._full.set()
        return await fut

    def _take(self) -> List[_Pending]:
        batch, n = [], 0
        while self._buf:
            nxt = self._buf[0]
            if batch and n + len(nxt.items) > self.max_batch_size:
                break
            self._buf.popleft()
            batch.append(nxt)
            n += len(nxt.items)
            self._count -= len(nxt.items)
        if self._count < self.max_batch_size:
            self._full.clear()
        return batch

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            while not self._buf:
                if self._closed:
                    return  # drained
                self._wake.clear()
                await self._wake.wait()
            wait = self._buf[0].at + self.max_wait - loop.time()
            if wait > 0 and self._count < self.max_batch_size:
                try:
                    await asyncio.wait_for(self._full.wait(), wait)
                except asyncio.TimeoutError:
                    pass
            batch = self._take()
            live = [p for p in batch if not p.future.cancelled()]
            if not live:
                continue
            items = [x for p in live for x in p.items]
            self._inflight = live
            self.calls += 1
            self.items += len(items)
            self.batch_sizes.append(len(items))
            try:
                outputs = await loop.run_in_executor(self._pool, self.fn, items)
            except Exception as e:  # pylint: disable=broad-except
                for p in live:
                    if not p.future.done():
                        p.future.set_exception(ModelError(f"model {self.name}: "
                                                          f"{type(e).__name__}: {e}"))
                continue
            start = 0
            for p in live:
                end = start + len(p.items)
                if not p.future.done():
                    p.future.set_result({k: v[start:end] for k, v in outputs.items()})
                start = end

    async def close(self, drain_s: float = 30.0):
        """Stops taking requests; what is queued or running still gets its answer
        (for up to ``drain_s``), then the rest fails."""
        self._closed = True
        if self._task is not None:
            self._wake.set()
            self._full.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), drain_s)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):  # pylint: disable=broad-except
                self._task.cancel()
        for p in list(self._buf) + list(self._inflight):
            if not p.future.done():
                p.future.set_exception(ModelError(f"model {self.name} was unloaded"))
        self._buf.clear()
        self._pool.shutdown(wait=False)

    def stats(self) -> Dict[str, Any]:
        sizes = list(self.batch_sizes)
        return {"calls": self.calls, "items": self.items,
                "mean_batch": round(self.items / self.calls, 2) if self.calls else None,
                "max_batch": max(sizes) if sizes else None}


# -- a loaded model version -------------------------------------------------------------

class Arm:
    """One loaded model version: its predictor, raw feature spec, batcher and the current
    step's window of live signals."""

    def __init__(self, version: str, path: str, fn: Callable, spec: Dict[str, str],
                 outputs: Sequence[str], max_batch_size: int = 256, max_wait_ms: float = 2.0,
                 metric: str = "accuracy"):
        self.version, self.path, self.spec, self.outputs = version, path, spec, list(outputs)
        self.batcher = MicroBatcher(fn, max_batch_size, max_wait_ms, name=version)
        self.window = policy_mod.Window(version, metric)
        self.metric = metric
        self.failures = 0  # model calls failed in a row
        self.last_failure: Optional[str] = None
        self.last_failure_at = 0.0

    def gone(self) -> Optional[str]:
        """Why this version cannot answer (None: it can): its folder is gone (a loaded
        SavedModel still reads its assets from there)."""
        from tfxkit.pipelines.config import is_remote

        if self.path and not is_remote(self.path) and not os.path.isdir(self.path):
            return (f"model {self.version}: its folder {self.path} is gone (deleted or "
                    "moved while served)")
        return None

    def problem(self) -> Optional[str]:
        """``gone``, or its last (at least 3) calls all failed, the last one within 30 s
        (not for ever: a server taken out of rotation gets no call that could succeed)."""
        gone = self.gone()
        if gone:
            return gone
        if self.failures >= 3 and time.monotonic() - self.last_failure_at < 30:
            return (f"model {self.version}: its last {self.failures} calls failed: "
                    f"{self.last_failure}")
        return None

    @property
    def task(self) -> str:
        return "regression" if "prediction" in self.outputs else "classification"

    def answer_of(self, pred: Dict[str, Any]):
        """What feedback is scored against: (class, class_id) or the number."""
        if self.task == "regression":
            v = pred.get("prediction")
            return v[0] if isinstance(v, list) else v
        return (pred.get("class"), pred.get("class_id"))

    def reset(self, metric: Optional[str] = None):
        self.window = policy_mod.Window(self.version, metric or self.metric)


def load_arm(version: str, path: str, max_batch_size: int = 256, max_wait_ms: float = 2.0,
             metric: Optional[str] = None) -> Arm:
    """Loads the SavedModel at ``path`` (blocking: call it in a thread) and warms it up."""
    from tfxkit.components.batch_inference.infer import Predictor

    predictor = Predictor(path)
    spec = spec_from_graph_def(predictor.fn.graph.as_graph_def())
    if not spec:
        raise ModelError(f"model {version} at {path}: its serving signature parses no "
                         "tf.Example features")
    out = predictor([b""])  # the first call traces; an empty example = all missing
    outputs = sorted(out)
    if metric is None:
        metric = "mae" if "prediction" in outputs else "accuracy"

    def fn(items):
        res = predictor(items)
        if not _finite(res):
            raise ModelError("the model returned non-finite values")
        return res

    return Arm(version, path, fn, spec, outputs, max_batch_size, max_wait_ms, metric)


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
            out.append((version, answers[idx], label))
        return out


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
        return _dumps(await self.predict(body))

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
                parts.append(_dumps(chunk)[1:-1])
            else:
                preds.extend(chunk)
        self.book.remember(rid, arm.version, answers, keys)
        if not as_bytes:
            return {"predictions": preds, **meta}
        return b"".join([b'{"predictions":[', b",".join(p for p in parts if p), b"],",
                         _dumps(meta)[1:]])

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


def last_stable(log: DecisionLog) -> Optional[str]:
    """The version the server last ran as stable, by the decision log."""
    records = log.records()
    if not records:
        return None
    r = records[-1]
    return r.get("canary") if r.get("action") == policy_mod.PROMOTE else r.get("stable")


def policy_from_config(cfg) -> Optional[policy_mod.Policy]:
    """The canary policy of ``cfg.serving.canary`` (None when not configured)."""
    c = cfg.serving.canary
    if c is None:
        return None
    metric = c.quality_metric or ("mae" if cfg.task == "regression" else "accuracy")
    return policy_mod.Policy(steps=tuple(c.steps), min_requests=c.min_requests,
                             min_feedback=c.min_feedback,
                             max_error_rate_delta=c.max_error_rate_delta,
                             max_p99_latency_ratio=c.max_p99_latency_ratio,
                             p99_slack_ms=c.p99_slack_ms, max_quality_drop=c.max_quality_drop,
                             quality_metric=metric, interval_s=c.interval_s)


def decision_log_path(cfg) -> str:
    """``serving.canary.log``, else ``canary.jsonl`` beside a local registry, else in the
    pipeline root (a bucket cannot be appended to)."""
    import os

    from tfxkit.pipelines.config import is_remote

    c = cfg.serving.canary
    if c is not None and c.log:
        return cfg.resolve(c.log)
    if not is_remote(cfg.registry_path):
        return os.path.join(cfg.registry_path, "canary.jsonl")
    return os.path.join(cfg.resolve(cfg.root), cfg.name, "canary.jsonl")


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
