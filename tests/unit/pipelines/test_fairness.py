"""Per-slice thresholds and Fairness Indicators in the gate: config, EvalConfig, summary text."""
import json
import textwrap

import pytest
import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import config_pb2

from tfxkit.pipelines.config import ConfigError, check_data, load_config
from tfxkit.pipelines.metrics import (Fairness, FairnessGate, create_eval_config,
                                      eval_config_from, metric, threshold_table)

CSV = ("id,species,island,sex,bill,mass\n1,A,x,f,1.5,3000\n2,B,y,m,2.0,3100\n"
       "3,A,x,m,2.5,3200\n4,C,y,f,1.0,3300\n")

BASE = """
name: demo
task: multiclass
label: species
data:
  source: {csv: data.csv}
features:
  dense: [bill, mass]
  vocab: [island]
eval:
  metrics: [{name: accuracy, lower_bound: 0.8}]
"""


def load(tmp_path, *sets, body=BASE, check=True):
    (tmp_path / "data.csv").write_text(CSV)
    p = tmp_path / "config.yaml"
    p.write_text(textwrap.dedent(body))
    cfg = load_config(p, overrides=list(sets))
    if check:
        check_data(cfg)
    return cfg


def err(tmp_path, *sets, body=BASE):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, *sets, body=body)
    return e.value


def by_class(spec):
    return {m.class_name: m for m in spec.metrics}


# ------------------------------------------------------------------ EvalConfig from config

def test_config_without_slice_thresholds_keeps_the_plain_threshold(tmp_path):
    ec = eval_config_from(load(tmp_path, "eval.slices=[island]"))
    acc = by_class(ec.metrics_specs[0])["SparseCategoricalAccuracy"]
    assert acc.threshold.value_threshold.lower_bound.value == 0.8
    assert not acc.per_slice_thresholds and len(ec.metrics_specs) == 1


def test_per_slice_threshold_for_every_value_of_a_feature(tmp_path):
    cfg = load(tmp_path, "eval.metrics=[{name: accuracy, lower_bound: 0.8, absolute_change: "
               "-0.05, slices: {island: {lower_bound: 0.7}}}]", "eval.slices=[sex]")
    ec = eval_config_from(cfg)
    assert [list(s.feature_keys) for s in ec.slicing_specs] == [[], ["sex"], ["island"]]
    acc = by_class(ec.metrics_specs[0])["SparseCategoricalAccuracy"]
    assert not acc.HasField("threshold")  # a plain one would hold on island's slices too
    whole, island = acc.per_slice_thresholds
    assert [list(s.feature_keys) for s in whole.slicing_specs] == [[], ["sex"]]
    assert whole.threshold.value_threshold.lower_bound.value == 0.8
    assert whole.threshold.change_threshold.absolute.value == -0.05
    assert [list(s.feature_keys) for s in island.slicing_specs] == [["island"]]
    assert island.threshold.value_threshold.lower_bound.value == 0.7
    assert not island.threshold.HasField("change_threshold")
    # the default metrics that are not gated stay plain
    t = threshold_table(cfg)["sparse_categorical_accuracy"]
    assert t.lower_bound == 0.8 and t.slices["island"].lower_bound == 0.7


def test_tfma_reads_the_per_slice_thresholds():
    from tensorflow_model_analysis.metrics import metric_specs

    m = metric("binary", "auc", lower_bound=0.9).with_slice("sex", lower_bound=0.85)
    ec = create_eval_config("binary", "y_xf", "probabilities", [m])
    th = metric_specs.metric_thresholds_from_metrics_specs(ec.metrics_specs, ec)
    [(key, pairs)] = [(k, v) for k, v in th.items() if k.name == "auc"]
    got = {tuple(s.feature_keys): t.lower_bound.value for s, t in pairs}
    assert got == {(): 0.9, ("sex",): 0.85}


def test_fairness_spec_multiclass(tmp_path):
    cfg = load(tmp_path, "eval.fairness={features: [sex], thresholds: [0.25, 0.5], "
               "class_ids: [0, 2], gate: {false_positive_rate: {max_gap: 0.1, "
               "upper_bound: 0.3}}}")
    ec = eval_config_from(cfg)
    assert [list(s.feature_keys) for s in ec.slicing_specs] == [[], ["sex"]]
    # accuracy's threshold holds on the whole split only, not on the fairness slices
    acc = by_class(ec.metrics_specs[0])["SparseCategoricalAccuracy"]
    assert [list(s.feature_keys) for s in acc.per_slice_thresholds[0].slicing_specs] == [[]]
    fspec = ec.metrics_specs[1]
    fi = fspec.metrics[0]
    assert fi.class_name == "FairnessIndicators" and fi.module == "tfxkit.pipelines.fairness"
    assert list(fspec.binarize.class_ids.values) == [0, 2]
    gates = {json.loads(m.config)["name"]: m for m in fspec.metrics[1:]}
    names = {"fairness_indicators_metrics/false_positive_rate@0.25",
             "fairness_indicators_metrics/false_positive_rate@0.50"}
    assert set(gates) == names == set(json.loads(fi.config)["exclude"])
    g = gates["fairness_indicators_metrics/false_positive_rate@0.50"]
    assert g.class_name == "FairnessRate"
    assert [list(s.feature_keys) for s in g.per_slice_thresholds[0].slicing_specs] == [["sex"]]
    assert g.per_slice_thresholds[0].threshold.value_threshold.upper_bound.value == 0.3
    vt = g.cross_slice_thresholds[0].threshold.value_threshold
    assert (vt.lower_bound.value, vt.upper_bound.value) == (-0.1, 0.1)
    [cross] = ec.cross_slicing_specs
    assert cross.baseline_spec == config_pb2.SlicingSpec()
    assert [list(s.feature_keys) for s in cross.slicing_specs] == [["sex"]]


def test_fairness_metric_resolves_and_names_its_keys():
    from tensorflow_model_analysis.metrics import metric_specs

    f = Fairness(features=("sex",), thresholds=(0.5,), gate=(("recall", FairnessGate(0.2)),))
    ec = create_eval_config("binary", "y_xf", "probabilities", [metric("binary", "auc", lower_bound=0.5)],
                            fairness=f)
    comps = metric_specs.to_computations(ec.metrics_specs, ec)
    derived = [k.name for c in comps for k in c.keys]
    assert "fairness_indicators_metrics/false_positive_rate@0.5" in derived
    assert derived.count("fairness_indicators_metrics/recall@0.5") == 1  # FairnessRate's
    assert f.gated_names() == [("fairness_indicators_metrics/recall@0.5", "recall", 0.5)]
    # TFMA finds the gate's thresholds under the key it computes
    th = metric_specs.metric_thresholds_from_metrics_specs(ec.metrics_specs, ec)
    computed = {k for c in comps for k in c.keys}
    [key] = [k for k in th if k.name == "fairness_indicators_metrics/recall@0.5"]
    assert key in computed
    [(cross, vt)] = th[key]
    assert (vt.lower_bound.value, vt.upper_bound.value) == (-0.2, 0.2)
    assert not ec.metrics_specs[1].HasField("binarize")


def test_fairness_metric_names_as_tfma_writes_them():
    from tfxkit.pipelines import fairness as fi

    assert fi.metric_name("false_positive_rate", 0.5, [0.25, 0.5]) == \
        "fairness_indicators_metrics/false_positive_rate@0.50"
    assert fi.metric_name("recall", 0.5, [0.5]) == "fairness_indicators_metrics/recall@0.5"


# ------------------------------------------------------------------ config errors

def test_slice_feature_must_be_a_column(tmp_path):
    e = err(tmp_path, "eval.metrics=[{name: accuracy, lower_bound: 0.8, "
            "slices: {region: {lower_bound: 0.7}}}]")
    assert e.field == "eval.metrics[0].slices.region" and "'region' is not in the data" in e.reason


def test_fairness_feature_must_be_a_column(tmp_path):
    e = err(tmp_path, "eval.fairness={features: [gender], class_ids: [0]}")
    assert e.field == "eval.fairness.features[0]" and "'gender' is not in the data" in e.reason


def test_fairness_multiclass_needs_class_ids(tmp_path):
    e = err(tmp_path, "eval.fairness={features: [sex]}")
    assert "eval.fairness.class_ids" in str(e) and "label_classes" in str(e)
    cfg = load(tmp_path, "eval.fairness={features: [sex]}", "label_classes=[A, B, C]")
    assert list(eval_config_from(cfg).metrics_specs[1].binarize.class_ids.values) == [0, 1, 2]
    e = err(tmp_path, "eval.fairness={features: [sex], class_ids: [3]}",
            "label_classes=[A, B, C]")
    assert "beyond the 3 label_classes" in str(e)


def test_fairness_needs_a_classifier(tmp_path):
    body = BASE.replace("task: multiclass", "task: regression").replace(
        "label: species", "label: mass").replace("dense: [bill, mass]", "dense: [bill]").replace(
        "accuracy, lower_bound: 0.8", "mae, upper_bound: 5")
    e = err(tmp_path, "eval.fairness={features: [sex]}", body=body)
    assert "eval.fairness" in str(e) and "regression" in str(e)
    cfg = load(tmp_path, "eval.metrics=[{name: mae, upper_bound: 5, slices: {island: "
               "{upper_bound: 7}}}]", body=body)
    mae = by_class(eval_config_from(cfg).metrics_specs[0])["MeanAbsoluteError"]
    assert len(mae.per_slice_thresholds) == 2


# ------------------------------------------------------------------ the summary's words

def _failure(name, value, lower=None, upper=None, class_id=None):
    from tensorflow_model_analysis.proto import validation_result_pb2 as vr

    f = vr.ValidationFailure()
    f.metric_key.name = name
    if class_id is not None:
        f.metric_key.sub_key.class_id.value = class_id
    f.metric_value.double_value.value = value
    if lower is not None:
        f.metric_threshold.value_threshold.lower_bound.value = lower
    if upper is not None:
        f.metric_threshold.value_threshold.upper_bound.value = upper
    return f


def test_failure_text_names_the_slice():
    from tensorflow_model_analysis.proto import validation_result_pb2 as vr

    from tfxkit.infra.run.summary import _failure_text

    ps = vr.MetricsValidationForSlice()
    ps.slice_key.CopyFrom(tfma.slicer.serialize_slice_key((("island", "Dream"),)))
    assert _failure_text(tfma, ps, _failure("accuracy", 0.61, lower=0.7)) == \
        "accuracy on island=Dream: 0.61 < 0.7"
    cs = vr.MetricsValidationForSlice()
    cs.cross_slice_key.baseline_slice_key.CopyFrom(tfma.slicer.serialize_slice_key(()))
    cs.cross_slice_key.comparison_slice_key.CopyFrom(
        tfma.slicer.serialize_slice_key((("sex", "female"),)))
    text = _failure_text(tfma, cs, _failure("fairness_indicators_metrics/false_positive_rate@0.50",
                                            -0.15, lower=-0.1, upper=0.1, class_id=2))
    assert text == ("fairness_indicators_metrics/false_positive_rate@0.50 (class 2) gap "
                    "Overall - sex=female: -0.15 < -0.1")


def test_cross_slice_thresholds_are_not_reported_missing():
    """TFMA 0.47 reports every cross-slice threshold missing (and never blesses);
    tfxkit.pipelines.fairness keys validation details by the spec they hold, for the
    Evaluator's run only (its executor, pipelines/evaluator.py): TFMA's own function is
    back afterwards."""
    from tensorflow_model_analysis.evaluators import metrics_validator
    from tensorflow_model_analysis.proto import validation_result_pb2 as vr

    from tfxkit.pipelines import fairness

    original = metrics_validator._hashed_slicing_details
    f = Fairness(features=("sex",), gate=(("recall", FairnessGate(0.2)),))
    ec = create_eval_config("binary", "y_xf", "probabilities",
                            [metric("binary", "auc", lower_bound=0.5)], fairness=f)
    details = [vr.SlicingDetails(slicing_spec=config_pb2.SlicingSpec(), num_matching_slices=1),
               vr.SlicingDetails(cross_slicing_spec=ec.cross_slicing_specs[0],
                                 num_matching_slices=2)]
    assert metrics_validator._hashed_slicing_details is original  # importing changed nothing
    with fairness.fixed_cross_slice_validation():
        assert metrics_validator.get_missing_slices(details, ec) == []
        assert metrics_validator.get_missing_slices(details[:1], ec) == \
            [ec.cross_slicing_specs[0]]
    assert metrics_validator._hashed_slicing_details is original


def test_the_evaluator_fixes_cross_slice_validation_only_where_a_gap_is_gated(tmp_path):
    """The factory gives the Evaluator tfxkit's executor, which applies the fix for its
    run only where the eval config holds cross-slicing specs (a gated fairness gap)."""
    from tfx.components.evaluator import executor as stock

    from tfxkit.pipelines import component_ids, evaluator, factory

    def evaluator_of(cfg):
        [ev] = [c for c in factory.create_components(cfg) if c.id == component_ids.EVALUATOR]
        return ev

    plain = evaluator_of(load(tmp_path))
    gap = load(tmp_path, "eval.fairness={features: [sex], class_ids: [0, 2], "
                         "gate: {false_positive_rate: {max_gap: 0.1}}}")
    assert eval_config_from(gap).cross_slicing_specs
    gapped = evaluator_of(gap)
    for ev in (plain, gapped):
        assert ev.executor_spec.executor_class is evaluator.Executor
    assert issubclass(evaluator.Executor, stock.Executor)
    assert not evaluator._cross_slicing(plain.exec_properties)
    assert evaluator._cross_slicing(gapped.exec_properties)
