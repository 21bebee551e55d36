"""infra/serving/protocols/kserve_v2.py: the Open Inference Protocol (v2) on the online
service: tensors converted both ways (JSON and the binary extension), and requests built
by tritonclient's own encoder answered with serving_default's values."""
import json
import struct

import numpy as np
import pytest
import tritonclient.http as triton

from tfxkit.infra.serving.examples import FeatureSpec, encode_example
from tfxkit.infra.serving.protocols import kserve_v2 as K
from tfxkit.infra.serving.protocols.common import ProtocolError
from tests.unit.infra.serving.protocols.conftest import direct, served

SPEC = FeatureSpec({"x": "float", "n": "int", "s": "bytes"}, sizes={"x": 1, "n": 1})


def tensor(name, data, datatype, shape=None):
    arr = np.asarray(data)
    return {"name": name, "datatype": datatype, "shape": list(shape or arr.shape),
            "data": arr.reshape(-1).tolist()}


# -- conversion, no model ---------------------------------------------------------------

def test_json_tensors_to_examples():
    body = {"inputs": [tensor("x", [[0.5], [-2.0]], "FP32"), tensor("n", [1, 0], "INT64"),
                       tensor("s", ["ab", "c"], "BYTES")]}
    t = K.request_tensors(body, b"")
    assert t["x"].shape == (2, 1) and t["s"].tolist() == [b"ab", b"c"]
    dts = {d["name"]: d["datatype"] for d in body["inputs"]}
    ex = K.tensors_to_examples(t, dts, SPEC)
    assert ex == [encode_example({"x": 0.5, "n": 1, "s": "ab"}, SPEC),
                  encode_example({"x": -2.0, "n": 0, "s": "c"}, SPEC)]
    # nested data are accepted too; a multi-valued string feature takes [n, k]
    body = {"inputs": [{"name": "s", "datatype": "BYTES", "shape": [1, 2],
                        "data": [["a", "b"]]}]}
    ex = K.tensors_to_examples(K.request_tensors(body, b""), {"s": "BYTES"}, SPEC)
    assert ex == [encode_example({"s": ["a", "b"]}, SPEC)]


def test_binary_tensors_both_ways():
    """The binary extension as tritonclient writes it (its own encoder) and reads it."""
    x = triton.InferInput("x", [2, 1], "FP32")
    x.set_data_from_numpy(np.array([[0.5], [1.5]], np.float32))  # binary by default
    s = triton.InferInput("s", [2], "BYTES")
    s.set_data_from_numpy(np.array([b"ab", b"xyz"], dtype=object))
    n = triton.InferInput("n", [2], "INT64")
    n.set_data_from_numpy(np.array([3, 4], np.int64), binary_data=False)
    raw, json_size = triton.InferenceServerClient.generate_request_body(
        [x, s, n], request_id="r-1")
    body, rest = K.split_body(raw, str(json_size))
    assert body["id"] == "r-1" and body["parameters"] == {"binary_data_output": True}
    t = K.request_tensors(body, rest)
    np.testing.assert_array_equal(t["x"], [[0.5], [1.5]])
    assert t["s"].tolist() == [b"ab", b"xyz"] and t["n"].tolist() == [3, 4]
    outputs = {"probabilities": np.array([[0.25, 0.75]], np.float32),
               "class": np.array([[b"pos"]], object), "class_id": np.array([[1]], np.int64)}
    wanted = K.requested_outputs(body, list(outputs))
    assert wanted == [("class", True), ("class_id", True), ("probabilities", True)]
    data, header = K.infer_response("m", "7", "r-1", outputs, wanted)
    res = triton.InferResult.from_response_body(data, header_length=header)
    assert res.get_response()["id"] == "r-1" and res.get_response()["model_version"] == "7"
    np.testing.assert_array_equal(res.as_numpy("probabilities"), outputs["probabilities"])
    assert res.as_numpy("class").tolist() == [[b"pos"]]
    assert res.as_numpy("class_id").tolist() == [[1]]
    # JSON outputs when asked so
    req = {"outputs": [{"name": "probabilities", "parameters": {"binary_data": False}}]}
    data, header = K.infer_response("m", "7", None, outputs, K.requested_outputs(
        req, list(outputs)))
    assert header is None and json.loads(data)["outputs"] == [
        {"name": "probabilities", "datatype": "FP32", "shape": [1, 2], "data": [0.25, 0.75]}]


def test_other_datatypes():
    """FP64 (binary), INT32 and BOOL into the features' own kinds."""
    x = triton.InferInput("x", [2], "FP64")
    x.set_data_from_numpy(np.array([0.25, -1.5], np.float64))
    n = triton.InferInput("n", [2, 1], "INT32")
    n.set_data_from_numpy(np.array([[7], [-3]], np.int32))
    raw, size = triton.InferenceServerClient.generate_request_body([x, n])
    body, rest = K.split_body(raw, str(size))
    t = K.request_tensors(body, rest)
    ex = K.tensors_to_examples(t, {"x": "FP64", "n": "INT32"}, SPEC)
    assert ex == [encode_example({"x": 0.25, "n": 7}, SPEC),
                  encode_example({"x": -1.5, "n": -3}, SPEC)]
    body = {"inputs": [{"name": "n", "datatype": "BOOL", "shape": [2], "data": [True, False]}]}
    ex = K.tensors_to_examples(K.request_tensors(body, b""), {"n": "BOOL"}, SPEC)
    assert ex == [encode_example({"n": 1}, SPEC), encode_example({"n": 0}, SPEC)]


def test_serialized_examples_input():
    ex = [encode_example({"x": 1.0}, SPEC)]
    t = {"examples": np.array(ex, dtype=object)}
    assert K.tensors_to_examples(t, {"examples": "BYTES"}, SPEC) == ex


@pytest.mark.parametrize("inputs,words", [
    ([], "'inputs' must be a non-empty list"),
    ([{"name": "x", "datatype": "FP32", "shape": [2], "data": [1.0]}],
     "input 'x': shape [2] needs 2 values, the data has 1"),
    ([{"name": "x", "datatype": "FP8", "shape": [1], "data": [1.0]}],
     "datatype 'FP8' is not supported"),
    ([{"name": "x", "datatype": "FP32", "shape": "1", "data": [1.0]}], "'shape' must be"),
    ([{"name": "s", "datatype": "BYTES", "shape": [1], "data": [1]}],
     "BYTES data are strings"),
    ([{"name": "n", "datatype": "INT64", "shape": [1], "data": [1.5]}],
     "1.5 is not a INT64 value"),
    ([{"name": "x", "datatype": "FP32", "shape": [1], "parameters": {"binary_data_size": 4}}],
     "binary_data_size 4 is beyond"),
])
def test_request_errors(inputs, words):
    with pytest.raises(ProtocolError) as e:
        K.request_tensors({"inputs": inputs}, b"")
    assert e.value.status == 400 and words in e.value.message


@pytest.mark.parametrize("tensors,dts,words", [
    ({"y": np.array([1.0])}, {"y": "FP32"}, "unknown input(s) 'y'"),
    ({"s": np.array([1.0])}, {"s": "FP32"}, "a string feature takes BYTES, not FP32"),
    ({"n": np.array([1.5])}, {"n": "FP32"}, "an integer feature takes INT*"),
    ({"x": np.array([b"a"], dtype=object)}, {"x": "BYTES"}, "takes numbers, not BYTES"),
    ({"x": np.array([1.0]), "n": np.array([1, 2])}, {"x": "FP32", "n": "INT64"},
     "differ in their first (batch) dimension"),
    ({"x": np.array([[1.0, 2.0]])}, {"x": "FP32"}, "feature 'x' is a scalar"),
])
def test_tensor_feature_errors(tensors, dts, words):
    with pytest.raises(ProtocolError) as e:
        K.tensors_to_examples(tensors, dts, SPEC)
    assert e.value.status == 400 and words in e.value.message


def test_unknown_output_requested():
    with pytest.raises(ProtocolError, match="unknown output 'logits'"):
        K.requested_outputs({"outputs": [{"name": "logits"}]}, ["class"])


# -- the routes, on a real SavedModel ----------------------------------------------------

ROWS = [{"x": 0.5, "n": 1, "s": "ab"}, {"x": -2.0, "n": 0, "s": "c"}, {"x": 3.0, "n": 2,
                                                                       "s": "xyz"}]


def test_routes_answer_as_the_saved_model(classifier):
    spec = FeatureSpec({"x": "float", "n": "int", "s": "bytes"})
    want = direct(classifier, [encode_example(r, spec) for r in ROWS])
    x = triton.InferInput("x", [3, 1], "FP32")
    x.set_data_from_numpy(np.array([[r["x"]] for r in ROWS], np.float32))
    n = triton.InferInput("n", [3], "INT64")
    n.set_data_from_numpy(np.array([r["n"] for r in ROWS], np.int64), binary_data=False)
    s = triton.InferInput("s", [3], "BYTES")
    s.set_data_from_numpy(np.array([r["s"].encode() for r in ROWS], dtype=object))
    raw, size = triton.InferenceServerClient.generate_request_body(
        [x, n, s], outputs=[triton.InferRequestedOutput("probabilities"),
                            triton.InferRequestedOutput("class", binary_data=False)],
        request_id="req-7")
    with served(model_dir=classifier) as (c, svc):
        v = svc.stable.version
        assert c.get("/v2/health/live").json() == {"live": True}
        assert c.get("/v2/health/ready").status_code == 200
        assert c.get("/v2/models/m/ready").json() == {"name": "m", "ready": True}
        md = c.get("/v2/models/m").json()
        assert md["name"] == "m" and md["versions"] == [v]
        assert md["platform"] == "tensorflow_savedmodel"
        assert {i["name"]: i["datatype"] for i in md["inputs"]} == {
            "x": "FP32", "n": "INT64", "s": "BYTES"}
        assert {i["name"]: i["shape"] for i in md["inputs"]}["n"] == [-1, 1]
        assert {o["name"]: o["datatype"] for o in md["outputs"]} == {
            "class": "BYTES", "class_id": "INT64", "probabilities": "FP32"}
        r = c.post("/v2/models/m/infer", content=raw,
                   headers={"Inference-Header-Content-Length": str(size)})
        assert r.status_code == 200, r.text
        res = triton.InferResult.from_response_body(
            r.content, header_length=int(r.headers["Inference-Header-Content-Length"]))
        assert res.get_response()["id"] == "req-7"
        np.testing.assert_allclose(res.as_numpy("probabilities"), want["probabilities"],
                                   rtol=1e-6)
        assert res.as_numpy("class").tolist() == [[c_.decode()] for c_ in want["class"][:, 0]]
        assert res.get_output("class_id") is None  # not asked for
        # plain JSON, with a version
        body = {"inputs": [tensor("x", [[r["x"]] for r in ROWS], "FP32"),
                           tensor("s", [r["s"] for r in ROWS], "BYTES"),
                           tensor("n", [r["n"] for r in ROWS], "INT64")],
                "parameters": {"content_type": "pd"}}
        r = c.post(f"/v2/models/m/versions/{v}/infer", json=body)
        assert r.status_code == 200, r.text
        out = {o["name"]: o for o in r.json()["outputs"]}
        assert out["class_id"]["data"] == want["class_id"].reshape(-1).tolist()
        np.testing.assert_allclose(np.reshape(out["probabilities"]["data"], (3, 2)),
                                   want["probabilities"], rtol=1e-6)
        assert "id" not in r.json()
        r = c.post("/v2/models/m/versions/99/infer", json=body)
        assert r.status_code == 404 and "version '99' is not loaded" in r.json()["error"]
        r = c.post("/v2/models/other/infer", json=body)
        assert r.status_code == 404 and "unknown model 'other'" in r.json()["error"]
        r = c.post("/v2/models/m/infer", json={"inputs": [tensor("y", [1.0], "FP32")]})
        assert r.status_code == 400 and "unknown input(s) 'y'" in r.json()["error"]
        assert c.get("/v2/models/m/versions/99/ready").status_code == 404
