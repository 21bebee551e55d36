"""The report's dataclasses: the few derived values the pages and the summary read."""
from tfxkit.infra.metadata.report.model import (ComponentRun, Evaluation, FeatureSummary,
                                                 Report, SliceMetric, SplitStats, Training)


def test_feature_summary_totals_and_drift_measure():
    f = FeatureSummary("age", "numeric", "FLOAT", present=3, missing=1)
    assert (f.total, f.missing_pct, f.drift_measure) == (4, 25.0, "Jensen-Shannon")
    empty = FeatureSummary("country", "categorical", "STRING")
    assert (empty.total, empty.missing_pct, empty.drift_measure) == (0, 0.0, "L-infinity")


def test_split_stats_finds_a_feature_by_name():
    a, b = FeatureSummary("a", "numeric", "INT"), FeatureSummary("b", "other", "BYTES")
    stats = SplitStats("train", 10, [a, b])
    assert stats.feature("b") is b and stats.feature("c") is None


def test_evaluation_metric_gated_names_and_slices_overall_first():
    ev = Evaluation(metrics=[
        SliceMetric("island=Dream", "accuracy", 0.8, gated=True),
        SliceMetric("Overall", "auc", 0.9),
        SliceMetric("Overall", "accuracy", 0.85, gated=True),
        SliceMetric("island=Biscoe", "loss", 0.3, gated=True),
    ])
    assert ev.metric("accuracy").value == 0.85
    assert ev.metric("accuracy", "island=Dream").value == 0.8
    assert ev.metric("recall") is None
    assert ev.gated_names == ["accuracy", "loss"]
    assert ev.slices == ["Overall", "island=Biscoe", "island=Dream"]


def test_training_epochs_is_the_longest_history():
    assert Training(history={"loss": [1, 0.5, 0.4], "val_loss": [1, 0.6]}).epochs == 3
    assert Training().epochs == 0


def test_report_stopped_and_trained():
    r = Report("p", "r1", "training", components=[
        ComponentRun("Trainer", "cached"), ComponentRun("Evaluator", "canceled")])
    assert r.component("Trainer").state == "cached" and r.component("Pusher") is None
    assert r.stopped.node_id == "Evaluator" and r.trained
    failed = ComponentRun("Transform", "failed")
    r2 = Report("p", "r2", "training", components=[failed, ComponentRun("Trainer", "not run")],
                failed=failed)
    assert r2.stopped is failed and not r2.trained
    assert Report("p", "r3", "training", components=[ComponentRun("Trainer", "ran")]).stopped is None
