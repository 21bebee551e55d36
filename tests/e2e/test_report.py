"""The run report (``tfxkit report``, and written by every ``tfxkit run``/``predict``),
rendered in headless Chromium: the DOM Chromium builds must show the real values of the
run as MLMD and the artifacts hold them; a screenshot is taken of each."""
import csv
import json
import os
import re
import shutil
from pathlib import Path

import lxml.html
import pytest

from tests.browser import dump_dom, screenshot
from tests.e2e.helpers import node_states, runs, store, tfxkit

pytestmark = pytest.mark.e2e

PIPELINE = "penguin-species"
SECTIONS = ["run", "data", "schema", "training", "evaluation", "lineage"]


def report_path(r) -> Path:
    m = re.search(r"^Report: (.+\.html)$", r.stdout, re.M)
    assert m, f"no 'Report: PATH' line in:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    return Path(m.group(1))


def render(html_file: Path, shots: Path, name: str):
    """(DOM tree from Chromium, screenshot path)."""
    dom = lxml.html.fromstring(dump_dom(html_file))
    png = screenshot(html_file, shots / f"{name}.png")
    return dom, png


def text(el) -> str:
    return " ".join(el.text_content().split())


def one(dom, xpath):
    found = dom.xpath(xpath)
    assert len(found) == 1, f"{xpath}: {len(found)} matches"
    return found[0]


def self_contained(html_file: Path):
    page = html_file.read_text()
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "fetches something"
    assert "<svg" in page


def examples_rows(s, run_ctx):
    """{split: rows} of the Examples that run's ExampleGen produced (from MLMD)."""
    gen = [e for e in s.get_executions_by_context(run_ctx.id)
           if e.type_id == s.get_execution_type(
               "tfxkit.components.example_gen.component.ArrowExampleGen").id]
    ex = s.get_artifacts_by_id([ev.artifact_id for ev in s.get_events_by_execution_ids(
        [gen[0].id]) if ev.path.steps[0].key == "examples"])[0]
    return {k[len("rows_"):]: v.int_value for k, v in ex.custom_properties.items()
            if k.startswith("rows_") and k != "rows_rejected"}


def tfma_overall(s, run_ctx, metric="sparse_categorical_accuracy"):
    """(candidate value, baseline value or None) on the overall slice, read by TFMA from
    the Evaluator output of the run, and whether the blessing says blessed."""
    import tensorflow_model_analysis as tfma

    [ev] = [e for e in s.get_executions_by_context(run_ctx.id)
            if e.type_id == s.get_execution_type(
                "tfx.components.evaluator.component.Evaluator").id]
    arts = {ev_.path.steps[0].key: s.get_artifacts_by_id([ev_.artifact_id])[0]
            for ev_ in s.get_events_by_execution_ids([ev.id]) if ev_.type == ev_.OUTPUT}
    value = baseline = None
    for mfs in tfma.load_metrics(arts["evaluation"].uri):
        if mfs.slice_key.single_slice_keys:
            continue
        for kv in mfs.metric_keys_and_values:
            if kv.key.name == metric and not kv.key.is_diff and not kv.key.HasField("sub_key"):
                if kv.key.model_name == "baseline":
                    baseline = kv.value.double_value.value
                else:
                    value = kv.value.double_value.value
    return value, baseline, bool(arts["blessing"].custom_properties["blessed"].int_value)


def check_training_report(dom, s, run_ctx, case):
    for sec in SECTIONS:
        one(dom, f"//section[@data-section='{sec}']")
    # components and states as MLMD has them
    states = node_states(s, PIPELINE, run_ctx)
    shown = {tr.get("data-component"): tr.get("data-state")
             for tr in dom.xpath("//table[@class='components']//tr[@data-component]")}
    mapping = {"COMPLETE": {"ran", "resolved"}, "CACHED": {"cached"}, "FAILED": {"failed"}}
    for node, state in states.items():
        assert shown[node] in mapping[state], (node, state, shown[node])
    # rows per split equal ExampleGen's
    rows = examples_rows(s, run_ctx)
    for split, n in rows.items():
        assert one(dom, f"//table[@class='rows']//tr[@data-split='{split}']").get("data-rows") \
            == str(n)
    assert f"{rows['train']} examples" in text(one(dom, "//section[@data-section='data']"))
    # the blessed metric equals TFMA's output for the run
    value, baseline, blessed = tfma_overall(s, run_ctx)
    row = one(dom, "//table[@class='gated']//tr[@data-metric='sparse_categorical_accuracy']"
                   "[@data-slice='Overall']")
    cells = [text(td) for td in row.xpath("td")]
    assert cells[2] == f"{value:.4f}"
    assert cells[4] == ("–" if baseline is None else f"{baseline:.4f}")
    assert one(dom, "//*[@data-blessed]").get("data-blessed") == str(blessed).lower()
    # slices of the config (island) are there
    slices = {tr.get("data-slice") for tr in dom.xpath("//table[@class='gated']//tr[@data-slice]")}
    assert {"Overall", "island:Biscoe", "island:Dream", "island:Torgersen"} <= slices
    # training curves: as many epochs as the Trainer's history
    return rows, value, baseline, blessed


@pytest.fixture(scope="module")
def trained(tmp_path_factory, trained_multiclass):
    """The multiclass template trained twice: the shared quick run (conftest.py), then, in
    a copy of it, a second run on changed data (body mass shifted, some rows dropped), so
    it has a baseline and drift to show."""
    root = tmp_path_factory.mktemp("report")
    case = root / "multiclass"
    shutil.copytree(trained_multiclass.case, case)  # MLMD, pipeline root, registry, data
    first = trained_multiclass
    data = case / "data" / "penguins.csv"
    with open(data) as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    kept = [r for i, r in enumerate(rows) if i % 10 != 3]
    for r in kept:
        if r["body_mass_g"] not in ("", "NA"):
            r["body_mass_g"] = str(int(float(r["body_mass_g"]) * 1.25))
    with open(data, "w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(kept)
    second = tfxkit("run", case / "config.yaml", "--profile", "quick")
    assert second.returncode == 0, second.stderr
    return case, first, second, root


def test_training_run_report(trained):
    case, first, second, root = trained
    s = store(case / ".tfxkit" / "metadata.sqlite")
    run1, run2 = runs(s, PIPELINE)[-2:]
    p1, p2 = report_path(first), report_path(second)
    assert p1 != p2 and p1.is_file() and p2.is_file()
    assert p2.parent == case / ".tfxkit" / PIPELINE / "reports"
    self_contained(p2)

    dom, png = render(p2, root, "training-run-2")
    check_training_report(dom, s, run2, case)
    assert run2.name in text(one(dom, "//header"))
    # compared with the first run's data; body mass drifted, island did not
    data = text(one(dom, "//section[@data-section='data']"))
    assert f"Compared with run {run1.name}" in data
    mass = one(dom, "//table[@data-split='train']//tr[@data-feature='body_mass_g']")
    assert mass.get("class") == "drift" and "drift" in text(mass)
    island = one(dom, "//table[@data-split='train']//tr[@data-feature='island']")
    assert island.get("class") != "drift"
    # the second run has a baseline: the first run's blessed model
    assert "No baseline model yet" not in text(one(dom, "//section[@data-section='evaluation']"))
    # epochs shown = the Trainer's history.json
    [model_run] = [a for a in s.get_artifacts_by_type("ModelRun")
                   if a.id in {ev.artifact_id for ev in s.get_events_by_execution_ids(
                       [e.id for e in s.get_executions_by_context(run2.id)])}]
    history = json.loads((Path(model_run.uri) / "history.json").read_text())
    assert one(dom, "//*[@data-epochs]").get("data-epochs") == str(len(history["loss"]))
    assert len(history["loss"]) <= 5  # the quick profile
    # schema and lineage
    assert {tr.get("data-schema-feature") for tr in dom.xpath("//tr[@data-schema-feature]")} \
        >= {"island", "body_mass_g", "species"}
    lineage = one(dom, "//section[@data-section='lineage']")
    assert lineage.xpath(".//svg") and "Pusher" in text(lineage)

    # the first run's report: no earlier run, no baseline
    dom1, _ = render(p1, root, "training-run-1")
    check_training_report(dom1, s, run1, case)
    assert "No earlier run of this pipeline" in text(one(dom1, "//section[@data-section='data']"))

    # tfxkit report: the latest run by default, --run for another, --output
    out = root / "again.html"
    r = tfxkit("report", case / "config.yaml", "--run", run1.name, "--output", out)
    assert r.returncode == 0, r.stderr
    assert report_path(r) == out and run1.name in out.read_text()
    r = tfxkit("report", case / "config.yaml", "--run", "no-such-run")
    assert r.returncode == 1 and "no run 'no-such-run'" in r.stderr


def test_prediction_run_report(trained, tmp_path):
    case, _, _, root = trained
    inference = case / "data" / "inference" / "penguins.csv"
    first = tfxkit("predict", case / "config.yaml")
    assert first.returncode == 0, first.stderr
    with open(inference) as f:
        rows = list(csv.DictReader(f))
    for r in rows:  # every penguin now heavy with long flippers: predictions move
        r["body_mass_g"], r["flipper_length_mm"] = "6000", "228"
    with open(inference, "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    second = tfxkit("predict", case / "config.yaml")
    assert second.returncode == 0, second.stderr
    p = report_path(second)
    assert p.parent == case / ".tfxkit" / f"{PIPELINE}-inference" / "reports"
    self_contained(p)
    dom, _ = render(p, root, "prediction-run")
    sec = one(dom, "//section[@data-section='predictions']")
    assert one(sec, ".//dd[@data-fact='predictions stored']").text.strip() == str(len(rows))
    cls = one(sec, ".//tr[@data-output='class']")
    assert cls.get("data-count") == str(len(rows))
    s = store(case / ".tfxkit" / "metadata.sqlite")
    inference_runs = [c.name for c in s.get_children_contexts_by_context(
        s.get_context_by_type_and_name("pipeline", f"{PIPELINE}-inference").id)]
    assert len(inference_runs) == 2
    assert one(sec, ".//dd[@data-fact='compared with run']").text.strip() in inference_runs
    drift = float(text(cls.xpath("td")[-1]))
    assert drift > 0.1  # all penguins now look like Gentoo
    # the class distribution shown is the one in the prediction store
    from collections import Counter

    from tfxkit.pipelines.config import load_config
    from tfxkit.pipelines.inference import open_configured_store

    st = open_configured_store(load_config(str(case / "config.yaml")))
    counts = Counter(st.get(PIPELINE, r["penguin_id"])["prediction"]["class"] for r in rows)
    st.close()
    shown = text(cls.xpath("td")[3])
    assert shown == ", ".join(f"{k} {v / len(rows):.1%}" for k, v in sorted(counts.items()))
    assert text(cls.xpath("td")[0]) == PIPELINE


def test_failed_validation_report(failed_validation, tmp_path):
    """The report of the shared run that stops in ValidationGate (conftest.py: a curated
    schema without the island 'Dream')."""
    case, r = failed_validation.case, failed_validation
    assert r.returncode == 1 and "Run failed in ValidationGate" in r.stderr
    p = report_path(r)
    self_contained(p)
    dom, _ = render(p, tmp_path, "failed-run")
    for sec in SECTIONS:
        one(dom, f"//section[@data-section='{sec}']")
    assert "failed in ValidationGate" in text(one(dom, "//header"))
    states = {tr.get("data-component"): tr.get("data-state")
              for tr in dom.xpath("//table[@class='components']//tr[@data-component]")}
    assert states["ValidationGate"] == "failed"
    assert states["Trainer"] == states["Transform"] == states["Pusher"] == "not run"
    island = dom.xpath("//table[@class='anomalies']//tr[@data-anomaly='island']")
    assert len(island) == 2  # train and eval
    assert all("Dream" in text(a) and "Unexpected string values" in text(a) for a in island)
    trained = one(dom, "//*[@data-trained]")
    assert trained.get("data-trained") == "false"
    assert "Nothing was trained" in text(trained) and "ValidationGate" in text(trained)
    assert not dom.xpath("//*[@data-blessed]")
    s = store(case / ".tfxkit" / "metadata.sqlite")
    rows = examples_rows(s, runs(s, PIPELINE)[-1])
    assert one(dom, "//table[@class='rows']//tr[@data-split='train']").get("data-rows") \
        == str(rows["train"])
    lineage = one(dom, "//section[@data-section='lineage']")
    assert lineage.xpath(".//svg//*[@data-node='ValidationGate']")
