"""components/trainer/executor.py: tfxkit's Trainer executor merges the per-run
parameters (exec properties ``epochs``, ``train_steps``, ``learning_rate``) into the
``custom_config`` that TFX's GenericExecutor hands to ``run_fn``; here a ``run_fn`` that
writes down what it was given stands in for the model zoo's."""
import json
import os

import pytest
from tfx.types import Channel, standard_artifacts

from tfxkit.components.trainer.component import Trainer
from tfxkit.components.trainer.executor import Executor
from tests.unit.components import tiny

CONFIG = {"model": {"kind": "dnn", "epochs": 3, "learning_rate": 0.1}, "label": "y"}


def recording_run_fn(fn_args):
    """Writes the custom_config and the training files it was given where the model goes."""
    os.makedirs(fn_args.serving_model_dir)
    with open(os.path.join(fn_args.serving_model_dir, "given.json"), "w") as f:
        json.dump({"custom_config": fn_args.custom_config,
                   "train_files": fn_args.train_files, "eval_files": fn_args.eval_files}, f)


def _train(tmp_path, **per_run):
    comp = Trainer(examples=Channel(type=standard_artifacts.Examples),
                   transform_graph=Channel(type=standard_artifacts.TransformGraph),
                   schema=Channel(type=standard_artifacts.Schema),
                   run_fn=f"{__name__}.recording_run_fn", custom_config=CONFIG, **per_run)
    examples = tiny.examples_artifact(str(tmp_path / "examples"), [("k0", 1.0)],
                                      ("train", "eval"))
    model, model_run = standard_artifacts.Model(), standard_artifacts.ModelRun()
    model.uri, model_run.uri = str(tmp_path / "model"), str(tmp_path / "model_run")
    Executor().Do({"examples": [examples]}, {"model": [model], "model_run": [model_run]},
                  tiny.exec_properties(comp))
    with open(os.path.join(model.uri, "Format-Serving", "given.json")) as f:
        return json.load(f)


def test_per_run_parameters_reach_run_fn(tmp_path):
    given = _train(tmp_path, epochs=7, train_steps=50)
    assert given["custom_config"] == {
        "model": {"kind": "dnn", "epochs": 7, "steps": 50, "learning_rate": 0.1},
        "label": "y"}
    assert [os.path.basename(os.path.dirname(p)) for p in given["train_files"]] == \
        ["Split-train"]
    assert [os.path.basename(os.path.dirname(p)) for p in given["eval_files"]] == \
        ["Split-eval"]


def test_unset_parameters_keep_the_config(tmp_path):
    assert _train(tmp_path)["custom_config"] == CONFIG


def test_a_negative_parameter_is_refused_before_training(tmp_path):
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        _train(tmp_path, learning_rate=-0.5)
    assert not (tmp_path / "model").exists()
