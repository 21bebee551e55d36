"""The run report of a bandit run (infra/metadata/report/gather.py, evaluation.py): the
PolicyEvaluator (node Evaluator) has no TFMA output, its blessing's ``ope.json`` (written by
gate.evaluate on synthetic logs) fills the evaluation: blessed, the decision, the baseline,
and on the page the off-policy section with the same numbers. A TFMA Evaluator's
evaluation renders as before, with no off-policy section."""
import json
import os

import lxml.html

from tests.unit.infra.metadata import ope_records as R
from tests.unit.infra.metadata.mlmd_records import PIPELINE, Records
from tfxkit.infra.metadata.report.gather import gather
from tfxkit.infra.metadata.report.model import Evaluation, Report, SliceMetric
from tfxkit.infra.metadata.report.render import render_html
from tfxkit.infra.metadata.report.render_model import evaluation_section

POLICY_EVALUATOR = "tfxkit.components.policy_evaluator.component.PolicyEvaluator"


def _bandit_run(rec, tmp_path, res, run_id="run-1", write_file=True):
    run = rec.run(run_id)
    model = rec.artifact("Model", res["model"])
    rec.execute(run, "Trainer", {}, {"model": model},
                custom_config=json.dumps({"model": {"epochs": 2}, "task": "bandit"}))
    uri = str(tmp_path / run_id / "blessing")
    os.makedirs(uri, exist_ok=True)
    if write_file:
        R.write(uri, res)
    inputs = {"model": model}
    baseline = None
    if res["baseline"] is not None:
        baseline = inputs["baseline_model"] = rec.artifact("Model", res["baseline_model"])
    blessing = rec.artifact("ModelBlessing", uri,
                            **R.blessing_properties(res, model, baseline))
    rec.execute(run, "Evaluator", inputs, {"blessing": blessing}, type_name=POLICY_EVALUATOR)
    return uri


def test_a_refused_policy_against_its_baseline(tmp_path):
    res = R.result(good=False)
    rec = Records()
    uri = _bandit_run(rec, tmp_path, res)
    rep = gather(rec.store, PIPELINE)
    ev = rep.evaluation
    assert (ev.blessed, ev.has_baseline, ev.baseline_uri) == (False, True,
                                                              res["baseline_model"])
    assert ev.reasons == [res["reason"]] and ev.metrics == [] and ev.evaluation_uri is None
    assert ev.ope["source"] == "ope.json" and ev.ope["path"] == f"{uri}/ope.json"
    assert ev.ope["change"]["policy_value_dr"]["value"] == res["change"]["policy_value_dr"][
        "value"]

    dom = lxml.html.fromstring(render_html(rep))
    [section] = dom.xpath("//section[@id='evaluation']")
    assert section.xpath(".//p[@data-blessed='false']")
    assert res["reason"] in [li.text for li in section.xpath(".//ul[@class='reasons']/li")]
    [dr] = section.xpath(".//tr[@data-ope-metric='policy_value_dr']")
    values = [td.get("data-value") for td in dr.findall("td")[1:]]
    assert [float(v) for v in values] == [res[s]["policy_value_dr"]["value"]
                                          for s in ("candidate", "baseline", "change")]
    assert [v.get("data-verdict") for v in section.xpath(".//tr[@data-verdict]")] == [
        "fail", "fail", "pass"]
    assert section.xpath(".//figure//svg")
    assert "model not blessed" in dom.xpath("//header")[0].text_content()


def test_the_first_policy_and_a_missing_file(tmp_path):
    rec = Records()
    res = R.result(baseline=False)
    _bandit_run(rec, tmp_path, res, write_file=False)
    ev = gather(rec.store, PIPELINE).evaluation
    assert ev.blessed is True and ev.has_baseline is False and ev.baseline_uri is None
    assert ev.ope["source"] == "blessing properties"
    assert ev.ope["note"].startswith("ope.json absent (")
    assert ev.reasons == [res["reason"]]  # the decision, from the blessing's reason
    page = render_html(gather(rec.store, PIPELINE))
    assert "data-ope-note" in page and "No baseline model yet" in page


def test_a_tfma_evaluation_renders_as_before():
    """Without ``ope``, the evaluation section is what it was: no off-policy part."""
    ev = Evaluation(blessed=True, reasons=["all good"],
                    metrics=[SliceMetric("Overall", "accuracy", 0.9, None, None, ">= 0.7",
                                         True, True, 40.0)])
    rep = Report("p", "r", "training", evaluation=ev)
    page = evaluation_section(rep)
    assert "Off-policy" not in page and "class='ope" not in page and "data-ope" not in page
    assert "data-metric='accuracy' data-slice='Overall'" in page
