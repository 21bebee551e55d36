"""``features.sequence`` through real tf.Transform (in-memory Beam), traced in TF1 graph
mode (config-driven default) and TF2: the last ``max_length`` elements, padding, element
vocabularies with 0 as padding, per-element scaling with a mask, delimited strings."""
import numpy as np
import pytest

from tfxkit.testing import run_preprocessing, spec_preprocessing_fn

ROWS = [
    {"seg": ["a", "b", "c"], "km": [1.0, 2.0, 3.0], "txt": "a|b", "num": "1.5|2", "y": 1.0},
    {"seg": ["c"], "km": [4.0], "txt": "c|c|a|b|b", "num": " 3 ", "y": 2.0},
    {"seg": None, "km": None, "txt": None, "num": None, "y": 3.0},
    {"seg": ["a", "a", "a", "a", "b"], "km": [0.0, 0.0, 1.0, 2.0, 3.0], "txt": "",
     "num": "4||5", "y": 3.0},
]
FEATURES = {"sequence": {
    "seg": {"max_length": 3, "vocab": {}},
    "km": {"max_length": 4, "scale": "none", "dtype": "float"},
    "txt": {"max_length": 3, "vocab": {}, "delimiter": "|", "dtype": "string"},
    "num": {"max_length": 2, "scale": "min_max", "dtype": "float"}}}


@pytest.fixture(scope="module", params=[True, False], ids=["tf1", "tf2"])
def out(request):
    return run_preprocessing(spec_preprocessing_fn("regression", "y", FEATURES), ROWS,
                             tf_compat_v1=request.param)


def col(rows, name):
    return [r[name].tolist() for r in rows]


def test_vocab_ids_keep_the_last_elements_in_order_and_pad_with_zero(out):
    # counts over what is kept (a,b,c | c | - | a,a,b): a 3, b 2, c 2 -> ids a 0, c 1, b 2,
    # shifted by one: 0 is padding
    a, c, b = 1, 2, 3
    assert col(out, "seg_xf") == [[a, b, c], [c, 0, 0], [0, 0, 0], [a, a, b]]


def test_delimited_strings_are_split(out):
    # kept: a,b | a,b,b | - | (empty) -> b 3, a 2
    b, a = 1, 2
    assert col(out, "txt_xf") == [[a, b, 0], [a, b, b], [0, 0, 0], [0, 0, 0]]


def test_numbers_padded_with_a_mask(out):
    assert col(out, "km_xf") == [[1, 2, 3, 0], [4, 0, 0, 0], [0, 0, 0, 0], [0, 1, 2, 3]]
    assert col(out, "km_mask_xf") == [[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]


def test_delimited_numbers_are_parsed_and_scaled_per_element(out):
    # kept: 1.5, 2 | 3 | - | 4, 5 (the empty element dropped) -> min 1.5, max 5
    want = [[0.0, 0.5 / 3.5], [1.5 / 3.5, 0.0], [0.0, 0.0], [2.5 / 3.5, 1.0]]
    assert np.allclose(col(out, "num_xf"), want, atol=1e-6)
    assert col(out, "num_mask_xf") == [[1, 1], [1, 0], [0, 0], [1, 1]]


def test_text_that_is_not_a_number_names_the_feature():
    rows = [{"num": "1|x2", "y": 1.0}, {"num": "3", "y": 2.0}]
    fn = spec_preprocessing_fn("regression", "y", {"sequence": {"num": {"dtype": "float"}}})
    with pytest.raises(Exception, match=r"features.sequence.num: an element is not a number"):
        run_preprocessing(fn, rows, tf_compat_v1=True)


def test_a_missing_sequence_column_names_the_field():
    fn = spec_preprocessing_fn("regression", "y", {"sequence": {"route": {}}})
    with pytest.raises(ValueError, match=r"features.sequence.route: 'route' is not in the raw"):
        run_preprocessing(fn, [{"x": 1.0, "y": 1.0}])
