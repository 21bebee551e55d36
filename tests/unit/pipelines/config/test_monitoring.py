"""The ``monitoring:`` section (``config/monitoring.py``): windows, thresholds by kind and
per feature, and the values refused (a feature name that is no column names the closest)."""
import pytest

from tests.conftest import TEMPLATES

CONFIG = TEMPLATES / "multiclass" / "config.yaml"


def _load(*overrides):
    from tfxkit.pipelines.config import load_config

    return load_config(CONFIG, overrides=list(overrides))


def test_defaults():
    m = _load().monitoring
    assert m.window == "1h" and m.window_s == 3600 and m.min_rows == 50
    assert (m.skew.categorical, m.skew.numeric, m.drift.categorical) == (0.1, 0.1, 0.1)
    assert m.retrain_on_drift is False and m.schedule is None


def test_thresholds_by_kind_and_per_feature():
    m = _load("monitoring.window=30m", "monitoring.skew.categorical=0.3",
              "monitoring.drift.numeric=0.05", "monitoring.features.island.skew=0.5",
              "monitoring.features.bill_length_mm.drift=0.2").monitoring
    assert m.window_s == 1800
    assert m.threshold("island", "skew", categorical=True) == 0.5      # its own
    assert m.threshold("island", "drift", categorical=True) == 0.1     # default of its kind
    assert m.threshold("sex", "skew", categorical=True) == 0.3
    assert m.threshold("bill_length_mm", "drift", categorical=False) == 0.2
    assert m.threshold("body_mass_g", "drift", categorical=False) == 0.05


@pytest.mark.parametrize("override, says", [
    ("monitoring.window=1x", "monitoring.window"),
    ("monitoring.window=0h", "not a window"),
    ("monitoring.min_rows=0", "min_rows"),
    ("monitoring.skew.numeric=0", "numeric"),
    ("monitoring.schedule=sometimes", "cron"),
    ("monitoring.bogus=1", "bogus"),
])
def test_bad_values_are_refused_naming_the_field(override, says):
    from tfxkit.pipelines.config import ConfigError

    with pytest.raises(ConfigError) as e:
        _load(override)
    assert says in str(e.value), str(e.value)


def test_an_unknown_feature_names_the_closest_column():
    from tfxkit.pipelines.config import ConfigError

    with pytest.raises(ConfigError) as e:
        _load("monitoring.features.islnd.skew=0.2")
    text = str(e.value)
    assert "monitoring.features.islnd" in text and "closest column is 'island'" in text, text
