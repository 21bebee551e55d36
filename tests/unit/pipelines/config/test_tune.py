"""``model.tune:`` (``config/tune.py``): the space over model keys, the objective as a
gated metric with a Keras equivalent, and the space as ``keras_tuner.HyperParameters``."""
import pytest

from tests.unit.pipelines.config.test_loader import BASE, load_err, write
from tfxkit.pipelines.config import load_config
from tfxkit.pipelines.config.tune import (Tune, defaults_in_space, hyperparameters,
                                          keras_objective)

TUNE = """
model:
  learning_rate: 0.0003
  tune:
    space: {learning_rate: {min: 0.0001, max: 0.1, sampling: log},
            hidden_units: [[16, 8], [64, 32]], kind: [dnn, wide_deep], batch_size: [16, 32]}
    algorithm: bayesian
    trials: 4
    epochs_per_trial: 2
    objective: accuracy
"""


def test_a_tune_section_loads_with_defaults(tmp_path):
    cfg = load_config(write(tmp_path, BASE + TUNE))
    t = cfg.model.tune
    assert (t.algorithm, t.trials, t.epochs_per_trial, t.parallel, t.seed) == (
        "bayesian", 4, 2, 1, 42)
    assert t.space["learning_rate"].sampling == "log"
    assert t.space["hidden_units"] == [[16, 8], [64, 32]]
    assert t.direction_of("multiclass") == "max"
    assert load_config(write(tmp_path, BASE)).model.tune is None


def test_a_misspelt_key_gets_the_closest_model_key(tmp_path):
    e = load_err(write(tmp_path, BASE + TUNE.replace("batch_size:", "batchsize:")))
    assert "space.batchsize: 'batchsize' is not a model key; did you mean 'batch_size'?" \
        in str(e)


@pytest.mark.parametrize("space, says", [
    ("{epochs: [2, 4]}", "space.epochs: not tunable"),
    ("{kind: [dnn, cnn]}", "kinds are dnn, wide_deep, linear"),
    ("{learning_rate: [0.1, 0]}", "learning_rate: must be a number > 0"),
    ("{dropout: {min: 0.2, max: 0.1}}", "must be below max"),
    ("{hidden_units: [16, 8]}", "hidden_units choices are lists of units"),
    ("{batch_size: {min: 8.5, max: 64}}", "an integer range >= 1"),
    ("{optimizer: {min: 1, max: 2}}", "takes a list of choices, not a range"),
])
def test_a_bad_space_is_refused_with_its_key(tmp_path, space, says):
    body = BASE + f"model:\n  tune: {{space: {space}, objective: accuracy}}\n"
    assert says in str(load_err(write(tmp_path, body)))


def test_the_objective_is_a_gated_metric_with_a_keras_equivalent(tmp_path):
    e = load_err(write(tmp_path, BASE + TUNE.replace("objective: accuracy",
                                                     "objective: acuracy")))
    assert "'acuracy' is not a gated metric (eval.metrics: accuracy); did you mean " \
           "'accuracy'?" in str(e)
    assert keras_objective("multiclass", "accuracy") == ("val_sparse_categorical_accuracy",
                                                          "max")
    assert keras_objective("binary", "auc") == ("val_auc", "max")
    assert keras_objective("regression", "mse") == ("val_loss", "min")
    with pytest.raises(ValueError, match="'auc_pr' has no Keras metric"):
        keras_objective("binary", "auc_pr")


def test_parallel_needs_as_many_trials_as_workers(tmp_path):
    cfg = load_config(write(tmp_path, BASE + TUNE + "    parallel: 2\n"))
    assert cfg.model.tune.parallel == 2
    e = load_err(write(tmp_path, BASE + TUNE.replace("trials: 4", "trials: 2")
                       + "    parallel: 3\n"))
    assert "parallel: 3 workers for 2 trials" in str(e)


def test_tune_and_hyperparameters_are_exclusive(tmp_path):
    e = load_err(write(tmp_path, BASE + TUNE + "hyperparameters: {values: {epochs: 2}}\n"))
    assert "give hyperparameters: or model.tune:, not both" in str(e)


def test_the_space_as_keras_tuner_hyperparameters_defaults_to_the_model_values():
    t = Tune.model_validate({"space": {
        "learning_rate": {"min": 0.0001, "max": 0.1, "sampling": "log"},
        "hidden_units": [[16, 8], [64, 32]], "kind": ["dnn", "linear"],
        "batch_size": {"min": 16, "max": 64, "step": 16}, "dropout": [0, 0.2]},
        "objective": "accuracy"})
    model = {"learning_rate": 0.0003, "hidden_units": [64, 32], "kind": "dnn",
             "batch_size": 32, "dropout": 0.0}
    hp = hyperparameters(t.space, model)
    by_name = {h.name: h for h in hp.space}
    assert type(by_name["learning_rate"]).__name__ == "Float"
    assert by_name["learning_rate"].sampling == "log"
    assert type(by_name["batch_size"]).__name__ == "Int"
    assert by_name["batch_size"].step == 16
    assert by_name["hidden_units"].values == ["[16, 8]", "[64, 32]"]
    assert by_name["dropout"].values == [0.0, 0.2]  # ints and floats: floats
    assert hp.values == {"learning_rate": 0.0003, "hidden_units": "[64, 32]", "kind": "dnn",
                         "batch_size": 32, "dropout": 0.0}
    assert defaults_in_space(t.space, model)
    assert not defaults_in_space(t.space, dict(model, hidden_units=[8]))
    assert not defaults_in_space(t.space, dict(model, learning_rate=0.5))
