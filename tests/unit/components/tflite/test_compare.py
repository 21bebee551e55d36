"""components/tflite/compare.py: the TFLite outputs against the SavedModel's."""
import numpy as np

from tfxkit.components.tflite.compare import compare


def _outs(p, cls=(b"a", b"b")):
    p = np.asarray(p, np.float32)
    return {"probabilities": p, "class_id": np.argmax(p, axis=1)[:, None].astype(np.int64),
            "class": np.array([[cls[i]] for i in np.argmax(p, axis=1)], dtype=object)}


def test_within_tolerance_passes_with_the_largest_difference():
    want = _outs([[0.2, 0.8], [0.7, 0.3]])
    got = _outs([[0.20003, 0.79997], [0.7, 0.3]])
    got["class"] = got["class"].astype("S")  # TFLite gives bytes; the SavedModel objects
    got["class_id"] = got["class_id"][:, 0]   # [n] vs [n, 1]: the same values
    res = compare(want, got, 1e-4)
    assert res.ok, res.problems
    assert res.rows == 2
    assert 2.9e-5 < res.max_abs_diff < 3.1e-5
    assert res.per_output["class_id"] == 0.0
    assert res.mismatched_rows == {"class": 0, "class_id": 0, "probabilities": 0}


def test_outside_tolerance_fails_naming_the_output_and_the_difference():
    want = _outs([[0.2, 0.8], [0.7, 0.3], [0.5, 0.5]])
    got = _outs([[0.2, 0.8], [0.7, 0.3], [0.5, 0.5]])
    got["probabilities"] = got["probabilities"] + np.float32([[0, 0], [0.01, -0.01], [0, 0]])
    res = compare(want, got, 1e-3)
    assert not res.ok
    assert res.problems == ["TFLite output 'probabilities' differs from the SavedModel's by "
                            "up to 0.01 (tolerance 0.001) on 1 of 3 rows"]
    assert abs(res.max_abs_diff - 0.01) < 1e-6
    assert compare(want, got, 0.02).ok  # the same outputs within a wider tolerance


def test_strings_missing_outputs_shapes_and_nan():
    want = _outs([[0.2, 0.8], [0.7, 0.3]])
    got = dict(want)
    got["class"] = np.array([[b"b"], [b"x"]], dtype=object)
    res = compare(want, got, 1e-4)
    assert res.problems == ["TFLite output 'class' differs on 1 of 2 rows (row 1: ['x'] vs "
                            "the SavedModel's ['a'])"]
    got = {k: v for k, v in want.items() if k != "class_id"}
    assert "TFLite output 'class_id' is missing" in compare(want, got, 1e-4).problems[0]
    got = dict(want, probabilities=np.zeros((2, 3), np.float32))
    assert compare(want, got, 1e-4).problems == [
        "TFLite output 'probabilities' has shape [2, 3], the SavedModel's [2, 2]"]
    nan = {"prediction": np.array([[np.nan], [1.0]])}
    assert compare(nan, {"prediction": np.array([[np.nan], [1.0]])}, 1e-4).ok
    one_side = compare(nan, {"prediction": np.array([[0.0], [1.0]])}, 1e-4)
    assert not one_side.ok and one_side.max_abs_diff == float("inf")
    assert compare({}, {}, 1e-4).problems == ["the SavedModel returned no outputs to compare"]
