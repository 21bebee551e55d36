"""Safe push end to end on a copy of the multiclass template: a weak first model (no
baseline: held to the absolute threshold) is not blessed and not pushed; a blessed model
that fails infra validation is not pushed (the reason in MLMD and the summary); then a
good model is pushed, a re-run pushes nothing (cached, or re-executed: identical content),
a second model becomes a new version, `tfxkit models` lists both, `tfxkit rollback` serves
the first again and `tfxkit predict` uses it."""
import json
import sqlite3

import pytest

from tests.e2e.helpers import artifacts_of_type, node_states, runs, store, tfxkit

pytestmark = pytest.mark.e2e

PIPELINE = "penguin-species"


def _latest(s, type_name):
    return max(artifacts_of_type(s, type_name), key=lambda a: a.id)


def _versions(case):
    return sorted(p.name for p in (case / "models").iterdir() if p.name.isdigit()) \
        if (case / "models").exists() else []


def test_safe_push_end_to_end(template_copy):
    case = template_copy("multiclass")
    cfg = case / "config.yaml"
    db = case / ".tfxkit" / "metadata.sqlite"

    # 1. A deliberately weak first model: one training step, a high absolute bound. There
    #    is no baseline, so the change threshold is ignored but the bound is not.
    weak = tfxkit("run", cfg, "--set", "model.steps=1", "--set", "model.epochs=1", "--set",
                  "eval.metrics=[{name: accuracy, lower_bound: 0.9, absolute_change: -0.05}]")
    assert weak.returncode == 3, weak.stderr  # completed, not blessed
    assert "NOT blessed (no baseline yet: absolute thresholds only)" in weak.stdout
    assert "Not pushed: the model was not blessed by the Evaluator" in weak.stdout
    s = store(db)
    pushed = _latest(s, "PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 0
    assert "not blessed" in pushed.custom_properties["push_reason"].string_value
    assert _versions(case) == []

    # 2. A good model that fails infra validation (an impossible latency bound).
    slow = tfxkit("run", cfg, "--set", "push.infra_validation.max_latency_ms=0.001")
    assert slow.returncode == 3, slow.stderr  # completed, infra validation failed
    assert "Model BLESSED" in slow.stdout
    assert "Infra validation FAILED: p99 latency" in slow.stdout
    assert "Not pushed: infra validation failed: p99 latency" in slow.stdout
    s = store(db)
    infra = _latest(s, "InfraBlessing")
    assert infra.custom_properties["blessed"].int_value == 0
    assert "exceeds max_latency_ms 0.001" in infra.custom_properties["reason"].string_value
    pushed = _latest(s, "PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 0
    assert "infra validation failed" in pushed.custom_properties["push_reason"].string_value
    assert _versions(case) == []
    # the run report says so too
    import re

    page = open(re.search(r"^Report: (.+\.html)$", slow.stdout, re.M).group(1)).read()
    assert "data-infra-blessed='false'>Infra validation FAILED: p99 latency" in page
    assert "Not pushed: infra validation failed: p99 latency" in page

    # 3. The same model with the default bound: validated and pushed, with its record.
    good = tfxkit("run", cfg)
    assert good.returncode == 0, good.stderr
    assert "Infra validation passed" in good.stdout and "Pushed version" in good.stdout
    [v1] = _versions(case)
    index = json.loads((case / "models" / "registry.json").read_text())
    assert index["serving"] == v1
    rec = index["versions"][v1]
    assert rec["metrics"]["sparse_categorical_accuracy"] >= 0.8 and len(rec["sha256"]) == 64
    assert rec["config_hash"] not in (None, "", "unknown") and rec["git_commit"]
    assert rec["data"]["rows"] > 300 and rec["data"]["examples"][0]["uri"]
    assert rec["model_uri"] and rec["pipeline_run"]
    s = store(db)
    pushed = _latest(s, "PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 1
    assert pushed.custom_properties["pushed_version"].string_value == v1
    assert pushed.custom_properties["pushed_destination"].string_value == \
        str(case / "models" / v1)

    # 4. Nothing changed: fully cached, nothing pushed; forcing the Pusher to re-execute
    #    still pushes nothing (the content equals the serving version's).
    again = tfxkit("run", cfg, "--force")  # (without --force nothing would run at all)
    assert again.returncode == 0, again.stderr
    s = store(db)
    states = node_states(s, PIPELINE, runs(s, PIPELINE)[-1])
    assert states["Pusher"] == "CACHED" and states["InfraValidator"] == "CACHED", states
    forced = tfxkit("run", cfg, "--from", "Pusher")
    assert forced.returncode == 0, forced.stderr
    assert f"identical to the serving version {v1}" in forced.stdout
    assert _versions(case) == [v1]

    # 5. A different model becomes version 2.
    second = tfxkit("run", cfg, "--set", "model.hidden_units=[12, 6]")
    assert second.returncode == 0, second.stderr
    assert "Pushed version" in second.stdout
    v1_, v2 = _versions(case)
    assert v1_ == v1 and int(v2) > int(v1)

    # 6. tfxkit models / rollback
    listing = tfxkit("models", cfg)
    assert listing.returncode == 0, listing.stderr
    assert f"serving version {v2}" in listing.stdout
    assert f"* {v2}" in listing.stdout and f"  {v1}" in listing.stdout
    assert "accuracy" in listing.stdout
    bad = tfxkit("rollback", cfg, "--to", "12345")
    assert bad.returncode == 2 and "'12345'" in bad.stderr and v1 in bad.stderr
    back = tfxkit("rollback", cfg, "--to", v1, "--reason", "test")
    assert back.returncode == 0, back.stderr
    assert f"now serving version {v1} (was {v2})" in back.stdout
    assert f"* {v1}" in tfxkit("models", cfg).stdout

    # 7. Batch inference uses the rolled-back version.
    pred = tfxkit("predict", cfg)
    assert pred.returncode == 0, pred.stderr
    assert f"model(s) {PIPELINE} {v1}" in pred.stdout
    with sqlite3.connect(case / ".tfxkit" / "predictions.sqlite") as c:
        tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        found = set()
        for t in tables:
            cols = [r[1] for r in c.execute(f"PRAGMA table_info('{t}')")]
            if "model_version" in cols:
                found |= {r[0] for r in c.execute(f"SELECT DISTINCT model_version FROM '{t}'")}
    assert found == {v1}, found
