"""The report's forest plot of a bandit's policy value estimates
(infra/metadata/report/plots.py: ``ope_plot``) from a real ``ope.json``: one inline SVG
naming each estimator, the candidate and the baseline in their colors, a change panel
only against a baseline, the gate's bounds; nothing without estimates."""
from tests.unit.infra.metadata import ope_records as R
from tests.unit.infra.metadata.report.test_plots import _parse, _referenced_ids
from tfxkit.infra.metadata import ope
from tfxkit.infra.metadata.report import plots


def test_estimates_with_intervals_baseline_change_and_bounds(tmp_path):
    o = ope.from_report(R.result())
    svg = plots.ope_plot(o)
    _, words = _parse(svg)
    for name in ("policy_value_ips", "policy_value_snips", "policy_value_dr"):
        assert name in words
    assert "mse" not in words.split()  # the reward model's numbers are in the table
    assert "candidate" in words and "baseline" in words and "change vs baseline" in words
    assert plots.CURRENT in svg and plots.PREVIOUS in svg
    first = ope.from_report(R.result(baseline=False))
    one = plots.ope_plot(first)
    _, words = _parse(one)
    assert "change vs baseline" not in words and "baseline" not in words
    assert not _referenced_ids(svg) & _referenced_ids(one)
    assert plots.ope_plot({"candidate": {"mse": {"value": 1.0, "lower": None,
                                                 "upper": None}}}) is None
