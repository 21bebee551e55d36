"""The model zoo builds, trains a step and predicts for each task and kind."""
import numpy as np
import pytest

from tfxkit.pipelines import compat
from tfxkit.pipelines.models import FeatureInfo, build_model, feature_infos_from_schema

FEATURES = [FeatureInfo("a_xf", "dense"), FeatureInfo("s_xf", "categorical", 4)]


def batch(n=8):
    rng = np.random.default_rng(0)
    return {"a_xf": rng.normal(size=n).astype("float32"),
            "s_xf": rng.integers(0, 4, n).astype("int64")}


@pytest.mark.parametrize("keras", [2, 3])
@pytest.mark.parametrize("kind", ["dnn", "wide_deep", "linear"])
@pytest.mark.parametrize("task,n_classes,width", [("multiclass", 3, 3), ("binary", 2, 1),
                                                  ("regression", 2, 1)])
def test_build_train_predict(kind, task, n_classes, width, keras):
    model = build_model(task, FEATURES, {"kind": kind, "hidden_units": [4], "learning_rate": 0.01,
                                         "keras": keras}, n_classes)
    assert compat.is_keras3(model) == (keras == 3)
    x = batch()
    y = np.arange(8) % n_classes if task != "regression" else np.linspace(0, 1, 8)
    model.fit(x, y, epochs=1, verbose=0)
    out = model.predict(x, verbose=0)
    assert out.shape == (8, width)
    if task == "multiclass":
        assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
    if task == "binary":
        assert ((out >= 0) & (out <= 1)).all()


def test_auto_is_keras_3_on_tfx_121_and_keras_2_before():
    import keras as keras3
    import tf_keras

    model = build_model("binary", FEATURES, {})
    if compat.tfx_release() >= (1, 21):
        assert isinstance(model, keras3.Model) and compat.is_keras3(model)
    else:
        assert isinstance(model, tf_keras.Model) and not compat.is_keras3(model)
    assert isinstance(build_model("binary", FEATURES, {"keras": 2}), tf_keras.Model)
    assert isinstance(build_model("binary", FEATURES, {"keras": "3"}), keras3.Model)
    assert compat.keras_of(build_model("binary", FEATURES, {"keras": 3})) is keras3
    with pytest.raises(ValueError, match="model.keras: 4 should be one of auto, 2, 3"):
        build_model("binary", FEATURES, {"keras": 4})


def test_errors():
    with pytest.raises(ValueError, match="no input features"):
        build_model("binary", [], {})
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_model("multiclass", FEATURES, {}, n_classes=1)
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model("binary", FEATURES, {"kind": "gbdt"})


def test_feature_infos_from_schema():
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = schema_pb2.Schema()
    f = schema.feature.add(name="s_xf", type=schema_pb2.INT)
    f.int_domain.min, f.int_domain.max = 0, 5
    schema.feature.add(name="a_xf", type=schema_pb2.FLOAT)
    schema.feature.add(name="y_xf", type=schema_pb2.INT)
    assert feature_infos_from_schema(schema, "y_xf") == [
        FeatureInfo("a_xf", "dense"), FeatureInfo("s_xf", "categorical", 6)]
