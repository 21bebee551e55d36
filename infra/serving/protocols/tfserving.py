"""TensorFlow Serving's REST API beside ``POST /predict`` (same service, same batcher)::

    GET  /v1/models/{name}[/versions/{v}|/labels/{l}]            model status
    GET  /v1/models/{name}[/versions/{v}|/labels/{l}]/metadata   signatures (SavedModel)
    POST /v1/models/{name}[/versions/{v}|/labels/{l}]:predict    {"instances"|"inputs"}
    POST /v1/models/{name}[/versions/{v}|/labels/{l}]:classify   {"examples", "context"}
    POST /v1/models/{name}[/versions/{v}|/labels/{l}]:regress    {"examples", "context"}

``name`` is the config's name. A version must be loaded here (the stable one, or the
canary during a rollout), else 404 as TF Serving answers for a servable it does not
have; a label is a registry alias (``tfxkit models alias``) or ``serving`` (the stable
version), and must name a loaded version too. No version: the version ``POST /predict``
would route to (the canary for its share); metadata without a version is the stable version's.

``:predict`` takes what TF Serving takes for the exported ``serving_default`` signature
(one string input ``examples`` of serialized ``tf.Example``s): ``{"instances":
[{"b64": ...}, ...]}`` (or ``[{"examples": {"b64": ...}}, ...]``), ``{"inputs":
{"examples": [...]}}`` or ``{"inputs": [...]}``; and, as ``POST /predict`` does, raw
features: ``{"instances": [{feature: value, ...}, ...]}`` (encoded as ``tf.Example``s
typed by the model's parse spec) or, columnar, ``{"inputs": {feature: [values, ...]}}``.
Answers: ``{"predictions": [...]}`` for ``instances`` (a list of per-instance output
objects, or of values when there is one output), ``{"outputs": ...}`` for ``inputs``,
with the outputs' shapes as the SavedModel returns them (``class``: ``["Adelie"]``).
``parameters`` (what a Vertex AI endpoint adds) is accepted and ignored.

``:classify`` and ``:regress`` take ``{"examples": [{feature: value, ...}], "context":
{...}}`` (context features join every example; an example's own value wins) and answer
``{"result": [[[label, score], ...], ...]}`` / ``{"result": [value, ...]}`` (TF Serving
writes ``result``). The exported model has one ``tensorflow/serving/predict``
signature, so classify reads its ``probabilities`` (labels: the class names the model
holds, else the class index) and regress its ``prediction``; a model whose outputs do
not fit gets 400 saying why. Errors are ``{"error": "..."}``: 400 for a bad request,
404 for an unknown model or version, 413 over a limit, 503 while nothing is loaded,
500 when the model fails.
"""
# no `from __future__ import annotations`: FastAPI reads the routes' annotations
# (``request: Request``, imported inside add_routes) at definition time

import asyncio
import base64
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfxkit.infra.serving.examples import encode_example
from tfxkit.infra.serving.protocols.common import ProtocolError, text

SIGNATURE = "serving_default"
INPUT = "examples"  # serving_default's one input: serialized tf.Examples
VERBS = ("predict", "classify", "regress")

_PATH = re.compile(r"^(?P<name>[^/:]+)"
                   r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
                   r"(?:/(?P<metadata>metadata)|:(?P<verb>[A-Za-z]+))?/?$")


def parse_path(rest: str) -> Tuple[str, Optional[str], Optional[str], Optional[str]]:
    """(model name, version, label, verb) of the path after ``/v1/models/``; verb is None
    (status), ``metadata``, ``predict``, ``classify`` or ``regress``."""
    m = _PATH.match(rest)
    if not m:
        raise ProtocolError(404, f"Malformed request: /v1/models/{rest} (expected "
                                 "/v1/models/NAME[/versions/V|/labels/L][/metadata|:predict|"
                                 ":classify|:regress])")
    version = m.group("version")
    if version is not None and not version.isdigit():
        raise ProtocolError(400, f"Failed to convert version: {version} to numeric (a "
                                 "label is /labels/NAME)")
    verb = "metadata" if m.group("metadata") else m.group("verb")
    if verb is not None and verb not in VERBS + ("metadata",):
        raise ProtocolError(400, f"Unknown verb :{verb} (:predict, :classify or :regress)")
    return m.group("name"), version, m.group("label"), verb


# -- status and metadata ------------------------------------------------------------------

def status_response(versions: Sequence[str]) -> Dict[str, Any]:
    """GetModelStatusResponse as TF Serving writes it."""
    return {"model_version_status": [
        {"version": str(v), "state": "AVAILABLE",
         "status": {"error_code": "OK", "error_message": ""}} for v in versions]}


def metadata_response(name: str, version: str, signature_defs: Dict[str, Any]
                      ) -> Dict[str, Any]:
    """GetModelMetadataResponse as TF Serving writes it: the SavedModel's SignatureDefs."""
    from google.protobuf import json_format

    sigs = {k: json_format.MessageToDict(sd, preserving_proto_field_name=True)
            for k, sd in signature_defs.items()}
    return {"model_spec": {"name": name, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": {
                "signature_def": sigs,
                "@type": "type.googleapis.com/tensorflow.serving.SignatureDefMap"}}}


# -- request bodies -> serialized tf.Examples -------------------------------------------

def _serialized(value: Any, where: str) -> bytes:
    """A serialized tf.Example given as ``{"b64": ...}`` (checked to be one)."""
    if not (isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str)):
        raise ProtocolError(400, f"{where}: the {INPUT!r} input takes serialized tf.Examples "
                                 'as {"b64": "<base64>"}, got ' + repr(value)[:80])
    try:
        raw = base64.b64decode(value["b64"], validate=True)
    except ValueError:
        raise ProtocolError(400, f"{where}: bad base64") from None
    from tensorflow.core.example import example_pb2
    from google.protobuf.message import DecodeError

    try:
        example_pb2.Example.FromString(raw)
    except DecodeError:
        raise ProtocolError(400, f"{where}: not a serialized tf.Example") from None
    return raw


def _check_signature(body: Dict[str, Any], signatures: Sequence[str]) -> None:
    name = body.get("signature_name", SIGNATURE) or SIGNATURE
    if not isinstance(name, str):
        raise ProtocolError(400, "'signature_name' must be a string")
    if name not in signatures:
        raise ProtocolError(400, f'Serving signature name: "{name}" not found in signature '
                                 f"def (the model has {', '.join(sorted(signatures))})")
    if name != SIGNATURE:
        raise ProtocolError(400, f'signature "{name}" is not served here: requests go '
                                 f'through "{SIGNATURE}" (the model and its transform)')


def _object(body: Any) -> Dict[str, Any]:
    if not isinstance(body, dict):
        raise ProtocolError(400, "the body must be a JSON object")
    return body


def predict_examples(body: Any, spec: Dict[str, str], signatures: Sequence[str],
                     ignore: Sequence[str] = ()) -> Tuple[List[bytes], bool]:
    """(serialized examples, row format) of a ``:predict`` body."""
    body = _object(body)
    unknown = set(body) - {"signature_name", "instances", "inputs", "parameters"}
    if unknown:
        raise ProtocolError(400, f"unknown key(s) {', '.join(sorted(map(repr, unknown)))} "
                                 "(a :predict body has instances or inputs, signature_name, "
                                 "parameters)")
    _check_signature(body, signatures)
    if ("instances" in body) == ("inputs" in body):
        raise ProtocolError(400, 'Missing "instances" or "inputs" key' if "inputs" not in body
                            else 'Not both "instances" and "inputs": one of them')
    if "instances" in body:
        rows = body["instances"]
        if not isinstance(rows, list):
            raise ProtocolError(400, '"instances" must be a list')
        return [_instance(x, spec, f"instances[{i}]", ignore)
                for i, x in enumerate(rows)], True
    cols = body["inputs"]
    if isinstance(cols, list):  # the single input, columnar
        return [_serialized(x, f"inputs[{i}]") for i, x in enumerate(cols)], False
    if not isinstance(cols, dict):
        raise ProtocolError(400, '"inputs" must be an object of columns or a list')
    if set(cols) == {INPUT} and INPUT not in spec:
        vals = cols[INPUT]
        if not isinstance(vals, list):
            raise ProtocolError(400, f'"inputs"."{INPUT}" must be a list')
        return [_serialized(x, f"inputs.{INPUT}[{i}]") for i, x in enumerate(vals)], False
    lengths = {k: len(v) for k, v in cols.items() if isinstance(v, list)}
    bad = [k for k in cols if k not in lengths]
    if bad:
        raise ProtocolError(400, f"inputs.{bad[0]}: a column is a list of values, one per "
                                 "instance")
    if len(set(lengths.values())) > 1:
        raise ProtocolError(400, "the inputs' columns differ in length: " +
                            ", ".join(f"{k} {n}" for k, n in sorted(lengths.items())))
    n = next(iter(lengths.values()), 0)
    rows = [{k: v[i] for k, v in cols.items()} for i in range(n)]
    return [_encode(x, spec, f"inputs (instance {i})", ignore)
            for i, x in enumerate(rows)], False


def _encode(x: Dict[str, Any], spec, where: str, ignore) -> bytes:
    from tfxkit.infra.serving.errors import InstanceError

    try:
        return encode_example(x, spec, where, ignore)
    except InstanceError as e:
        raise ProtocolError(400, str(e)) from None


def _instance(x: Any, spec, where: str, ignore) -> bytes:
    if isinstance(x, dict) and set(x) == {"b64"}:
        return _serialized(x, where)
    if isinstance(x, dict) and set(x) == {INPUT} and INPUT not in spec:
        return _serialized(x[INPUT], f"{where}.{INPUT}")
    if not isinstance(x, dict):
        raise ProtocolError(400, f"{where}: expected an object of feature values or a "
                                 'serialized tf.Example {"b64": ...}, got ' + repr(x)[:80])
    return _encode(x, spec, where, ignore)


def example_list(body: Any, spec: Dict[str, str], signatures: Sequence[str],
                 ignore: Sequence[str] = ()) -> List[bytes]:
    """Serialized examples of a ``:classify``/``:regress`` body (``examples`` with the
    ``context`` features joined to each)."""
    body = _object(body)
    unknown = set(body) - {"signature_name", "examples", "context"}
    if unknown:
        raise ProtocolError(400, f"unknown key(s) {', '.join(sorted(map(repr, unknown)))} "
                                 "(a :classify/:regress body has examples, context, "
                                 "signature_name)")
    _check_signature(body, signatures)
    examples = body.get("examples")
    if not isinstance(examples, list):
        raise ProtocolError(400, '"examples" must be a list of feature objects')
    context = body.get("context") or {}
    if not isinstance(context, dict):
        raise ProtocolError(400, '"context" must be an object of feature values')
    out = []
    for i, x in enumerate(examples):
        if not isinstance(x, dict):
            raise ProtocolError(400, f"examples[{i}]: expected an object of feature values")
        out.append(_encode({**context, **x}, spec, f"examples[{i}]", ignore))
    return out


# -- outputs -> answers -------------------------------------------------------------------

def _json(name: str, arr: np.ndarray) -> Any:
    if arr.dtype.kind in "SO":
        if name.endswith("_bytes"):  # TF Serving's convention for binary outputs
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()},
                                otypes=[object])(arr).tolist()
        return text(arr.tolist())
    return arr.tolist()


def predict_response(outputs: Dict[str, np.ndarray], row: bool) -> Dict[str, Any]:
    """``{"predictions": [...]}`` (row) or ``{"outputs": ...}`` (columnar), as TF Serving
    writes them: a single output's values directly, several as objects keyed by name."""
    cols = {k: _json(k, np.asarray(v)) for k, v in sorted(outputs.items())}
    if not row:
        return {"outputs": next(iter(cols.values())) if len(cols) == 1 else cols}
    if len(cols) == 1:
        return {"predictions": next(iter(cols.values()))}
    n = len(next(iter(cols.values()))) if cols else 0
    return {"predictions": [{k: v[i] for k, v in cols.items()} for i in range(n)]}


def classify_response(outputs: Dict[str, np.ndarray], class_names, version: str
                      ) -> Dict[str, Any]:
    """``{"result": [[[label, score], ...] per example]}`` from the ``probabilities``;
    ``class_names``: a list, or a function of the probabilities' width
    (``ModelInfo.class_names``); the class index when unknown."""
    if "probabilities" not in outputs:
        raise ProtocolError(400, f"model version {version} does not classify: its "
                                 f"{SIGNATURE} outputs ({', '.join(sorted(outputs))}) have no "
                                 "class probabilities" + (" (a regression model: use :regress)"
                                                          if "prediction" in outputs else ""))
    p = np.asarray(outputs["probabilities"], dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if callable(class_names):
        class_names = class_names(p.shape[1])
    if p.shape[1] == 1:  # a sigmoid: the positive class's probability
        p = np.concatenate([1.0 - p, p], axis=1)
    labels = class_names if class_names and len(class_names) == p.shape[1] else \
        [str(i) for i in range(p.shape[1])]
    return {"result": [[[labels[j], float(row[j])] for j in range(len(labels))]
                       for row in p]}


def regress_response(outputs: Dict[str, np.ndarray], version: str) -> Dict[str, Any]:
    """``{"result": [value per example]}`` from the ``prediction`` output."""
    if "prediction" not in outputs:
        raise ProtocolError(400, f"model version {version} does not regress: its "
                                 f"{SIGNATURE} outputs ({', '.join(sorted(outputs))}) have no "
                                 "'prediction'" + (" (a classifier: use :classify)"
                                                   if "probabilities" in outputs else ""))
    v = np.asarray(outputs["prediction"], dtype=np.float64)
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ProtocolError(400, f"model version {version} does not regress: its prediction "
                                 f"has {v.shape[1:]} values per example, not one")
    return {"result": [float(x) for x in v]}


# -- routes -------------------------------------------------------------------------------

def add_routes(app, online, limits) -> None:
    """``/v1/models/...`` on ``app``, answered by ``online`` (an ``OnlineService``)."""
    from fastapi import Request
    from fastapi.responses import Response

    from tfxkit.infra.serving.json_body import dumps, loads
    from tfxkit.infra.serving.protocols import common

    def answer(body: Dict[str, Any], status: int = 200):
        return Response(dumps(body), status_code=status, media_type="application/json")

    async def pick(name: str, version: Optional[str], label: Optional[str], verb):
        if name != online.name:
            raise ProtocolError(404, f"Servable not found for request: Latest({name})"
                                if verb in VERBS else
                                f"Could not find any versions of model {name}")
        if label is not None:
            version = await common.label_version(online, label)
            if version is None:
                raise ProtocolError(400, f"Unrecognized servable version label: {label}")
        if version is not None:
            arm = common.find_loaded(online, version)
            if arm is None:
                loaded = ", ".join(a.version for a in common.loaded_versions(online))
                raise ProtocolError(404, f"Servable not found for request: "
                                         f"Specific({name}, {version}) (loaded here: "
                                         f"{loaded or 'none'})")
            return arm
        if verb in VERBS:
            return common.default_arm(online)
        return common.stable_arm(online)  # metadata: the stable version, not a draw

    @app.api_route("/v1/models/{rest:path}", methods=["GET", "POST"],
                   summary="TensorFlow Serving REST API (status, metadata, :predict, "
                           ":classify, :regress)")
    async def tf_serving(rest: str, request: Request):
        try:
            name, version, label, verb = parse_path(rest)
            post = request.method == "POST"
            if post != (verb in VERBS):
                raise ProtocolError(405, f"{request.method} /v1/models/{rest}: status and "
                                         "metadata are GET, :predict, :classify and "
                                         ":regress are POST")
            if verb is None and version is None and label is None:
                if name != online.name:
                    raise ProtocolError(404, f"Could not find any versions of model {name}")
                arms = common.loaded_versions(online)
                if not arms:
                    raise LookupError(online.error or "no model loaded yet")
                return answer(status_response([a.version for a in arms]))
            arm = await pick(name, version, label, verb)
            if verb is None:
                return answer(status_response([arm.version]))
            info = await asyncio.to_thread(common.model_info, arm.path)
            if verb == "metadata":
                return answer(metadata_response(name, arm.version, info.signature_defs))
            raw = await common.read_body(request, limits)
            ignore = online._ignored  # pylint: disable=protected-access - the key field
            sigs = list(info.signature_defs)

            def convert():
                body = loads(raw)
                if verb == "predict":
                    return predict_examples(body, arm.spec, sigs, ignore)
                return example_list(body, arm.spec, sigs, ignore), True

            # a big body is parsed and encoded in the service's CPU threads, as /predict's
            examples, row = (convert() if len(raw) <= common.INLINE_BYTES
                             else await online.cpu.call(convert))
            common.check_count(online, len(examples))
            outputs = await common.score(online, arm, examples)
            if verb == "predict":
                return answer(predict_response(outputs, row))
            if verb == "classify":
                return answer(classify_response(outputs, info.class_names, arm.version))
            return answer(regress_response(outputs, arm.version))
        except Exception as e:  # pylint: disable=broad-except - re-raised unless ours
            err = common.as_protocol_error(e)
            return answer({"error": err.message}, err.status)

