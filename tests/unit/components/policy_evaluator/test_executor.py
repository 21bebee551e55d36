"""components/policy_evaluator/executor.py on real artifacts: policies trained by run_fn on
a generated newsletter week and exported with their ``greedy`` signature (the harness of
tests/unit/pipelines/test_policy_export.py), raw logged tf.Examples of another week as
ExampleGen writes them. A policy trained on the logged rewards is blessed against one trained
on the same rows with the rewards shuffled; the shuffled one is not blessed against it (its
change fails); with no baseline the change threshold is skipped; the blessing's files,
custom properties and ope.json; a bad propensity names its column and row."""
import datetime as dt
import json
import os

import numpy as np
import pytest
from tfx.types import Channel, standard_artifacts

from tfxkit.components.policy_evaluator import executor
from tfxkit.components.policy_evaluator.component import PolicyEvaluator
from tfxkit.pipelines.datasets import newsletter
from tfxkit.pipelines.transform import transformed_name
from tfxkit.testing import serialized_example
from tests.unit.components import tiny
from tests.unit.pipelines.test_policy_export import BANDIT, logged_week, rows_of, train

N_TRAIN, N_EVAL = 10000, 12000
MODEL = {"keras": 2, "hidden_units": [16], "epochs": 5, "batch_size": 64,
         "learning_rate": 0.01}
THRESHOLDS = [{"name": "policy_value_dr", "lower_bound": 0.0, "absolute_change": 0.0},
              {"name": "rmse", "upper_bound": 2.0}]
BOOT = {"resamples": 200, "level": 0.9, "seed": 3}


def _shuffled_rewards(path: str, out: str, seed: int = 0) -> str:
    """The transformed examples at ``path`` with the reward (the label) permuted across
    rows: what a reward model learns from it is noise."""
    import tensorflow as tf

    rows = [tf.train.Example.FromString(r.numpy()) for r in tf.data.TFRecordDataset(path)]
    key = transformed_name("reward")
    rewards = [list(r.features.feature[key].float_list.value) for r in rows]
    order = np.random.default_rng(seed).permutation(len(rows))
    with tf.io.TFRecordWriter(out) as w:
        for r, i in zip(rows, order):
            r.features.feature[key].float_list.value[:] = rewards[i]
            w.write(r.SerializeToString())
    return out


def _as_trainer_model(serving_dir: str, uri: str):
    """A Model artifact laid out as the Trainer writes it (the SavedModel under
    Format-Serving)."""
    os.makedirs(uri)
    os.rename(serving_dir, os.path.join(uri, "Format-Serving"))
    model = standard_artifacts.Model()
    model.uri = uri
    return model


def _examples(uri: str, rows, spec):
    import tensorflow as tf

    art = standard_artifacts.Examples()
    art.uri = uri
    art.split_names = json.dumps(["train", "eval"])
    for split in ("train", "eval"):
        os.makedirs(os.path.join(uri, f"Split-{split}"))
    for i in range(2):  # two files, as ExampleGen shards
        name = os.path.join(uri, "Split-eval", f"data_tfrecord-{i:05d}-of-00002.gz")
        with tf.io.TFRecordWriter(name, "GZIP") as w:
            for r in rows[i::2]:
                w.write(serialized_example(r, spec))
    return art


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """test_policy_export's logged week (transform output, transformed examples, raw
    feature spec, raw rows), with N_TRAIN rows: enough for a policy clearly better than
    chance."""
    return logged_week(tmp_path_factory.mktemp("logged"), N_TRAIN)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, logged):
    tmp = tmp_path_factory.mktemp("ope")
    good = train(tmp / "good", logged, MODEL)
    bad_data = (logged[0], _shuffled_rewards(logged[1], str(tmp / "shuffled.tfrecord")))
    bad = train(tmp / "bad", bad_data, MODEL)
    users = newsletter.users(N_EVAL, seed=21, first_id=10 ** 6)
    week = newsletter.log_week(users, dt.date(2026, 2, 2), seed=21)
    eval_rows = rows_of(week)
    examples = _examples(str(tmp / "examples"), eval_rows, logged[2])
    pushed = standard_artifacts.Model()  # as pushed: the SavedModel at the artifact's root
    pushed.uri = bad.serving_model_dir
    models = {"good": _as_trainer_model(good.serving_model_dir, str(tmp / "model-good")),
              "bad": pushed}
    models["good"].id, models["bad"].id = 11, 12  # MLMD ids, as the runner gives them
    truth = {}
    for name, m in models.items():
        predict = executor.greedy_predict(m.uri)
        probs = predict([serialized_example(r, logged[2]) for r in eval_rows])
        truth[name] = newsletter.policy_value(users, probs["action_probabilities"])
    truth["logging"] = newsletter.logging_policy_value(users)
    truth["optimal"] = newsletter.optimal_policy_value(users)
    return tmp, examples, models, truth, (eval_rows, logged[2])


def _run(tmp, examples, model, baseline=None, name="blessing", thresholds=THRESHOLDS):
    comp = PolicyEvaluator(examples=Channel(type=standard_artifacts.Examples),
                           model=Channel(type=standard_artifacts.Model),
                           baseline_model=Channel(type=standard_artifacts.Model),
                           bandit=BANDIT, label="reward", thresholds=thresholds,
                           bootstrap=BOOT, batch_size=512)
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(tmp / name)
    inputs = {"examples": [examples], "model": [model]}
    if baseline is not None:
        inputs["baseline_model"] = [baseline]
    executor.Executor().Do(inputs, {"blessing": [blessing]}, tiny.exec_properties(comp))
    with open(os.path.join(blessing.uri, executor.REPORT_FILE)) as f:
        return blessing, json.load(f)


def test_the_learned_policy_is_blessed_and_the_shuffled_one_is_not(artifacts):
    tmp, examples, models, truth, _ = artifacts
    good, bad = models["good"], models["bad"]
    blessing, report = _run(tmp, examples, good, bad, "good-vs-bad")
    worse, worse_report = _run(tmp, examples, bad, good, "bad-vs-good")
    dr, change = report["candidate"]["policy_value_dr"], report["change"]["policy_value_dr"]
    print(f"true: good {truth['good']:.4f} bad {truth['bad']:.4f} logging "
          f"{truth['logging']:.4f} optimal {truth['optimal']:.4f}; DR good {dr['value']:.4f} "
          f"[{dr['lower']:.4f}, {dr['upper']:.4f}] bad "
          f"{report['baseline']['policy_value_dr']['value']:.4f}; change "
          f"{change['value']:.4f} [{change['lower']:.4f}, {change['upper']:.4f}]; rmse "
          f"{report['candidate']['rmse']:.3f} vs {report['baseline']['rmse']:.3f}")
    # seen (TFX 1.16): true good 0.148, bad 0.110, logging 0.099, optimal 0.194; DR good
    # 0.131 [0.111, 0.150] (90%), bad 0.098; change 0.033 [0.013, 0.061]; rmse 0.36 both
    assert truth["good"] > truth["bad"]
    # the Trainer's layout and a pushed one
    assert executor.policy_dir(good.uri) == os.path.join(good.uri, "Format-Serving")
    assert executor.policy_dir(bad.uri) == bad.uri
    assert report["n"] == N_EVAL and report["model"] == good.uri
    assert report["baseline_model"] == bad.uri

    assert blessing.get_int_custom_property("blessed") == 1, report["reason"]
    assert sorted(os.listdir(blessing.uri)) == ["BLESSED", "ope.json"]
    with open(os.path.join(blessing.uri, "BLESSED")) as f:
        assert f.read() == report["reason"] == blessing.get_string_custom_property("reason")
    assert blessing.get_float_custom_property("policy_value_dr") == dr["value"]
    assert blessing.get_float_custom_property("change_policy_value_dr_lower") == \
        change["lower"]
    assert blessing.get_float_custom_property("baseline_rmse") == report["baseline"]["rmse"]
    assert blessing.get_string_custom_property("current_model") == good.uri
    assert blessing.get_string_custom_property("baseline_model") == bad.uri
    # the ids the baseline resolver matches blessings to models by: the next run's
    # baseline is this blessed candidate
    assert blessing.get_int_custom_property("current_model_id") == 11
    assert blessing.get_int_custom_property("baseline_model_id") == 12
    from tfxkit.components.baseline_resolver.strategy import latest_blessed_other_than

    found = latest_blessed_other_than([bad, good], [worse, blessing], {99})
    assert found == {"model": [good], "model_blessing": [blessing]}

    assert worse.get_int_custom_property("blessed") == 0
    assert sorted(os.listdir(worse.uri)) == ["NOT_BLESSED", "ope.json"]
    failed = [(v["metric"], v["bound"]) for v in worse_report["thresholds"]
              if v["passed"] is False]
    assert ("policy_value_dr", "absolute_change") in failed, worse_report["reason"]
    assert worse_report["change"]["policy_value_dr"]["value"] == pytest.approx(
        -change["value"], abs=1e-9)


def test_without_a_baseline_the_change_threshold_is_skipped(artifacts):
    tmp, examples, models, _, _ = artifacts
    blessing, report = _run(tmp, examples, models["good"], None, "first")
    assert report["baseline"] is None and report["baseline_model"] is None
    skipped = [v for v in report["thresholds"] if v["passed"] is None]
    assert [(v["metric"], v["bound"]) for v in skipped] == [
        ("policy_value_dr", "absolute_change")]
    assert blessing.get_int_custom_property("blessed") == 1, report["reason"]
    assert "no baseline yet" in report["reason"]
    assert not blessing.has_custom_property("baseline_model")
    # an absolute lower bound above what any policy earns here is not met
    high = [{"name": "policy_value_snips", "lower_bound": 0.5}]
    refused, report = _run(tmp, examples, models["good"], None, "high", high)
    assert refused.get_int_custom_property("blessed") == 0
    assert report["reason"].startswith("not blessed: policy_value_snips 0.")


def test_a_propensity_outside_0_1_names_its_column_and_row(artifacts):
    tmp, _, models, _, (rows, spec) = artifacts
    rows = [dict(r) for r in rows[:6]]
    rows[4]["propensity"] = 0.0
    examples = _examples(str(tmp / "bad-examples"), rows, spec)
    # two files: rows 0, 2, 4 in the first, so the bad row is the third read
    with pytest.raises(ValueError, match=r"column 'propensity': row 2 is 0.0, outside"):
        _run(tmp, examples, models["good"], None, "bad-data")


def test_the_component_checks_its_settings():
    kw = dict(examples=Channel(type=standard_artifacts.Examples),
              model=Channel(type=standard_artifacts.Model), bandit=BANDIT, label="reward")
    comp = PolicyEvaluator(thresholds=THRESHOLDS, **kw)
    props = tiny.exec_properties(comp)
    assert json.loads(props["bandit"]) == {k: BANDIT[k] for k in
                                           ("action", "actions", "propensity")}
    assert json.loads(props["thresholds"])[0] == THRESHOLDS[0]
    assert props["split"] == "eval" and json.loads(props["bootstrap"]) == {}
    with pytest.raises(ValueError, match="'accuracy': not a bandit metric"):
        PolicyEvaluator(thresholds=[{"name": "accuracy", "lower_bound": 0.5}], **kw)
    with pytest.raises(ValueError, match=r"bootstrap: unknown settings \['samples'\]"):
        PolicyEvaluator(thresholds=THRESHOLDS, bootstrap={"samples": 10}, **kw)
