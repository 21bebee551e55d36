"""The ETA segments generator: deterministic, and its duration depends on the order."""
import pytest

from tfxkit.pipelines.datasets import eta


def test_deterministic_and_shaped():
    a, b = eta.generate_sequences(50, seed=4), eta.generate_sequences(50, seed=4)
    assert a == b and a != eta.generate_sequences(50, seed=5)
    for segs, kms, dist in zip(a["segments"], a["segment_km"], a["distance_km"]):
        assert 2 <= len(segs) == len(kms) <= 12 and set(segs) <= set(eta.SEGMENT_PACE)
        assert dist == pytest.approx(sum(kms), abs=0.011)


def test_a_jam_slows_the_segments_after_it():
    km = [1.0, 1.0, 1.0, 1.0]
    first = eta.expected_minutes_of_segments(["jam", "local", "local", "highway"], km, 3)
    last = eta.expected_minutes_of_segments(["local", "local", "highway", "jam"], km, 3)
    rush = float(eta.rush(3))
    assert last == pytest.approx(1 + (1.6 + 1.6 + 0.6 + 3.0) * rush)
    assert first == pytest.approx(1 + (3.0 + 2.5 * (1.6 + 1.6) + 0.6) * rush)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="rows must be positive"):
        eta.generate_sequences(0)
    with pytest.raises(ValueError, match="write .parquet or .csv"):
        eta.write_sequences(str(tmp_path / "t.json"), 3)
