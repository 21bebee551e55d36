"""The ``features:`` section (``config/features.py``, and the checks across sections
that concern it): unknown keys, transforms and strategies, a column in two groups."""
from tests.unit.pipelines.config.test_loader import BASE, load_err, write


def test_nested_unknown_key(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("dense:", "crosses: [a]\n  dense:")))
    assert e.field == "features.crosses"


def test_unknown_transform(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("dense: [bill, mass]",
                                              "dense: [bill, mass]\n  scale: cube")))
    assert e.field.startswith("features.scale") and "cube" in e.reason


def test_unknown_impute_strategy(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("dense: [bill, mass]",
                                              "dense: [bill, mass]\n  impute: {bill: mode}")))
    assert e.field.startswith("features.impute.bill")


def test_column_in_two_groups(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("vocab: {island: {top_k: 3}}",
                                              "vocab: {island: {top_k: 3}}\n  hash: {island: 8}")))
    assert "'island' is in both vocab and hash" in str(e)


def test_impute_on_unused_column(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("dense: [bill, mass]",
                                              "dense: [bill, mass]\n  impute: {year: mean}")))
    assert "features.impute.year" in str(e) and "not used" in str(e)


def test_vocab_lists_scales_per_column_and_the_raw_columns(tmp_path):
    from tfxkit.pipelines.config import load_config

    cfg = load_config(write(tmp_path, BASE.replace(
        "vocab: {island: {top_k: 3}}",
        "vocab: [island]\n  scale: {mass: log}\n  bucket: {year: 3}\n  hash: {id: 4}")))
    f = cfg.features
    assert f.vocab["island"].top_k is None and f.vocab["island"].num_oov_buckets == 1
    assert (f.scale_for("mass"), f.scale_for("bill")) == ("log", "z_score")
    assert f.raw_columns() == ["bill", "mass", "year", "island", "id"]
    plain = load_config(write(tmp_path)).features
    assert plain.scale_for("mass") == "z_score" and plain.vocab["island"].top_k == 3


def test_bucket_and_hash_counts_must_be_positive(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("vocab: {island: {top_k: 3}}",
                                              "vocab: {island: {top_k: 3}}\n  hash: {id: 0}")))
    assert e.field == "features.hash" and "id: must be a positive count, got 0" in e.reason
