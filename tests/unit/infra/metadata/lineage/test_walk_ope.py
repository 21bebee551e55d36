"""``tfxkit lineage`` of a bandit policy (infra/metadata/lineage/walk.py and render.py): the
PolicyEvaluator (node Evaluator, no TFMA output) is read from its blessing's ``ope.json``,
written here by gate.evaluate on synthetic logs: each estimate with its interval, the
baseline's, the change, the reward model's metrics, each verdict and the decision, in the
text, the JSON and the SVG; the blessing's properties when the file is gone."""
import json
import os
import xml.etree.ElementTree as ET

import pytest

from tests.unit.infra.metadata import ope_records as R
from tests.unit.infra.metadata.mlmd_records import PIPELINE, Records
from tfxkit.infra.metadata.lineage import render
from tfxkit.infra.metadata.lineage.walk import model_lineage

POLICY_EVALUATOR = "tfxkit.components.policy_evaluator.component.PolicyEvaluator"


def _bandit_run(tmp_path, res, write_file=True, type_name=POLICY_EVALUATOR, props=None):
    rec = Records()
    run = rec.run("run-1")
    ex = rec.artifact("Examples", "/ex", rows_train=8, rows_eval=4, span=1)
    rec.execute(run, "ExampleGen", {}, {"examples": ex})
    model = rec.artifact("Model", "/pipeline/Trainer/model/7")
    rec.execute(run, "Trainer", {"examples": ex}, {"model": model},
                custom_config=json.dumps({"model": {"epochs": 2}, "task": "bandit"}))
    baseline = rec.artifact("Model", "/pipeline/Trainer/model/3")
    uri = str(tmp_path / "Evaluator" / "blessing" / "9")
    os.makedirs(uri, exist_ok=True)
    if write_file:
        R.write(uri, res)
    bprops = props if props is not None else R.blessing_properties(res, model, baseline)
    blessing = rec.artifact("ModelBlessing", uri, **bprops)
    inputs = {"examples": ex, "model": model}
    if res["baseline"] is not None:
        inputs["baseline_model"] = baseline
    rec.execute(run, "Evaluator", inputs, {"blessing": blessing}, type_name=type_name)
    pushed = rec.artifact("PushedModel", "/p", pushed=1, pushed_version="7",
                          pushed_destination="/models/7")
    rec.execute(run, "Pusher", {"model": model, "model_blessing": blessing},
                {"pushed_model": pushed})
    return model_lineage(rec.store, PIPELINE)


def _g(v):
    return "n/a" if v is None else f"{v:.4g}"


def _step_text(lin, component="Evaluator"):
    text = render.render_text(lin)
    start = text.index(next(t for t in text if t.startswith(component + "  execution")))
    end = next((i for i in range(start + 1, len(text)) if not text[i].startswith("    ")),
               len(text))
    return [t.strip() for t in text[start + 1:end]]


def test_the_estimates_intervals_verdicts_and_decision(tmp_path):
    res = R.result(good=False)  # refused: its bound and its change vs the baseline fail
    lin = _bandit_run(tmp_path, res)
    ev = lin.step("Evaluator")
    assert ev.facts["blessed"] is False and ev.facts["evaluation_uri"] is None
    o = ev.facts["ope"]
    assert o["source"] == "ope.json" and o["reason"] == res["reason"]
    lines = _step_text(lin)
    dr, base, change = (res[s]["policy_value_dr"] for s in ("candidate", "baseline", "change"))
    assert lines[0] == "blessed=False"  # against a baseline
    assert lines[1] == "off-policy evaluation (ope.json): n 400, 100 bootstrap resamples"
    assert lines[2:5] == [
        f"policy_value_ips {res['candidate']['policy_value_ips']['value']:.4g} "
        f"[{res['candidate']['policy_value_ips']['lower']:.4g}, "
        f"{res['candidate']['policy_value_ips']['upper']:.4g}] (90% bootstrap, n 400)",
        f"policy_value_snips {res['candidate']['policy_value_snips']['value']:.4g} "
        f"[{res['candidate']['policy_value_snips']['lower']:.4g}, "
        f"{res['candidate']['policy_value_snips']['upper']:.4g}] (90% bootstrap, n 400)",
        f"policy_value_dr {dr['value']:.4g} [{dr['lower']:.4g}, {dr['upper']:.4g}] "
        "(90% bootstrap, n 400)"]
    errors = ", ".join(f"{n} {_g(res['candidate'][n])}" for n in R.gate.REWARD_MODEL)
    assert f"candidate reward model: {errors}" in lines
    assert f"baseline policy_value_dr {base['value']:.4g} [{base['lower']:.4g}, " \
           f"{base['upper']:.4g}] (90% bootstrap, n 400)" in lines
    assert f"change vs baseline policy_value_dr {change['value']:+.4g} " \
           f"[{change['lower']:+.4g}, {change['upper']:+.4g}] (90% bootstrap, n 400)" in lines
    assert change["value"] < 0 and change["upper"] < 0  # the worst action vs the middle one
    verdicts = [line for line in lines if line.split()[0] in ("pass", "FAIL", "skipped")]
    assert [v.split()[:3] for v in verdicts] == [
        ["FAIL", "policy_value_dr", "lower_bound"],
        ["FAIL", "policy_value_dr", "absolute_change"], ["pass", "rmse", "upper_bound"]]
    assert verdicts[0].endswith(f": {res['thresholds'][0]['reason']}")
    assert lines[-1] == f"decision: {res['reason']}"
    assert res["reason"].startswith("not blessed: policy_value_dr ")

    # the JSON form carries the same facts
    d = json.loads(render.to_json(lin))
    [ev_json] = [s for s in d["steps"] if s["component"] == "Evaluator"]
    assert ev_json["facts"]["ope"]["candidate"]["policy_value_dr"] == {
        k: dr[k] for k in ("value", "lower", "upper")}
    assert ev_json["facts"]["ope"]["thresholds"][1]["passed"] is False
    assert ev_json["facts"]["ope"]["reason"] == res["reason"]
    # and the graph's box
    texts = [t.text for t in ET.fromstring(render.render_svg(lin)).iter(
        "{http://www.w3.org/2000/svg}text")]
    assert any((t or "").startswith("policy_value_dr ") for t in texts)


def test_no_baseline_yet_the_change_threshold_skipped(tmp_path):
    res = R.result(baseline=False)
    lines = _step_text(_bandit_run(tmp_path, res))
    assert lines[0] == "blessed=True (no baseline)"
    assert not any(line.startswith(("baseline ", "change ")) for line in lines)
    assert [line.split()[:3] for line in lines if line.startswith("skipped")] == [
        ["skipped", "policy_value_dr", "absolute_change"]]
    assert lines[-1] == f"decision: {res['reason']}"
    assert "(1 change threshold(s) skipped: no baseline yet)" in lines[-1]


def test_without_ope_json_the_blessings_numbers_and_a_note(tmp_path):
    res = R.result()
    lin = _bandit_run(tmp_path, res, write_file=False)
    lines = _step_text(lin)
    # as MLMD keeps the doubles (its SQLite store may round the last digit)
    dr = lin.step("Evaluator").facts["ope"]["candidate"]["policy_value_dr"]
    assert dr == pytest.approx({k: res["candidate"]["policy_value_dr"][k]
                                for k in ("value", "lower", "upper")}, rel=1e-12)
    assert lines[1] == "off-policy evaluation (blessing properties): n 400"
    assert lines[2].startswith("note: ope.json absent (") and lines[2].endswith(
        "shown from the blessing's custom properties (no verdicts)")
    assert f"policy_value_dr {dr['value']:.4g} [{dr['lower']:.4g}, {dr['upper']:.4g}] " \
           "(bootstrap, level not recorded, n 400)" in lines
    assert lines[-1] == f"decision: {res['reason']}"
    assert not any(line.startswith(("pass ", "FAIL ")) for line in lines)


def test_a_bad_file_and_no_numbers_say_so(tmp_path):
    res = R.result()
    uri = tmp_path / "Evaluator" / "blessing" / "9"
    uri.mkdir(parents=True)
    (uri / "ope.json").write_text("{truncated")
    lin = _bandit_run(tmp_path, res, write_file=False, props={"blessed": 0})
    lines = _step_text(lin)
    assert lines[2].startswith(f"note: ope.json unreadable ({uri}/ope.json): JSONDecodeError")
    assert lines[2].endswith("the blessing records no off-policy numbers either")
    assert lines[-1] == "decision: not recorded"


def test_a_tfma_evaluator_without_its_output_gets_no_ope(tmp_path):
    """Not a PolicyEvaluator: nothing about off-policy evaluation (as before)."""
    res = R.result()
    lin = _bandit_run(tmp_path, res, write_file=False, type_name="tfx.components.Evaluator",
                      props={"blessed": 1})
    assert "ope" not in lin.step("Evaluator").facts
    assert _step_text(lin) == ["blessed=True"]
