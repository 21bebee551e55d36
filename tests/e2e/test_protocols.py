"""Standard clients end to end (issue 19, points 1 and 4): the real ``tfxkit serve
--alias champion`` on loopback over a registry holding the penguin model of the shared
trained run, driven by tritonclient (KServe / Open Inference Protocol v2) and by bodies
shaped as TF Serving's REST documentation and a Vertex AI endpoint send them; every
answer compared with the SavedModel's ``serving_default`` called directly
(``tf.saved_model.load``) on the same serialized ``tf.Example``s.

The registry has two versions: v1 (aliased ``champion`` with ``tfxkit models alias``)
and v2 (the serving pointer). The server serves the alias, so v1 answers; v2 is not
loaded there (404, as TF Serving answers for a version it does not have). ``tfxkit
predict --model-ref champion`` stores predictions made by v1, and the GET
/predictions/KEY of the same server returns them.
"""
import base64
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml

from tfxkit.components.registry.registry import Registry

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "templates" / "multiclass"
BIN = Path(sys.executable).parent / "tfxkit"
INTS = {"flipper_length_mm", "body_mass_g", "year"}
NAME = "penguin-species"


def _rows(n=12):
    """The first ``n`` complete raw feature rows of the training data (no key, no label):
    a v2 tensor has a value for every row."""
    out = []
    with open(TEMPLATE / "data" / "penguins.csv") as f:
        for row in csv.DictReader(f):
            inst = {}
            for k, v in row.items():
                if k in ("species", "penguin_id") or v in ("", "NA"):
                    continue
                inst[k] = v if k in ("island", "sex") else int(float(v)) if k in INTS \
                    else float(v)
            if len(inst) == 7:
                out.append(inst)
    return out[:n]


ROWS = _rows()


def _example(row) -> bytes:
    """A serialized tf.Example built with TensorFlow's own API (not tfxkit's encoder)."""
    import tensorflow as tf

    feats = {}
    for k, v in row.items():
        if isinstance(v, str):
            feats[k] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))
        elif isinstance(v, int):
            feats[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=[v]))
        else:
            feats[k] = tf.train.Feature(float_list=tf.train.FloatList(value=[v]))
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def _direct(path, examples):
    import tensorflow as tf

    fn = tf.saved_model.load(str(path)).signatures["serving_default"]
    return {k: v.numpy() for k, v in fn(examples=tf.constant(examples)).items()}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, trained_multiclass):
    tmp = tmp_path_factory.mktemp("protocols")
    trained = Registry(str(trained_multiclass.case / "models")).serving().path
    reg = Registry(str(tmp / "models"), name=NAME)
    v1, _ = reg.publish(trained)
    cfg = yaml.safe_load((TEMPLATE / "config.yaml").read_text())
    cfg.pop("profiles", None)
    cfg["data"]["source"] = {"csv": str(TEMPLATE / "data" / "penguins.csv")}
    cfg["inference"]["source"] = {"csv": str(TEMPLATE / "data" / "inference" / "penguins.csv")}
    cfg["push"] = {"registry": str(tmp / "models")}
    cfg["serving"] = {"max_batch_size": 64, "max_wait_ms": 1, "poll_s": 0.5}
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    r = subprocess.run([str(BIN), "models", "alias", str(config), "champion", v1, "--reason",
                        "e2e"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"alias champion -> version {v1}" in r.stdout
    second = tmp / "second"
    shutil.copytree(trained, second)
    (second / "assets").mkdir(exist_ok=True)
    (second / "assets" / "note.txt").write_text("another version")  # another content hash
    v2, _ = reg.publish(str(second))
    assert reg.serving().version == v2 and reg.aliases() == {"champion": v1}
    port = _free_port()
    log = open(tmp / "serve.log", "w")
    proc = subprocess.Popen([str(BIN), "serve", str(config), "--port", str(port),
                             "--alias", "champion"], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, (tmp / "serve.log").read_text()
        try:
            if httpx.get(url + "/v2/health/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, (tmp / "serve.log").read_text()
        time.sleep(0.3)
    examples = [_example(r) for r in ROWS]
    yield {"url": url, "port": port, "v1": v1, "v2": v2, "registry": reg, "config": config,
           "tmp": tmp,
           "examples": examples, "want": _direct(reg.version_path(v1), examples)}
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    print((tmp / "serve.log").read_text()[-3000:])


def test_tritonclient_v2(server):
    import tritonclient.http as triton

    want = server["want"]
    client = triton.InferenceServerClient(url=f"127.0.0.1:{server['port']}")
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(NAME)
    md = client.get_model_metadata(NAME)
    assert md["name"] == NAME and md["versions"] == [server["v1"]]
    types = {i["name"]: i["datatype"] for i in md["inputs"]}
    assert types["island"] == "BYTES" and types["bill_length_mm"] == "FP32"
    assert types["body_mass_g"] == "INT64"
    assert {o["name"] for o in md["outputs"]} == {"class", "class_id", "probabilities"}
    np_types = {"BYTES": object, "FP32": np.float32, "INT64": np.int64}
    inputs = []
    for name, dt in sorted(types.items()):
        col = [r[name] for r in ROWS]
        arr = np.array([[v.encode() if dt == "BYTES" else v] for v in col], dtype=np_types[dt])
        inp = triton.InferInput(name, list(arr.shape), dt)
        inp.set_data_from_numpy(arr)  # the binary extension, tritonclient's default
        inputs.append(inp)
    res = client.infer(NAME, inputs, request_id="e2e-1")
    assert res.get_response()["id"] == "e2e-1"
    assert res.get_response()["model_version"] == server["v1"]
    np.testing.assert_allclose(res.as_numpy("probabilities"), want["probabilities"],
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(res.as_numpy("class_id"), want["class_id"])
    assert res.as_numpy("class").tolist() == want["class"].tolist()
    # JSON tensors, a version named, only one output asked for
    out = [triton.InferRequestedOutput("probabilities", binary_data=False)]
    for inp, (name, dt) in zip(inputs, sorted(types.items())):
        col = [r[name] for r in ROWS]
        arr = np.array([[v.encode() if dt == "BYTES" else v] for v in col], dtype=np_types[dt])
        inp.set_data_from_numpy(arr, binary_data=False)
    res = client.infer(NAME, inputs, model_version=server["v1"], outputs=out)
    np.testing.assert_allclose(res.as_numpy("probabilities"), want["probabilities"],
                               rtol=1e-5, atol=1e-7)
    assert res.as_numpy("class") is None
    with pytest.raises(triton.InferenceServerException) as e:  # v2 is not loaded here
        client.infer(NAME, inputs, model_version=server["v2"])
    assert "is not loaded here" in str(e.value)
    client.close()


def test_tf_serving_rest_and_vertex_bodies(server):
    url, want, v1, v2 = server["url"], server["want"], server["v1"], server["v2"]
    b64 = [{"b64": base64.b64encode(e).decode()} for e in server["examples"]]
    st = httpx.get(f"{url}/v1/models/{NAME}").json()
    assert st == {"model_version_status": [{"version": v1, "state": "AVAILABLE", "status": {
        "error_code": "OK", "error_message": ""}}]}
    assert httpx.get(f"{url}/v1/models/{NAME}/labels/champion").json() == st
    md = httpx.get(f"{url}/v1/models/{NAME}/versions/{v1}/metadata").json()
    sig = md["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["inputs"]["examples"]["dtype"] == "DT_STRING"
    assert sig["method_name"] == "tensorflow/serving/predict"
    # TF Serving's REST doc: row format with base64 strings, and columnar
    r = httpx.post(f"{url}/v1/models/{NAME}:predict",
                   json={"signature_name": "serving_default", "instances": b64})
    assert r.status_code == 200, r.text
    preds = r.json()["predictions"]
    np.testing.assert_allclose([p["probabilities"] for p in preds], want["probabilities"],
                               rtol=1e-5, atol=1e-7)
    assert [p["class"] for p in preds] == [[c.decode()] for c in want["class"][:, 0]]
    r = httpx.post(f"{url}/v1/models/{NAME}/labels/champion:predict",
                   json={"inputs": {"examples": b64}})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose(r.json()["outputs"]["probabilities"], want["probabilities"],
                               rtol=1e-5, atol=1e-7)
    # a Vertex AI endpoint: instances of raw features and parameters
    r = httpx.post(f"{url}/v1/models/{NAME}:predict",
                   json={"instances": ROWS, "parameters": {"confidence_threshold": 0.5}})
    assert r.status_code == 200, r.text
    np.testing.assert_allclose([p["probabilities"] for p in r.json()["predictions"]],
                               want["probabilities"], rtol=1e-5, atol=1e-7)
    # :classify as the doc shapes it: examples of features, and a context
    ctx = {"year": ROWS[0]["year"]}
    r = httpx.post(f"{url}/v1/models/{NAME}/versions/{v1}:classify",
                   json={"signature_name": "serving_default", "context": ctx,
                         "examples": [{k: v for k, v in row.items() if k != "year"}
                                      for row in ROWS[:3]]})
    assert r.status_code == 200, r.text
    joined = _direct(server["registry"].version_path(v1),
                     [_example({**row, **ctx}) for row in ROWS[:3]])
    result = r.json()["result"]
    assert {lab for lab, _ in result[0]} == {"Adelie", "Chinstrap", "Gentoo"}
    for got, probs, cls in zip(result, joined["probabilities"], joined["class"][:, 0]):
        np.testing.assert_allclose([s for _, s in got], probs, rtol=1e-5, atol=1e-7)
        assert max(got, key=lambda ls: ls[1])[0] == cls.decode()
    r = httpx.post(f"{url}/v1/models/{NAME}:regress", json={"examples": ROWS[:1]})
    assert r.status_code == 400 and "use :classify" in r.json()["error"]
    r = httpx.post(f"{url}/v1/models/{NAME}/versions/{v2}:predict", json={"instances": b64})
    assert r.status_code == 404 and f"Specific({NAME}, {v2})" in r.json()["error"]
    r = httpx.post(f"{url}/v1/models/{NAME}/labels/nobody:predict", json={"instances": b64})
    assert r.status_code == 400
    assert r.json() == {"error": "Unrecognized servable version label: nobody"}
    # the plain route answers from the same version
    r = httpx.post(f"{url}/predict", json={"instances": ROWS[:2]})
    assert r.status_code == 200 and r.json()["model_version"] == v1


def test_predict_with_model_ref(server):
    """Batch inference with the aliased version, not the serving pointer's; its stored
    predictions equal the SavedModel's own on the same rows."""
    from tfxkit.components.prediction_store.store import open_store

    r = subprocess.run([str(BIN), "predict", str(server["config"]), "--model-ref",
                        "champion"], capture_output=True, text=True, timeout=900,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert f"model(s) {NAME} {server['v1']}" in r.stdout
    store = open_store("sqlite", str(server["tmp"] / ".tfxkit" / "predictions.sqlite"))
    try:
        [run] = [x for x in store.runs(NAME) if x.current]
        assert run.model_version == server["v1"]
        row = store.get(NAME, "penguin-001")
    finally:
        store.close()
    with open(TEMPLATE / "data" / "inference" / "penguins.csv") as f:
        first = next(csv.DictReader(f))
    inst = {k: (v if k in ("island", "sex") else int(float(v)) if k in INTS else float(v))
            for k, v in first.items() if k != "penguin_id" and v not in ("", "NA")}
    want = _direct(server["registry"].version_path(server["v1"]), [_example(inst)])
    np.testing.assert_allclose(row["prediction"]["probabilities"], want["probabilities"][0],
                               rtol=1e-5, atol=1e-7)
    bad = subprocess.run([str(BIN), "predict", str(server["config"]), "--model-ref",
                          "nobody"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "unknown model alias 'nobody'" in bad.stderr
