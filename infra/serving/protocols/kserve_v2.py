"""KServe's Open Inference Protocol (v2, also Triton's HTTP API) beside ``POST /predict``
(same service, same batcher)::

    GET  /v2                                         server metadata
    GET  /v2/health/live, /v2/health/ready           200, or 503 while nothing is loaded
    GET  /v2/models/{name}[/versions/{v}]            model metadata: inputs and outputs
    GET  /v2/models/{name}[/versions/{v}]/ready      200, or 404/503
    POST /v2/models/{name}[/versions/{v}]/infer      typed tensors in, typed tensors out

Inputs are the model's raw features (its parse spec: ``float`` -> FP32, ``int`` ->
INT64, ``bytes`` -> BYTES), one tensor per feature with ``shape`` [n] or [n, k] (k the
values per instance) and ``data`` flat in row-major order (nested lists are accepted
too); features left out are missing (the transform imputes them) unless the model needs
them. A tensor named ``examples`` (BYTES, serialized ``tf.Example``s, the signature's
own input) is taken as is instead. Accepted datatypes: BYTES, FP16/FP32/FP64,
INT8..INT64, UINT8..UINT64, BOOL, each into a feature of a fitting kind (a number for a
float feature; an integer or BOOL for an int feature; BYTES for a string feature).
Outputs are ``serving_default``'s, with their shapes as the model returns them
(``class`` [n, 1] BYTES, ``class_id`` [n, 1] INT64, ``probabilities`` [n, k] FP32),
all of them or those named in ``outputs``. ``id`` is echoed. The binary tensor
extension (``Inference-Header-Content-Length``, ``binary_data_size``,
``binary_data_output``, what ``tritonclient`` sends by default) is supported both ways;
request ``parameters`` are accepted (only ``binary_data_output`` means something here).
Errors are ``{"error": "..."}``: 400 bad request, 404 unknown model or version, 413 over
a limit, 503 nothing loaded, 500 the model failed.
"""
# no `from __future__ import annotations`: FastAPI reads the routes' annotations
# (``request: Request``, imported inside add_routes) at definition time

import asyncio
import json
import struct
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfxkit.infra.serving.examples import encode_example
from tfxkit.infra.serving.protocols.common import ProtocolError

INPUT = "examples"  # serving_default's own input: serialized tf.Examples
PLATFORM = "tensorflow_savedmodel"

# v2 datatype -> numpy dtype (BYTES: object arrays of bytes)
DTYPES = {"BOOL": np.bool_, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
          "INT64": np.int64, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
          "UINT64": np.uint64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
          "BYTES": np.object_}
_FEATURE_TYPES = {"float": "FP32", "int": "INT64", "bytes": "BYTES"}
_TF_TYPES = {"DT_FLOAT": "FP32", "DT_DOUBLE": "FP64", "DT_INT64": "INT64", "DT_INT32": "INT32",
             "DT_STRING": "BYTES", "DT_BOOL": "BOOL", "DT_HALF": "FP16", "DT_INT8": "INT8",
             "DT_INT16": "INT16", "DT_UINT8": "UINT8"}


def datatype_of(arr: np.ndarray) -> str:
    if arr.dtype.kind in "SOU":
        return "BYTES"
    for name, dt in DTYPES.items():
        if name != "BYTES" and arr.dtype == np.dtype(dt):
            return name
    raise ProtocolError(500, f"an output of dtype {arr.dtype} has no v2 datatype")


# -- metadata -----------------------------------------------------------------------------

def model_metadata(name: str, versions: Sequence[str], spec: Dict[str, str],
                   outputs: Dict[str, Any]) -> Dict[str, Any]:
    """The model metadata response: inputs (the raw features of the parse spec) and
    outputs (``serving_default``'s TensorInfos); -1 marks a variable dimension."""
    sizes = getattr(spec, "sizes", {})
    inputs = [{"name": k, "datatype": _FEATURE_TYPES.get(spec[k], "BYTES"),
               "shape": [-1, sizes.get(k, -1)]} for k in sorted(spec)]
    from tensorflow.core.framework import types_pb2

    outs = []
    for k in sorted(outputs):
        info = outputs[k]
        dt = types_pb2.DataType.Name(info.dtype)
        shape = ([-1] if info.tensor_shape.unknown_rank
                 else [int(d.size) for d in info.tensor_shape.dim])
        outs.append({"name": k, "datatype": _TF_TYPES.get(dt, dt), "shape": shape})
    return {"name": name, "versions": [str(v) for v in versions], "platform": PLATFORM,
            "inputs": inputs, "outputs": outs}


# -- requests -----------------------------------------------------------------------------

def split_body(raw: bytes, header_length: Optional[str]) -> Tuple[Any, bytes]:
    """(the JSON part, the binary part) of an infer request body."""
    if header_length is None:
        head, rest = raw, b""
    else:
        try:
            n = int(header_length)
        except ValueError:
            raise ProtocolError(400, f"bad Inference-Header-Content-Length {header_length!r}") \
                from None
        if not 0 < n <= len(raw):
            raise ProtocolError(400, f"Inference-Header-Content-Length {n} is not within the "
                                     f"body's {len(raw)} bytes")
        head, rest = raw[:n], raw[n:]
    try:
        body = json.loads(head)
    except (UnicodeDecodeError, ValueError) as e:
        raise ProtocolError(400, f"the request header is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise ProtocolError(400, "the request must be a JSON object")
    return body, rest


def _from_binary(t: Dict[str, Any], buf: bytes, where: str) -> np.ndarray:
    dt, shape = t["datatype"], t["shape"]
    if dt == "BYTES":
        items, i = [], 0
        while i < len(buf):
            if i + 4 > len(buf):
                raise ProtocolError(400, f"{where}: truncated BYTES element length")
            (n,) = struct.unpack_from("<I", buf, i)
            i += 4
            if i + n > len(buf):
                raise ProtocolError(400, f"{where}: truncated BYTES element")
            items.append(bytes(buf[i:i + n]))
            i += n
        arr = np.array(items, dtype=object)
    else:
        size = np.dtype(DTYPES[dt]).itemsize
        if len(buf) % size:
            raise ProtocolError(400, f"{where}: {len(buf)} bytes is not a whole number of "
                                     f"{dt} values")
        arr = np.frombuffer(buf, dtype=np.dtype(DTYPES[dt]).newbyteorder("<"))
    return _shaped(arr, shape, where)


def _shaped(arr: np.ndarray, shape: Sequence[int], where: str) -> np.ndarray:
    want = int(np.prod(shape)) if shape else 1
    if arr.size != want:
        raise ProtocolError(400, f"{where}: shape {list(shape)} needs {want} values, the data "
                                 f"has {arr.size}")
    return arr.reshape(shape)


def _from_json(t: Dict[str, Any], where: str) -> np.ndarray:
    dt, data = t["datatype"], t.get("data")
    if data is None:
        raise ProtocolError(400, f"{where}: no 'data' (and no binary_data_size)")
    try:
        flat = np.asarray(data, dtype=object).reshape(-1) if isinstance(data, list) else \
            np.asarray([data], dtype=object)
    except ValueError:
        raise ProtocolError(400, f"{where}: nested data of uneven lengths") from None
    if dt == "BYTES":
        bad = [x for x in flat if not isinstance(x, str)]
        if bad:
            raise ProtocolError(400, f"{where}: BYTES data are strings, got {bad[0]!r}")
        arr = np.array([x.encode() for x in flat], dtype=object)
    else:
        for x in flat:
            ok = (isinstance(x, bool) if dt == "BOOL" else
                  isinstance(x, (int, float)) and not isinstance(x, bool))
            if not ok or (dt[0] in "IU" and isinstance(x, float) and not x.is_integer()):
                raise ProtocolError(400, f"{where}: {x!r} is not a {dt} value")
        try:
            arr = np.array(list(flat), dtype=DTYPES[dt])
        except (OverflowError, ValueError) as e:
            raise ProtocolError(400, f"{where}: {e}") from None
    return _shaped(arr, t["shape"], where)


def request_tensors(body: Dict[str, Any], binary: bytes) -> Dict[str, np.ndarray]:
    """{input name: array} of an infer request (JSON data or binary extension)."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError(400, "'inputs' must be a non-empty list of tensors")
    out, offset = {}, 0
    for i, t in enumerate(inputs):
        where = f"inputs[{i}]"
        if not isinstance(t, dict):
            raise ProtocolError(400, f"{where}: a tensor is an object with name, shape, "
                                     "datatype and data")
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise ProtocolError(400, f"{where}: no 'name'")
        where = f"input {name!r}"
        if name in out:
            raise ProtocolError(400, f"{where} is given twice")
        shape, dt = t.get("shape"), t.get("datatype")
        if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool)
                                                and d >= 0 for d in shape)):
            raise ProtocolError(400, f"{where}: 'shape' must be a list of sizes, got "
                                     f"{shape!r}")
        if dt not in DTYPES:
            raise ProtocolError(400, f"{where}: datatype {dt!r} is not supported here "
                                     f"({', '.join(DTYPES)})")
        params = t.get("parameters") or {}
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(binary):
                raise ProtocolError(400, f"{where}: binary_data_size {size!r} is beyond the "
                                         f"{len(binary)} bytes after the header")
            out[name] = _from_binary(t, binary[offset:offset + size], where)
            offset += size
        else:
            out[name] = _from_json(t, where)
    if offset != len(binary):
        raise ProtocolError(400, f"{len(binary) - offset} bytes after the header belong to no "
                                 "input (binary_data_size)")
    return out


def _value(x: Any, dt: str, kind: str, where: str):
    if kind == "bytes":
        if dt != "BYTES":
            raise ProtocolError(400, f"{where}: a string feature takes BYTES, not {dt}")
        return x.decode("utf-8") if isinstance(x, bytes) else x
    if dt == "BYTES":
        raise ProtocolError(400, f"{where}: a {kind} feature takes numbers, not BYTES")
    if kind == "int" and dt.startswith("FP"):
        raise ProtocolError(400, f"{where}: an integer feature takes INT*/UINT*/BOOL, "
                                 f"not {dt}")
    return float(x) if kind == "float" else int(x)


def tensors_to_examples(tensors: Dict[str, np.ndarray], datatypes: Dict[str, str],
                        spec: Dict[str, str], ignore: Sequence[str] = ()) -> List[bytes]:
    """Serialized tf.Examples of the input tensors: one per row of the first dimension."""
    if INPUT in tensors and INPUT not in spec:
        if len(tensors) != 1:
            raise ProtocolError(400, f"input {INPUT!r} (serialized tf.Examples) comes alone, "
                                     f"not with {', '.join(sorted(set(tensors) - {INPUT}))}")
        arr = tensors[INPUT]
        if datatypes[INPUT] != "BYTES" or arr.ndim != 1:
            raise ProtocolError(400, f"input {INPUT!r} is BYTES of shape [n]")
        return [x if isinstance(x, bytes) else str(x).encode() for x in arr]
    unknown = [k for k in tensors if k not in spec and k not in ignore]
    if unknown:
        raise ProtocolError(400, f"unknown input(s) {', '.join(map(repr, unknown))}; the "
                                 f"model takes {', '.join(sorted(spec))}")
    rows = {k: arr.shape[0] if arr.ndim else None for k, arr in tensors.items()}
    if any(n is None for n in rows.values()):
        raise ProtocolError(400, "every input has a first (batch) dimension")
    if len(set(rows.values())) > 1:
        raise ProtocolError(400, "the inputs differ in their first (batch) dimension: " +
                            ", ".join(f"{k} {n}" for k, n in sorted(rows.items())))
    n = next(iter(rows.values()))
    sizes = getattr(spec, "sizes", {})
    instances: List[Dict[str, Any]] = [{} for _ in range(n)]
    for k, arr in tensors.items():
        if k not in spec:
            continue
        per = arr.reshape(n, -1) if n else arr.reshape(0, 0)
        scalar = arr.ndim == 1 or (per.shape[1] == 1 and sizes.get(k, 1) == 1)
        for i in range(n):
            vals = [_value(x, datatypes[k], spec[k], f"input {k!r}") for x in per[i]]
            instances[i][k] = vals[0] if scalar else vals
    out = []
    for i, x in enumerate(instances):
        from tfxkit.infra.serving.errors import InstanceError

        try:
            out.append(encode_example(x, spec, f"row {i}", ignore))
        except InstanceError as e:
            raise ProtocolError(400, str(e)) from None
    return out


def requested_outputs(body: Dict[str, Any], available: Sequence[str]
                      ) -> List[Tuple[str, bool]]:
    """[(output name, as binary)] the request asks for (all when it names none)."""
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError(400, "'parameters' must be an object")
    binary_all = bool(params.get("binary_data_output", False))
    wanted = body.get("outputs")
    if wanted is None:
        return [(k, binary_all) for k in sorted(available)]
    if not isinstance(wanted, list):
        raise ProtocolError(400, "'outputs' must be a list of {\"name\": ...}")
    out = []
    for i, o in enumerate(wanted):
        if not isinstance(o, dict) or not isinstance(o.get("name"), str):
            raise ProtocolError(400, f"outputs[{i}]: an object with a 'name'")
        if o["name"] not in available:
            raise ProtocolError(400, f"unknown output {o['name']!r}; the model has "
                                     f"{', '.join(sorted(available))}")
        p = o.get("parameters") or {}
        out.append((o["name"], bool(p.get("binary_data", binary_all))))
    return out


def infer_response(name: str, version: str, request_id: Optional[str],
                   outputs: Dict[str, np.ndarray], wanted: List[Tuple[str, bool]]
                   ) -> Tuple[bytes, Optional[int]]:
    """(response body, JSON header length when binary outputs follow it, else None)."""
    tensors, blobs = [], []
    for k, binary in wanted:
        arr = np.asarray(outputs[k])
        dt = datatype_of(arr)
        t: Dict[str, Any] = {"name": k, "datatype": dt, "shape": list(arr.shape)}
        if binary:
            if dt == "BYTES":
                blob = b"".join(struct.pack("<I", len(b)) + b for b in
                                (x if isinstance(x, bytes) else str(x).encode()
                                 for x in arr.reshape(-1)))
            else:
                blob = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
            t["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        elif dt == "BYTES":
            t["data"] = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
                         for x in arr.reshape(-1)]
        else:
            t["data"] = arr.reshape(-1).tolist()
        tensors.append(t)
    resp: Dict[str, Any] = {"model_name": name, "model_version": str(version),
                            "outputs": tensors}
    if request_id is not None:
        resp["id"] = request_id
    head = json.dumps(resp, separators=(",", ":")).encode()
    if not blobs:
        return head, None
    return head + b"".join(blobs), len(head)


# -- routes -------------------------------------------------------------------------------

def add_routes(app, online, limits) -> None:
    """``/v2/...`` on ``app``, answered by ``online`` (an ``OnlineService``)."""
    from fastapi import Request
    from fastapi.responses import Response

    from tfxkit.infra.serving.protocols import common

    def answer(body: Dict[str, Any], status: int = 200):
        return Response(json.dumps(body).encode(), status_code=status,
                        media_type="application/json")

    def error(e: Exception):
        err = common.as_protocol_error(e)
        return answer({"error": err.message}, err.status)

    def pick(name: str, version: Optional[str], infer: bool = False):
        if name != online.name:
            raise ProtocolError(404, f"unknown model {name!r} (served: {online.name})")
        if version is None:  # inference routed as /predict; metadata: the stable version
            return common.default_arm(online) if infer else common.stable_arm(online)
        arm = common.find_loaded(online, version)
        if arm is None:
            loaded = ", ".join(a.version for a in common.loaded_versions(online))
            raise ProtocolError(404, f"model {name!r} version {version!r} is not loaded "
                                     f"here (loaded: {loaded or 'none'})")
        return arm

    @app.get("/v2", summary="Open Inference Protocol (v2): server metadata")
    async def v2_server():
        return answer({"name": "tfxkit", "version": "2", "extensions": ["binary_tensor_data"]})

    @app.get("/v2/health/live", summary="v2 liveness")
    async def v2_live():
        return answer({"live": True})

    @app.get("/v2/health/ready", summary="v2 readiness: the model loaded")
    async def v2_ready():
        problems = online.readiness()
        if problems:
            return answer({"ready": False, "error": "; ".join(problems)}, 503)
        return answer({"ready": True})

    async def metadata(name: str, version: Optional[str]):
        try:
            arm = pick(name, version)
            info = await asyncio.to_thread(common.model_info, arm.path)
            versions = [arm.version] if version is not None else \
                [a.version for a in common.loaded_versions(online)]
            return answer(model_metadata(name, versions, arm.spec, info.outputs))
        except Exception as e:  # pylint: disable=broad-except - re-raised unless ours
            return error(e)

    async def ready(name: str, version: Optional[str]):
        try:
            arm = pick(name, version)
            problem = arm.problem()
            if problem:
                return answer({"name": name, "ready": False, "error": problem}, 503)
            return answer({"name": name, "ready": True})
        except Exception as e:  # pylint: disable=broad-except
            return error(e)

    async def infer(name: str, version: Optional[str], request: Request):
        try:
            arm = pick(name, version, infer=True)
            raw = await common.read_body(request, limits)
            header = request.headers.get("inference-header-content-length")

            def convert():
                body, binary = split_body(raw, header)
                tensors = request_tensors(body, binary)
                dts = {t["name"]: t["datatype"] for t in body["inputs"]}
                return body, tensors_to_examples(
                    tensors, dts, arm.spec, online._ignored)  # pylint: disable=protected-access

            # a big body is parsed and encoded in the service's CPU threads, as /predict's
            body, examples = (convert() if len(raw) <= common.INLINE_BYTES
                              else await online.cpu.call(convert))
            rid = body.get("id")
            if rid is not None and not isinstance(rid, str):
                raise ProtocolError(400, "'id' must be a string")
            common.check_count(online, len(examples))
            wanted = requested_outputs(body, arm.outputs)
            outputs = await common.score(online, arm, examples)
            data, header = infer_response(name, arm.version, rid, outputs, wanted)
        except Exception as e:  # pylint: disable=broad-except
            return error(e)
        if header is None:
            return Response(data, media_type="application/json")
        return Response(data, media_type="application/octet-stream",
                        headers={"Inference-Header-Content-Length": str(header)})

    @app.get("/v2/models/{name}", summary="v2 model metadata")
    async def v2_model(name: str):
        return await metadata(name, None)

    @app.get("/v2/models/{name}/versions/{version}", summary="v2 model version metadata")
    async def v2_model_version(name: str, version: str):
        return await metadata(name, version)

    @app.get("/v2/models/{name}/ready", summary="v2 model readiness")
    async def v2_model_ready(name: str):
        return await ready(name, None)

    @app.get("/v2/models/{name}/versions/{version}/ready", summary="v2 version readiness")
    async def v2_version_ready(name: str, version: str):
        return await ready(name, version)

    @app.post("/v2/models/{name}/infer", summary="v2 inference")
    async def v2_infer(name: str, request: Request):
        return await infer(name, None, request)

    @app.post("/v2/models/{name}/versions/{version}/infer", summary="v2 version inference")
    async def v2_version_infer(name: str, version: str, request: Request):
        return await infer(name, version, request)
