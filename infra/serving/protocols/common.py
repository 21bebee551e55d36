"""What the TF Serving REST and KServe v2 routes share: the loaded version a request
names (a version, a label = a registry alias, or none: routed as ``POST /predict`` is,
canary share included), what its SavedModel declares (signatures, class names), request
bodies read within the server's limits, and the scoring of serialized ``tf.Example``s
through the version's micro-batcher (the same one ``POST /predict`` uses)."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np

from tfxkit.infra.serving.errors import InstanceError, ModelError, TooLarge
from tfxkit.infra.serving.online_service import INLINE_BYTES as ONLINE_INLINE_BYTES

# the label that names the serving pointer's version (also written in serving.config)
SERVING_LABEL = "serving"
# bodies up to this size are converted on the event loop, bigger ones in CPU threads
INLINE_BYTES = ONLINE_INLINE_BYTES


class ProtocolError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def as_protocol_error(e: Exception) -> ProtocolError:
    """The service's errors as protocol errors (the status codes of ``POST /predict``)."""
    if isinstance(e, ProtocolError):
        return e
    if isinstance(e, TooLarge):
        return ProtocolError(413, str(e))
    if isinstance(e, InstanceError):
        return ProtocolError(400, str(e))
    if isinstance(e, ModelError):
        return ProtocolError(500, str(e))
    if isinstance(e, LookupError):
        return ProtocolError(503, str(e.args[0] if e.args else e))
    raise e


# -- what a SavedModel declares ---------------------------------------------------------

@dataclass
class ModelInfo:
    """A SavedModel's signature defs (``SignatureDef`` protos by name), ``serving_default``'s
    outputs (TensorInfos) and its captured rank-1 string constants (where tfxkit's export
    keeps a classifier's class names: ``serving_default`` gathers its ``class`` output
    from them)."""
    signature_defs: Dict[str, Any]
    outputs: Dict[str, Any] = field(default_factory=dict)
    string_constants: List[List[str]] = field(default_factory=list)

    def class_names(self, width: int) -> Optional[List[str]]:
        """The class names of a ``probabilities`` output ``width`` wide (2 for a sigmoid's
        single probability): the one captured string constant of that many values; None
        if there is none or more than one."""
        want = 2 if width == 1 else width
        found = [c for c in self.string_constants if len(c) == want]
        return found[0] if len(found) == 1 else None


_INFO: Dict[str, ModelInfo] = {}


def _string_constants(meta_graph) -> List[List[str]]:
    """The SavedModel's captured constants (object graph ``constant`` nodes) that are
    rank-1 string tensors, as text."""
    from tensorflow.core.framework import types_pb2

    consts = {n.constant.operation for n in meta_graph.object_graph_def.nodes
              if n.WhichOneof("kind") == "constant"}
    found = []
    for n in meta_graph.graph_def.node:
        if n.name not in consts or n.op != "Const":
            continue
        t = n.attr["value"].tensor
        if t.dtype == types_pb2.DT_STRING and len(t.tensor_shape.dim) == 1 and \
                len(t.string_val) == t.tensor_shape.dim[0].size:
            found.append([v.decode("utf-8", "replace") for v in t.string_val])
    return found


def model_info(path: str) -> ModelInfo:
    """What the SavedModel at ``path`` declares (read from its ``saved_model.pb`` once per
    path; blocking: call it in a thread). A file that cannot be read or parsed is a 503
    naming it (the version's folder changed under the server)."""
    if path in _INFO:
        return _INFO[path]
    import os

    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    pb = os.path.join(path, "saved_model.pb")
    try:
        with open(pb, "rb") as f:
            sm.ParseFromString(f.read())
    except (OSError, DecodeError) as e:
        raise ProtocolError(503, f"cannot read the served model's {pb}: {e}") from None
    mg = sm.meta_graphs[0]
    sigs = dict(mg.signature_def)
    outputs = dict(sigs["serving_default"].outputs) if "serving_default" in sigs else {}
    info = ModelInfo(sigs, outputs, _string_constants(mg))
    _INFO[path] = info
    return info


# -- which loaded version ---------------------------------------------------------------

def loaded_versions(online) -> List[Any]:
    """The loaded versions (arms): the stable one, and the canary during a rollout."""
    return online.controller.arms()


async def aliases(online) -> Dict[str, str]:
    """The registry's aliases ({} when serving a SavedModel from a path)."""
    reg = online.controller.registry
    if reg is None:
        return {}
    return await asyncio.to_thread(reg.aliases)


async def label_version(online, label: str) -> Optional[str]:
    """The version a label names: a registry alias, or ``serving`` (the stable version);
    None for an unknown label."""
    known = await aliases(online)
    if label in known:
        return known[label]
    if label == SERVING_LABEL and online.stable is not None:
        return online.stable.version
    return None


def find_loaded(online, version: str):
    """The loaded arm of ``version`` (None when it is not loaded here)."""
    return next((a for a in loaded_versions(online) if a.version == str(version)), None)


def stable_arm(online):
    """The stable version (what status and metadata describe when no version is named); a
    LookupError (503) when nothing is loaded."""
    if online.stable is None:
        raise LookupError(online.error or "no model loaded yet")
    return online.stable


def default_arm(online):
    """The version a request that names none gets: as ``POST /predict`` routes it (the
    canary for its share); a LookupError (503) when nothing is loaded."""
    return online._arm()  # pylint: disable=protected-access - the service's own routing


# -- request bodies, within the server's limits -----------------------------------------

async def read_body(request, limits) -> bytes:
    """The body, at most ``limits.max_body`` bytes (413 over it, also when chunked)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ProtocolError(400, f"bad Content-Length {declared!r}") from None
        if size > limits.max_body:
            raise ProtocolError(413, f"the body is {size} bytes, over the limit of "
                                     f"{limits.max_body} (serving.max_body_mb "
                                     f"{limits.max_body_mb:g})")
    buf = bytearray()
    async for chunk in request.stream():
        buf += chunk
        if len(buf) > limits.max_body:
            raise ProtocolError(413, f"the body is over the limit of {limits.max_body} "
                                     f"bytes (serving.max_body_mb {limits.max_body_mb:g})")
    return bytes(buf)


def check_count(online, n: int) -> None:
    if n == 0:
        raise ProtocolError(400, "no instances in the request")
    if online.max_instances is not None and n > online.max_instances:
        raise ProtocolError(413, f"{n} instances in one request, more than "
                                 f"{online.max_instances} (serving.max_instances): send "
                                 "them in parts")


# -- scoring ------------------------------------------------------------------------------

async def score(online, arm, examples: List[bytes]) -> Dict[str, np.ndarray]:
    """``serving_default``'s outputs for the serialized ``examples``, through ``arm``'s
    micro-batcher (shared with ``POST /predict``), counted in its live signals."""
    t0 = time.perf_counter()
    outs = await online._call_model(arm, examples, t0)  # pylint: disable=protected-access
    arm.window.record((time.perf_counter() - t0) * 1000.0, ok=True)
    if len(outs) == 1:
        return {k: np.asarray(v) for k, v in outs[0].items()}
    return {k: np.concatenate([np.asarray(o[k]) for o in outs]) for k in outs[0]}


def text(x: Any) -> Any:
    """Bytes as text (nested lists too)."""
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    if isinstance(x, list):
        return [text(y) for y in x]
    return x
