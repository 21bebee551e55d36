"""Drift against the previous run (infra/metadata/report/drift.py): features matched by
split, name and kind; predictions as categories or numbers."""
import pytest

from tfxkit.infra.metadata.report import drift
from tfxkit.infra.metadata.report.model import FeatureSummary, SplitStats


def _num(name, hist):
    return FeatureSummary(name, "numeric", "FLOAT", histogram=hist)


def _cat(name, top):
    return FeatureSummary(name, "categorical", "STRING", top=top)


def test_attach_previous_matches_split_name_and_kind():
    cur = [SplitStats("train", 10, [_num("age", [(0.0, 1.0, 10.0)]), _cat("island", [("a", 5.0)]),
                                    _num("kind_changed", [(0.0, 1.0, 1.0)]),
                                    _num("new", [(0.0, 1.0, 1.0)])]),
           SplitStats("eval", 5, [_num("age", [(0.0, 1.0, 5.0)])])]
    prev = [SplitStats("train", 10, [_num("age", [(0.0, 1.0, 10.0)]),
                                     _cat("island", [("a", 1.0), ("b", 1.0)]),
                                     _cat("kind_changed", [("x", 1.0)])])]
    drift.attach_previous(cur, prev)
    age, island, changed, new = cur[0].features
    assert age.previous is prev[0].features[0] and age.drift == pytest.approx(0.0)
    assert island.drift == pytest.approx(0.5)  # L-infinity: a 1.0 vs 0.5
    assert changed.previous is None and changed.drift is None
    assert new.previous is None and cur[1].features[0].previous is None  # no eval before


def test_prediction_drift_categorical_and_numeric():
    assert drift.prediction_drift("categorical", ["a", "a"], ["a", "b"]) == pytest.approx(0.5)
    assert drift.prediction_drift("numeric", [1.0, 2.0], [1.0, 2.0]) == pytest.approx(0.0)
    assert drift.prediction_drift("numeric", [0.0, 0.1], [0.9, 1.0]) == pytest.approx(1.0)
    assert drift.prediction_drift("numeric", [3.0], [3.0]) == 0.0  # one value: no spread
    assert drift.prediction_drift("numeric", [1.0], []) is None
