"""components/serving_check: the output checks, and validate() on tiny SavedModels
loaded in a separate process (a good model passes; NaN outputs, a bad signature or a
latency bound it cannot meet fail, with the reason)."""
import json
import os
import sys

import numpy as np
import pytest

from tfxkit.components.serving_check import check


def test_check_outputs_good():
    n = 3
    out = {"probabilities": np.full((n, 3), 1 / 3, np.float32),
           "class_id": np.zeros((n, 1), np.int64), "class": np.array([[b"a"]] * n)}
    assert check.check_outputs("serving_default", out, n) == []


@pytest.mark.parametrize("out,expect", [
    ({"probabilities": np.array([[0.5, np.nan], [0.5, 0.5]])}, "NaN values for 1 of 2"),
    ({"prediction": np.array([[np.inf], [1.0]])}, "infinite values"),
    ({"probabilities": np.array([[0.5, 0.6], [0.5, 0.5]])}, "do not sum to 1"),
    ({"probabilities": np.array([[1.5], [0.5]])}, "outside [0, 1]"),
    ({"prediction": np.zeros((3, 1))}, "batch dimension 3 for 2 examples"),
    ({"prediction": np.float32(1.0)}, "scalar"),
    ({}, "no outputs"),
])
def test_check_outputs_problems(out, expect):
    problems = check.check_outputs("serving_default", out, 2)
    assert problems and expect in problems[0], problems


def test_percentile_and_judge():
    assert check.percentile([1, 2, 3, 4, 100], 50) == 3
    assert check.percentile(list(range(1, 101)), 99) == 99
    assert check.percentile([], 99) is None
    ok = check.judge({"examples": 4, "signatures": {"serving_default": {"problems": []}},
                      "latencies_ms": [1.0] * 99 + [5.0]}, max_latency_ms=10)
    assert ok.blessed and "p99 latency 1 ms" in ok.reason
    slow = check.judge({"examples": 4, "signatures": {"serving_default": {"problems": []}},
                        "latencies_ms": [1.0] * 98 + [50.0, 60.0]}, max_latency_ms=10)
    assert not slow.blessed and "p99 latency 50 ms over 100 requests" in slow.reason
    assert "max_latency_ms 10" in slow.reason
    empty = check.judge({"examples": 0, "signatures": {}, "latencies_ms": []}, 10)
    assert not empty.blessed and "eval split is empty" in empty.reason


# -- tiny SavedModels ----------------------------------------------------------------

def _save(path, kind):
    import tensorflow as tf

    spec = {"x": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])}

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, serialized):
            x = tf.io.parse_example(serialized, spec)["x"]
            logits = tf.concat([x, -x, x * 0.0], axis=1)
            if kind == "nan":
                logits = logits * float("nan")
            probs = tf.nn.softmax(logits)
            if kind == "scalar":
                return {"probabilities": tf.reduce_sum(probs)}
            return {"probabilities": probs, "class_id": tf.argmax(probs, axis=1)[:, None]}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def features(self, serialized):
            return tf.io.parse_example(serialized, spec)

    m = M()
    tf.saved_model.save(m, path, signatures={"serving_default": m.serve,
                                             "transform_features": m.features})
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import tensorflow as tf

    base = tmp_path_factory.mktemp("infra")
    out = {k: _save(str(base / k), k) for k in ("good", "nan", "scalar")}
    # real serialized examples, gzipped as ExampleGen writes them
    path = str(base / "data-eval.gz")
    with tf.io.TFRecordWriter(path, "GZIP") as w:
        for i in range(30):
            ex = tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[i / 10])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 3]))}))
            w.write(ex.SerializeToString())
    out["files"] = [path]
    return out


def test_good_model_passes(models):
    res = check.validate(models["good"], models["files"], examples=20, requests=30,
                         max_latency_ms=5000)
    assert res.blessed, res.reason
    assert res.examples == 20 and res.requests == 30
    assert set(res.signatures) == {"serving_default", "transform_features"}
    assert res.signatures["serving_default"]["outputs"]["probabilities"]["shape"] == [20, 3]
    assert res.latency_p99_ms is not None and res.latency_p99_ms < 5000
    assert "20 eval examples" in res.reason


def test_too_slow_fails(models):
    res = check.validate(models["good"], models["files"], examples=5, requests=10,
                         max_latency_ms=0.001)
    assert not res.blessed
    assert "p99 latency" in res.reason and "exceeds max_latency_ms 0.001" in res.reason


def test_nan_and_scalar_models_fail(models):
    nan = check.validate(models["nan"], models["files"], examples=5, requests=5)
    assert not nan.blessed
    assert "serving_default: output 'probabilities' has NaN values for 5 of 5" in nan.reason
    assert nan.requests == 0  # latency is not measured for a broken model
    scalar = check.validate(models["scalar"], models["files"], examples=5, requests=5)
    assert not scalar.blessed and "scalar" in scalar.reason


def test_unloadable_model_and_timeout(models, tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "saved_model.pb").write_bytes(b"not a model")
    res = check.validate(str(tmp_path / "broken"), models["files"], examples=5, requests=5)
    assert not res.blessed and "cannot load the SavedModel" in res.reason
    slow = check.validate(models["good"], models["files"], timeout_s=0.5)
    assert not slow.blessed and "did not finish within timeout_s 0.5 s" in slow.reason


# -- the model process's environment ---------------------------------------------------

SECRETS = {"TFXKIT_DB_PASSWORD": "hunter2", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
           "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "GITHUB_TOKEN": "ghp_x",
           "TF_VAR_db_password": "tf-secret", "TF_API_TOKEN": "t", "DATABASE_URL": "pg://u:p@h",
           "MY_APP_SETTING": "not needed either"}


def test_child_env_is_an_allow_list():
    parent = {"PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
              "TMPDIR": "/tmp/x", "CUDA_VISIBLE_DEVICES": "0", "TF_CPP_MIN_LOG_LEVEL": "3",
              "TF_NUM_INTRAOP_THREADS": "2", "PYTHONPATH": "/src", **SECRETS}
    env = check.child_env(parent)
    assert env == {"PATH": "/usr/bin", "HOME": "/home/u", "LANG": "C.UTF-8",
                   "LC_ALL": "C.UTF-8", "TMPDIR": "/tmp/x", "CUDA_VISIBLE_DEVICES": "0",
                   "TF_CPP_MIN_LOG_LEVEL": "3", "TF_NUM_INTRAOP_THREADS": "2",
                   "PYTHONPATH": "/src", "TF_USE_LEGACY_KERAS": "1"}


def test_model_process_does_not_see_the_pipelines_secrets(models, tmp_path, monkeypatch):
    # The real model process: ``python`` is a wrapper that records the environment it was
    # started with, then execs this interpreter on the probe (same process, same
    # environment), which must still load and serve the model.
    for k, v in SECRETS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    dump = tmp_path / "environ.json"
    wrapper = tmp_path / "python"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"json.dump({{'pid': os.getpid(), 'env': dict(os.environ)}}, open({str(dump)!r}, 'w'))\n"
        "os.execv(sys.executable, [sys.executable] + sys.argv[1:])\n")
    wrapper.chmod(0o755)
    res = check.validate(models["good"], models["files"], examples=5, requests=5,
                         max_latency_ms=5000, python=str(wrapper))
    assert res.blessed, res.reason  # the allow-listed environment is enough to serve
    seen = json.loads(dump.read_text())["env"]
    leaked = sorted(set(SECRETS) & set(seen))
    assert not leaked, leaked
    assert not any(v in seen.values() for v in SECRETS.values())
    assert seen["PATH"] == os.environ["PATH"] and seen["TF_NUM_INTRAOP_THREADS"] == "2"
    assert os.environ["TFXKIT_DB_PASSWORD"] == "hunter2"  # the parent keeps its own


def test_judge_counts_the_tflite_check():
    """push.tflite: the TFLite check's problems fail the verdict; its figures end the
    reason of a pass."""
    base = {"examples": 4, "signatures": {"serving_default": {"problems": []}},
            "latencies_ms": [1.0] * 10}
    ok = check.judge({**base, "tflite": {
        "signature": "serving_raw", "size_bytes": 1234, "rows": 4, "max_abs_diff": 2.5e-7,
        "tolerance": 1e-4, "select_tf_ops": True, "problems": []}}, max_latency_ms=10)
    assert ok.blessed and ok.reason.endswith(
        "; TFLite (serving_raw, 1234 bytes, Select TF ops) matches the SavedModel on 4 eval "
        "rows: max abs diff 2.5e-07 <= 0.0001")
    bad = check.judge({**base, "tflite": {"problems": [
        "tflite: TFLite output 'probabilities' differs from the SavedModel's by up to 0.02 "
        "(tolerance 0.0001) on 3 of 4 rows"]}}, max_latency_ms=10)
    assert not bad.blessed and bad.reason.startswith("tflite: TFLite output 'probabilities'")
    assert check.judge(base, 10).tflite is None
