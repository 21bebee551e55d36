"""The report's data and schema sections (infra/metadata/report/render_data.py)."""
from tfxkit.infra.metadata.report.model import (Anomaly, FeatureSummary, Report, SchemaFeature,
                                                SplitStats)
from tfxkit.infra.metadata.report.render_data import data_section, schema_section


def _feature(name, drift):
    prev = FeatureSummary(name, "numeric", "FLOAT", present=10, mean=1.0,
                          histogram=[(0.0, 1.0, 10.0)])
    return FeatureSummary(name, "numeric", "FLOAT", present=9, missing=1, mean=2.0,
                          histogram=[(0.0, 1.0, 9.0)], previous=prev, drift=drift)


def test_drift_above_the_warning_is_highlighted_and_anomalies_come_first():
    rep = Report("p", "r", "training", rows={"train": 10}, previous_run="run-0",
                 stats=[SplitStats("train", 10, [_feature("age", 0.5), _feature("mass", 0.01)]),
                        SplitStats("eval", 3, [_feature("age", None)])],
                 anomalies=[Anomaly("train", "age", "ERROR", "out of range", "too old")],
                 anomalies_read=True, gate={"state": "ran", "passed": False,
                                            "on_anomalies": "warn"})
    page = data_section(rep)
    assert "data-split='train' data-rows='10'" in page
    assert page.index("1 anomaly</b>") < page.index("data-feature='age'")
    assert "let the run go on (warn)" in page and "Compared with run <b>run-0</b>" in page
    assert "data-feature='age' class='drift'" in page
    assert "data-feature='mass' class='drift'" not in page and "⚠ anomaly" in page
    assert "data-missing='1'" in page and "Features (eval split, 3 examples)" in page


def test_inference_runs_and_runs_without_statistics():
    page = data_section(Report("p", "r", "inference", input_files=[f"/d/{i}" for i in range(7)]))
    assert "scores the data as it is" in page and "... 2 more" in page
    page = data_section(Report("p", "r", "training", previous_same_data=True))
    assert "ExampleValidator produced no result" in page and "No statistics" in page


def test_schema_section():
    rep = Report("p", "r", "training", schema_text="feature {}", schema_source="SchemaGen (/s)",
                 schema=[SchemaFeature("age", "FLOAT", "min fraction 1", "1", "[0, 9]")])
    page = schema_section(rep)
    assert "From SchemaGen (/s)" in page and "data-schema-feature='age'" in page
    assert "<pre>feature {}</pre>" in page
    assert "the training run's report shows the schema" in schema_section(
        Report("p", "r", "inference"))
