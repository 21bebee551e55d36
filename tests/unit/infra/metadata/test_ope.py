"""A bandit's off-policy evaluation as lineage and the report read it
(infra/metadata/ope.py): from a real ``ope.json`` (gate.evaluate on synthetic logs), else
from the blessing's custom properties with a note saying why (absent, not JSON, not the
PolicyEvaluator's), any extra metric the gate adds shown too, and the words and numbers."""
import json

import pytest

from tests.unit.infra.metadata import ope_records as R
from tfxkit.infra.metadata import ope

OPE = ["policy_value_ips", "policy_value_snips", "policy_value_dr"]


@pytest.fixture(scope="module")
def res():
    return R.result()


def _same_estimates(got, raw):
    """Each side's value and interval equal to the file's (or its headline numbers)."""
    for side in ope.SIDES:
        assert set(got[side]) == set(raw[side]), side
        for name, entry in raw[side].items():
            if isinstance(entry, dict):
                assert got[side][name] == {k: entry[k] for k in ("value", "lower", "upper")}
            else:
                assert got[side][name] == {"value": entry, "lower": None, "upper": None}


def test_read_from_ope_json(tmp_path, res):
    uri = R.write(tmp_path / "blessing", res)
    got = ope.read(uri, {})
    assert (got["source"], got["note"], got["path"]) == ("ope.json", None,
                                                         f"{uri}/ope.json")
    _same_estimates(got, res)
    assert (got["n"], got["level"], got["resamples"]) == (400, 0.9, 100)
    assert got["blessed"] is True and got["reason"] == res["reason"]
    assert got["reason"].startswith("blessed: policy_value_dr ")
    assert [(v["metric"], v["bound"], v["passed"]) for v in got["thresholds"]] == [
        ("policy_value_dr", "lower_bound", True), ("policy_value_dr", "absolute_change", True),
        ("rmse", "upper_bound", True)]
    change = got["thresholds"][1]
    assert change["interval"] == [res["change"]["policy_value_dr"]["lower"],
                                  res["change"]["policy_value_dr"]["upper"]]
    assert got["model"] == res["model"] and got["baseline_model"] == res["baseline_model"]


def test_without_a_baseline_and_the_skipped_verdict(tmp_path):
    res = R.result(baseline=False)
    got = ope.read(R.write(tmp_path, res), {})
    assert got["baseline"] is None and got["change"] is None
    skipped = [v for v in got["thresholds"] if v["passed"] is None]
    assert [v["bound"] for v in skipped] == ["absolute_change"]
    assert skipped[0]["reason"].startswith("no baseline yet")


def test_absent_file_falls_back_on_the_blessings_properties(tmp_path, res):
    props = R.blessing_properties(res, baseline_id=3)
    got = ope.read(str(tmp_path / "nothing-here"), props)
    assert got["source"] == "blessing properties" and got["path"] is None
    assert got["note"].startswith(f"ope.json absent ({tmp_path}/nothing-here/ope.json)")
    assert "shown from the blessing's custom properties" in got["note"]
    _same_estimates(got, res)  # every headline number, as the executor recorded it
    assert got["n"] == 400 and got["level"] is None and got["thresholds"] == []
    assert got["blessed"] is True and got["reason"] == res["reason"]
    assert got["model"] == res["model"] and got["baseline_model"] == res["baseline_model"]


@pytest.mark.parametrize("content, why", [
    ("{not json", "JSONDecodeError"),
    ("[1, 2]", "TypeError: expected a JSON object, got list"),
    (json.dumps({"n": 3, "thresholds": []}), "KeyError: 'candidate'"),
    (json.dumps({"candidate": {"policy_value_dr": "high"}}), "TypeError: not a number"),
])
def test_a_bad_file_is_said_and_the_properties_shown(tmp_path, res, content, why):
    (tmp_path / "ope.json").write_text(content)
    got = ope.read(str(tmp_path), R.blessing_properties(res))
    assert got["note"].startswith(f"ope.json unreadable ({tmp_path}/ope.json): ")
    assert why in got["note"]
    assert got["source"] == "blessing properties"
    assert got["candidate"]["policy_value_dr"]["value"] == res["candidate"]["policy_value_dr"][
        "value"]


def test_nothing_at_all_is_said_not_raised(tmp_path):
    got = ope.read(str(tmp_path), {"blessed": 0})
    assert got["note"].endswith("the blessing records no off-policy numbers either")
    assert got["candidate"] == {} and got["baseline"] is None and got["blessed"] is False
    assert ope.read(None, {})["note"].startswith("ope.json absent")


def test_a_metric_the_gate_adds_later_is_shown_too(res):
    props = {**R.blessing_properties(res), "auc": 0.71, "baseline_auc": 0.69,
             "new_value": 0.2, "new_value_lower": 0.1, "new_value_upper": 0.3}
    got = ope.from_properties(props)
    assert got["candidate"]["auc"] == {"value": 0.71, "lower": None, "upper": None}
    assert got["baseline"]["auc"]["value"] == 0.69
    assert got["candidate"]["new_value"] == {"value": 0.2, "lower": 0.1, "upper": 0.3}
    assert "n" not in got["candidate"] and "blessed" not in got["candidate"]
    # estimates with intervals first (the gate's estimators in order), then the rest by name
    assert ope.metric_names(got) == OPE + ["new_value", "mse", "rmse", "mae", "auc"]
    raw = dict(res, candidate={**res["candidate"], "auc": 0.71})
    assert ope.from_report(raw)["candidate"]["auc"]["value"] == 0.71
    # one the gate could not compute (null): n/a, the rest of the file still read
    raw = dict(res, candidate={**res["candidate"], "auc": None})
    got = ope.from_report(raw)
    assert got["candidate"]["auc"] == {"value": None, "lower": None, "upper": None}
    assert got["candidate"]["policy_value_dr"]["value"] == res["candidate"][
        "policy_value_dr"]["value"]


def test_is_policy_evaluation(tmp_path, res):
    assert ope.is_policy_evaluation(
        "tfxkit.components.policy_evaluator.component.PolicyEvaluator", "/x", {})
    assert ope.is_policy_evaluation("tfx.components.Evaluator", "/x",
                                    R.blessing_properties(res))
    assert ope.is_policy_evaluation("tfx.components.Evaluator", R.write(tmp_path, res), {})
    assert not ope.is_policy_evaluation("tfx.components.Evaluator", str(tmp_path / "no"),
                                        {"blessed": 1, "current_model_id": 3})


def test_words_and_numbers():
    how = {"level": 0.95, "n": 1884}
    dr = {"value": 0.16934, "lower": 0.12512, "upper": 0.2150}
    assert ope.estimate_text("policy_value_dr", dr, how) == \
        "policy_value_dr 0.1693 [0.1251, 0.215] (95% bootstrap, n 1884)"
    change = {"value": -0.0571, "lower": -0.107, "upper": 0.0012}
    assert ope.estimate_text("policy_value_dr", change, how, sign=True) == \
        "policy_value_dr -0.0571 [-0.107, +0.0012] (95% bootstrap, n 1884)"
    assert ope.estimate_text("mse", {"value": 0.25, "lower": None, "upper": None}, how) == \
        "mse 0.25"
    assert ope.how_text({"n": 5}) == "bootstrap, level not recorded, n 5"
    assert [ope.verdict_word(p) for p in (True, False, None)] == ["pass", "FAIL", "skipped"]
    assert ope.num(None) == "n/a"
