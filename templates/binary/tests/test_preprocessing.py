"""This use case's feature engineering, checked in seconds with tfxkit.testing."""
import math
from pathlib import Path

from tfxkit.testing import assert_transform, config_preprocessing_fn

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
FEATURES = ["mean_radius", "mean_texture", "mean_perimeter", "mean_area", "mean_smoothness",
            "mean_compactness", "mean_concavity", "mean_concave_points", "mean_symmetry",
            "worst_radius", "worst_texture", "worst_perimeter", "worst_area",
            "worst_smoothness", "worst_concavity", "worst_concave_points"]


def row(scale, diagnosis):
    r = {f: float(scale * (i + 1)) for i, f in enumerate(FEATURES)}
    r["diagnosis"] = diagnosis
    return r


def test_breast_cancer_features():
    rows = [row(1.0, 0), row(2.0, 1), row(3.0, 1), row(4.0, 0)]
    area = [math.log1p(s * (FEATURES.index("mean_area") + 1)) for s in (1, 2, 3, 4)]
    assert_transform(config_preprocessing_fn(CONFIG), rows, expected={
        "mean_area_xf": area,                        # log scaling
        "diagnosis_xf": [0, 1, 1, 0],                # 0/1 labels kept as they are
        "mean_texture_xf": [-1.3416, -0.4472, 0.4472, 1.3416],  # z-score
    }, atol=1e-3)
