"""components/tflite/files.py: the TFLite files a blessing folder holds, checked against
their sha256, and what the registry's record keeps of them."""
import hashlib
import json

import pytest

from tfxkit.components.tflite import files


def write(folder, content=b"TFL3 model", **info):
    d = folder / "tflite"
    d.mkdir(parents=True)
    (d / "model.tflite").write_bytes(content)
    doc = {"signature": "serving_raw", "transform": "include", "size_bytes": len(content),
           "sha256": hashlib.sha256(content).hexdigest(), "max_abs_diff": 2e-7, "rows": 70,
           "tolerance": 1e-4, "inputs": {"x": {}}, "convert_s": 3.0, **info}
    (d / "tflite.json").write_text(json.dumps(doc))
    return doc


def test_read_dir_and_info_record(tmp_path):
    assert files.read_dir(str(tmp_path)) is None  # no TFLite model made
    doc = write(tmp_path)
    got = files.read_dir(str(tmp_path))
    assert sorted(got) == ["tflite/model.tflite", "tflite/tflite.json"]
    assert got["tflite/model.tflite"] == b"TFL3 model"
    rec = files.info_record(doc)
    assert rec == {"path": "tflite/model.tflite", "signature": "serving_raw",
                   "transform": "include", "size_bytes": 10, "sha256": doc["sha256"],
                   "max_abs_diff": 2e-7, "rows": 70, "tolerance": 1e-4}


def test_a_model_that_is_not_the_checked_one_is_refused(tmp_path):
    write(tmp_path, sha256="0" * 64)
    with pytest.raises(ValueError, match=r"model.tflite: sha256 [0-9a-f]{64} differs from "
                                         r"the tflite.json beside it \(0000"):
        files.read_dir(str(tmp_path))
