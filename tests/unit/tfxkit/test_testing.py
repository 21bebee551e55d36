"""The testing kit for use cases' own tests (``tfxkit/testing.py``): what ``assert_transform``
reports and refuses, ``ANY``, list outputs, the feature spec it infers. Every transform kind
run through it is tested in tests/unit/pipelines/test_transform.py."""
import numpy as np
import pytest

from tfxkit.testing import ANY, assert_transform, infer_feature_spec, spec_preprocessing_fn


def test_assert_transform_reports_differences():
    fn = spec_preprocessing_fn("regression", "y", {"dense": ["a"], "scale": "none"})
    with pytest.raises(AssertionError) as e:
        assert_transform(fn, [{"a": 1.0, "y": 1.0}, {"a": 2.0, "y": 2.0}],
                         expected={"a_xf": [1.0, 9.0], "nope": [1, 2]})
    assert "a_xf[row 1]: expected 9.0, got 2.0" in str(e.value)
    assert "nope: no such output" in str(e.value)


def test_an_expected_none_is_refused_before_any_transform_runs():
    def never(inputs):
        raise AssertionError("the transform should not run")

    rows = [{"a": 1.0}, {"a": None}]
    with pytest.raises(ValueError, match=r"expected value None for a_xf\[row 1\]: "
                                         r"transformed outputs are dense.*ANY") as e:
        assert_transform(never, rows, expected={"a_xf": [1.0, None]})
    assert "write the value you expect after imputation" in str(e.value)
    with pytest.raises(ValueError, match=r"None for a_xf\[row 0\], b_xf\[row 1\]"):
        assert_transform(never, rows, expected=[{"a_xf": None}, {"a_xf": 1.0, "b_xf": None}])


def test_any_and_unnamed_outputs_are_the_only_unchecked_rows():
    fn = spec_preprocessing_fn("regression", "y", {"dense": ["a"], "scale": "none"})
    rows = [{"a": 1.0, "y": 1.0}, {"a": None, "y": 2.0}, {"a": 5.0, "y": 3.0}]
    # mean imputation: the missing a becomes 3.0
    assert_transform(fn, rows, expected={"a_xf": [1.0, ANY, 5.0]})
    assert_transform(fn, rows, expected=[{"a_xf": 1.0}, {"y_xf": 2.0}, {"a_xf": 5.0}])
    with pytest.raises(AssertionError, match=r"a_xf\[row 1\]: expected 0.0, got 3.0"):
        assert_transform(fn, rows, expected={"a_xf": [ANY, 0.0, ANY]})
    assert repr(ANY) == "ANY"


def test_multi_valued_and_empty_outputs_compare_as_lists():
    def fn(inputs):  # a sparse output: as many values per row as the row has
        return {"v_xf": inputs["v"]}

    rows = [{"v": [1, 2]}, {"v": None}, {"v": [3]}]
    assert_transform(fn, rows, expected={"v_xf": [[1, 2], [], [3]]})
    assert_transform(fn, rows, expected={"v_xf": [(1, 2), [], 3]})
    with pytest.raises(AssertionError) as e:
        assert_transform(fn, rows, expected={"v_xf": [[1], 0, [3, 4]]})
    assert "v_xf[row 0]: expected [1], got [1, 2]" in str(e.value)
    assert "v_xf[row 1]: expected 0, got []" in str(e.value)
    assert "v_xf[row 2]: expected [3, 4], got 3" in str(e.value)


def test_the_inferred_feature_spec_types_each_column_by_its_values():
    import tensorflow as tf

    spec = infer_feature_spec([{"n": 1, "f": 1, "s": None, "l": [b"a", b"b"]},
                               {"n": None, "f": 2.5, "s": "x", "l": []}])
    assert {k: v.dtype for k, v in spec.items()} == {
        "n": tf.int64, "f": tf.float32, "s": tf.string, "l": tf.string}
    assert all(isinstance(v, tf.io.VarLenFeature) for v in spec.values())
    with pytest.raises(ValueError, match="column 'gone' has only missing values: give "
                                         "feature_spec"):
        infer_feature_spec([{"a": 1.0, "gone": None}, {"a": 2.0, "gone": None}])


def test_a_serialized_example_types_values_by_the_spec_and_leaves_gaps_absent():
    import tensorflow as tf

    from tfxkit.testing import serialized_example

    spec = {"n": tf.io.VarLenFeature(tf.int64), "f": tf.io.VarLenFeature(tf.float32),
            "s": tf.io.VarLenFeature(tf.string)}
    example = tf.train.Example.FromString(serialized_example({"n": 3.0, "f": 2, "s": None,
                                                              "extra": 1}, spec))
    feats = example.features.feature
    assert set(feats) == {"n", "f"}
    assert feats["n"].int64_list.value == [3] and feats["f"].float_list.value == [2.0]


# --------------------------------------------------------------------------- from a config

def _config(tmp_path, features, task="multiclass", extra=""):
    import yaml

    (tmp_path / "d.csv").write_text("x,c,y\n1,a,b\n")
    metric = "mae, upper_bound: 1" if task == "regression" else "accuracy, lower_bound: 0.5"
    p = tmp_path / "config.yaml"
    p.write_text(f"name: t\ntask: {task}\nlabel: y\n{extra}data: {{source: {{csv: d.csv}}}}\n"
                 f"features: {yaml.safe_dump(features, default_flow_style=True)}"
                 f"eval: {{metrics: [{{name: {metric}}}]}}\n")
    return p


def test_config_sample_rows_follow_the_features(tmp_path):
    from tfxkit.testing import config_outputs, config_sample_rows

    cfg = _config(tmp_path, {"dense": ["x"], "vocab": {"c": {"top_k": 2}},
                             "categorical_int": {"h": 24}, "hash": {"u": 8},
                             "bucket": {"b": 3}, "scale": {"x": "log"}},
                  extra='label_classes: ["p", "q"]\n')
    rows = config_sample_rows(cfg)
    assert len(rows) == 6 and all(v is None for k, v in rows[2].items() if k != "y")
    assert isinstance(rows[0]["c"], str) and isinstance(rows[0]["u"], str)
    assert isinstance(rows[1]["h"], int) and isinstance(rows[1]["x"], float)
    assert [r["y"] for r in rows[:3]] == ["p", "q", "p"]
    assert config_outputs(cfg) == {"x_xf": ("log", None), "b_bucket_xf": ("bucket", 3),
                                   "c_xf": ("vocab", 3), "h_xf": ("categorical_int", 25),
                                   "u_xf": ("hash", 8), "y_xf": ("label", 2)}


def test_assert_config_features_fails_on_missing_or_bad_outputs(tmp_path, monkeypatch):
    import tfxkit.testing as testing

    cfg = _config(tmp_path, {"dense": ["x"], "vocab": ["c"]}, task="regression")
    good = [{"x_xf": np.float32(v), "c_xf": np.int64(i % 2), "y_xf": np.float32(1.0)}
            for i, v in enumerate([-1.0, 1.0, 0.0, 0.0, -0.5, 0.5])]
    monkeypatch.setattr(testing, "run_preprocessing", lambda fn, rows: good)
    assert testing.assert_config_features(cfg) == good
    bad = [dict(r, x_xf=np.float32(r["x_xf"] + 1)) for r in good]
    bad[0]["c_xf"] = np.int64(-1)
    for r in bad:
        del r["y_xf"]
    monkeypatch.setattr(testing, "run_preprocessing", lambda fn, rows: bad)
    with pytest.raises(AssertionError) as e:
        testing.assert_config_features(cfg)
    msg = str(e.value)
    assert "x_xf: z-scores average 1.000000, not 0" in msg
    assert "c_xf: negative ids" in msg and "y_xf: no such output" in msg
