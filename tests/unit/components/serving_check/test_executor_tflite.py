"""components/serving_check/executor.py with ``push.tflite`` (the ``tflite`` execution
property): the model process converts the candidate, compares the TFLite interpreter's
outputs with the SavedModel's on the eval examples, and the executor records the figures
on the blessing and puts model.tflite and tflite.json into ``<blessing>/tflite/``; a model
the check cannot convert is not blessed, with the reason."""
import json
import os

import tensorflow as tf
from tfx.types import Channel, standard_artifacts

from tfxkit.components.serving_check.component import InfraValidator
from tfxkit.components.serving_check.executor import Executor
from tests.unit.components import tiny
from tests.unit.components.tflite.test_check import _examples, _save


def _examples_artifact(uri):
    art = standard_artifacts.Examples()
    art.uri = uri
    art.split_names = json.dumps(["eval"])
    os.makedirs(os.path.join(uri, "Split-eval"))
    with tf.io.TFRecordWriter(os.path.join(uri, "Split-eval", "data.gz"), "GZIP") as w:
        for rec in _examples():
            w.write(rec)
    return art


def _run(tmp_path, model, tflite):
    comp = InfraValidator(model=Channel(type=standard_artifacts.Model),
                          examples=Channel(type=standard_artifacts.Examples),
                          num_examples=6, requests=3, max_latency_ms=10000,
                          tflite=json.dumps(tflite))
    blessing = standard_artifacts.InfraBlessing()
    blessing.uri = str(tmp_path / "blessing")
    Executor().Do({"model": [model], "examples": [_examples_artifact(str(tmp_path / "ex"))]},
                  {"blessing": [blessing]}, tiny.exec_properties(comp))
    return blessing


def test_the_tflite_check_is_recorded_and_its_files_kept(tmp_path):
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "model")
    _save(os.path.join(model.uri, "Format-Serving"))
    b = _run(tmp_path, model, {"transform": "include", "tolerance": 1e-5,
                               "select_tf_ops": False})
    reason = b.get_string_custom_property("reason")
    assert b.get_int_custom_property("blessed") == 1, reason
    assert "TFLite (serving_raw, " in reason and "matches the SavedModel on 5 eval rows" \
        in reason
    assert b.get_int_custom_property("tflite_ok") == 1
    assert b.get_int_custom_property("tflite_rows") == 5
    assert b.get_float_custom_property("tflite_max_abs_diff") < 1e-5
    assert float(b.get_string_custom_property("tflite_max_abs_diff_text")) == \
        b.get_float_custom_property("tflite_max_abs_diff")
    assert b.get_string_custom_property("tflite_signature") == "serving_raw"
    size = b.get_int_custom_property("tflite_size_bytes")
    folder = tmp_path / "blessing" / "tflite"
    assert (folder / "model.tflite").stat().st_size == size
    info = json.loads((folder / "tflite.json").read_text())
    assert info["size_bytes"] == size and info["rows"] == 5
    report = json.loads((tmp_path / "blessing" / "report.json").read_text())
    assert report["tflite"]["max_abs_diff"] == info["max_abs_diff"]


def test_a_model_without_the_tflite_signature_is_not_blessed(tmp_path):
    model = tiny.doubling_model(str(tmp_path / "model"))
    b = _run(tmp_path, model, {"transform": "include", "tolerance": 1e-4,
                               "select_tf_ops": False})
    assert b.get_int_custom_property("blessed") == 0
    assert "tflite: the model has no 'serving_raw' signature to convert" in \
        b.get_string_custom_property("reason")
    assert b.get_int_custom_property("tflite_ok") == 0
    assert not (tmp_path / "blessing" / "tflite").exists()
