"""The ``hyperparameters:`` section (``config/hyperparameters.py``): HyperparametersGen's
values and search, checked by the component's own rules when the config loads."""
from tests.unit.pipelines.config.test_loader import BASE, load_err, write
from tfxkit.pipelines.config import load_config


def test_values_and_search_are_checked_and_completed(tmp_path):
    cfg = load_config(write(tmp_path, BASE + """
hyperparameters:
  values: {learning_rate: 0.02, hidden_units: [32, 16]}
  search: {space: {dropout: [0.0, 0.2]}, strategy: random, seed: 3}
"""))
    hp = cfg.hyperparameters
    assert hp.values == {"learning_rate": 0.02, "hidden_units": [32, 16]}
    assert hp.search == {"space": {"dropout": [0.0, 0.2]}, "strategy": "random",
                         "trials": 1, "seed": 3}
    assert load_config(write(tmp_path, BASE)).hyperparameters is None


def test_a_bad_value_names_its_key(tmp_path):
    e = load_err(write(tmp_path, BASE + "hyperparameters: {values: {learning_rate: 0}}\n"))
    assert e.field == "hyperparameters"
    assert "hyperparameters.values.learning_rate: must be a number > 0, got 0" in str(e)


def test_a_name_both_fixed_and_searched_is_refused(tmp_path):
    e = load_err(write(tmp_path, BASE + """
hyperparameters:
  values: {epochs: 3}
  search: {space: {epochs: [2, 4]}}
"""))
    assert "search.space.epochs: also fixed" in str(e)


def test_an_empty_section_is_refused(tmp_path):
    e = load_err(write(tmp_path, BASE + "hyperparameters: {}\n"))
    assert "give values, a search, or both" in str(e)
