"""components/batch_inference/executor.py: BatchInferrer's executor (a Beam job on the
direct runner) on real artifacts: a tiny SavedModel as the Trainer exports it and
tf.Examples in two files of a split; one PredictionLog file per input file, every example
scored once, the row count and the model recorded on the InferenceResult."""
import json
import os

import pytest
from tfx.types import Channel, standard_artifacts

from tfxkit.components.batch_inference import infer
from tfxkit.components.batch_inference.component import BatchInferrer
from tfxkit.components.batch_inference.executor import Executor, model_dir
from tfxkit.components.common import records
from tests.unit.components import tiny


def _props(**settings):
    return tiny.exec_properties(BatchInferrer(model=Channel(type=standard_artifacts.Model),
                                              examples=Channel(type=standard_artifacts.Examples),
                                              **settings))


def test_do_scores_each_file_of_the_split(tmp_path):
    model = tiny.doubling_model(str(tmp_path / "model"))
    rows = [(f"k{i}", i / 2) for i in range(11)]
    examples = tiny.examples_artifact(str(tmp_path / "examples"), rows,
                                      ("train", "inference"), files=2)
    result = standard_artifacts.InferenceResult()
    result.uri = str(tmp_path / "result")
    os.makedirs(result.uri)
    Executor().Do({"model": [model], "examples": [examples]}, {"inference_result": [result]},
                  _props(splits=("inference",), batch_size=4))
    assert sorted(os.listdir(result.uri)) == [infer.LOG_FILE.format(i, 2) for i in range(2)]
    scored = {}
    for name in sorted(os.listdir(result.uri)):
        for raw in records.iter_records(os.path.join(result.uri, name)):
            example, outputs = infer.log_example_and_outputs(raw)
            scored[example] = outputs["double"].tolist()
    assert scored == {tiny.example(k, x): [[2 * x]] for k, x in rows}  # each one, once
    assert result.get_int_custom_property("rows") == 11
    assert result.get_string_custom_property("model_uri") == model.uri
    assert result.get_string_custom_property("signature") == "serving_default"
    assert json.loads(_props()["params"])["splits"] == ["inference"]  # the default split


def test_no_input_files_is_an_error(tmp_path):
    model = tiny.doubling_model(str(tmp_path / "model"))
    examples = tiny.examples_artifact(str(tmp_path / "examples"), [], ("inference",), files=0)
    result = standard_artifacts.InferenceResult()
    result.uri = str(tmp_path / "result")
    with pytest.raises(ValueError, match="no input records to score"):
        Executor().Do({"model": [model], "examples": [examples]},
                      {"inference_result": [result]}, _props())


def test_model_dir_is_the_trainers_export_or_the_pushed_root(tmp_path):
    trained = tiny.doubling_model(str(tmp_path / "trained"))
    assert model_dir(trained.uri) == os.path.join(trained.uri, "Format-Serving")
    pushed = tmp_path / "pushed"
    pushed.mkdir()
    assert model_dir(str(pushed)) == str(pushed)
