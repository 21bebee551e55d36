"""What the model card reads (components/model_card/sources.py): the EvalConfig's
thresholds and TFDV's statistics. Reading a real TFMA output is the e2e test's
(tests/e2e/test_model_card.py)."""
from tensorflow_metadata.proto.v0 import statistics_pb2
from tensorflow_model_analysis.proto import config_pb2

from tfxkit.components.model_card import sources


def _mc(class_name, config=""):
    return config_pb2.MetricConfig(class_name=class_name, config=config)


def test_metric_key_names():
    assert sources.metric_key_name(_mc("SparseCategoricalAccuracy")) == (
        "sparse_categorical_accuracy")
    assert sources.metric_key_name(_mc("AUC")) == "auc"
    assert sources.metric_key_name(_mc("MeanSquaredError")) == "mean_squared_error"
    assert sources.metric_key_name(_mc("FairnessRate", '{"name": "fairness_indicators_'
                                       'metrics/false_positive_rate@0.5"}')) == (
        "fairness_indicators_metrics/false_positive_rate@0.5")


def test_thresholds_overall_and_per_slice():
    ec = config_pb2.EvalConfig()
    spec = ec.metrics_specs.add()
    spec.metrics.add(class_name="ExampleCount")
    acc = spec.metrics.add(class_name="BinaryAccuracy")
    acc.threshold.value_threshold.lower_bound.value = 0.8
    acc.threshold.change_threshold.absolute.value = -0.01
    auc = spec.metrics.add(class_name="AUC")
    pst = auc.per_slice_thresholds.add()
    pst.slicing_specs.add()  # the whole split
    pst.threshold.value_threshold.lower_bound.value = 0.7
    pst = auc.per_slice_thresholds.add()
    pst.slicing_specs.add(feature_keys=["island"])
    pst.threshold.value_threshold.lower_bound.value = 0.6
    table = sources.thresholds(ec)
    assert sorted(table) == ["auc", "binary_accuracy"]
    assert sources.threshold_for(table["binary_accuracy"], None, None) == {
        "lower_bound": 0.8, "absolute_change": -0.01}
    assert sources.threshold_for(table["binary_accuracy"], "island", "Dream") == {
        "lower_bound": 0.8, "absolute_change": -0.01}  # a plain threshold: every slice
    assert sources.threshold_for(table["auc"], None, None) == {"lower_bound": 0.7}
    assert sources.threshold_for(table["auc"], "island", "Dream") == {"lower_bound": 0.6}
    assert sources.threshold_for(table["auc"], "sex", "male") is None
    assert sources.threshold_for(None, None, None) is None


def test_feature_statistics_of_the_train_split(tmp_path):
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    ds = stats.datasets.add(num_examples=10)
    f = ds.features.add()
    f.path.step.append("x")
    f.num_stats.mean, f.num_stats.std_dev, f.num_stats.min, f.num_stats.max = 2.0, 1.0, 0.0, 4.0
    f.num_stats.common_stats.num_missing = 3
    g = ds.features.add()
    g.path.step.append("island")
    g.string_stats.unique = 2
    g.string_stats.top_values.add(value="Biscoe", frequency=6)
    (tmp_path / "Split-train").mkdir()
    (tmp_path / "Split-train" / "FeatureStats.pb").write_bytes(stats.SerializeToString())
    out = sources.feature_statistics(str(tmp_path))
    assert out["split"] == "train" and out["num_examples"] == 10
    assert out["features"][0] == {"name": "island", "kind": "categorical", "unique": 2,
                                  "missing": 0, "top_values": [{"value": "Biscoe",
                                                                "frequency": 6.0}]}
    x = out["features"][1]
    assert (x["mean"], x["std"], x["min"], x["max"], x["missing"]) == (2.0, 1.0, 0.0, 4.0, 3)
    assert sources.feature_statistics(str(tmp_path), split="eval") == {}
