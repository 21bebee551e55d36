"""Model cards (issue 20): the pushed version of the shared quick multiclass run
(``trained_multiclass``) holds ``model_card/model_card.json`` and ``.html``; the card's
metrics are the Evaluator's blessed ones (registry.json, TFMA's output from MLMD), its
slices are the template's island slices with their thresholds, its rows per split are the
Examples artifact's, and the run report links it."""
import json
from pathlib import Path

import pytest

from tests.e2e.helpers import runs, store
from tests.e2e.test_report import PIPELINE, examples_rows, report_path, tfma_overall

pytestmark = pytest.mark.e2e


def test_the_pushed_version_has_a_model_card(trained_multiclass):
    case = Path(trained_multiclass.case)
    index = json.loads((case / "models" / "registry.json").read_text())
    v = index["serving"]
    rec = index["versions"][v]
    folder = case / "models" / v / "model_card"
    doc = json.loads((folder / "model_card.json").read_text())
    page = (folder / "model_card.html").read_text()
    assert doc["model"]["name"] == PIPELINE and doc["model"]["version"] == v
    assert doc["model"]["sha256"] == rec["sha256"]
    assert doc["model"]["config_hash"] == rec["config_hash"]
    assert doc["model"]["pushed_at"] == rec["created_at"]
    assert rec["model_card"] == "model_card/model_card.html"

    # the metrics: the registry's record (what the Evaluator blessed), = TFMA's output
    overall = {m["name"]: m for m in doc["metrics"]["overall"]}
    assert {k: m["value"] for k, m in overall.items()} == rec["metrics"]
    s = store(case / ".tfxkit" / "metadata.sqlite")
    run = runs(s, PIPELINE)[-1]
    value, _baseline, blessed = tfma_overall(s, run)
    assert blessed and overall["sparse_categorical_accuracy"]["value"] == pytest.approx(value)
    assert overall["sparse_categorical_accuracy"]["threshold"] == {"lower_bound": 0.8}
    assert overall["sparse_categorical_accuracy"]["passed"] is True

    # the template slices on island, each held to the threshold
    slices = {x["slice"]: x for x in doc["metrics"]["slices"]}
    assert set(slices) == {"island:Biscoe", "island:Dream", "island:Torgersen"}
    for x in slices.values():
        acc = {m["name"]: m for m in x["metrics"]}["sparse_categorical_accuracy"]
        assert acc["threshold"] == {"lower_bound": 0.8} and acc["passed"] is True
        assert x["example_count"] > 0
    assert sum(x["example_count"] for x in slices.values()) == pytest.approx(
        sum(examples_rows(s, run).get(k, 0) for k in ("eval",)))

    # the data: rows per split = the Examples artifact's; the train split's statistics
    assert doc["data"]["rows_per_split"] == examples_rows(s, run)
    stats = {f["name"]: f for f in doc["data"]["statistics"]["features"]}
    assert stats["island"]["kind"] == "categorical" and stats["island"]["unique"] == 3
    assert stats["body_mass_g"]["kind"] == "numeric" and stats["body_mass_g"]["mean"] > 1000
    assert doc["data"]["statistics"]["num_examples"] == examples_rows(s, run)["train"]

    # lineage: the MLMD ids of what the Pusher was given, and the run
    pushed = [a for a in s.get_artifacts_by_type("PushedModel")
              if a.custom_properties["pushed_version"].string_value == v]
    assert pushed and pushed[-1].custom_properties["model_card"].string_value == str(
        folder / "model_card.html")
    models = s.get_artifacts_by_id(doc["lineage"]["model"])
    assert [m.type_id for m in models] == [s.get_artifact_type("Model").id]
    assert rec["model_uri"] == models[0].uri
    assert s.get_artifacts_by_id(doc["lineage"]["evaluation"])[0].type_id == (
        s.get_artifact_type("ModelEvaluation").id)
    assert s.get_artifacts_by_id(doc["lineage"]["statistics"])[0].type_id == (
        s.get_artifact_type("ExampleStatistics").id)
    assert doc["lineage"]["pipeline_run"] == rec["pipeline_run"] == run.name

    # the page: self-contained, readable values
    assert "<script" not in page and "<svg" in page and "island:Dream" in page
    assert f"Model card: {PIPELINE} version {v}" in page

    # the run report links it
    report = report_path(trained_multiclass).read_text()
    assert f"data-model-card='{folder / 'model_card.html'}'" in report
    assert (folder / "model_card.html").as_uri() in report


def test_card_with_a_card_section_and_fairness_rates(template_copy):
    """With ``card:`` and ``eval.fairness`` configured, the pushed version's card holds the
    section's text and the Fairness Indicators rates of each value of the feature."""
    from tests.e2e.helpers import tfxkit

    case = template_copy("multiclass")
    r = tfxkit("run", case / "config.yaml", "--profile", "quick", "--set",
               "card={intended_use: teaching, owners: [ml-team], "
               "references: ['https://example.org/penguins']}", "--set",
               "eval.fairness={features: [sex], thresholds: [0.5], class_ids: [0, 1, 2]}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Pushed version" in r.stdout, r.stdout[-3000:]
    index = json.loads((case / "models" / "registry.json").read_text())
    folder = case / "models" / index["serving"] / "model_card"
    doc = json.loads((folder / "model_card.json").read_text())
    assert doc["considerations"]["intended_use"] == "teaching"
    assert doc["considerations"]["owners"] == ["ml-team"]
    assert doc["considerations"]["references"] == ["https://example.org/penguins"]
    f = doc["fairness"]
    assert f["features"] == ["sex"]
    by_slice = {x["slice"]: x["rates"] for x in f["slices"]}
    assert {"sex:female", "sex:male"} <= set(by_slice)
    for sex in ("sex:female", "sex:male"):
        for cls in (0, 1, 2):
            rate = by_slice[sex][f"false_positive_rate@0.5 (class {cls})"]
            assert 0.0 <= rate <= 1.0
    page = (folder / "model_card.html").read_text()
    assert "<h2>Fairness</h2>" in page and "teaching" in page
    assert '<a href="https://example.org/penguins">' in page
