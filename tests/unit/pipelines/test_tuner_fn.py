"""The Tuner's ``tuner_fn`` parts (``pipelines/tuner_fn.py``): a trial's model section, the
best epoch a trial is scored by, the config's settings as the first trial, and a Keras 2
model tuned by KerasTuner (which runs on Keras 3)."""
import numpy as np

from tfxkit.pipelines import compat
from tfxkit.pipelines.config.tune import Tune, hyperparameters
from tfxkit.pipelines.tuner_fn import (_any_keras, _first_trial_is_the_config,
                                       _Keras2Callback, best_epoch, trial_config)


def test_a_trial_decodes_list_values_over_the_model_section():
    model = {"learning_rate": 0.01, "hidden_units": [16, 8], "epochs": 30}
    assert trial_config(model, {"learning_rate": 0.03, "hidden_units": "[64, 32]"}) == {
        "learning_rate": 0.03, "hidden_units": [64, 32], "epochs": 30}


def test_a_trial_is_scored_by_its_best_epoch():
    h = {"val_loss": [0.9, 0.5, 0.7], "val_acc": [0.6, 0.8, 0.9]}
    assert best_epoch(h, "val_acc", "max") == {"val_loss": 0.7, "val_acc": 0.9}
    assert best_epoch(h, "val_loss", "min") == {"val_loss": 0.5, "val_acc": 0.8}
    try:
        best_epoch(h, "val_auc", "max")
    except ValueError as e:
        assert "reports no val_auc" in str(e)
    else:
        raise AssertionError("an objective the model does not report must fail")


def _tuner(tmp_path, algorithm_class, trials, space, model):
    import keras_tuner

    keras = compat.keras_module(2)
    x = np.random.RandomState(0).normal(size=(64, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    tune = Tune.model_validate({"space": space, "objective": "accuracy"})
    hp = hyperparameters(tune.space, model)

    class HM(keras_tuner.HyperModel):
        def build(self, hp):
            keras.utils.set_random_seed(1)
            m = keras.Sequential([keras.layers.Dense(2, activation="softmax")])
            m.compile(keras.optimizers.Adam(hp.get("learning_rate")),
                      "sparse_categorical_crossentropy", ["sparse_categorical_accuracy"])
            return m

        def fit(self, hp, model, *args, **kwargs):
            kwargs["callbacks"] = [_Keras2Callback(keras, c) for c in kwargs["callbacks"]]
            h = model.fit(x, y, validation_data=(x, y), batch_size=16, **kwargs)
            return best_epoch(h.history, "val_sparse_categorical_accuracy", "max")

    tuner = _any_keras(algorithm_class)(
        hypermodel=HM(), hyperparameters=hp, max_trials=trials, seed=3,
        objective=keras_tuner.Objective("val_sparse_categorical_accuracy", "max"),
        directory=str(tmp_path), project_name="t", overwrite=True)
    return tuner, hp


def test_a_keras2_model_is_tuned_and_the_first_trial_is_the_config(tmp_path):
    import keras_tuner

    space = {"learning_rate": [0.0001, 0.05, 0.1]}
    tuner, hp = _tuner(tmp_path, keras_tuner.RandomSearch, 2, space,
                       {"learning_rate": 0.0001})
    _first_trial_is_the_config(tuner.oracle, {"learning_rate": 0.0001})
    tuner.search(epochs=3, verbose=0)
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    assert [t.status for t in trials] == ["COMPLETED", "COMPLETED"]
    assert trials[0].hyperparameters.values == {"learning_rate": 0.0001}
    assert trials[1].hyperparameters.values["learning_rate"] in (0.05, 0.1)
    best = tuner.get_best_hyperparameters()[0].values["learning_rate"]
    assert best != 0.0001  # 3 epochs at 1e-4 learn next to nothing
    assert trials[1].score > trials[0].score


def test_bayesian_runs_the_config_first_and_hyperband_resumes_keras2_checkpoints(tmp_path):
    import keras_tuner

    space = {"learning_rate": {"min": 0.0001, "max": 0.1, "sampling": "log"}}
    tuner, _ = _tuner(tmp_path / "b", keras_tuner.BayesianOptimization, 3, space,
                      {"learning_rate": 0.0001})
    _first_trial_is_the_config(tuner.oracle, {"learning_rate": 0.0001})
    tuner.search(epochs=2, verbose=0)
    trials = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    assert len(trials) == 3 and trials[0].hyperparameters.values == {"learning_rate": 0.0001}
    assert all(t.status == "COMPLETED" for t in trials)

    # hyperband trains a bracket's survivors on from the weights a Keras 2 model saved
    # through the forwarded checkpoint callback
    hb = _any_keras(keras_tuner.Hyperband)
    tuner, _ = _tuner(tmp_path / "h", keras_tuner.RandomSearch, 2, space,
                      {"learning_rate": 0.0001})
    tuner = hb(hypermodel=tuner.hypermodel, hyperparameters=tuner.oracle.hyperparameters,
               objective=keras_tuner.Objective("val_sparse_categorical_accuracy", "max"),
               max_epochs=3, factor=3, seed=3, directory=str(tmp_path / "h2"),
               project_name="t", overwrite=True)
    tuner.search(verbose=0)
    done = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    assert any(t.hyperparameters.values.get("tuner/trial_id") for t in done), \
        [t.hyperparameters.values for t in done]
