"""This use case's feature engineering, checked in seconds with tfxkit.testing.

The features come from config.yaml, so editing its features section never breaks this
test: every feature is transformed, missing values are imputed, and each output is in
its range (z-scores centred, ids within their vocabulary or buckets)."""
from pathlib import Path

from tfxkit.testing import assert_config_features

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def test_config_features():
    got = assert_config_features(CONFIG)
    assert got  # one transformed row per sample row
