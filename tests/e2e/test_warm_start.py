"""Warm start (issue 20 point 2): ``model.warm_start: latest_blessed`` initialises the
Trainer's network from the pipeline's latest blessed model when the architecture
matches, and trains cold, saying why, when it does not.

On a copy of the trained multiclass case (a blessed, pushed model): a cold run and a
warm-started run of the same config on the same data (the template has one data file;
this is continuous training re-run, not a new span), then a warm-start run whose network
is wider (a mismatch). Each prints its "Epochs to reach the gate" line: the first epoch
whose eval-split accuracy meets the gate's lower bound (``Trainer``'s history.json; the
gate's change-vs-baseline bound has no per-epoch value, so a run may meet the bound and
still not be blessed: exit 3, which these runs accept)."""
import json
import re

import pytest

from tests.e2e.helpers import tfxkit

pytestmark = pytest.mark.e2e

# The same training for both: 8 epochs at a lower learning rate than the template's (so
# a cold start does not meet the gate in its first epoch), no early stopping.
COMMON = ["--profile", "quick", "--no-report", "--set", "model.epochs=8",
          "--set", "model.learning_rate=0.003", "--set", "model.early_stopping=null"]
GATE = re.compile(r"Epochs to reach the gate: (?:(\d+)|not reached in (\d+)) (?:of (\d+) )?epochs")


def epochs_to_gate(stdout):
    """The first epoch meeting the gate, or the epochs trained + 1 when none did."""
    m = GATE.search(stdout)
    assert m, stdout[-3000:]
    return int(m.group(1)) if m.group(1) else int(m.group(2)) + 1


def trainer_line(stdout):
    return next((ln for ln in stdout.splitlines() if ln.startswith("Trainer ")), None)


def warm_start_records(case):
    """The warm_start.json of every Trainer run in the case's pipeline root, oldest first."""
    found = sorted(case.rglob("warm_start.json"), key=lambda p: int(p.parent.name)
                   if p.parent.name.isdigit() else 0)
    return [json.loads(p.read_text()) for p in found]


def test_warm_start_reaches_the_gate_sooner_and_mismatch_trains_cold(trained_multiclass,
                                                                      copy_case):
    case = copy_case(trained_multiclass.case)
    # warm first: its base is then the case's blessed model, never one the cold run
    # trained on the same data (a blessed cold run would become the latest blessed model)
    warm = tfxkit("run", case / "config.yaml", *COMMON,
                  "--set", "model.warm_start=latest_blessed", cwd=case)
    # 3: completed, not pushed (the gate also bounds the change vs the blessed baseline)
    assert warm.returncode in (0, 3), warm.stdout[-3000:] + warm.stderr[-3000:]
    cold = tfxkit("run", case / "config.yaml", *COMMON, "--set", "model.warm_start=none",
                  cwd=case)
    assert cold.returncode in (0, 3), cold.stdout[-3000:] + cold.stderr[-3000:]
    n_cold, n_warm = epochs_to_gate(cold.stdout), epochs_to_gate(warm.stdout)
    print(f"FIGURE epochs to reach the gate: cold {n_cold}, warm {n_warm} "
          f"(cold: {GATE.search(cold.stdout).group(0)}; warm: {GATE.search(warm.stdout).group(0)})")
    line = trainer_line(warm.stdout)
    assert line and line.startswith("Trainer warm-started from version "), warm.stdout[-3000:]
    assert n_warm < n_cold

    wide = tfxkit("run", case / "config.yaml", *COMMON,
                  "--set", "model.warm_start=latest_blessed",
                  "--set", "model.hidden_units=[32, 16]", cwd=case)
    assert wide.returncode in (0, 3), wide.stdout[-3000:] + wide.stderr[-3000:]
    line = trainer_line(wide.stdout)
    print("FIGURE mismatch:", line)
    assert line and line.startswith("Trainer cold: architecture differs from the base model"), \
        wide.stdout[-3000:]
    assert re.search(r"layer hidden_0: kernel \(\d+, 16\) in the base model vs \(\d+, 32\) now",
                     line), line
    recs = warm_start_records(case)
    assert any(r["warm_started"] for r in recs), recs
    assert any(not r["warm_started"] and "hidden_0" in r["reason"] for r in recs), recs


def test_on_a_second_span_warm_start_reaches_the_gate_sooner(template_copy):
    """The multiclass template with its data in two daily spans: span 1 the 2007-2008
    penguins, span 2 the 2009 ones (the newest span is what trains). A first run on span 1
    blesses a model; on span 2, a warm-started run (from span 1's model) and a cold one.
    ``year`` is what the spans are cut by, so it is no feature here: as a categorical
    feature its domain would shrink to the one year of span 2, a different embedding
    shape (warm start then trains cold, naming ``year_xf_embedding``)."""
    case = template_copy("multiclass")
    data = case / "data"
    lines = (data / "penguins.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    year = header.split(",").index("year")
    (data / "penguins.csv").unlink()
    (data / "penguins-2026-01-01.csv").write_text(
        "\n".join([header] + [r for r in rows if r.split(",")[year] in ("2007", "2008")]) + "\n")
    span2 = "\n".join([header] + [r for r in rows if r.split(",")[year] == "2009"]) + "\n"
    cfg = case / "config.yaml"
    text = cfg.read_text()
    assert "source: {csv: data/penguins.csv}" in text and "  categorical_int: {year: 3}\n" in text
    cfg.write_text(text.replace("source: {csv: data/penguins.csv}",
                                'source: {csv: "data/penguins-{YYYY}-{MM}-{DD}.csv"}')
                   .replace("  categorical_int: {year: 3}\n", ""))
    first = tfxkit("run", cfg, "--profile", "quick", "--no-report", cwd=case)
    assert first.returncode == 0 and "Pushed version" in first.stdout, \
        first.stdout[-3000:] + first.stderr[-3000:]
    (data / "penguins-2026-01-02.csv").write_text(span2)
    warm = tfxkit("run", cfg, *COMMON, "--set", "model.warm_start=latest_blessed", cwd=case)
    assert warm.returncode in (0, 3), warm.stdout[-3000:] + warm.stderr[-3000:]
    cold = tfxkit("run", cfg, *COMMON, "--set", "model.warm_start=none", cwd=case)
    assert cold.returncode in (0, 3), cold.stdout[-3000:] + cold.stderr[-3000:]
    n_cold, n_warm = epochs_to_gate(cold.stdout), epochs_to_gate(warm.stdout)
    print(f"FIGURE span 2: epochs to reach the gate: cold {n_cold}, warm {n_warm} "
          f"(cold: {GATE.search(cold.stdout).group(0)}; warm: {GATE.search(warm.stdout).group(0)})")
    line = trainer_line(warm.stdout)
    assert line and line.startswith("Trainer warm-started from version "), warm.stdout[-3000:]
    assert n_warm < n_cold
