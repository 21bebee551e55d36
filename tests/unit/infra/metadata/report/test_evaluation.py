"""The Evaluator's TFMA output held to the gated thresholds
(infra/metadata/report/evaluation.py), on a stand-in for TFMA's two readers."""
import sys
import types

import pytest
from tensorflow_model_analysis.proto import metrics_for_slice_pb2 as mfs_pb2
from tensorflow_model_analysis.proto import validation_result_pb2 as vr_pb2

from tfxkit.infra.metadata.report.evaluation import read_evaluation
from tfxkit.pipelines import metrics as m


def _metrics(slice_value=None):
    mfs = mfs_pb2.MetricsForSlice()
    if slice_value:
        mfs.slice_key.single_slice_keys.add(column="island", bytes_value=slice_value.encode())
    for name, model, diff, value in (("accuracy", "", False, 0.9), ("accuracy", "baseline",
                                     False, 0.8), ("accuracy", "", True, 0.1),
                                     ("example_count", "", False, 40.0), ("auc", "", False, 0.7)):
        kv = mfs.metric_keys_and_values.add()
        kv.key.name, kv.key.model_name, kv.key.is_diff = name, model, diff
        kv.value.double_value.value = value
    return mfs


@pytest.fixture
def tfma(monkeypatch):
    """TFMA with its metrics and validation result replaced: Overall and island:Dream,
    accuracy failing on Dream."""
    import tensorflow_model_analysis as real

    validation = vr_pb2.ValidationResult()
    per_slice = validation.metric_validations_per_slice.add()
    per_slice.slice_key.single_slice_keys.add(column="island", bytes_value=b"Dream")
    failure = per_slice.failures.add(message="too low")
    failure.metric_key.name = "accuracy"
    failure.metric_value.double_value.value = 0.9
    fake = types.SimpleNamespace(slicer=real.slicer,
                                 load_metrics=lambda uri: [_metrics(), _metrics("Dream")],
                                 load_validation_result=lambda uri: validation)
    monkeypatch.setitem(sys.modules, "tensorflow_model_analysis", fake)
    return fake


def test_every_slice_held_to_its_thresholds(tfma):
    acc = m.Metric("BinaryAccuracy", "accuracy", True, lower_bound=0.7).with_slice(
        "island", lower_bound=0.95)
    ev = read_evaluation("/eval", {"accuracy": acc}, blessed=False)
    assert ev.has_baseline and ev.slices == ["Overall", "island:Dream"]
    overall, dream = ev.metric("accuracy"), ev.metric("accuracy", "island:Dream")
    assert (overall.value, overall.baseline, overall.diff, overall.example_count) == \
        (0.9, 0.8, 0.1, 40.0)
    assert overall.gated and overall.ok is True and overall.threshold == ">= 0.7"
    assert dream.gated and dream.ok is False and dream.threshold == ">= 0.95"
    assert ev.metric("auc").gated is False and ev.metric("auc").ok is None
    assert ev.gated_names == ["accuracy"]
    assert ev.reasons == ["accuracy = 0.9 on slice island:Dream: too low"]


def test_reasons_without_thresholds_and_when_blessed(tfma):
    tfma.load_validation_result = lambda uri: vr_pb2.ValidationResult()
    ev = read_evaluation("/eval", {}, blessed=False)
    assert ev.reasons == ["no metric has a threshold in eval.metrics, so TFMA never blesses"]
    ev = read_evaluation("/eval", {"auc": m.Metric("AUC", "auc", True, lower_bound=0.5)},
                         blessed=True)
    assert ev.reasons[0].startswith("every gated metric met its threshold on every slice and")


def test_a_recorded_evaluation_reads_back_as_it_was():
    from tfxkit.infra.metadata.report.evaluation import evaluation_from_json, evaluation_json
    from tfxkit.infra.metadata.report.model import Evaluation, SliceMetric

    ev = Evaluation(blessed=False, has_baseline=True, baseline_uri="/b", evaluation_uri="/e",
                    metrics=[SliceMetric("island:Dream", "accuracy", 0.5, baseline=0.6,
                                         diff=-0.1, threshold=">= 0.8", gated=True, ok=False,
                                         example_count=12.0)],
                    reasons=["accuracy = 0.5 on slice island:Dream: too low"])
    back = evaluation_from_json(evaluation_json(ev))
    assert back == ev and back.metric("accuracy", "island:Dream").ok is False
    for bad in ("nope", "[]", '{"metrics": [{"slice": "x"}]}', '{"colour": 1}'):
        with pytest.raises(ValueError, match="not a recorded evaluation"):
            evaluation_from_json(bad)
