"""Model kind ``rnn``: sequences read from the transformed schema, masking (padding never
changes the output), attention pooling, both Keras, and the other kinds ignoring
sequences."""
import numpy as np
import pytest

from tfxkit.pipelines import compat
from tfxkit.pipelines.models import FeatureInfo, build_model, feature_infos_from_schema, mask_of

L = 6


def features(length=L):
    return [FeatureInfo("a_xf", "dense"), FeatureInfo("s_xf", "categorical", 4),
            FeatureInfo("seg_xf", "sequence", 5, length),
            FeatureInfo("km_xf", "sequence_dense", 0, length),
            FeatureInfo("km_mask_xf", "sequence_mask", 0, length)]


def rows(length=L, seg=([1, 2, 3], [4], [], [2, 2, 2, 2, 2, 2]),
         km=([0.5, -1.0], [1.0, 2.0, 3.0], [], [0.1] * 6), noise=0.0, seed=0):
    """A batch with the sequences padded to ``length``; ``noise``: what the numeric
    padding holds (the mask says it is padding)."""
    rng = np.random.default_rng(seed)
    n = len(seg)
    out = {"a_xf": np.linspace(-1, 1, n).astype("float32"),
           "s_xf": (np.arange(n) % 4).astype("int64"),
           "seg_xf": np.zeros((n, length), "int64"),
           "km_xf": (rng.normal(size=(n, length)) * noise).astype("float32"),
           "km_mask_xf": np.zeros((n, length), "float32")}
    for i, (s, k) in enumerate(zip(seg, km)):
        out["seg_xf"][i, :len(s)] = s
        out["km_xf"][i, :len(k)] = k
        out["km_mask_xf"][i, :len(k)] = 1.0
    return out


def cfg(keras, attention=False, cell="gru"):
    return {"kind": "rnn", "hidden_units": [8], "learning_rate": 0.01, "keras": keras,
            "rnn": {"cell": cell, "units": 4, "attention": attention}}


@pytest.mark.parametrize("keras", [2, 3])
@pytest.mark.parametrize("cell,attention", [("gru", False), ("lstm", True)])
def test_padding_and_what_it_holds_never_change_the_output(keras, cell, attention):
    short = build_model("regression", features(L), cfg(keras, attention, cell))
    long = build_model("regression", features(L + 5), cfg(keras, attention, cell))
    assert compat.is_keras3(short) == (keras == 3)
    long.set_weights(short.get_weights())  # no weight depends on the length
    y = np.linspace(0, 1, 4)
    short.fit(rows(), y, epochs=1, verbose=0)  # trained, not just initialised
    long.set_weights(short.get_weights())
    base = short.predict(rows(), verbose=0)
    assert np.allclose(base, long.predict(rows(L + 5), verbose=0), atol=1e-5)
    assert np.allclose(base, short.predict(rows(noise=5.0), verbose=0), atol=1e-5)
    # ... while the elements themselves, and their order, do change it
    changed = short.predict(rows(seg=([3, 2, 1], [4], [], [2] * 6)), verbose=0)
    assert not np.isclose(base[0], changed[0], atol=1e-6).all()
    assert np.allclose(base[1:], changed[1:], atol=1e-5)
    changed = short.predict(rows(km=([-1.0, 0.5], [1.0, 2.0, 3.0], [], [0.1] * 6)), verbose=0)
    assert not np.isclose(base[0], changed[0], atol=1e-6).all()


@pytest.mark.parametrize("task,n_classes,width", [("multiclass", 3, 3), ("binary", 2, 1)])
def test_rnn_classifies(task, n_classes, width):
    model = build_model(task, features(), cfg(2), n_classes)
    model.fit(rows(), np.arange(4) % n_classes, epochs=1, verbose=0)
    assert model.predict(rows(), verbose=0).shape == (4, width)
    names = {layer.name for layer in model.layers}
    assert {"seg_xf_embedding", "seg_gru", "km_gru", "km_masking", "s_xf_embedding",
            "hidden_0", "logits"} <= names


@pytest.mark.parametrize("kind", ["dnn", "wide_deep", "linear"])
def test_other_kinds_ignore_sequences(kind):
    from tfxkit.pipelines.run_fn import input_names

    for keras in (2, 3):
        model = build_model("regression", features(), {"kind": kind, "hidden_units": [4],
                                                       "keras": keras})
        assert sorted(input_names(model)) == ["a_xf", "s_xf"]
    with pytest.raises(ValueError, match="ignore sequence features"):
        build_model("regression", features()[2:], {"kind": kind})


def test_rnn_without_a_sequence_or_a_mask():
    with pytest.raises(ValueError, match="model kind rnn needs a sequence feature"):
        build_model("regression", features()[:2], cfg(2))
    with pytest.raises(ValueError, match="has no mask feature 'km_mask_xf'"):
        build_model("regression", features()[:4], cfg(2))


def test_sequences_from_the_transformed_schema():
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = text_format.Parse("""
      feature {name: "a_xf" type: FLOAT shape {}}
      feature {name: "seg_xf" type: INT int_domain {min: 0 max: 7} shape {dim {size: 10}}}
      feature {name: "km_xf" type: FLOAT shape {dim {size: 10}}}
      feature {name: "km_mask_xf" type: FLOAT shape {dim {size: 10}}}
      feature {name: "grid_xf" type: FLOAT shape {dim {size: 2} dim {size: 2}}}
      feature {name: "y_xf" type: FLOAT shape {}}
    """, schema_pb2.Schema())
    got = feature_infos_from_schema(schema, "y_xf")
    assert got == sorted([FeatureInfo("a_xf", "dense"), FeatureInfo("seg_xf", "sequence", 8, 10),
                          FeatureInfo("km_xf", "sequence_dense", 0, 10),
                          FeatureInfo("km_mask_xf", "sequence_mask", 0, 10)],
                         key=lambda f: f.name)
    assert mask_of("km_xf") == "km_mask_xf"
