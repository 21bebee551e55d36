"""``tfxkit monitor`` (``infra/cli/monitor.py``): its exit statuses (0 nothing crossed or
no traffic, 4 crossed, 1 failed, 2 bad config or option), the table it prints, the alert
hook called on a crossing, and the window end it parses. The monitoring itself is tested
in tests/unit/infra/monitoring."""
import os

import pytest
from click.testing import CliRunner

from tfxkit.infra.cli import main
from tfxkit.infra.cli import monitor as cli
from tfxkit.infra.monitoring.compare import Distance
from tfxkit.infra.monitoring.monitor import MonitorError, MonitorResult, WindowResult
from tfxkit.pipelines import mlmd
from tfxkit.pipelines.config import load_config
from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG

H = 1796083200


@pytest.fixture
def sets(tmp_path):
    sets = ["--set", f"root={tmp_path}/root", "--set", f"metadata.sqlite={tmp_path}/m.sqlite",
            "--set", f"push.registry={tmp_path}/models"]
    cfg = load_config(TEMPLATE_CONFIG, overrides=sets[1::2])
    os.makedirs(os.path.dirname(cfg.metadata_path), exist_ok=True)
    mlmd.open_store(cfg)
    return sets


def judged(island_skew):
    w = WindowResult(start=H, end=H + 3600, rows=120, status="judged", model_version="7")
    w.features = [Distance("island", "skew", "L_INFTY", 0.1, island_skew),
                  Distance("bill_length_mm", "skew", "JENSEN_SHANNON_DIVERGENCE", 0.1, 0.01),
                  Distance("island", "drift", "L_INFTY", 0.1, None, note="previous window: 0")]
    w.predictions = [Distance("class", "prediction_drift", "L_INFTY", 0.1, 0.02)]
    w.result_path = "/x/monitoring/w.json"
    w.execution_id = 3
    return MonitorResult("penguin-species", "7", "/x/requests", [w])


@pytest.fixture
def fake(monkeypatch):
    """Replaces the monitoring with ``fake.result`` (or ``fake.error``); records the calls
    of the alert hook and the monitor's arguments."""
    class Fake:
        result = None
        error = None
        alerts = []
        calls = []

    def run(cfg, window_end=None, all_windows=False):
        Fake.calls.append((window_end, all_windows))
        if Fake.error:
            raise Fake.error
        return Fake.result

    monkeypatch.setattr("tfxkit.infra.monitoring.monitor.monitor", run)
    monkeypatch.setattr(cli, "_alert", lambda cfg, result: Fake.alerts.append(result))
    return Fake


def invoke(sets, *args):
    return CliRunner().invoke(main, ["monitor", TEMPLATE_CONFIG, *sets, *args])


def test_crossed_exits_4_prints_the_table_and_calls_the_alert_hook(sets, fake):
    fake.result = judged(0.8)
    r = invoke(sets, "--window-end", "2026-12-01T01:00")
    assert r.exit_code == 4, r.output
    assert fake.calls == [(H + 3600, False)]
    assert fake.alerts == [fake.result]
    lines = r.stdout.splitlines()
    island = next(ln for ln in lines if ln.strip().startswith("island"))
    assert "0.8000" in island and "SKEW" in island and "DRIFT" not in island
    bill = next(ln for ln in lines if ln.strip().startswith("bill_length_mm"))
    assert "0.0100" in bill and "SKEW" not in bill
    assert "Threshold crossed: SKEW island 0.8000 > 0.1" in r.stdout
    assert "note: previous window: 0" in r.stdout


def test_nothing_crossed_exits_0_without_alert(sets, fake):
    fake.result = judged(0.05)
    r = invoke(sets, "--all-windows")
    assert r.exit_code == 0, r.output
    assert fake.calls == [(None, True)] and fake.alerts == []
    assert "Threshold crossed" not in r.stdout


def test_no_traffic_is_a_message_and_exit_0(sets, fake):
    w = WindowResult(start=H, end=H + 3600, rows=0, status="no_traffic",
                     message="no traffic in the window ...")
    fake.result = MonitorResult("penguin-species", "7", "/x/requests", [w])
    r = invoke(sets)
    assert r.exit_code == 0 and "no traffic in the window" in r.stdout


def test_failure_exits_1_and_bad_input_exits_2(sets, fake):
    fake.error = MonitorError("the registry /x serves no model yet")
    r = invoke(sets)
    assert r.exit_code == 1 and "monitor failed: the registry /x serves no model" in r.stderr
    r = invoke(sets, "--set", "monitoring.window=soon")
    assert r.exit_code == 2 and "monitoring.window" in r.stderr
    r = invoke(sets, "--window-end", "yesterday")
    assert r.exit_code == 2 and "ISO time" in r.output
    r = invoke(sets, "--window-end", "2026-12-01T01:00", "--all-windows")
    assert r.exit_code == 2


def test_parse_time():
    assert cli.parse_time("2026-12-01T01:00") == H + 3600
    assert cli.parse_time("2026-12-01T02:00+01:00") == H + 3600
    assert cli.parse_time("2026-12-01T01:00:00Z") == H + 3600
    assert cli.parse_time(str(H)) == H



def test_the_alert_hook_fires_skew_and_drift_apart(monkeypatch):
    """A window with skew on island and prediction drift: one ``skew`` alert naming island
    and one ``drift`` alert naming the answered class, through ``infra.alerts.fire``."""
    from types import SimpleNamespace

    from tfxkit.infra.monitoring.compare import Distance
    from tfxkit.infra.monitoring.monitor import MonitorResult, WindowResult

    sent = []
    monkeypatch.setattr("tfxkit.infra.alerts.fire",
                        lambda alerts, kind, title, message, **kw: sent.append(
                            (kind, title, message, kw)))
    w = WindowResult(start=0.0, end=3600.0, rows=100, status="judged", model_version="7")
    w.features = [Distance(feature="island", kind="skew", measure="infinity_norm",
                           value=0.6, threshold=0.1),
                  Distance(feature="bill_length_mm", kind="skew",
                           measure="jensen_shannon_divergence", value=0.01, threshold=0.1)]
    w.predictions = [Distance(feature="class", kind="prediction_drift",
                              measure="infinity_norm", value=0.3, threshold=0.1)]
    result = MonitorResult(pipeline="p", model_version="7", log_path="/log", windows=[w])
    cfg = SimpleNamespace(alerts=object(), name="p")
    cli._alert(cfg, result)
    assert [k for k, *_ in sent] == ["skew", "drift"]
    assert "island" in sent[0][1] and "bill_length_mm" not in sent[0][1] + sent[0][2]
    assert "class" in sent[1][1] and sent[1][3]["model_version"] == "7"
