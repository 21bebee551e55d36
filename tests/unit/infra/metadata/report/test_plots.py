"""The report's pictures (infra/metadata/report/plots.py): each plot on small inputs is one
inline ``<svg>`` that parses, keeps its words as text, draws this run (and the previous
one where given) in their colors, and never clashes ids with another figure."""
import re
import xml.etree.ElementTree as ET

import pytest

from tfxkit.infra.metadata.report import plots
from tfxkit.infra.metadata.report.model import (ComponentRun, FeatureSummary, PredictionOutput,
                                                SliceMetric)

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg):
    """(root, words): the figure as XML and its text, one string."""
    assert svg.startswith("<svg") and "<metadata>" not in svg  # inline: no prolog
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg"
    return root, " ".join("".join(t.itertext()) for t in root.iter(SVG + "text"))


def _referenced_ids(svg):
    """The ids a figure points at (clip paths, reused glyphs): one page holds many."""
    return set(re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', svg)) - {("", "")}


def test_timeline_one_bar_per_component_colored_by_state():
    comps = [ComponentRun("ExampleGen", "ran", 1, start=100.0, end=102.0, elapsed=2.0),
             ComponentRun("Trainer", "failed", 2, start=102.0, end=105.5, elapsed=3.5),
             ComponentRun("Pusher", "not run")]
    svg = plots.timeline(comps)
    _, words = _parse(svg)
    assert "ExampleGen" in words and "Trainer" in words and "Pusher" not in words
    assert "2.0 s ran" in words and "3.5 s failed" in words
    assert plots.STATE_COLORS["ran"] in svg and plots.STATE_COLORS["failed"] in svg
    assert plots.timeline([ComponentRun("Pusher", "not run")]) is None


def test_numeric_feature_histogram_with_the_previous_run():
    prev = FeatureSummary("age", "numeric", "FLOAT", histogram=[(0.0, 5.0, 4.0), (5.0, 10.0, 1.0)])
    f = FeatureSummary("age", "numeric", "FLOAT", present=10,
                       histogram=[(0.0, 5.0, 2.0), (5.0, 10.0, 8.0)], previous=prev)
    svg = plots.feature_plot(f, "run 7")
    _, words = _parse(svg)
    assert "fraction" in words and "this run" in words and "run 7" in words
    assert plots.CURRENT in svg and plots.PREVIOUS in svg
    alone = plots.feature_plot(FeatureSummary("age", "numeric", "FLOAT",
                                              histogram=[(0.0, 1.0, 3.0)]))
    assert plots.PREVIOUS not in alone and "run 7" not in _parse(alone)[1]


def test_categorical_feature_top_values_and_nothing_for_other_kinds():
    f = FeatureSummary("island", "categorical", "STRING", present=10,
                       top=[("Biscoe", 6.0), ("Dream", 4.0)],
                       previous=FeatureSummary("island", "categorical", "STRING", present=5,
                                               top=[("Biscoe", 5.0)]))
    _, words = _parse(plots.feature_plot(f))
    assert "Biscoe" in words and "Dream" in words and "previous run" in words
    assert plots.feature_plot(FeatureSummary("b", "other", "BYTES")) is None
    assert plots.feature_plot(FeatureSummary("n", "numeric", "INT")) is None  # no histogram


def test_missing_plot_names_every_feature():
    fs = [FeatureSummary("a", "numeric", "INT", present=9, missing=1),
          FeatureSummary("b", "categorical", "STRING", present=5, missing=5,
                         previous=FeatureSummary("b", "categorical", "STRING", present=10))]
    _, words = _parse(plots.missing_plot(fs))
    assert "a" in words.split() and "b" in words.split() and "previous run" in words
    assert "% of examples missing the feature" in words
    assert plots.missing_plot([]) is None


def test_training_curves_one_figure_per_metric_loss_first():
    curves = plots.training_curves({"accuracy": [0.5, 0.7], "loss": [1.0, 0.6],
                                    "val_loss": [1.1, 0.8], "val_auc": [0.6, 0.7]})
    assert [name for name, _ in curves] == ["loss", "accuracy", "auc"]
    _, words = _parse(curves[0][1])
    assert "loss" in words and "train" in words and "eval" in words and "epoch" in words
    _, words = _parse(curves[2][1])  # only the eval split has auc
    assert "eval" in words and "train" not in words
    assert plots.training_curves({}) == []


def test_slice_metric_plot_marks_failures_baseline_and_bounds():
    rows = [SliceMetric("Overall", "accuracy", 0.9, baseline=0.85, ok=True),
            SliceMetric("island:Dream", "accuracy", 0.6, ok=False),
            SliceMetric("island:Torgersen", "accuracy", None)]
    svg = plots.slice_metric_plot("accuracy", rows, lower=0.7)
    _, words = _parse(svg)
    assert "Overall" in words and "island:Dream" in words and "Torgersen" not in words
    assert "lower bound 0.7" in words and "baseline" in words and "0.9000" in words
    assert "#dc2626" in svg  # the failed slice in red
    assert plots.slice_metric_plot("accuracy", rows[2:]) is None


@pytest.mark.parametrize("kind, values, previous, expect", [
    ("categorical", ["a", "b", "a"], ["b", "b"], ["a", "b", "previous run"]),
    ("numeric", [0.1, 0.5, 0.9], [0.2, 0.3], ["density", "previous run"]),
    ("numeric", [1.0, 1.0], None, ["density", "this run"]),
])
def test_prediction_plot(kind, values, previous, expect):
    svg = plots.prediction_plot(PredictionOutput("m1", "class", kind, values, previous))
    _, words = _parse(svg)
    assert "m1: class" in words
    for word in expect:
        assert word in words
    assert ("previous run" in words) == bool(previous)


def test_empty_predictions_and_ids_never_clash():
    assert plots.prediction_plot(PredictionOutput("", "class", "numeric", [])) is None
    f = FeatureSummary("x", "numeric", "FLOAT", histogram=[(0.0, 1.0, 1.0)])
    a, b = plots.feature_plot(f), plots.feature_plot(f)
    assert _referenced_ids(a) and not _referenced_ids(a) & _referenced_ids(b)


def test_tuning_plot_objective_per_trial_and_the_configs_settings():
    trials = [{"trial_id": "0", "score": 0.4}, {"trial_id": "1", "score": 0.98},
              {"trial_id": "2", "score": None}]
    svg = plots.tuning_plot(trials, "max", "val_accuracy", default_id="0")
    _, words = _parse(svg)
    assert "val_accuracy" in words and "best so far (max)" in words
    assert "config's settings" in words and "trial" in words
    assert plots.tuning_plot([{"trial_id": "0", "score": None}]) is None
