"""Every transform kind through the testing kit (real tf.Transform, in-memory Beam); the
kit itself is tested in tests/unit/tfxkit/test_testing.py."""
import math

import numpy as np
import pytest

from tfxkit.testing import assert_transform, run_preprocessing, spec_preprocessing_fn

ROWS = [
    {"a": 1.0, "b": 0.0, "c": 0.0, "d": 2.0, "s": "x", "year": 2007, "city": "p", "y": "A"},
    {"a": 3.0, "b": 10.0, "c": None, "d": 2.0, "s": "y", "year": 2008, "city": "q", "y": "B"},
    {"a": None, "b": None, "c": 1.0, "d": None, "s": None, "year": 2007, "city": None, "y": "A"},
    {"a": 2.0, "b": 5.0, "c": 3.0, "d": 7.0, "s": "x", "year": 2009, "city": "p", "y": "C"},
]


@pytest.fixture(scope="module")
def numeric():
    """Scaling and imputation kinds in one analyze-and-transform."""
    fn = spec_preprocessing_fn("multiclass", "y", {
        "dense": ["a", "b", "c", "d"],
        "scale": {"a": "z_score", "b": "min_max", "c": "log", "d": "none"},
        "impute": {"a": "mean", "b": "median", "c": {"constant": 5}, "d": "most_frequent"},
        "bucket": {"a": 2},
    })
    return run_preprocessing(fn, ROWS)


def col(rows, name):
    return [r[name].item() if hasattr(r[name], "item") else r[name] for r in rows]


def test_z_score_with_mean_imputation(numeric):
    # present values 1, 3, 2 -> mean 2 fills the gap; z-score over 1, 3, 2, 2
    sd = math.sqrt(0.5)
    assert col(numeric, "a_xf") == pytest.approx([-1 / sd, 1 / sd, 0.0, 0.0], abs=1e-5)


def test_min_max_with_median_imputation(numeric):
    # median of 0, 10, 5 is 5; min-max over [0, 10]
    assert col(numeric, "b_xf") == pytest.approx([0.0, 1.0, 0.5, 0.5], abs=1e-5)


def test_log_with_constant_imputation(numeric):
    assert col(numeric, "c_xf") == pytest.approx(
        [0.0, math.log1p(5), math.log1p(1), math.log1p(3)], abs=1e-5)


def test_none_scaling_with_most_frequent(numeric):
    assert col(numeric, "d_xf") == pytest.approx([2.0, 2.0, 2.0, 7.0])


def test_quantile_buckets(numeric):
    buckets = col(numeric, "a_bucket_xf")
    assert set(buckets) <= {0, 1}
    assert buckets[0] == 0 and buckets[1] == 1  # lowest and highest values


def test_label_vocabulary_most_frequent_first(numeric):
    assert col(numeric, "y_xf")[0] == col(numeric, "y_xf")[2] == 0
    assert sorted(set(col(numeric, "y_xf"))) == [0, 1, 2]


def test_categorical_transforms_and_fixed_classes():
    fn = spec_preprocessing_fn("multiclass", "y", {
        "vocab": {"s": {"top_k": 1, "num_oov_buckets": 1}},
        "categorical_int": {"year": 1},
        "hash": {"city": 16},
    }, label_classes=["C", "B", "A"])
    got = assert_transform(fn, ROWS, expected={
        # 'x' is the top word; 'y' shares OOV id 1; the missing s is imputed with
        # the most frequent value ('x'), so it gets x's id
        "s_xf": [0, 1, 0, 0],
        "year_xf": [0, 1, 0, 1],          # 2007 is the only kept value
        "y_xf": [2, 1, 2, 0],             # classes in the configured order
    })
    hashed = col(got, "city_xf")
    assert hashed[0] == hashed[3] and all(0 <= h < 16 for h in hashed)


def test_missing_text_is_imputed_most_frequent():
    fn = spec_preprocessing_fn("regression", "y", {"vocab": {"s": {}}})
    rows = [{"s": "x", "y": 1.0}, {"s": None, "y": 2.0}, {"s": "x", "y": 3.0}, {"s": "z", "y": 4.0}]
    assert_transform(fn, rows, expected={"s_xf": [0, 0, 0, 1], "y_xf": [1.0, 2.0, 3.0, 4.0]})


def test_binary_integer_label_kept():
    fn = spec_preprocessing_fn("binary", "y", {"dense": ["a"]})
    rows = [{"a": 1.0, "y": 0}, {"a": 2.0, "y": 1}, {"a": 3.0, "y": 1}]
    assert_transform(fn, rows, expected={"y_xf": [0, 1, 1]})


def test_user_preprocessing_module(tmp_path):
    from tfxkit.pipelines.transform import preprocessing_fn
    import functools

    mod = tmp_path / "preprocessing.py"
    mod.write_text(
        "from tfxkit.pipelines import transform as t\n"
        "def preprocessing_fn(inputs, custom_config):\n"
        "    x = t.impute(inputs['a'], 'median')\n"
        "    return {'a_xf': t.scale(x, 'min_max') * 10.0,\n"
        "            **t.transform_label(inputs, custom_config)}\n")
    spec = {"task": "regression", "label": "y", "features": {"module": str(mod)}}
    fn = functools.partial(preprocessing_fn, custom_config=spec)
    assert_transform(fn, [{"a": 0.0, "y": 1.0}, {"a": 4.0, "y": 1.0}, {"a": None, "y": 2.0},
                          {"a": 1.0, "y": 1.0}],
                     expected={"a_xf": [0.0, 10.0, 2.5, 2.5], "y_xf": [1.0, 1.0, 2.0, 1.0]})


def test_integer_imputation_rounds_and_float_mode_is_exact():
    fn = spec_preprocessing_fn("regression", "y", {
        "dense": ["n", "f"], "scale": "none", "impute": {"n": "mean", "f": "most_frequent"}})
    rows = [{"n": 4, "f": 1e-7, "y": 1.0}, {"n": 5, "f": 1e-7, "y": 1.0},
            {"n": 5, "f": 2e-7, "y": 1.0}, {"n": None, "f": None, "y": 1.0}]
    # mean of 4, 5, 5 is 4.67: rounded to 5, not truncated to 4; the float mode keeps 1e-7
    assert_transform(fn, rows, expected={"n_xf": [4.0, 5.0, 5.0, 5.0],
                                         "f_xf": [1e-7, 1e-7, 2e-7, 1e-7]}, atol=1e-9, rtol=1e-4)


BANDIT = {"action": "arm", "actions": ["a", "b", "c"], "propensity": "p"}


def test_bandit_columns_action_index_reward_and_propensity():
    """Task bandit: the logged action as its index in bandit.actions (-1 for any other),
    the reward (the label) and the propensity as floats; none of them a context feature."""
    fn = spec_preprocessing_fn("bandit", "r", {"dense": ["x"], "scale": "none"}, bandit=BANDIT)
    rows = [{"x": 1.0, "arm": "c", "r": 1, "p": 0.5}, {"x": 2.0, "arm": "a", "r": -1, "p": 0.25},
            {"x": 3.0, "arm": "zz", "r": 0, "p": 1.0}]
    got = assert_transform(fn, rows, expected={
        "arm_xf": [2, 0, -1], "r_xf": [1.0, -1.0, 0.0], "p_xf": [0.5, 0.25, 1.0],
        "x_xf": [1.0, 2.0, 3.0]})
    assert set(got[0]) == {"x_xf", "arm_xf", "r_xf", "p_xf"}
    assert all(isinstance(got[0][k], (float, np.floating)) for k in ("r_xf", "p_xf"))


def test_a_bandit_column_listed_as_a_feature_is_refused():
    fn = spec_preprocessing_fn("bandit", "r", {"dense": ["x"], "vocab": {"arm": {}}},
                               bandit=BANDIT)
    with pytest.raises(ValueError, match="bandit columns are not context features: arm_xf"):
        run_preprocessing(fn, [{"x": 1.0, "arm": "a", "r": 1, "p": 0.5}])


@pytest.mark.parametrize("task, label, spec, extra", [
    ("multiclass", "y", {
        "dense": ["a", "b", "c", "d"],
        "scale": {"a": "z_score", "b": "min_max", "c": "log", "d": "none"},
        "impute": {"a": "mean", "b": "median", "c": {"constant": 5}, "d": "most_frequent",
                   "s": "most_frequent", "city": {"constant": "none"}},
        "bucket": {"b": 2},
        "vocab": {"s": {"top_k": 1, "num_oov_buckets": 2}, "city": {"frequency_threshold": 2}},
        "categorical_int": {"year": 3},
        "hash": {"city": 8},
    }, {}),
    ("bandit", "r", {"dense": ["x"]}, {"bandit": BANDIT}),
])
def test_tf1_graph_mode_transforms_every_kind_as_tf2_does(task, label, spec, extra):
    """features.tf_compat_v1 (auto: TF1 for this config-driven preprocessing) must not
    change a single transformed value."""
    if task == "bandit":
        rows = [{"x": 1.0, "arm": "c", "r": 1, "p": 0.5}, {"x": 2.0, "arm": "a", "r": -1,
                "p": 0.25}, {"x": 3.0, "arm": "zz", "r": 0, "p": 1.0}]
    else:
        rows = ROWS
    fn = spec_preprocessing_fn(task, label, spec, **extra)
    tf2 = run_preprocessing(fn, rows)
    tf1 = run_preprocessing(fn, rows, tf_compat_v1=True)
    assert len(tf1) == len(tf2) == len(rows)
    for a, b in zip(tf1, tf2):
        assert set(a) == set(b)
        for k in a:
            assert np.asarray(a[k]).dtype == np.asarray(b[k]).dtype, k
            if np.asarray(a[k]).dtype.kind in "fc":
                np.testing.assert_allclose(a[k], b[k], rtol=1e-6, atol=1e-6, err_msg=k)
            else:
                np.testing.assert_array_equal(a[k], b[k], err_msg=k)
