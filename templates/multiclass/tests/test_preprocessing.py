"""This use case's feature engineering, checked in seconds with tfxkit.testing."""
from pathlib import Path

import pytest

from tfxkit.testing import assert_transform, config_preprocessing_fn

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"

ROWS = [
    {"species": "Adelie", "island": "Torgersen", "bill_length_mm": 39.0, "bill_depth_mm": 18.0,
     "flipper_length_mm": 180, "body_mass_g": 3700, "sex": "male", "year": 2007},
    {"species": "Gentoo", "island": "Biscoe", "bill_length_mm": 47.0, "bill_depth_mm": 14.0,
     "flipper_length_mm": 220, "body_mass_g": 5500, "sex": "female", "year": 2008},
    # a row with missing values, as in the raw data
    {"species": "Adelie", "island": "Torgersen", "bill_length_mm": None, "bill_depth_mm": None,
     "flipper_length_mm": 190, "body_mass_g": 3900, "sex": None, "year": 2007},
    {"species": "Chinstrap", "island": "Dream", "bill_length_mm": 49.0, "bill_depth_mm": 19.0,
     "flipper_length_mm": 200, "body_mass_g": 3800, "sex": "male", "year": 2009},
]


def test_penguin_features():
    fn = config_preprocessing_fn(CONFIG)
    # bill_length: mean of 39, 47, 49 = 45 imputed; z-score over 39, 47, 45, 49
    mean, sd = 45.0, (((39 - 45) ** 2 + 4 + 0 + 16) / 4) ** 0.5
    got = assert_transform(fn, ROWS, expected={
        "bill_length_mm_xf": [(39 - mean) / sd, (47 - mean) / sd, 0.0, (49 - mean) / sd],
        # vocabularies: most frequent first, ties in reverse alphabetical order
        "species_xf": [0, 1, 0, 2],           # Adelie (twice) 0, then Gentoo, Chinstrap
        "island_xf": [0, 2, 0, 1],            # Torgersen (twice) 0, then Dream, Biscoe
        "sex_xf": [0, 1, 0, 0],               # missing sex -> most frequent ('male')
    }, atol=1e-4)
    # bill_depth: the median (18) fills the gap, so row 2 scales like row 0 (18.0)
    depth = [float(r["bill_depth_mm_xf"]) for r in got]
    assert depth[2] == pytest.approx(depth[0])
    assert depth[1] < depth[0] < depth[3]  # 14 < 18 < 19
    assert all(0 <= int(r["body_mass_g_bucket_xf"]) < 5 for r in got)
