"""The run report's plain parts without TFX: drift measures, paths, HTML rendering of
gathered reports (a succeeded, a failed and a batch-inference run), the CLI's errors.
The reports of real runs, rendered in Chromium, are in tests/e2e/test_report.py."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tfxkit.infra.metadata.report import default_path, write_html
from tfxkit.infra.metadata.report.drift import categorical_drift, numeric_drift
from tfxkit.infra.metadata.report.model import (Anomaly, ComponentRun, Evaluation, FeatureSummary,
                                               PredictionOutput, Predictions, Report, SchemaFeature,
                                               SliceMetric, SplitStats, Training)
from tfxkit.infra.metadata.report.render import dag_svg, render_html

BIN = Path(sys.executable).parent / "tfxkit"


def test_numeric_drift_is_jensen_shannon_on_the_union_of_buckets():
    a = [(0.0, 1.0, 10.0), (1.0, 2.0, 10.0)]
    assert numeric_drift(a, a) == pytest.approx(0.0)
    # the same distribution in other buckets
    assert numeric_drift(a, [(0.0, 0.5, 5.0), (0.5, 2.0, 15.0)]) == pytest.approx(0.0, abs=1e-9)
    assert numeric_drift(a, [(5.0, 6.0, 3.0)]) == pytest.approx(1.0)
    half = numeric_drift(a, [(0.0, 1.0, 20.0)])
    assert 0.1 < half < 0.5
    assert numeric_drift([], a) is None


def test_categorical_drift_is_l_infinity_of_frequencies():
    assert categorical_drift([("a", 5), ("b", 5)], [("a", 50), ("b", 50)]) == 0.0
    assert categorical_drift([("a", 10)], [("a", 5), ("b", 5)]) == pytest.approx(0.5)
    assert categorical_drift([], [("a", 1)]) is None


def test_default_path_is_file_name_safe(tmp_path):
    p = default_path(str(tmp_path), "2026-11-23T09:14:39.909034")
    assert p == str(tmp_path / "reports" / "run-2026-11-23T09-14-39.909034.html")
    out = write_html("<p>x</p>", p)
    assert Path(out).read_text() == "<p>x</p>" and not list(Path(out).parent.glob("*.tmp*"))


def _feature(name, kind, **kw):
    return FeatureSummary(name=name, kind=kind, type="FLOAT" if kind == "numeric" else "STRING",
                          **kw)


def _succeeded() -> Report:
    prev_mass = _feature("body_mass_g", "numeric", present=90, missing=10,
                         histogram=[(3000, 4000, 50), (4000, 5000, 40)], mean=4000.0)
    mass = _feature("body_mass_g", "numeric", present=95, missing=5, mean=5100.0, std=300.0,
                    min=4000.0, median=5000.0, max=6200.0, zeros=0,
                    histogram=[(4000, 5000, 40), (5000, 6200, 55)], previous=prev_mass)
    mass.drift = numeric_drift(mass.histogram, prev_mass.histogram)
    island = _feature("island", "categorical", present=100, unique=2,
                      top=[("Biscoe", 60), ("Dream", 40)])
    comps = [ComponentRun("ExampleGen", "ran", 1, 100.0, 101.0, 1.0),
             ComponentRun("StatisticsGen", "cached", 2, 101.0, 101.1, 0.1),
             ComponentRun("Trainer", "ran", 3, 101.1, 120.0, 18.9),
             ComponentRun("Evaluator", "ran", 4, 120.0, 128.0, 8.0),
             ComponentRun("Pusher", "ran", 5, 128.0, 128.1, 0.1)]
    ev = Evaluation(blessed=True, has_baseline=True, reasons=["every gated metric met"],
                    metrics=[SliceMetric("Overall", "accuracy", 0.912345, 0.9, 0.012345,
                                         ">= 0.8", True, True, 70.0),
                             SliceMetric("island:Dream", "accuracy", 0.75, 0.8, -0.05,
                                         ">= 0.8", True, False, 25.0),
                             SliceMetric("Overall", "loss", 0.3)])
    return Report(pipeline="penguin-species", run_id="2026-11-23T09:14:39", kind="training",
                  components=comps, rows={"train": 100, "eval": 25},
                  input_files=["/data/penguins.csv"],
                  stats=[SplitStats("train", 100, [mass, island])], previous_run="run-0",
                  anomalies_read=True,
                  schema_text='feature { name: "island" }',
                  schema=[SchemaFeature("island", "BYTES", "min fraction 1", "1", "Biscoe")],
                  training=Training(history={"loss": [1.0, 0.5, 0.25],
                                             "val_loss": [1.1, 0.6, 0.4]},
                                    hyperparameters={"epochs": 3}, state="ran"),
                  evaluation=ev, pushed=True, pushed_version="1795425323",
                  pushed_path="/models/1795425323",
                  edges=[("ExampleGen", "StatisticsGen", "examples"),
                         ("Trainer", "Evaluator", "model"), ("Evaluator", "Pusher", "blessing")])


def test_render_succeeded_run(tmp_path):
    page = render_html(_succeeded())
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    for sec in ("run", "data", "schema", "training", "evaluation", "lineage"):
        assert f"data-section='{sec}'" in page
    assert "data-component='StatisticsGen' data-state='cached'" in page
    assert "data-split='train' data-rows='100'" in page
    assert re.search(r"data-feature='body_mass_g' class='drift'", page)
    assert "data-feature='island'>" in page  # no previous: no drift flag
    assert "0.9123" in page and "+0.0123" in page and "FAIL" in page
    assert "data-blessed='true'" in page and "data-epochs='3'" in page
    assert page.count("<svg") >= 5  # timeline, missing, 2 features, curves, slices, DAG
    assert 'data-node="model 1795425323"' in page  # no lineage svg given: the run's DAG


def test_render_failed_run_says_nothing_was_trained():
    rep = Report(pipeline="p", run_id="r1", kind="training",
                 components=[ComponentRun("ExampleGen", "ran", 1, 1.0, 2.0, 1.0),
                             ComponentRun("ValidationGate", "failed", 2, 2.0, 2.1, 0.1,
                                          error="2 data anomalies"),
                             ComponentRun("Trainer", "not run")],
                 anomalies=[Anomaly("train", "island", "ERROR", "Unexpected string values",
                                    "Dream (~36%)")], anomalies_read=True,
                 gate={"state": "failed", "on_anomalies": "fail"})
    rep.failed = rep.components[1]
    page = render_html(rep)
    assert "failed in ValidationGate" in page
    assert "data-anomaly='island'" in page and "Dream (~36%)" in page
    assert "data-trained='false'" in page
    assert "Nothing was trained: the run stopped at ValidationGate" in page
    assert "stopped the run" in page and "data-blessed" not in page
    svg = dag_svg(rep)
    assert 'data-node="Trainer"' in svg and "stroke-dasharray" in svg


def test_render_inference_run():
    preds = Predictions(rows=4, model_version="17", store="sqlite", previous_run="r0",
                        outputs=[PredictionOutput("", "class", "categorical",
                                                  ["a", "a", "b", "b"], ["a", "a", "a", "a"],
                                                  0.5),
                                 PredictionOutput("", "probabilities (max)", "numeric",
                                                  [0.9, 0.8, 0.7, 0.95], [0.5, 0.6])])
    rep = Report(pipeline="p-inference", run_id="r1", kind="inference",
                 components=[ComponentRun("BatchInferrer", "ran", 1, 1.0, 2.0, 1.0)],
                 predictions=preds)
    page = render_html(rep)
    assert "data-section='predictions'" in page and "data-section='training'" not in page
    assert "data-output='class' data-count='4'" in page and "a 50.0%" in page
    assert "0.500" in page


def test_report_command_without_metadata(tmp_path):
    cfg = tmp_path / "config.yaml"
    src = Path(__file__).resolve().parents[5] / "templates" / "multiclass"
    cfg.write_text((src / "config.yaml").read_text())
    (tmp_path / "data").symlink_to(src / "data")
    r = subprocess.run([str(BIN), "report", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 1 and "no ML Metadata" in r.stderr
    r = subprocess.run([str(BIN), "report", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--run" in r.stdout and "--output" in r.stdout
