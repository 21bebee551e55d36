"""The gate per slice and for fairness: a model that meets the overall threshold but fails
on one value of a feature is not blessed and not pushed, and the summary names the slice;
Fairness Indicators gated on a sensitive feature show their values per feature value."""
import csv
import random

import pytest

from tests.e2e.helpers import registry_versions, tfxkit

pytestmark = pytest.mark.e2e


def _scramble_island(path, island):
    """Half the penguins of ``island``, drawn at random, get another species: no model gets
    that island right, while the others stay easy. (Every other row would not do: the rows
    alternate male/female, so the model learns it from ``sex``.)"""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    other = {"Adelie": "Gentoo", "Gentoo": "Chinstrap", "Chinstrap": "Adelie"}
    draw = random.Random(7)
    for r in rows:
        if r["island"] == island and draw.random() < 0.5:
            r["species"] = other[r["species"]]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_model_failing_one_slice_is_not_blessed(template_copy):
    case = template_copy("multiclass")
    _scramble_island(case / "data" / "penguins.csv", "Torgersen")
    r = tfxkit("run", case / "config.yaml", "--set", "model.epochs=15", "--set",
               "eval.metrics=[{name: accuracy, lower_bound: 0.6, "
               "slices: {island: {lower_bound: 0.8}}}]", "--set", "eval.slices=[]")
    assert r.returncode == 3, r.stderr  # completed, not blessed
    out = r.stdout
    assert "NOT blessed" in out
    # the whole split passes; the island Torgersen does not, and the summary says so
    assert "ok   sparse_categorical_accuracy " in out
    assert "FAIL sparse_categorical_accuracy on island=Torgersen" in out
    assert "why: sparse_categorical_accuracy on island=Torgersen: " in out and "< 0.8" in out
    assert "Not pushed" in out
    assert registry_versions(case / "models") == []
    # the run report holds each island to its own bound, the whole split to its own
    import re

    page = open(re.search(r"^Report: (.+\.html)$", out, re.M).group(1)).read()

    def row(slice_name):
        m = re.search(r"<tr data-metric='sparse_categorical_accuracy' data-slice='"
                      + re.escape(slice_name) + r"'.*?</tr>", page, re.S)
        assert m, slice_name
        return m.group(0)

    assert "&gt;= 0.8" in row("island:Torgersen") and "FAIL" in row("island:Torgersen")
    assert "&gt;= 0.6" in row("Overall") and "FAIL" not in row("Overall")


def test_fairness_gate_shows_rates_per_feature_value(template_copy):
    case = template_copy("multiclass")
    r = tfxkit("run", case / "config.yaml", "--set", "model.epochs=15", "--set",
               "eval.fairness={features: [sex], thresholds: [0.5], class_ids: [0, 1, 2], "
               "gate: {false_positive_rate: {max_gap: 0.3}, true_positive_rate: "
               "{lower_bound: 0.5}}}")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "BLESSED" in out and "NOT blessed" not in out
    assert "Fairness (each value of a sensitive feature" in out
    for cls in (0, 1, 2):
        for sex in ("female", "male"):
            assert f"ok   false_positive_rate@0.5 (class {cls}) on sex={sex}" in out
            assert f"ok   true_positive_rate@0.5 (class {cls}) on sex={sex}" in out
    assert "[gap <= 0.3]" in out and "[>= 0.5]" in out
    assert len(registry_versions(case / "models")) == 1
