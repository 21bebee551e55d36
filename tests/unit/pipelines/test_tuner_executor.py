"""The Tuner's executor (``pipelines/tuner_executor.py``): TFX's outputs read back and
recorded as custom properties."""
import json

from tfx.types import standard_artifacts

from tfxkit.pipelines.config.tune import config_first
from tfxkit.pipelines.tuner_executor import record


def _outputs(tmp_path, trials, values):
    best, results = standard_artifacts.HyperParameters(), standard_artifacts.TunerResults()
    best.uri, results.uri = str(tmp_path / "best"), str(tmp_path / "results")
    (tmp_path / "best").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "best" / "best_hyperparameters.txt").write_text(
        json.dumps({"space": [], "values": values}))
    (tmp_path / "results" / "tuner_results.json").write_text(json.dumps(trials))
    return {"best_hyperparameters": [best], "tuner_results": [results]}


def _custom(algorithm="random", space=None, model=None):
    return {"task": "multiclass",
            "model": model or {"learning_rate": 0.0003, "hidden_units": [16, 8]},
            "tune": {"space": space or {"learning_rate": [0.0003, 0.03]},
                     "algorithm": algorithm, "objective": "accuracy"}}


def test_the_outcome_becomes_custom_properties(tmp_path):
    out = _outputs(tmp_path, [{"trial_id": "1", "score": 0.98, "learning_rate": 0.03,
                               "hidden_units": "[64, 32]"},
                              {"trial_id": "0", "score": 0.4, "learning_rate": 0.0003,
                               "hidden_units": "[16, 8]"}],
                   {"learning_rate": 0.03, "hidden_units": "[64, 32]"})
    record(out, _custom())
    best, results = out["best_hyperparameters"][0], out["tuner_results"][0]
    assert json.loads(best.get_string_custom_property("hyperparameters")) == {
        "learning_rate": 0.03, "hidden_units": [64, 32]}
    assert best.get_string_custom_property("chosen_by") == "tuner/random"
    assert best.get_float_custom_property("hp_learning_rate") == 0.03
    assert best.get_string_custom_property("objective") == \
        "val_sparse_categorical_accuracy (max)"
    assert best.get_float_custom_property("best_score") == 0.98
    assert best.get_float_custom_property("default_score") == 0.4
    assert results.get_int_custom_property("trials") == 2
    assert results.get_string_custom_property("best_trial") == "1"


def test_trial_0_is_the_configs_only_when_it_was_run_so():
    assert config_first(_custom())
    assert config_first(_custom("bayesian"))
    assert not config_first(_custom("hyperband"))
    assert not config_first(_custom(space={"learning_rate": [0.01, 0.03]}))
