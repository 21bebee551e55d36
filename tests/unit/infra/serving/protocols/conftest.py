"""Tiny real SavedModels for the protocol tests (built once per session, a few seconds):
``classifier`` parses a scalar float ``x``, a [1]-shaped int ``n`` and a variable-length
string ``s``, and answers ``probabilities`` [n, 2], ``class_id`` and ``class`` (gathered
from a captured constant of class names, as tfxkit's export does); ``regressor`` answers
``prediction`` [n, 1]. ``served`` starts an app on a model folder or a registry."""
import contextlib
import time

import pytest


def _spec(tf):
    return {"x": tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
            "n": tf.io.FixedLenFeature([1], tf.int64, default_value=[0]),
            "s": tf.io.VarLenFeature(tf.string)}


def build(path, task="classification", names=("neg", "pos")):
    import tensorflow as tf

    spec = _spec(tf)
    table = tf.constant(list(names))  # captured, as pipelines/run_fn.py's class names

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, serialized):
            p = tf.io.parse_example(serialized, spec)
            slen = tf.cast(tf.sparse.reduce_sum(
                tf.sparse.map_values(tf.strings.length, p["s"]), axis=1, keepdims=True),
                tf.float32)
            x = p["x"][:, None] + tf.cast(p["n"], tf.float32) + 0.1 * slen
            if task == "regression":
                return {"prediction": 2.0 * x + 1.0}
            probs = tf.nn.softmax(tf.concat([-x, x], axis=1))
            cid = tf.argmax(probs, axis=1)
            return {"probabilities": probs, "class_id": cid[:, None],
                    "class": tf.gather(table, cid)[:, None]}

    m = M()
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})
    return str(path)


@pytest.fixture(scope="session")
def classifier(tmp_path_factory):
    return build(tmp_path_factory.mktemp("classifier") / "1")  # version 1, as TF Serving's


@pytest.fixture(scope="session")
def regressor(tmp_path_factory):
    return build(tmp_path_factory.mktemp("regressor") / "1", task="regression")


def direct(path, examples):
    """serving_default of the SavedModel at ``path``, called directly on ``examples``."""
    import tensorflow as tf

    fn = tf.saved_model.load(path).signatures["serving_default"]
    return {k: v.numpy() for k, v in fn(examples=tf.constant(examples)).items()}


@contextlib.contextmanager
def served(name="m", model_dir=None, registry=None, **kw):
    """A TestClient on ``create_app`` with an OnlineService, once its model is loaded."""
    from fastapi.testclient import TestClient

    from tfxkit.infra.serving.app import create_app
    from tfxkit.infra.serving.online_service import OnlineService

    svc = OnlineService(name, model_dir=model_dir, registry=registry, max_wait_ms=1, **kw)
    with TestClient(create_app(online=svc)) as c:
        deadline = time.monotonic() + 60
        while c.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, svc.error
            time.sleep(0.05)
        yield c, svc
