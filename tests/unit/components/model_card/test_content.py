"""The model card's content (components/model_card/content.py) on fixture data."""
import json

from tfxkit.components.model_card import content

RECORD = {
    "created_at": "2026-12-01T03:00:00Z", "sha256": "ab" * 32,
    "metrics": {"sparse_categorical_accuracy": 0.97, "loss": 0.06},
    "config_hash": "cfg1", "git_commit": "c0ffee", "model_uri": "/m/Trainer/model/8",
    "pipeline": "penguin-species", "pipeline_run": "run-1",
    "data": {"spans": [0, 1], "rows": 30, "examples": [
        {"uri": "/e/0", "span": 0, "rows": {"train": 8, "eval": 2}},
        {"uri": "/e/1", "span": 1, "rows": {"train": 16, "eval": 4}}]},
}
ACC = {"lower_bound": 0.8}
SLICES = [
    {"slice": "Overall", "feature": None, "value": None, "example_count": 70.0, "metrics": [
        {"name": "loss", "value": 0.06},
        {"name": "sparse_categorical_accuracy", "value": 0.97, "threshold": ACC,
         "passed": True}]},
    {"slice": "island:Biscoe", "feature": "island", "value": "Biscoe", "example_count": 38.0,
     "metrics": [{"name": "sparse_categorical_accuracy", "value": 1.0, "threshold": ACC,
                  "passed": True},
                 {"name": "fairness_indicators_metrics/false_positive_rate@0.5",
                  "value": 0.1}]},
    {"slice": "sex:male", "feature": "sex", "value": "male", "example_count": 30.0,
     "metrics": [{"name": "sparse_categorical_accuracy", "value": 0.7, "threshold": ACC,
                  "passed": False}]},
]


def test_card_holds_model_data_metrics_and_lineage():
    card = content.build(name="penguin-species", version="17", record=RECORD,
                         card_config={"overview": "Penguins.", "owners": ["ml@x"]},
                         slices=SLICES, statistics={"split": "train", "features": []},
                         lineage={"model": [3], "evaluation": [9]})
    assert card["format"] == content.FORMAT
    m = card["model"]
    assert (m["name"], m["version"], m["pushed_at"], m["config_hash"], m["git_commit"]) == (
        "penguin-species", "17", "2026-12-01T03:00:00Z", "cfg1", "c0ffee")
    assert card["data"]["spans"] == [0, 1] and card["data"]["rows"] == 30
    assert card["data"]["rows_per_split"] == {"train": 24, "eval": 6}
    overall = {x["name"]: x for x in card["metrics"]["overall"]}
    assert overall["sparse_categorical_accuracy"] == {
        "name": "sparse_categorical_accuracy", "value": 0.97, "threshold": ACC, "passed": True}
    assert "threshold" not in overall["loss"]
    assert [s["slice"] for s in card["metrics"]["slices"]] == ["island:Biscoe", "sex:male"]
    assert card["considerations"]["overview"] == "Penguins."
    assert card["considerations"]["owners"] == ["ml@x"]
    assert card["considerations"]["limitations"] is None
    assert card["lineage"] == {"pipeline": "penguin-species", "pipeline_run": "run-1",
                               "model": [3], "evaluation": [9]}
    assert "fairness" not in card


def test_card_without_card_section_or_evaluation_still_builds():
    card = content.build(name="m", version="1", record={"metrics": {"auc": 0.9}})
    assert card["metrics"]["overall"] == [{"name": "auc", "value": 0.9}]
    assert card["metrics"]["slices"] == [] and card["data"]["rows_per_split"] == {}
    assert card["considerations"]["references"] == []


def test_fairness_rates_of_the_fairness_features_only():
    card = content.build(name="m", version="1", record=RECORD, slices=SLICES,
                         fairness={"features": ["island"], "gate": {
                             "false_positive_rate": {"max_gap": 0.1}}})
    f = card["fairness"]
    assert f["features"] == ["island"]
    assert f["slices"] == [{"slice": "island:Biscoe",
                            "rates": {"false_positive_rate@0.5": 0.1}}]
    assert f["gate"] == {"false_positive_rate": {"max_gap": 0.1}}


def test_files_are_the_json_and_the_html():
    card = content.build(name="m", version="1", record=RECORD, slices=SLICES)
    files = content.files(card)
    assert sorted(files) == ["model_card/model_card.html", "model_card/model_card.json"]
    assert json.loads(files["model_card/model_card.json"]) == json.loads(json.dumps(card))
    assert files["model_card/model_card.html"].startswith(b"<!DOCTYPE html>")
