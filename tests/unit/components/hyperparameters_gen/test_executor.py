"""HyperparametersGen's executor (components/hyperparameters_gen/executor.py) on real
artifacts: the file lands where the stock Trainer reads it (its own ``_GetFnArgs`` hands
the values to run_fn as ``fn_args.hyperparameters``), and the custom properties."""
import json

from tests.unit.components import tiny

FIXED = {"learning_rate": 0.01, "hidden_units": [32, 16], "epochs": 10}


def _run(tmp_path, search=None):
    from tfx.types import standard_artifacts

    from tfxkit.components.hyperparameters_gen.component import HyperparametersGen
    from tfxkit.components.hyperparameters_gen.executor import Executor

    out = standard_artifacts.HyperParameters()
    out.uri = str(tmp_path / "hp")
    props = tiny.exec_properties(HyperparametersGen(FIXED, search=search))
    Executor().Do({}, {"hyperparameters": [out]}, props)
    return out


def test_the_stock_trainer_hands_the_values_to_run_fn(tmp_path):
    from tfx.components.trainer.executor import GenericExecutor
    from tfx.types import standard_artifacts

    hp = _run(tmp_path, {"space": {"dropout": [0.2, 0.1]}})
    examples = tiny.examples_artifact(str(tmp_path / "ex"), [("a", 1.0)], ("train", "eval"))
    model, run = standard_artifacts.Model(), standard_artifacts.ModelRun()
    model.uri, run.uri = str(tmp_path / "model"), str(tmp_path / "run")
    fn_args = GenericExecutor()._GetFnArgs(  # pylint: disable=protected-access
        {"examples": [examples], "hyperparameters": [hp]},
        {"model": [model], "model_run": [run]},
        {"train_args": "{}", "eval_args": "{}", "custom_config": "null"})
    assert fn_args.hyperparameters["values"] == dict(FIXED, dropout=0.2)
    import keras_tuner

    kt = keras_tuner.HyperParameters.from_config(fn_args.hyperparameters)
    assert kt.get("dropout") == 0.2 and kt.get("hidden_units") == [32, 16]


def test_custom_properties_record_the_values(tmp_path):
    hp = _run(tmp_path, {"space": {"dropout": [0.0, 0.1, 0.2], "optimizer": ["sgd", "adam"]},
                         "strategy": "random", "trials": 1, "seed": 5})
    values = json.loads(hp.get_string_custom_property("hyperparameters"))
    assert set(values) == {"learning_rate", "hidden_units", "epochs", "dropout", "optimizer"}
    assert hp.get_string_custom_property("chosen_by") == "search/random"
    assert hp.get_float_custom_property("hp_learning_rate") == 0.01
    assert hp.get_int_custom_property("hp_epochs") == 10
    assert json.loads(hp.get_string_custom_property("hp_hidden_units")) == [32, 16]
    assert hp.get_string_custom_property("hp_optimizer") == values["optimizer"]
    assert hp.get_float_custom_property("hp_dropout") == values["dropout"]
    again = _run(tmp_path / "again", {"space": {"dropout": [0.0, 0.1, 0.2],
                                                "optimizer": ["sgd", "adam"]},
                                      "strategy": "random", "trials": 1, "seed": 5})
    assert json.loads(again.get_string_custom_property("hyperparameters")) == values


def test_from_config_alone(tmp_path):
    hp = _run(tmp_path)
    assert hp.get_string_custom_property("chosen_by") == "config"
    from tfxkit.components.hyperparameters_gen.choose import read

    assert read(hp.uri) == FIXED
