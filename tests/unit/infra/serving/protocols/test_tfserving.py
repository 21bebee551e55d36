"""infra/serving/protocols/tfserving.py: TF Serving's REST API on the online service:
bodies shaped as TF Serving's REST documentation and a Vertex AI endpoint send them,
answered with the values of the SavedModel's serving_default called directly."""
import base64

import numpy as np
import pytest

from tfxkit.infra.serving.examples import FeatureSpec, encode_example
from tfxkit.infra.serving.protocols import tfserving as T
from tfxkit.infra.serving.protocols.common import ProtocolError
from tests.unit.infra.serving.protocols.conftest import direct, served

SPEC = FeatureSpec({"x": "float", "n": "int", "s": "bytes"}, sizes={"x": 1, "n": 1})
SIGS = ["serving_default", "transform_features"]
ROWS = [{"x": 0.5, "n": 1, "s": ["ab"]}, {"x": -2.0, "n": 0}, {"s": "abcd"}]


def b64(example: bytes):
    return {"b64": base64.b64encode(example).decode()}


# -- conversion, no model ---------------------------------------------------------------

def test_parse_path():
    assert T.parse_path("m") == ("m", None, None, None)
    assert T.parse_path("m/versions/17/metadata") == ("m", "17", None, "metadata")
    assert T.parse_path("m/labels/champion:predict") == ("m", None, "champion", "predict")
    assert T.parse_path("penguin-species:classify") == ("penguin-species", None, None,
                                                        "classify")
    with pytest.raises(ProtocolError) as e:
        T.parse_path("m/versions/abc:predict")
    assert e.value.status == 400 and "abc" in e.value.message
    with pytest.raises(ProtocolError) as e:
        T.parse_path("m:explain")
    assert e.value.status == 400 and ":explain" in e.value.message
    with pytest.raises(ProtocolError) as e:
        T.parse_path("m/x/y")
    assert e.value.status == 404 and "Malformed request: /v1/models/m/x/y" in e.value.message


def test_predict_bodies_row_columnar_and_serialized():
    want = [encode_example(r, SPEC) for r in ROWS]
    ex, row = T.predict_examples({"instances": ROWS}, SPEC, SIGS)
    assert ex == want and row
    # Vertex AI: instances and parameters
    ex, row = T.predict_examples({"instances": ROWS, "parameters": {"k": 1}}, SPEC, SIGS)
    assert ex == want and row
    cols = {"x": [0.5, -2.0, None], "n": [1, 0, None], "s": [["ab"], None, "abcd"]}
    ex, row = T.predict_examples({"inputs": cols}, SPEC, SIGS)
    assert ex == want and not row
    # the signature's own input: serialized tf.Examples, row and columnar
    assert T.predict_examples({"instances": [b64(w) for w in want]}, SPEC, SIGS)[0] == want
    assert T.predict_examples({"instances": [{"examples": b64(w)} for w in want]},
                              SPEC, SIGS)[0] == want
    assert T.predict_examples({"inputs": {"examples": [b64(w) for w in want]}},
                              SPEC, SIGS) == (want, False)
    assert T.predict_examples({"inputs": [b64(w) for w in want]}, SPEC, SIGS) == (want, False)


@pytest.mark.parametrize("body,status,words", [
    ({}, 400, 'Missing "instances" or "inputs"'),
    ({"instances": [], "inputs": {}}, 400, "Not both"),
    ({"instances": {}}, 400, '"instances" must be a list'),
    ({"instances": [{"y": 1}]}, 400, "unknown feature(s) 'y'"),
    ({"instances": [{"x": "a"}]}, 400, "feature 'x' is a number"),
    ({"instances": ["abc"]}, 400, "instances[0]: expected an object"),
    ({"instances": [{"b64": "!!"}]}, 400, "bad base64"),
    ({"instances": [{"b64": base64.b64encode(b"\xff\xff").decode()}]}, 400,
     "not a serialized tf.Example"),
    ({"inputs": {"x": [1.0], "n": [1, 2]}}, 400, "differ in length: n 2, x 1"),
    ({"inputs": {"x": 1.0}}, 400, "inputs.x: a column is a list"),
    ({"instances": [{}], "signature_name": "nope"}, 400, 'signature name: "nope" not found'),
    ({"instances": [{}], "signature_name": "transform_features"}, 400, "is not served here"),
    ({"instances": [{}], "extra": 1}, 400, "unknown key(s) 'extra'"),
])
def test_predict_body_errors(body, status, words):
    with pytest.raises(ProtocolError) as e:
        T.predict_examples(body, SPEC, SIGS)
    assert e.value.status == status and words in e.value.message


def test_example_list_joins_context():
    ex = T.example_list({"examples": [{"x": 1.0}, {"x": 2.0, "n": 5}], "context": {"n": 3}},
                        SPEC, SIGS)
    assert ex == [encode_example({"x": 1.0, "n": 3}, SPEC),
                  encode_example({"x": 2.0, "n": 5}, SPEC)]
    with pytest.raises(ProtocolError, match='"examples" must be a list'):
        T.example_list({"examples": {}}, SPEC, SIGS)


def test_responses():
    out = {"probabilities": np.array([[0.25, 0.75], [0.5, 0.5]], np.float32),
           "class": np.array([[b"pos"], [b"neg"]], object),
           "class_id": np.array([[1], [0]])}
    assert T.predict_response(out, row=True) == {"predictions": [
        {"class": ["pos"], "class_id": [1], "probabilities": [0.25, 0.75]},
        {"class": ["neg"], "class_id": [0], "probabilities": [0.5, 0.5]}]}
    assert T.predict_response(out, row=False) == {"outputs": {
        "class": [["pos"], ["neg"]], "class_id": [[1], [0]],
        "probabilities": [[0.25, 0.75], [0.5, 0.5]]}}
    one = {"prediction": np.array([[1.5], [2.5]])}
    assert T.predict_response(one, row=True) == {"predictions": [[1.5], [2.5]]}
    assert T.predict_response(one, row=False) == {"outputs": [[1.5], [2.5]]}
    assert T.predict_response({"img_bytes": np.array([b"\x00"], object)}, True) == \
        {"predictions": [{"b64": "AA=="}]}
    assert T.classify_response(out, ["neg", "pos"], "7") == {"result": [
        [["neg", 0.25], ["pos", 0.75]], [["neg", 0.5], ["pos", 0.5]]]}
    assert T.classify_response(out, None, "7")["result"][0] == [["0", 0.25], ["1", 0.75]]
    # a sigmoid's single probability: two classes
    sig = {"probabilities": np.array([[0.25]], np.float32)}
    assert T.classify_response(sig, ["no", "yes"], "7") == {"result": [[["no", 0.75],
                                                                         ["yes", 0.25]]]}
    assert T.regress_response(one, "7") == {"result": [1.5, 2.5]}
    with pytest.raises(ProtocolError) as e:
        T.classify_response(one, None, "7")
    assert e.value.status == 400 and "version 7 does not classify" in e.value.message
    assert "use :regress" in e.value.message
    with pytest.raises(ProtocolError) as e:
        T.regress_response(out, "7")
    assert e.value.status == 400 and "use :classify" in e.value.message


def test_metadata_response_shape():
    from tensorflow.core.protobuf import meta_graph_pb2

    sd = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    sd.inputs["examples"].name = "serving_default_examples:0"
    sd.inputs["examples"].dtype = 7
    sd.inputs["examples"].tensor_shape.dim.add(size=-1)
    md = T.metadata_response("m", "17", {"serving_default": sd})
    assert md["model_spec"] == {"name": "m", "signature_name": "", "version": "17"}
    sig = md["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    assert sig["inputs"]["examples"]["dtype"] == "DT_STRING"
    assert sig["inputs"]["examples"]["tensor_shape"] == {"dim": [{"size": "-1"}]}


# -- the routes, on a real SavedModel ----------------------------------------------------

def test_routes_answer_as_the_saved_model(classifier):
    spec = FeatureSpec({"x": "float", "n": "int", "s": "bytes"})
    examples = [encode_example(r, spec) for r in ROWS]
    want = direct(classifier, examples)
    with served(model_dir=classifier) as (c, svc):
        v = svc.stable.version
        st = c.get("/v1/models/m").json()
        assert st == {"model_version_status": [{"version": v, "state": "AVAILABLE", "status": {
            "error_code": "OK", "error_message": ""}}]}
        md = c.get("/v1/models/m/metadata").json()
        sig = md["metadata"]["signature_def"]["signature_def"]["serving_default"]
        assert set(sig["outputs"]) == {"class", "class_id", "probabilities"}
        assert sig["inputs"]["examples"]["dtype"] == "DT_STRING"
        # TF Serving's doc: row format; and a Vertex AI endpoint's body
        for body in ({"signature_name": "serving_default", "instances": ROWS},
                     {"instances": ROWS, "parameters": {"confidence": 0.5}},
                     {"instances": [b64(e) for e in examples]}):
            r = c.post("/v1/models/m:predict", json=body)
            assert r.status_code == 200, r.text
            preds = r.json()["predictions"]
            np.testing.assert_allclose([p["probabilities"] for p in preds],
                                       want["probabilities"], rtol=1e-6)
            assert [p["class"] for p in preds] == [[c_.decode()] for c_ in want["class"][:, 0]]
            assert [p["class_id"] for p in preds] == want["class_id"].tolist()
        r = c.post(f"/v1/models/m/versions/{v}:predict",
                   json={"inputs": {"examples": [b64(e) for e in examples]}})
        np.testing.assert_allclose(r.json()["outputs"]["probabilities"],
                                   want["probabilities"], rtol=1e-6)
        r = c.post("/v1/models/m:classify", json={"signature_name": "serving_default",
                                                   "examples": ROWS})
        assert r.status_code == 200, r.text
        res = r.json()["result"]
        assert [[lab for lab, _ in ex] for ex in res] == [["neg", "pos"]] * 3
        np.testing.assert_allclose([[s for _, s in ex] for ex in res], want["probabilities"],
                                   rtol=1e-6)
        r = c.post("/v1/models/m:regress", json={"examples": ROWS})
        assert r.status_code == 400 and "use :classify" in r.json()["error"]
        # a big body (over 256 KB): parsed and encoded in the service's CPU threads
        many = [{"x": float(i % 7), "n": i % 3, "s": ["ab"]} for i in range(12_000)]
        r = c.post("/v1/models/m:predict", json={"instances": many})
        assert r.status_code == 200, r.text
        big = direct(classifier, [encode_example(x, spec) for x in many])
        np.testing.assert_allclose([p["probabilities"] for p in r.json()["predictions"]],
                                   big["probabilities"], rtol=1e-6)
        # what TF Serving answers for what it does not have
        r = c.post("/v1/models/m/versions/42:predict", json={"instances": ROWS})
        assert r.status_code == 404
        assert r.json() == {"error": f"Servable not found for request: Specific(m, 42) "
                                     f"(loaded here: {v})"}
        r = c.post("/v1/models/other:predict", json={"instances": ROWS})
        assert r.status_code == 404 and "Latest(other)" in r.json()["error"]
        assert c.get("/v1/models/other").status_code == 404
        r = c.get("/v1/models/m/labels/champion")
        assert r.status_code == 400
        assert r.json() == {"error": "Unrecognized servable version label: champion"}
        assert c.get("/v1/models/m/labels/serving").json()["model_version_status"][0][
            "version"] == v
        r = c.post("/v1/models/m:predict", content=b"{not json")
        assert r.status_code == 400 and "not JSON" in r.json()["error"]
        assert c.get("/v1/models/m:predict").status_code == 405


def test_regress_on_a_regression_model(regressor):
    spec = FeatureSpec({"x": "float", "n": "int", "s": "bytes"})
    want = direct(regressor, [encode_example(r, spec) for r in ROWS])["prediction"][:, 0]
    with served(model_dir=regressor) as (c, _):
        r = c.post("/v1/models/m:regress", json={"examples": ROWS[1:], "context": ROWS[0]})
        assert r.status_code == 200, r.text
        joined = direct(regressor, [encode_example({**ROWS[0], **x}, spec)
                                    for x in ROWS[1:]])["prediction"][:, 0]
        np.testing.assert_allclose(r.json()["result"], joined, rtol=1e-6)
        r = c.post("/v1/models/m:predict", json={"instances": ROWS})
        np.testing.assert_allclose(np.array(r.json()["predictions"])[:, 0], want, rtol=1e-6)
        r = c.post("/v1/models/m:classify", json={"examples": ROWS})
        assert r.status_code == 400 and "use :regress" in r.json()["error"]


def test_labels_are_registry_aliases(tmp_path, classifier):
    from tfxkit.components.registry.registry import Registry

    reg = Registry(str(tmp_path / "models"), name="m")
    v1, _ = reg.publish(classifier, {})
    reg.set_alias("champion", v1)
    with served(registry=reg) as (c, svc):
        assert svc.stable.version == v1
        r = c.get("/v1/models/m/labels/champion")
        assert r.status_code == 200 and r.json()["model_version_status"][0]["version"] == v1
        r = c.post("/v1/models/m/labels/champion:predict", json={"instances": ROWS})
        assert r.status_code == 200 and len(r.json()["predictions"]) == 3
        # an alias of a version not loaded here: 404 as for an unavailable version
        v2, _ = reg.publish(build_copy(tmp_path, classifier), {})
        reg.set_serving(v1, "keep serving v1")
        reg.set_alias("challenger", v2)
        r = c.post("/v1/models/m/labels/challenger:predict", json={"instances": ROWS})
        assert r.status_code == 404 and f"Specific(m, {v2})" in r.json()["error"]


def build_copy(tmp_path, path):
    """Another version of the same model (one file more: another content hash)."""
    import shutil

    dest = tmp_path / "copy"
    shutil.copytree(path, dest)
    (dest / "assets").mkdir(exist_ok=True)
    (dest / "assets" / "note.txt").write_text("v2")
    return str(dest)


def test_canary_version_is_addressable(tmp_path, classifier):
    """During a rollout both loaded versions are listed, and each answers by version."""
    from tfxkit.components.registry.registry import Registry
    from tfxkit.infra.canary import policy as c

    reg = Registry(str(tmp_path / "models"), name="m")
    v1, _ = reg.publish(classifier, {})
    policy = c.Policy(steps=(0.5, 1.0), min_requests=10_000, interval_s=3600)
    with served(registry=reg, policy=policy, poll_s=3600) as (cl, svc):
        v2, _ = reg.publish(build_copy(tmp_path, classifier), {})
        cl.portal.call(svc.tick)  # one controller round, on the app's event loop
        assert svc.rollout is not None and svc.rollout.canary.version == v2
        st = cl.get("/v1/models/m").json()["model_version_status"]
        assert [s["version"] for s in st] == [v1, v2]
        for v in (v1, v2):
            r = cl.post(f"/v1/models/m/versions/{v}:predict", json={"instances": ROWS})
            assert r.status_code == 200, r.text
        md = cl.get("/v1/models/m/metadata").json()
        assert md["model_spec"]["version"] == v1  # the stable one, not a draw
        # the v2 routes too
        assert cl.get("/v2/models/m").json()["versions"] == [v1, v2]
        assert cl.get(f"/v2/models/m/versions/{v2}/ready").json()["ready"] is True
