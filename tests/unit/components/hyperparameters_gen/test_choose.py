"""HyperparametersGen's plain functions (components/hyperparameters_gen/choose.py): errors
that name the key, the deterministic pick, and the Tuner's file read back by KerasTuner."""
import json
import os

import pytest

from tfxkit.components.hyperparameters_gen import choose as C

FIXED = {"learning_rate": 0.01, "hidden_units": [32, 16], "epochs": 10}


def test_validate_keeps_good_values():
    assert C.validate(FIXED) == FIXED
    assert C.validate({"optimizer": "sgd", "batch_norm": True, "dropout": 0.0}) == {
        "optimizer": "sgd", "batch_norm": True, "dropout": 0.0}


@pytest.mark.parametrize("values, message", [
    ({"learning_rate": 0}, r"hyperparameters\.learning_rate: must be a number > 0, got 0"),
    ({"learning_rate": "fast"}, r"hyperparameters\.learning_rate: must be a number > 0"),
    ({"dropout": 1.0}, r"hyperparameters\.dropout: must be a number in \[0, 1\)"),
    ({"epochs": 2.5}, r"hyperparameters\.epochs: must be an integer >= 1, got 2\.5"),
    ({"batch_size": True}, r"hyperparameters\.batch_size: must be an integer >= 1"),
    ({"hidden_units": 32}, r"hyperparameters\.hidden_units: must be a list of integers"),
    ({"hidden_units": [32, 0]}, r"hyperparameters\.hidden_units: must be a list of integers"),
    ({"units": []}, r"hyperparameters\.units: an empty list"),
    ({"units": [[1]]}, r"hyperparameters\.units: a list holds numbers"),
    ({"x": None}, r"hyperparameters\.x: must be a number, string, boolean or a list"),
    ({"x": {"a": 1}}, r"hyperparameters\.x: must be a number, string, boolean or a list"),
    ({"x": float("nan")}, r"hyperparameters\.x: must be a finite number"),
    ({"bad key": 1}, r"hyperparameters: key 'bad key' is not a name"),
])
def test_validate_names_the_key(values, message):
    with pytest.raises(C.HyperparametersError, match=message):
        C.validate(values)


def test_validate_wants_a_mapping():
    with pytest.raises(C.HyperparametersError, match="hyperparameters: must be a mapping"):
        C.validate([1])


@pytest.mark.parametrize("search, message", [
    ({"space": {}}, r"search\.space: must be a non-empty mapping"),
    ({"space": {"dropout": []}}, r"search\.space\.dropout: must be a non-empty list"),
    ({"space": {"dropout": [0.1, 2.0]}}, r"search\.space\.dropout: must be a number in"),
    ({"space": {"epochs": [5]}}, r"search\.space\.epochs: also fixed in hyperparameters"),
    ({"space": {"dropout": [0.1]}, "strategy": "best"}, r"search\.strategy: one of first, random"),
    ({"space": {"dropout": [0.1]}, "trials": 0}, r"search\.trials: must be an integer >= 1"),
    ({"space": {"dropout": [0.1]}, "seed": -1}, r"search\.seed: must be an integer >= 0"),
    ({"space": {"dropout": [0.1]}, "tuner": "x"}, r"search: unknown key\(s\) tuner"),
    ({"space": {f"k{i}": list(range(10)) for i in range(5)}}, r"100000 combinations"),
])
def test_validate_search_names_the_key(search, message):
    with pytest.raises(C.HyperparametersError, match=message):
        C.validate_search(search, FIXED)


SEARCH = {"space": {"dropout": [0.0, 0.1, 0.2], "hidden_units": [[64], [32, 16]]}}


def test_first_takes_every_keys_first_choice():
    values = C.choose({"learning_rate": 0.01}, SEARCH)
    assert values == {"learning_rate": 0.01, "dropout": 0.0, "hidden_units": [64]}
    assert C.choose(FIXED) == FIXED and C.choose(FIXED, None) == FIXED


def test_random_is_seeded_and_draws_distinct_grid_points():
    s = C.validate_search(dict(SEARCH, strategy="random", trials=6, seed=3))
    grid = C.candidates(dict(s, strategy="first"))
    assert len(grid) == 6
    drawn = C.candidates(s)
    assert sorted(map(json.dumps, drawn)) == sorted(map(json.dumps, grid))  # all, once each
    assert drawn == C.candidates(s)  # the same draw every time
    picks = {json.dumps(C.choose({}, dict(s, seed=seed, trials=1)), sort_keys=True)
             for seed in range(20)}
    assert len(picks) > 1  # the seed matters
    assert C.choose({}, dict(s, seed=3, trials=1)) == C.choose({}, dict(s, seed=3, trials=1))


def test_a_score_picks_the_best_candidate_earlier_ones_winning_ties():
    s = dict(SEARCH, trials=6)
    best = C.choose({"learning_rate": 0.01}, s, score=lambda v: v["dropout"])
    assert best == {"learning_rate": 0.01, "dropout": 0.2, "hidden_units": [64]}
    assert C.choose({}, s, score=lambda v: 0.0) == {"dropout": 0.0, "hidden_units": [64]}


def test_chosen_by():
    assert C.chosen_by(None) == "config"
    assert C.chosen_by({"space": {}, "strategy": "random"}) == "search/random"


def test_written_file_is_what_keras_tuner_and_the_tuner_layout_hold(tmp_path):
    import keras_tuner

    uri = str(tmp_path / "hp")
    values = dict(FIXED, dropout=0.1, optimizer="adam")
    path = C.write(uri, values, {"dropout": [0.0, 0.1]})
    assert os.listdir(uri) == [C.FILE_NAME] and path == os.path.join(uri, C.FILE_NAME)
    config = json.load(open(path))
    hp = keras_tuner.HyperParameters.from_config(config)
    assert {k: hp.get(k) for k in values} == values
    kinds = {e["config"]["name"]: e["class_name"] for e in config["space"]}
    assert kinds == {"learning_rate": "Fixed", "epochs": "Fixed", "dropout": "Choice",
                     "optimizer": "Fixed"}
    assert hp.copy().get("hidden_units") == [32, 16]  # get_config round trip keeps lists
    assert C.read(uri) == values


def test_values_of():
    assert C.values_of(None) == {}
    assert C.values_of({"space": [], "values": {"a": 1}}) == {"a": 1}
    assert C.values_of({"a": 1}) == {"a": 1}


def test_values_of_decodes_a_list_the_tuner_held_as_json():
    cfg = {"space": [], "values": {"hidden_units": "[64, 32]", "kind": "[not json",
                                   "learning_rate": 0.03}}
    assert C.values_of(cfg) == {"hidden_units": [64, 32], "kind": "[not json",
                                "learning_rate": 0.03}
    assert C.values_of({"hidden_units": "[bad"}) == {"hidden_units": "[bad"}
