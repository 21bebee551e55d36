"""``tfxkit monitor`` on the trained multiclass template: a request log in the serving
contract's format, written from the template's own data, one window as the data is and
the next with every ``island`` set to 'Torgersen': skew is flagged on island and on no
other feature (exit 4), the unshifted window passes (exit 0), both are recorded in ML
Metadata as executions that read the serving model, and the report shows them."""
import csv
import json
import random
import time
from datetime import datetime, timezone

import pytest

from tests.e2e.helpers import store, tfxkit, write_request_log

pytestmark = pytest.mark.e2e

FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g",
            "sex", "year"]


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M")


def table(stdout):
    """{feature: line} of the printed table."""
    out = {}
    for ln in stdout.splitlines():
        words = ln.split()
        if words and words[0] in FEATURES:
            out[words[0]] = ln
    return out


def test_shifted_island_is_flagged_recorded_and_reported(trained_multiclass, copy_case,
                                                         tmp_path):
    from tfxkit.pipelines.config import load_config
    from tfxkit.pipelines.mlmd_reader import model_artifact, monitoring_results

    case = copy_case(trained_multiclass.case)
    config = case / "config.yaml"
    registry = json.loads((case / "models" / "registry.json").read_text())
    version = registry["serving"]
    rows = list(csv.DictReader(open(case / "data" / "penguins.csv")))
    random.Random(0).shuffle(rows)
    hour = int(time.time()) // 3600 * 3600 - 3 * 3600
    log = case / "models" / "requests"           # the default: beside the registry
    write_request_log(log, rows[:200], hour, hour + 3600, version)
    write_request_log(log, rows[144:], hour + 3600, hour + 7200, version, island="Torgersen")
    with open(log / time.strftime("requests-%Y-%m-%dT%H.jsonl", time.gmtime(hour + 3600)),
              "a") as f:
        f.write('{"ts": %d, "request_id": "torn' % (hour + 3601))   # a writer killed mid-line

    calm = tfxkit("monitor", config, "--window-end", iso(hour + 3600))
    assert calm.returncode == 0, calm.stdout + calm.stderr
    assert not any(w in calm.stdout for w in ("SKEW", "Threshold crossed"))
    lines = table(calm.stdout)
    assert set(lines) == set(FEATURES)

    shifted = tfxkit("monitor", config, "--window-end", iso(hour + 7200))
    assert shifted.returncode == 4, shifted.stdout + shifted.stderr
    lines = table(shifted.stdout)
    assert set(lines) == set(FEATURES)            # every feature, flagged or not
    assert "SKEW" in lines["island"] and "L-inf" in lines["island"]
    assert [f for f, ln in lines.items() if "SKEW" in ln] == ["island"]
    assert "Threshold crossed: SKEW island" in shifted.stdout
    assert "(1 unreadable lines skipped)" in shifted.stdout

    nothing = tfxkit("monitor", config, "--window-end", iso(hour + 5 * 3600))
    assert nothing.returncode == 0 and "no traffic in the window" in nothing.stdout

    # ML Metadata: two windows, each an execution that read the serving model
    cfg = load_config(config)
    s = store(cfg.metadata_path)
    record = registry["versions"][version]
    model = model_artifact(s, cfg.name, record["model_uri"], version)
    assert model is not None and model.uri == record["model_uri"]
    recs = monitoring_results(s, [model.id])
    assert [(r["window_end"], r["crossed"]) for r in recs] == [(hour + 3600, 0),
                                                               (hour + 7200, 1)]
    assert {(f["feature"], f["kind"]) for f in recs[1]["flagged"]} >= {("island", "skew")}
    assert {f["feature"] for f in recs[1]["flagged"]} == {"island"}
    saved = json.loads(open(recs[1]["result_uri"]).read())
    skew = {d["feature"]: d for d in saved["features"] if d["kind"] == "skew"}
    assert skew["island"]["value"] > skew["island"]["threshold"] == 0.1
    assert all(not d["flagged"] for f, d in skew.items() if f != "island")

    # the report of the run that pushed the model shows both windows
    out = tmp_path / "report.html"
    r = tfxkit("report", config, "-o", out)
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert "data-section='monitoring'" in page
    assert f"data-window-end='{float(hour + 7200)}' data-crossed='true'" in page
    assert f"data-window-end='{float(hour + 3600)}' data-crossed='false'" in page
    assert "data-feature='island' data-flagged='true'" in page
    assert "data-feature='sex' data-flagged='false'" in page
