"""The report's monitoring section (``render_monitoring.py``): windows, each feature's
skew and drift against its threshold with the flagged ones marked, the prediction drift,
the plot; a run whose model was never monitored says how to monitor it."""
from tfxkit.infra.metadata.report.model import MonitoringWindow, Report
from tfxkit.infra.metadata.report.render import render_html
from tfxkit.infra.metadata.report.render_monitoring import monitoring_section


def d(feature, kind, value, flagged=False, measure="L_INFTY", note=""):
    return {"feature": feature, "kind": kind, "measure": measure, "value": value,
            "threshold": 0.1, "flagged": flagged, "note": note}


def windows():
    calm = MonitoringWindow(start=0.0, end=3600.0, rows=200, model_version="7",
                            features=[d("island", "skew", 0.01), d("bill", "skew", 0.02,
                                                                   measure="JENSEN_SHANNON_DIVERGENCE"),
                                      d("island", "drift", None, note="previous window: 0 rows")],
                            result_uri="/r/1.json", execution_id=4)
    shifted = MonitoringWindow(start=3600.0, end=7200.0, rows=150, model_version="7",
                               crossed=True,
                               flagged=[{"feature": "island", "kind": "skew", "value": 0.8,
                                         "threshold": 0.1}],
                               features=[d("island", "skew", 0.8, True),
                                         d("bill", "skew", 0.03,
                                           measure="JENSEN_SHANNON_DIVERGENCE"),
                                         d("island", "drift", 0.79, True)],
                               predictions=[d("class", "prediction_drift", 0.05)],
                               result_uri="/r/2.json", execution_id=5)
    broken = MonitoringWindow(start=7200.0, end=10800.0, rows=90, error="result x unreadable")
    return [calm, shifted, broken]


def test_windows_features_thresholds_and_flags():
    page = monitoring_section(Report("p", "r", "training", monitoring=windows()))
    assert "3 windows of served traffic" in page and "1 crossed a threshold" in page
    assert "data-window-end='7200.0' data-crossed='true'" in page
    assert "data-window-end='3600.0' data-crossed='false'" in page
    assert "data-feature='island' data-flagged='true'" in page
    assert "data-feature='bill' data-flagged='false'" in page
    assert "<b>0.8 / 0.1</b>" in page and "0.03 / 0.1" in page and "Jensen-Shannon" in page
    assert "data-output='class' data-flagged='false'" in page
    assert "title='previous window: 0 rows'" in page
    assert "skew island" in page and "result x unreadable" in page
    assert page.count("<svg") == 1 and "ML Metadata execution 5" in page


def test_no_window_yet_and_the_page_sections():
    empty = monitoring_section(Report("p", "r", "training"))
    assert "No monitored window" in empty and "tfxkit monitor CONFIG" in empty
    page = render_html(Report("p", "r", "training", monitoring=windows()))
    assert "href='#monitoring'" in page and "data-section='monitoring'" in page
    inference = render_html(Report("p-inference", "r", "inference"))
    assert "data-section='monitoring'" not in inference
