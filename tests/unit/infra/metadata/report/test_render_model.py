"""The report's training, evaluation and predictions sections
(infra/metadata/report/render_model.py)."""
from tfxkit.infra.metadata.report.model import (ComponentRun, Evaluation, PredictionOutput,
                                                Predictions, Report, SliceMetric, Training)
from tfxkit.infra.metadata.report.render_model import (card_href, evaluation_section,
                                                       predictions_section, training_section)


def _trained(**kw):
    return Report("p", "r", "training", components=[ComponentRun("Trainer", "cached")], **kw)


def test_training_epochs_hyperparameters_history_and_why_not():
    rep = _trained(training=Training(history={"loss": [1.0, 0.4, 0.5], "accuracy": [0.5, 0.8]},
                                     hyperparameters={"epochs": 3, "module": None},
                                     model_uri="/m", state="cached"))
    page = training_section(rep)
    assert "data-epochs='3'" in page and "cached: the model of an earlier run" in page
    assert "<dt>epochs</dt><dd>3</dd>" in page and "module" not in page
    assert "data-history='loss'" in page and "0.4000" in page  # the best loss is the lowest
    assert page.count("<svg") == 2 and "Model: /m" in page
    stopped = Report("p", "r", "training", components=[
        ComponentRun("Trainer", "failed", error="OOM")])
    assert "the Trainer failed: OOM" in training_section(stopped)


def test_evaluation_gated_slices_bounds_push_and_infra():
    ev = Evaluation(blessed=False, has_baseline=True, baseline_uri="/base", reasons=["too low"],
                    metrics=[SliceMetric("Overall", "accuracy", 0.9, 0.8, 0.1, ">= 0.7", True,
                                         True, 40.0),
                             SliceMetric("island:Dream", "accuracy", 0.6, None, None,
                                         ">= 0.7, <= 1", True, False),
                             SliceMetric("Overall", "auc", 0.7)])
    rep = _trained(evaluation=ev, pushed=False, push_reason="not blessed by TFMA",
                   infra_blessed=True, infra_reason="served")
    page = evaluation_section(rep)
    assert "data-blessed='false'" in page and "<li>too low</li>" in page
    assert "the latest blessed model (/base)" in page
    assert "data-infra-blessed='true'" in page and "Not pushed: not blessed by TFMA" in page
    assert "data-metric='accuracy' data-slice='island:Dream'" in page and "FAIL" in page
    assert "+0.1000" in page and "class='other-metrics'" in page
    # the plot's bound, from the first slice's threshold text
    assert "lower bound 0.7" in page and "upper bound" not in page
    assert "No evaluation" in evaluation_section(_trained())


def test_evaluation_links_the_pushed_versions_model_card():
    ev = Evaluation(blessed=True, metrics=[SliceMetric("Overall", "accuracy", 0.9)])
    card = "/reg/17/model_card/model_card.html"
    page = evaluation_section(_trained(evaluation=ev, pushed=True, pushed_version="17",
                                       pushed_path="/reg/17", model_card=card))
    assert f"data-model-card='{card}'" in page
    assert "<a href='file:///reg/17/model_card/model_card.html'>" in page
    assert "Model card of version 17" in page
    assert "data-model-card" not in evaluation_section(_trained(evaluation=ev, pushed=False))
    assert card_href("gs://b/reg/17/model_card/model_card.html").startswith("gs://")


def test_predictions_summaries_and_drift():
    preds = Predictions(rows=3, model_version="7", store="duckdb", outputs=[
        PredictionOutput("", "class", "categorical", ["a", "a", "b"], ["a"], 0.25),
        PredictionOutput("", "prediction", "numeric", [1.0, 3.0])])
    page = predictions_section(Report("p", "r", "inference", predictions=preds))
    assert "data-fact='model version'>7" in page and "no earlier run with other" in page
    assert "a 66.7%, b 33.3%" in page and "mean 2, min 1, max 3" in page
    assert "0.250" in page and page.count("<svg") == 2
    assert "No predictions" in predictions_section(Report("p", "r", "inference"))


def test_tuning_trials_table_plot_best_and_the_configs_own_trial():
    from tfxkit.infra.metadata.report.model import Tuning
    from tfxkit.infra.metadata.report.render_model import tuning_section

    t = Tuning(trials=[{"trial_id": "0", "score": 0.4, "values": {"learning_rate": 0.0003}},
                       {"trial_id": "1", "score": 0.98, "values": {"learning_rate": 0.03}},
                       {"trial_id": "2", "score": 0.9, "values": {"learning_rate": 0.01}}],
               best_values={"learning_rate": 0.03}, objective="accuracy",
               keras_metric="val_sparse_categorical_accuracy", direction="max",
               algorithm="random", epochs_per_trial=5, state="ran", config_first=True)
    assert t.best["trial_id"] == "1" and t.default["trial_id"] == "0"
    page = tuning_section(_trained(tuning=t))
    assert "data-trials='3'" in page and "random search, 5 epochs each" in page
    assert "Best trial 1: 0.9800; the config's own settings (trial 0): 0.4000" in page
    assert "<tr data-trial='1' class='best'><td>1 (best)</td><td>0.03</td>" in page
    assert "<td>0 (config)</td><td>0.0003</td>" in page
    assert "<dt>learning_rate</dt><dd>0.03</dd>" in page and page.count("<svg") == 1
    # minimized objectives pick the lowest; without the config's trial no comparison
    low = Tuning(trials=t.trials, direction="min", algorithm="hyperband")
    assert low.best["trial_id"] == "0" and low.default is None
    assert tuning_section(_trained()) == ""


def test_training_says_whether_and_from_which_version_it_warm_started():
    warm = {"mode": "latest_blessed", "warm_started": True, "from": "/root/model/7",
            "from_version": "1796096528", "reason": "initialised from ..."}
    page = training_section(_trained(training=Training(history={"loss": [1.0]},
                                                       warm_start=warm)))
    assert ("<p data-warm-start='true'>Warm-started from the latest blessed model: version "
            "<b>1796096528</b> (/root/model/7).</p>") in page
    cold = dict(warm, warm_started=False, reason="architecture differs from the base model: "
                "layer hidden_0: kernel (20, 16) in the base model vs (20, 32) now: trained cold")
    page = training_section(_trained(training=Training(history={"loss": [1.0]},
                                                       warm_start=cold)))
    assert "data-warm-start='false'" in page
    assert "layer hidden_0: kernel (20, 16) in the base model vs (20, 32) now" in page
    for off in (None, dict(warm, mode="none", warm_started=False)):
        page = training_section(_trained(training=Training(history={"loss": [1.0]},
                                                           warm_start=off)))
        assert "data-warm-start" not in page
