"""The dashboard's pictures: the hand-written sparkline, and the matplotlib figures of the
compare and serving pages."""
import re

from tfxkit.infra.ui import svg


def test_sparkline_points_threshold_and_last_value():
    out = svg.sparkline([0.7, 0.9, 0.85], lower=0.8, labels=["a", "b", "c"])
    assert out.startswith("<svg") and out.count("<circle") == 3
    assert "threshold 0.8" in out and "<title>c 0.8500</title>" in out
    assert 'fill="#16a34a"' in out  # the last value meets the bound
    missed = svg.sparkline([0.9, 0.7], lower=0.8)
    assert 'r="2.6" fill="#dc2626"' in missed
    ys = [float(y) for y in re.findall(r'cy="([0-9.]+)"', out)]
    assert ys[1] < ys[2] < ys[0]  # higher values drawn higher
    assert svg.sparkline([]) == ""


def test_metric_bars_and_curves():
    bars = svg.metric_bars("accuracy", ["Overall", "island:Dream"], ["r1", "r2"],
                           {("Overall", "r1"): 0.9, ("Overall", "r2"): 0.95,
                            ("island:Dream", "r1"): 0.8, ("island:Dream", "r2"): None},
                           lower=0.85)
    assert bars.startswith("<svg") and "lower bound 0.85" in bars and "0.9500" in bars
    assert svg.metric_bars("accuracy", ["Overall"], ["r1"], {("Overall", "r1"): None}) is None
    curves = svg.overlaid_curves(["r1", "r2"], [{"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]},
                                                {"loss": [0.9, 0.4]}])
    assert [name for name, _ in curves] == ["loss"]
    assert "r1 eval" in curves[0][1] and "r2 train" in curves[0][1]
    assert svg.overlaid_curves(["r1"], [{}]) == []


def test_canary_plot():
    out = svg.canary_plot([{"action": "start", "canary": "2", "share": 0.1},
                           {"action": "ramp", "canary": "2", "share": 0.1, "next_share": 0.5},
                           {"action": "promote", "canary": "2", "share": 0.5}])
    assert out.startswith("<svg") and "canary 2" in out
    assert svg.canary_plot([]) is None


def test_timeline_bars_where_and_how_long():
    from tfxkit.infra.metadata.report.model import ComponentRun

    comps = [ComponentRun("ExampleGen", "ran", 1, 100.0, 104.0, 4.0, None, {}, {}),
             ComponentRun("Trainer", "failed", 2, 106.0, 116.0, 10.0, "boom", {}, {}),
             ComponentRun("Pusher", "not run", None, None, None, None, None, {}, {})]
    out = svg.timeline(comps)
    assert out.startswith("<svg") and out.count('<g class="bar"') == 2
    assert "Trainer: failed, started at +6.0 s, took 10.0 s" in out
    assert 'fill="#dc2626"' in out and "Pusher" not in out
    xs = [float(x) for x in re.findall(r'<rect x="([0-9.]+)"', out)]
    ws = [float(w) for w in re.findall(r'width="([0-9.]+)" height="12"', out)]
    assert xs[0] < xs[1] and abs(ws[1] / ws[0] - 2.5) < 0.01  # 10 s drawn 2.5x as long as 4 s
    assert svg.timeline([comps[2]]) is None
