"""This use case's feature engineering, checked in seconds with tfxkit.testing."""
from pathlib import Path

from tfxkit.testing import assert_transform, config_preprocessing_fn

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def trip(distance, hour, road, city, minutes):
    return {"trip_id": 1, "day": "2026-01-01", "distance_km": distance, "hour": hour,
            "weekday": 3, "road_type": road, "city": city, "duration_min": minutes}


def test_eta_features():
    rows = [trip(1.0, 8, "highway", "paris", 5.0), trip(3.0, 8, "local", "paris", 9.0),
            trip(None, 18, None, "oslo", 7.0), trip(2.0, 9, "highway", "rome", 6.0)]
    assert_transform(config_preprocessing_fn(CONFIG), rows, expected={
        # median distance (2.0) fills the gap, then z-score over 1, 3, 2, 2
        "distance_km_xf": [-1.4142, 1.4142, 0.0, 0.0],
        # vocabularies: most frequent first, ties in reverse alphabetical order
        # missing road -> constant 'unknown', its own id (not local's, not OOV's 3):
        # highway 0, unknown 1, local 2
        "road_type_xf": [0, 2, 1, 0],
        "city_xf": [0, 0, 2, 1],             # paris is the most frequent city; rome, oslo
        "hour_xf": [0, 0, 2, 1],             # hour 8 is the most frequent value; "9", "18"
        "duration_min_xf": [5.0, 9.0, 7.0, 6.0],
    }, atol=1e-3)
