"""The HyperparametersGen component (components/hyperparameters_gen/component.py): its
execution properties, and a bad value refused when the pipeline is built."""
import json

import pytest


def test_properties_are_sorted_json_and_the_output_is_hyperparameters():
    from tfx.types import standard_artifacts

    from tfxkit.components.hyperparameters_gen.component import HyperparametersGen

    c = HyperparametersGen({"epochs": 3, "learning_rate": 0.1},
                           search={"space": {"dropout": [0.1, 0.2]}})
    assert c.exec_properties["values"] == '{"epochs": 3, "learning_rate": 0.1}'
    assert json.loads(c.exec_properties["search"]) == {
        "space": {"dropout": [0.1, 0.2]}, "strategy": "first", "trials": 1, "seed": 0}
    assert c.outputs["hyperparameters"].type == standard_artifacts.HyperParameters
    assert HyperparametersGen({"epochs": 3}).exec_properties["search"] is None


def test_a_bad_value_fails_at_build_time():
    from tfxkit.components.hyperparameters_gen.choose import HyperparametersError
    from tfxkit.components.hyperparameters_gen.component import HyperparametersGen

    with pytest.raises(HyperparametersError, match="hyperparameters.epochs"):
        HyperparametersGen({"epochs": 0})
    with pytest.raises(HyperparametersError, match="search.space.epochs: also fixed"):
        HyperparametersGen({"epochs": 2}, search={"space": {"epochs": [1, 2]}})
