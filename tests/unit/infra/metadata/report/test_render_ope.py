"""The report's off-policy evaluation (infra/metadata/report/render_ope.py) from a real
``ope.json`` (gate.evaluate on synthetic logs): every estimate with its interval for the
candidate, the baseline and the change, the forest plot, each verdict (pass, FAIL,
skipped) with its reason; the blessing's numbers with a note when the file is gone."""
import re

import lxml.html

from tests.unit.infra.metadata import ope_records as R
from tfxkit.infra.metadata import ope
from tfxkit.infra.metadata.report.render_ope import ope_html


def _dom(page):
    return lxml.html.fromstring(f"<div>{page}</div>")


def _text(el):
    return " ".join(el.text_content().split())


def test_estimates_intervals_plot_and_failed_verdicts(tmp_path):
    res = R.result(good=False)
    o = ope.read(R.write(tmp_path, res), {})
    page = ope_html(o)
    dom = _dom(page)
    assert [h.text for h in dom.iter("th")][:4] == ["metric", "candidate", "baseline",
                                                    "change vs baseline"]
    rows = dom.xpath("//tr[@data-ope-metric]")
    assert [r.get("data-ope-metric") for r in rows] == [
        "policy_value_ips", "policy_value_snips", "policy_value_dr", *R.gate.REWARD_MODEL]
    for r in rows:
        name = r.get("data-ope-metric")
        for td, side in zip(r.findall("td")[1:], ("candidate", "baseline", "change")):
            entry = res[side].get(name)
            if entry is None:  # the change: policy values only
                assert td.text_content() == "–"
            elif isinstance(entry, dict):  # the exact numbers, and as written
                assert [float(td.get(k)) for k in ("data-value", "data-lower", "data-upper")] \
                    == [entry["value"], entry["lower"], entry["upper"]]
                sign = "+" if side == "change" else ""
                assert _text(td) == (f"{entry['value']:{sign}.4g} [{entry['lower']:{sign}.4g}, "
                                     f"{entry['upper']:{sign}.4g}]")
            else:
                assert float(td.get("data-value")) == entry and td.get("data-lower") is None
    verdicts = dom.xpath("//tr[@data-verdict]")
    assert [(v.get("data-verdict"), v.get("data-metric"), v.get("data-bound")) for v in
            verdicts] == [("fail", "policy_value_dr", "lower_bound"),
                          ("fail", "policy_value_dr", "absolute_change"),
                          ("pass", "rmse", "upper_bound")]
    cells = [[_text(td) for td in v.findall("td")] for v in verdicts]
    assert cells[0][-2:] == ["FAIL", res["thresholds"][0]["reason"]]
    change = res["change"]["policy_value_dr"]
    assert cells[1][3:5] == [f"{change['value']:+.4g}",
                             f"[{change['lower']:+.4g}, {change['upper']:+.4g}]"]
    facts = {d.get("data-fact"): d.text for d in dom.xpath("//dd[@data-fact]")}
    assert facts["logged rows"] == "400" and facts["bootstrap"] == "90% intervals, 100 resamples"
    assert facts["baseline"] == res["baseline_model"]
    assert "(90% bootstrap, n 400)" in page and "data-ope-note" not in page
    [svg] = re.findall(r"<svg.*?</svg>", page, re.S)
    assert "change vs baseline" in svg and "policy_value_dr" in svg


def test_no_baseline_a_skipped_verdict_and_one_panel(tmp_path):
    res = R.result(baseline=False)
    dom = _dom(ope_html(ope.read(R.write(tmp_path, res), {})))
    assert [h.text for h in dom.xpath("//table[@class='ope-estimates']//th")] == [
        "metric", "candidate"]
    skipped = dom.xpath("//tr[@data-verdict='skipped']")
    assert [s.get("data-bound") for s in skipped] == ["absolute_change"]
    assert [_text(td) for td in skipped[0].findall("td")][-2:] == [
        "skipped", R.gate.NO_BASELINE]
    assert "change vs baseline" not in _text(dom.xpath("//figure")[0])


def test_from_the_blessings_properties_with_the_note(tmp_path):
    res = R.result()
    o = ope.read(str(tmp_path / "gone"), R.blessing_properties(res))
    dom = _dom(ope_html(o))
    [note] = dom.xpath("//p[@data-ope-note]")
    assert _text(note).startswith(f"ope.json absent ({tmp_path}/gone/ope.json)")
    dr = dom.xpath("//tr[@data-ope-metric='policy_value_dr']/td")
    assert float(dr[1].get("data-value")) == res["candidate"]["policy_value_dr"]["value"]
    assert dom.xpath("//p[@data-ope-verdicts='none']")
    assert "bootstrap, level not recorded, n 400" in _text(dom)
    nothing = _dom(ope_html(ope.read(str(tmp_path / "gone"), {"blessed": 1})))
    assert "no off-policy numbers either" in _text(nothing)
    assert not nothing.xpath("//table") and not nothing.xpath("//svg")


def test_a_metric_the_gate_could_not_compute(tmp_path):
    """An undefined metric (null in ope.json, e.g. an AUC on one kind of reward) reads
    n/a; the rest of the file is shown as it is."""
    res = R.result()
    res["candidate"]["auc"] = None
    o = ope.read(R.write(tmp_path, res), {})
    assert o["source"] == "ope.json" and o["candidate"]["auc"]["value"] is None
    [auc] = _dom(ope_html(o)).xpath("//tr[@data-ope-metric='auc']")
    assert [_text(td) for td in auc.findall("td")][:2] == ["auc", "n/a"]
    assert auc.findall("td")[1].get("data-value") is None
