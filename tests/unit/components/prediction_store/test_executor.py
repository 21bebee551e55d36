"""components/prediction_store/executor.py: PredictionStorer's executor on a real
InferenceResult (PredictionLog files as BatchInferrer writes them) into a SQLite store:
the run it stores, what it records on the PredictionRun, a second run that replaces the
first, and a duplicate key that stores nothing."""
import json
import os

import numpy as np
import pytest
from tfx.dsl.components.base import base_executor
from tfx.types import Channel, standard_artifacts

from tfxkit.components.batch_inference import infer
from tfxkit.components.prediction_store.component import PredictionRun, PredictionStorer
from tfxkit.components.prediction_store.executor import Executor
from tfxkit.components.prediction_store.store import StoreError, open_store
from tests.unit.components import tiny


class Triple:
    """A predictor standing in for a model: ``score`` = 3 * x of each example."""
    input_key, signature = "examples", "serving_default"

    def __call__(self, batch):
        import tensorflow as tf

        xs = [tf.train.Example.FromString(b).features.feature["x"].float_list.value[0]
              for b in batch]
        return {"score": np.array([[3 * x] for x in xs], np.float32)}


def _result(uri, rows, files=2):
    """An InferenceResult at ``uri``: ``rows`` (key, x) scored into ``files`` log files."""
    result = standard_artifacts.InferenceResult()
    result.uri = uri
    os.makedirs(uri)
    for i in range(files):
        batch = [tiny.example(k, x) for k, x in rows[i::files]]
        infer.infer_to_file(Triple(), iter([batch]),
                            os.path.join(uri, infer.LOG_FILE.format(i, files)))
    return result


def _store(tmp_path, result, run_id, **settings):
    comp = PredictionStorer(inference_result=Channel(type=standard_artifacts.InferenceResult),
                            store_kind="sqlite", store_target=str(tmp_path / "p.sqlite"),
                            key="id", use_case="uc", model_version="17", **settings)
    out = PredictionRun()
    out.uri = str(tmp_path / "runs" / run_id)
    os.makedirs(out.uri)
    context = base_executor.BaseExecutor.Context(pipeline_run_id=run_id)
    Executor(context).Do({"inference_result": [result]}, {"prediction_run": [out]},
                         tiny.exec_properties(comp))
    return out


def test_do_stores_one_run_and_records_it(tmp_path):
    rows = [(f"k{i}", float(i)) for i in range(7)]
    out = _store(tmp_path, _result(str(tmp_path / "result"), rows), "run-1")
    assert out.get_string_custom_property("run_id") == "run-1"
    assert out.get_int_custom_property("rows") == 7
    assert out.get_string_custom_property("use_case") == "uc"
    assert out.get_string_custom_property("model_version") == "17"
    store_name = out.get_string_custom_property("store")
    assert store_name == f"sqlite {tmp_path / 'p.sqlite'}"
    sample = out.get_string_custom_property("sample_key")
    assert sample in dict(rows)
    with open(os.path.join(out.uri, "run.json")) as f:
        assert json.load(f) == {"run_id": "run-1", "use_case": "uc", "rows": 7,
                                "model_version": "17", "store": store_name}
    store = open_store("sqlite", str(tmp_path / "p.sqlite"))
    try:
        for key, x in rows:
            got = store.get("uc", key)
            assert got["prediction"] == {"score": 3 * x} and got["run_id"] == "run-1"
        assert [(r.run_id, r.rows, r.current) for r in store.runs("uc")] == [("run-1", 7, True)]
    finally:
        store.close()


def test_a_second_run_replaces_the_first_and_a_duplicate_key_stores_nothing(tmp_path):
    _store(tmp_path, _result(str(tmp_path / "a"), [("k1", 1.0), ("k2", 2.0)]), "run-1")
    _store(tmp_path, _result(str(tmp_path / "b"), [("k1", 10.0)]), "run-2", keep_runs=2)
    twice = _result(str(tmp_path / "c"), [("k1", 5.0), ("k1", 6.0)])
    with pytest.raises(StoreError, match="writing run run-3 failed: key 'k1' appears more "
                                         "than once"):
        _store(tmp_path, twice, "run-3")
    store = open_store("sqlite", str(tmp_path / "p.sqlite"))
    try:
        assert store.get("uc", "k1")["prediction"] == {"score": 30.0}
        assert store.get("uc", "k2") is None  # not in the current run
        assert [r.run_id for r in store.runs("uc")] == ["run-2", "run-1"]
    finally:
        store.close()
    out = _store(tmp_path, twice, "run-4", on_duplicate_key="keep_last")
    assert out.get_int_custom_property("rows") == 1
