"""The model card's HTML page (components/model_card/html.py)."""
from tfxkit.components.model_card import content, html
from tests.unit.components.model_card.test_content import RECORD, SLICES


def test_page_is_self_contained_and_shows_every_part():
    card = content.build(name="penguin-species", version="17", record=RECORD, slices=SLICES,
                         card_config={"intended_use": "Teaching <b>only</b>",
                                      "references": ["https://example.org/p"]},
                         statistics={"split": "train", "num_examples": 24, "features": [
                             {"name": "bill_length_mm", "kind": "numeric", "mean": 43.7,
                              "std": 5.4, "min": 32.1, "max": 59.6, "missing": 1},
                             {"name": "island", "kind": "categorical", "unique": 3,
                              "missing": 0, "top_values": [{"value": "Biscoe",
                                                            "frequency": 12.0}]}]},
                         lineage={"model": [3]},
                         fairness={"features": ["island"]})
    page = html.render(card)
    assert "Model card: penguin-species version 17" in page
    assert "Teaching &lt;b&gt;only&lt;/b&gt;" in page  # escaped
    assert "not stated (the config has no card.limitations)" in page
    assert '<a href="https://example.org/p">' in page
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert "bill_length_mm" in page and "Biscoe (12)" in page
    assert "island:Biscoe" in page and "&gt;= 0.8" in page
    assert '<span class="fail">failed</span>' in page  # sex:male under its threshold
    assert page.count("<svg") == 1  # one gated metric: one chart
    assert "<h2>Fairness</h2>" in page and "false_positive_rate@0.5" in page
    assert "c0ffee" in page and "run-1" in page


def test_bar_chart_marks_the_threshold_and_failing_bars():
    svg = html.bar_chart("acc", [
        {"slice": "a", "value": 0.9, "threshold": {"lower_bound": 0.8}, "passed": True},
        {"slice": "b", "value": 0.5, "threshold": {"lower_bound": 0.8}, "passed": False}])
    assert svg.startswith("<svg") and svg.count("<rect") == 2
    assert svg.count("<line") == 2 and "lower_bound 0.8" in svg
    assert 'fill="#c44"' in svg and 'fill="#4a8"' in svg
    assert html.bar_chart("acc", []) == ""


def test_threshold_text():
    assert html.threshold_text({"lower_bound": 0.8, "absolute_change": 0.01}) == (
        ">= 0.8, change vs baseline within 0.01")
    assert html.threshold_text(None) == ""
