"""`tfxkit lineage` after a real template run: every link holds the run's real values."""
import json
import re
import xml.etree.ElementTree as ET

import pytest

from tests.e2e.helpers import registry_versions, store, tfxkit

pytestmark = pytest.mark.e2e


def test_lineage_of_the_pushed_model(trained_multiclass, tmp_path):
    """On the shared multiclass run (conftest.py: `tfxkit run --profile quick`, one run);
    `tfxkit lineage` only reads its MLMD and writes to --output."""
    from tfxkit.pipelines.config import load_config

    case, r = trained_multiclass.case, trained_multiclass
    cfg_path = case / "config.yaml"
    printed = re.search(r"sparse_categorical_accuracy\s+([0-9.]+)", r.stdout)
    assert printed, r.stdout

    out = tfxkit("lineage", cfg_path, "--format", "json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    steps = {s["component"]: s for s in d["steps"]}
    assert list(steps) == ["ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
                           "ValidationGate", "Transform", "Trainer", "Evaluator", "InfraValidator",
                           "Pusher"]
    assert all(s["state"] == "COMPLETE" and s["execution_id"] for s in d["steps"])

    # data: rows per split as ExampleGen recorded them, span, input files
    s = store(case / ".tfxkit" / "metadata.sqlite")
    [examples] = [a for a in s.get_artifacts_by_type("Examples") if "/ExampleGen/" in a.uri]
    gen = steps["ExampleGen"]["facts"]
    assert gen["rows"] == {"train": examples.custom_properties["rows_train"].int_value,
                           "eval": examples.custom_properties["rows_eval"].int_value}
    assert sum(gen["rows"].values()) == 344 and gen["span"] == 0
    assert gen["input_files"] == [str(case / "data" / "penguins.csv")]
    assert gen["fingerprint"].startswith("span:0")
    # the links: each step read what the previous one wrote
    assert steps["StatisticsGen"]["inputs"]["examples"] == [examples.id]
    assert steps["Transform"]["inputs"]["examples"] == [examples.id]
    assert steps["Trainer"]["inputs"]["transform_graph"] == \
        steps["Transform"]["outputs"]["transform_graph"]
    assert steps["Pusher"]["inputs"]["model"] == steps["Trainer"]["outputs"]["model"]
    assert steps["Pusher"]["inputs"]["model_blessing"] == steps["Evaluator"]["outputs"]["blessing"]
    assert steps["SchemaGen"]["facts"]["features"] >= 8
    assert steps["ExampleValidator"]["facts"]["has_anomalies"] is False
    assert steps["ValidationGate"]["facts"]["passed"] is True

    # training: the hyperparameters of this run (the quick profile's 5 epochs, not 30)
    hp = steps["Trainer"]["facts"]["hyperparameters"]
    assert hp["epochs"] == 5 and hp["hidden_units"] == [16, 8] and hp["kind"] == "dnn"

    # evaluation: the accuracy the run summary printed, its threshold, blessed
    ev = steps["Evaluator"]["facts"]
    [acc] = [m for m in ev["metrics"] if m["name"] == "sparse_categorical_accuracy"]
    assert f"{acc['value']:.4f}" == printed.group(1)
    assert acc["threshold"].startswith(">= 0.8") and acc["ok"] is True
    assert ev["blessed"] is True and ev["baseline_model_id"] is None

    # push: the version is the folder in the registry
    assert registry_versions(case / "models") == [d["model_version"]]
    assert steps["Pusher"]["facts"]["path"] == str(case / "models" / d["model_version"])
    assert d["pushed_path"] == steps["Pusher"]["facts"]["path"]

    # config hash of the effective config, git commit ('unknown': not a git checkout)
    cfg = load_config(cfg_path, profile="quick")
    assert d["config_hash"] == cfg.fingerprint() != load_config(cfg_path).fingerprint()
    assert d["git_commit"] == "unknown"
    assert d["runs"][d["run_id"]]["config_path"] == str(cfg_path)

    # text for people, an SVG picture, and a clear error for an unknown version
    text = tfxkit("lineage", cfg_path)
    assert text.returncode == 0 and f"version {d['model_version']}" in text.stdout
    assert f"config hash {cfg.fingerprint()}" in text.stdout and "epochs=5" in text.stdout
    svg_path = tmp_path / "lineage.svg"
    pic = tfxkit("lineage", cfg_path, "--model", d["model_version"], "--format", "svg",
                 "--output", svg_path)
    assert pic.returncode == 0, pic.stderr
    root = ET.parse(svg_path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    words = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    for name in steps:
        assert name in words
    missing = tfxkit("lineage", cfg_path, "--model", "12345")
    assert missing.returncode == 1 and "pushed no model version '12345'" in missing.stderr
