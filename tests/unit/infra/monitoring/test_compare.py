"""Skew and drift by TFDV's comparators (``infra/monitoring/compare.py``) on synthetic
statistics: a shifted categorical is flagged by L-infinity, a shifted numeric by
Jensen-Shannon, unchanged data by nothing; every feature is reported with its distance."""
import random

import pytest

from tfxkit.infra.monitoring.compare import JS, L_INFTY, compare, with_comparators
from tfxkit.infra.monitoring.statistics import statistics_of

TYPES = {"island": "bytes", "bill": "float", "sex": "bytes"}
THRESHOLDS = {"island": 0.1, "bill": 0.1, "sex": 0.1}


def rows(n, seed, island=None, bill_mean=40.0):
    rnd = random.Random(seed)
    return [{"island": island or rnd.choice(["Biscoe", "Dream", "Torgersen"]),
             "bill": rnd.gauss(bill_mean, 3.0), "sex": rnd.choice(["male", "female"])}
            for _ in range(n)]


@pytest.fixture(scope="module")
def training():
    import tensorflow_data_validation as tfdv

    stats = statistics_of(rows(600, 0), TYPES).statistics
    return stats, tfdv.infer_schema(stats)


def by_feature(distances):
    return {d.feature: d for d in distances}


def test_unchanged_traffic_flags_nothing(training):
    stats, schema = training
    got = by_feature(compare(statistics_of(rows(300, 1), TYPES).statistics, schema,
                             THRESHOLDS, "skew", stats))
    assert set(got) == {"island", "bill", "sex"}   # every feature, flagged or not
    assert all(d.value is not None and not d.flagged for d in got.values()), got
    assert got["island"].measure == L_INFTY and got["bill"].measure == JS


def test_a_shifted_categorical_is_skew_by_l_infinity(training):
    stats, schema = training
    got = by_feature(compare(statistics_of(rows(300, 2, island="Torgersen"), TYPES).statistics,
                             schema, THRESHOLDS, "skew", stats))
    assert got["island"].flagged and got["island"].value > 0.5, got["island"]
    assert got["island"].threshold == 0.1 and got["island"].kind == "skew"
    assert not got["bill"].flagged and not got["sex"].flagged


def test_a_shifted_numeric_is_skew_by_jensen_shannon(training):
    stats, schema = training
    got = by_feature(compare(statistics_of(rows(300, 3, bill_mean=55.0), TYPES).statistics,
                             schema, THRESHOLDS, "skew", stats))
    assert got["bill"].flagged and got["bill"].measure == JS, got["bill"]
    assert not got["island"].flagged and not got["sex"].flagged


def test_drift_against_the_previous_window_and_per_feature_thresholds(training):
    _, schema = training
    before = statistics_of(rows(300, 4), TYPES).statistics
    now = statistics_of(rows(300, 5, island="Dream"), TYPES).statistics
    got = by_feature(compare(now, schema, {**THRESHOLDS, "island": 0.99}, "drift", before))
    assert got["island"].kind == "drift" and got["island"].value > 0.5
    assert not got["island"].flagged          # its own, higher threshold
    same = by_feature(compare(before, schema, THRESHOLDS, "drift", before))
    assert all(d.value == pytest.approx(0.0) for d in same.values())


def test_only_the_given_features_get_comparators(training):
    _, schema = training
    s = schema.__class__()
    s.CopyFrom(schema)
    s.feature[0].drift_comparator.infinity_norm.threshold = 0.5  # an old one is replaced
    out, measures = with_comparators(s, {"bill": 0.2}, "skew")
    assert measures == {"bill": JS}
    f = {x.name: x for x in out.feature}
    assert f["bill"].skew_comparator.jensen_shannon_divergence.threshold == 0.2
    assert not f["island"].HasField("skew_comparator")
    assert not any(x.HasField("drift_comparator") for x in out.feature)
