"""``model.tune:`` end to end (issue 20, point 1): the multiclass template with a weak
default learning rate (3e-4: five epochs learn little) and a space holding a better one.
The Tuner's first trial is the config's own settings, trained like every trial
(``epochs_per_trial``), so the best trial is compared with the default on the same terms;
the Trainer reads the Tuner's ``best_hyperparameters`` (asserted from MLMD and from the
optimizer of the exported model); a re-run with only ``model.epochs`` changed re-runs the
Trainer and reuses the cached Tuner."""
import json
import os
import shutil

import pytest
import yaml

from tests.conftest import TEMPLATES
from tests.e2e.helpers import node_states, runs, store, tfxkit
from tfxkit.pipelines.mlmd_reader import Reader

pytestmark = pytest.mark.e2e

WEAK_LR, GOOD_LR = 0.0003, 0.03


def _case(tmp_path):
    case = tmp_path / "multiclass"
    shutil.copytree(TEMPLATES / "multiclass", case,
                    ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
    c = yaml.safe_load((case / "config.yaml").read_text())
    c["model"]["learning_rate"] = WEAK_LR
    c["model"]["tune"] = {"space": {"learning_rate": [WEAK_LR, GOOD_LR]},
                          "algorithm": "random", "trials": 2, "epochs_per_trial": 5,
                          "objective": "accuracy", "seed": 1}
    (case / "config.yaml").write_text(yaml.safe_dump(c, sort_keys=False))
    return case


def _only_file(uri):
    [name] = os.listdir(uri)
    return os.path.join(uri, name)


def test_a_tuned_run_beats_the_default_and_the_trainer_uses_the_best_values(tmp_path):
    case = _case(tmp_path)
    r = tfxkit("run", case / "config.yaml", "--profile", "quick")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "BLESSED" in r.stdout, r.stdout[-3000:]

    s = store(case / ".tfxkit" / "metadata.sqlite")
    reader = Reader(s, "penguin-species")
    [run1] = runs(s, "penguin-species")
    execs = dict(reader.run_executions(run1))
    assert node_states(s, "penguin-species", run1)["Tuner"] == "COMPLETE"
    _, tuner_out = reader.io(execs["Tuner"].id)
    trainer_in, _ = reader.io(execs["Trainer"].id)
    # the Trainer's hyperparameters input is the Tuner's best_hyperparameters artifact
    assert trainer_in["hyperparameters"] == tuner_out["best_hyperparameters"]
    best_hp = reader.artifact(tuner_out["best_hyperparameters"][0])
    results = reader.artifact(tuner_out["tuner_results"][0])
    trials = json.load(open(_only_file(results.uri)))
    chosen = json.load(open(_only_file(best_hp.uri)))["values"]

    by_id = sorted(trials, key=lambda t: t["trial_id"])
    default, best = by_id[0], max(trials, key=lambda t: t["score"])
    print(f"default (lr {default['learning_rate']}): val accuracy {default['score']:.4f}; "
          f"best (lr {best['learning_rate']}): {best['score']:.4f}")
    assert default["learning_rate"] == WEAK_LR  # trial 0 is the config's own settings
    assert best["learning_rate"] == GOOD_LR
    assert best["score"] > default["score"] + 0.2
    assert chosen == {"learning_rate": best["learning_rate"]}
    # the outcome as custom properties of the Tuner's outputs (pipelines/tuner_executor.py)
    props = best_hp.custom_properties
    assert props["chosen_by"].string_value == "tuner/random"
    assert props["hp_learning_rate"].double_value == GOOD_LR
    assert props["best_score"].double_value == pytest.approx(best["score"])
    assert props["default_score"].double_value == pytest.approx(default["score"])
    assert results.custom_properties["trials"].int_value == 2

    # the exported model was compiled with the tuned learning rate, not the config's
    [model_id] = trainer_out_model = reader.io(execs["Trainer"].id)[1]["model"]
    meta = open(os.path.join(reader.artifact(model_id).uri, "Format-Serving",
                             "keras_metadata.pb"), "rb").read()
    assert b'"learning_rate": 0.029999' in meta and b'"learning_rate": 0.0003' not in meta, \
        trainer_out_model

    # tfxkit lineage prints the tuned values under the Trainer; the report has the trials
    lin = tfxkit("lineage", case / "config.yaml", "--format", "json")
    assert lin.returncode == 0, lin.stderr[-3000:]
    steps = {st["component"]: st for st in json.loads(lin.stdout)["steps"]}
    hp_input = steps["Trainer"]["facts"]["hyperparameters_input"]
    assert hp_input["values"] == chosen and hp_input["chosen_by"] == "tuner/random"
    report = r.stdout.split("Report: ")[-1].strip().splitlines()[0]
    page = open(report).read()
    assert "data-section='tuning'" in page and "data-trials='2'" in page
    assert f"data-best='{best['score']}' data-default='{default['score']}'" in page
    assert "<dt>learning_rate</dt><dd>0.03</dd>" in page  # training section: tuned value

    # only the Trainer's own setting changes: the Tuner is cached, the Trainer re-runs
    r2 = tfxkit("run", case / "config.yaml", "--profile", "quick", "--set", "model.epochs=3")
    assert r2.returncode == 0, r2.stdout[-3000:] + r2.stderr[-3000:]
    run2 = runs(s, "penguin-species")[-1]
    states = node_states(s, "penguin-species", run2)
    assert states["Tuner"] == "CACHED" and states["Trainer"] == "COMPLETE", states
    execs2 = dict(reader.run_executions(run2))
    assert reader.io(execs2["Trainer"].id)[0]["hyperparameters"] == \
        tuner_out["best_hyperparameters"]
    [run_id] = reader.io(execs2["Trainer"].id)[1]["model_run"]
    history = json.load(open(os.path.join(reader.artifact(run_id).uri, "history.json")))
    assert len(history["loss"]) <= 3  # the new model.epochs (early stopping may cut it)


def test_parallel_trials_run_in_worker_processes_at_the_same_time(tmp_path):
    """``tune.parallel: 2``: KerasTuner's chief and two worker processes
    (``pipelines/tuner_parallel.py``); each worker ran a trial, their trials overlapped in
    time, and the outcome is the serial search's (the better learning rate, used by the
    Trainer)."""
    from tfxkit.pipelines import tuner_parallel

    case = _case(tmp_path)
    c = yaml.safe_load((case / "config.yaml").read_text())
    c["model"]["tune"]["parallel"] = 2
    # the search is under test here, not the latency gate (three processes train at once)
    c.setdefault("push", {}).setdefault("infra_validation", {})["max_latency_ms"] = 2000
    (case / "config.yaml").write_text(yaml.safe_dump(c, sort_keys=False))
    r = tfxkit("run", case / "config.yaml", "--profile", "quick")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    s = store(case / ".tfxkit" / "metadata.sqlite")
    reader = Reader(s, "penguin-species")
    [run1] = runs(s, "penguin-species")
    execs = dict(reader.run_executions(run1))
    _, tuner_out = reader.io(execs["Tuner"].id)
    trainer_in, _ = reader.io(execs["Trainer"].id)
    assert trainer_in["hyperparameters"] == tuner_out["best_hyperparameters"]
    results = reader.artifact(tuner_out["tuner_results"][0])
    props = results.custom_properties
    assert props["parallel"].int_value == 2 and props["trials"].int_value == 2
    per_worker = json.loads(props["trials_per_worker"].string_value)
    assert per_worker == {"tuner0": 1, "tuner1": 1}, per_worker

    # when each worker's trials ran (the workers' own records, kept on the artifact)
    spans = json.loads(props["trial_times"].string_value)
    print("trial intervals:", [(t["worker"], t["trial_id"], round(t["end"] - t["start"], 1))
                               for t in spans])
    assert len(spans) == 2 and tuner_parallel.overlapping(spans), spans

    trials = json.load(open(_only_file(results.uri)))
    best = max(trials, key=lambda t: t["score"])
    default = next(t for t in trials if t["learning_rate"] == WEAK_LR)
    print(f"parallel: default {default['score']:.4f}, best (lr {best['learning_rate']}) "
          f"{best['score']:.4f}")
    assert best["learning_rate"] == GOOD_LR and best["score"] > default["score"] + 0.2
    chosen = json.load(open(_only_file(reader.artifact(
        tuner_out["best_hyperparameters"][0]).uri)))["values"]
    assert chosen == {"learning_rate": GOOD_LR}
