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
    cold = tfxkit("run", case / "config.yaml", *COMMON, "--set", "model.warm_start=none",
                  cwd=case)
    # 3: completed, not pushed (the gate also bounds the change vs the blessed baseline)
    assert cold.returncode in (0, 3), cold.stdout[-3000:] + cold.stderr[-3000:]
    warm = tfxkit("run", case / "config.yaml", *COMMON,
                  "--set", "model.warm_start=latest_blessed", cwd=case)
    assert warm.returncode in (0, 3), warm.stdout[-3000:] + warm.stderr[-3000:]
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
