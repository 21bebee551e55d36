"""The lineage as text, JSON and SVG (infra/metadata/lineage/render.py) from a Lineage
made by hand."""
import json
import xml.etree.ElementTree as ET

import pytest

from tfxkit.infra.metadata.lineage import render as R
from tfxkit.infra.metadata.lineage.model import Lineage, Step

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("component, facts, expected", [
    ("ExampleGen", {"span": 3, "version": 1, "rows": {"train": 8, "eval": 2}, "rows_rejected": 1,
                    "input_files": [f"/d/{i}.csv" for i in range(5)],
                    "fingerprint": "span:3,sha256:abcdef"},
     ["span 3, version 1", "rows eval 2, train 8, rejected 1", "file 0.csv", "file 1.csv",
      "file 2.csv", "... 2 more files", "fingerprint abcdef"]),
    ("SchemaImporter", {"features": 4, "schema_uri": "/s"}, ["4 features", "/s"]),
    ("ExampleValidator", {"anomalies": None}, ["anomalies: unreadable"]),
    ("ExampleValidator", {"anomalies": []}, ["no anomalies"]),
    ("ExampleValidator", {"anomalies": ["a", "b"]}, ["2 anomalies", "a", "b"]),
    ("ValidationGate", {"passed": True, "anomalies": 0, "on_anomalies": "fail"},
     ["passed=True anomalies=0 on_anomalies=fail"]),
    ("Transform", {"transform_graph_uri": "/g", "features": {"dense": ["a"], "vocab": {}}},
     ["graph /g", "dense 1, vocab 0"]),
    ("Trainer_wide", {"hyperparameters": {"kind": "dnn", "epochs": 3, "other": 1},
                      "model_uri": "/m"}, ["kind=dnn, epochs=3", "model /m"]),
    ("Trainer", {"hyperparameters": {"epochs": 3}, "model_uri": "/m", "hyperparameters_input": {
        "chosen_by": "search/random", "values": {"learning_rate": 0.01, "hidden_units": [32, 16]}}},
     ["epochs=3", "hyperparameters input (search/random): learning_rate=0.01, "
      "hidden_units=[32, 16]", "model /m"]),
    ("Trainer", {"hyperparameters": {}, "hyperparameters_input": {"chosen_by": None,
                                                                  "values": None}},
     ["hyperparameters input: unreadable", "model "]),
    ("Trainer", {"hyperparameters": {"epochs": 3}, "model_uri": "/m", "warm_start": {
        "mode": "latest_blessed", "warm_started": True, "from": "/m/5", "from_version": "12"}},
     ["epochs=3", "warm-started from version 12 (/m/5)", "model /m"]),
    ("Trainer", {"hyperparameters": {"epochs": 3}, "model_uri": "/m", "warm_start": {
        "mode": "latest_blessed", "warm_started": False, "from": None,
        "reason": "no blessed model of this pipeline yet: trained cold"}},
     ["epochs=3", "cold: no blessed model of this pipeline yet: trained cold", "model /m"]),
    ("Trainer", {"hyperparameters": {"epochs": 3}, "model_uri": "/m", "warm_start": {
        "mode": "none", "warm_started": False}}, ["epochs=3", "model /m"]),
    ("Evaluator", {"blessed": False, "metrics": [
        {"name": "auc", "value": 0.7, "threshold": ">= 0.8", "baseline": 0.75, "ok": False}],
        "metrics_error": "gone"},
     ["blessed=False (no baseline)", "auc 0.7000 [>= 0.8] base 0.7500 FAIL",
      "metrics unreadable: gone"]),
    ("InfraValidator", {"blessed": True, "reason": "ok"}, ["blessed=True", "ok"]),
    ("Pusher", {"version": "7", "path": "/m/7"}, ["version 7", "/m/7"]),
    ("Custom", {"x": 1}, []),
])
def test_step_lines(component, facts, expected):
    assert R.step_lines(Step(component, facts=facts)) == expected


def _lineage():
    gen = Step("ExampleGen", 1, "COMPLETE", "run-1", outputs={"examples": [10, 11]},
               facts={"rows": {"train": 8}})
    ev = Step("Evaluator", 2, "CACHED", "run-0", inputs={"examples": [10]},
              outputs={"blessing": [12]}, elapsed_s=2.0,
              facts={"blessed": True, "baseline_model_id": 4, "reasons": ["all good"]})
    push = Step("Pusher", 3, "COMPLETE", "run-1", inputs={"model_blessing": [12]},
                facts={"version": "7", "path": "/m/7"})
    return Lineage("toy", "7", "/m/7", "run-1", "h1", None, steps=[gen, gen, ev, push],
                   runs={"run-1": {"config_fingerprint": "h1"}, "run-0": {}})


def test_text_names_states_other_runs_and_reasons():
    text = R.render_text(_lineage())
    assert text[:3] == ["Model toy version 7  ->  /m/7", "  pushed by run run-1",
                        "  config hash h1   git commit not recorded"]
    assert "Evaluator  execution 2 (cached), 2.0 s, run run-0" in text
    assert "    why: all good" in text
    assert text[-1] == "run run-0: config hash not recorded, git commit not recorded"


def test_json_round_trips():
    d = json.loads(R.to_json(_lineage()))
    assert d["model_version"] == "7" and [s["component"] for s in d["steps"]][-1] == "Pusher"


def test_svg_one_box_per_step_arrows_along_artifacts_and_a_header():
    root = ET.fromstring(R.render_svg(_lineage()))
    boxes = [g.get("data-node") for g in root.iter(SVG + "g")]
    assert boxes == ["ExampleGen #1", "ExampleGen #1 (1)", "Evaluator #2", "Pusher #3"]
    texts = [t.text for t in root.iter(SVG + "text")]
    assert texts[:3] == ["toy model 7", "pushed to /m/7 by run run-1",
                         "config hash h1   git commit not recorded"]
    assert "examples" in texts and "model_blessing" in texts  # keys beside the arrows
    arrows = [p for p in root.iter(SVG + "path") if p.get("marker-end")]
    assert len(arrows) == 2
