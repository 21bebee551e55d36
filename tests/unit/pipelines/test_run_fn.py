"""The Trainer's run_fn (pipelines/run_fn.py) on a real tf.Transform output of a few
in-memory rows: the history and model_info files, the Keras each export is saved with,
the two exported signatures on raw tf.Examples, the steps arithmetic and the class names."""
import json
import types

import numpy as np
import pytest

from tfxkit.pipelines import run_fn
from tfxkit.pipelines.transform import LABEL_VOCAB, transformed_name
from tfxkit.testing import (infer_feature_spec, serialized_example, spec_preprocessing_fn,
                            write_transformed)

SPECIES = ["Adelie", "Gentoo", "Chinstrap"]
# the rows' label frequencies order the label vocabulary: Gentoo (5), Adelie (4), Chinstrap (3)
LABELS = ["Gentoo"] * 5 + ["Adelie"] * 4 + ["Chinstrap"] * 3
ROWS = [{"x": float(i), "island": ["Biscoe", "Dream"][i % 2], "species": s}
        for i, s in enumerate(LABELS)]
SPEC = {"task": "multiclass", "label": "species", "label_classes": None,
        "features": {"dense": ["x"], "vocab": {"island": {"top_k": 3}}}}


def raw_example(row) -> bytes:
    return serialized_example(row, infer_feature_spec(ROWS))


@pytest.fixture(scope="module")
def transformed(tmp_path_factory):
    """(transform output folder, transformed examples file): the config-driven
    preprocessing_fn analyzed on ROWS with tf.Transform, and ROWS through it."""
    fn = spec_preprocessing_fn(SPEC["task"], SPEC["label"], SPEC["features"])
    return write_transformed(fn, ROWS, str(tmp_path_factory.mktemp("run_fn")))


class DataAccessor:
    """What TFX's DataAccessor does for tf.Example files: tfx_bsl's TFExampleRecord."""

    @staticmethod
    def tf_dataset_factory(files, options, schema):
        from tfx_bsl.public import tfxio

        return tfxio.TFExampleRecord(file_pattern=files, schema=schema).TensorFlowDataset(
            options)


def fn_args(tmp_path, transformed, model, train_steps=None):
    out, path = transformed
    return types.SimpleNamespace(
        custom_config=dict(SPEC, model=model), transform_output=out, train_files=[path],
        eval_files=[path], data_accessor=DataAccessor(), train_steps=train_steps,
        model_run_dir=str(tmp_path / "run"), serving_model_dir=str(tmp_path / "serving"))


@pytest.mark.parametrize("keras", [2, 3])
def test_run_fn_writes_history_model_info_and_both_signatures(tmp_path, transformed, keras):
    import tensorflow as tf

    from tfxkit.pipelines import compat

    args = fn_args(tmp_path, transformed, {"hidden_units": [4], "epochs": 2,
                                           "batch_size": 4, "keras": keras})
    run_fn.run_fn(args)

    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert {"loss", "val_loss"} <= set(history) and len(history["loss"]) == 2
    assert all(isinstance(v, float) for v in history["loss"])
    info = json.loads((tmp_path / "run" / "model_info.json").read_text())
    assert info["keras"] == keras and info["tensorflow"] == tf.__version__
    assert info["keras_version"] == compat.keras_module(keras).__version__
    # Keras 2 is saved by Keras (its metadata rides along); Keras 3 as a plain SavedModel
    assert (tmp_path / "serving" / "keras_metadata.pb").exists() == (keras == 2)

    loaded = tf.saved_model.load(str(tmp_path / "serving"))
    assert set(loaded.signatures) == {"serving_default", "transform_features"}
    no_label = [raw_example({k: v for k, v in r.items() if k != "species"}) for r in ROWS[:3]]
    pred = loaded.signatures["serving_default"](examples=tf.constant(no_label))
    assert pred["probabilities"].shape == (3, 3)
    np.testing.assert_allclose(pred["probabilities"].numpy().sum(axis=1), 1.0, atol=1e-5)
    class_id = pred["class_id"].numpy()
    assert class_id.shape == (3, 1)
    vocab = ["Gentoo", "Adelie", "Chinstrap"]  # most frequent first
    assert [c.decode() for c in pred["class"].numpy()[:, 0]] == [vocab[i] for i in class_id[:, 0]]
    xf = loaded.signatures["transform_features"](
        examples=tf.constant([raw_example(r) for r in ROWS[:3]]))
    label = transformed_name("species")
    assert {transformed_name("x"), label} <= set(xf)
    assert np.reshape(xf[label].numpy(), [-1]).tolist() == [0, 0, 0]  # Gentoo


def test_steps_make_as_many_rounds_as_fit_in_epochs(tmp_path, transformed):
    """``model.steps`` (or the Trainer's train_steps) in all, in up to ``epochs`` rounds:
    7 steps in at most 3 epochs are 3 rounds of 3."""
    args = fn_args(tmp_path, transformed, {"hidden_units": [4], "epochs": 3, "steps": 7,
                                           "batch_size": 4, "keras": 3})
    model = run_fn.train(args)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 3
    assert model.optimizer.iterations.numpy() == 9
    args = fn_args(tmp_path, transformed, {"hidden_units": [4], "epochs": 3,
                                           "batch_size": 4, "keras": 3}, train_steps=2)
    run_fn.train(args)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 2  # min(epochs, steps) rounds of one step


def test_merge_hyperparameters_overrides_the_model_section():
    from tfxkit.components.hyperparameters_gen.choose import keras_tuner_config

    model = {"kind": "dnn", "hidden_units": [64, 32], "learning_rate": 0.001, "epochs": 10}
    hp = keras_tuner_config({"learning_rate": 0.01, "hidden_units": [8], "dropout": 0.2})
    assert run_fn.merge_hyperparameters(model, hp) == {
        "kind": "dnn", "hidden_units": [8], "learning_rate": 0.01, "epochs": 10, "dropout": 0.2}
    assert run_fn.merge_hyperparameters(model, {"epochs": 2})["epochs"] == 2  # a plain dict
    assert run_fn.merge_hyperparameters(model, None) == model
    assert run_fn.merge_hyperparameters({}, {"epochs": 2}) == {"epochs": 2}
    assert model["epochs"] == 10  # not changed in place


def test_train_takes_the_trainers_hyperparameters(tmp_path, transformed):
    """``fn_args.hyperparameters`` (as the Trainer reads HyperparametersGen's file) wins over
    the model section: 2 epochs, not 3."""
    from tfxkit.components.hyperparameters_gen.choose import keras_tuner_config

    args = fn_args(tmp_path, transformed, {"hidden_units": [4], "epochs": 3,
                                           "batch_size": 4, "keras": 3})
    args.hyperparameters = keras_tuner_config({"epochs": 2, "hidden_units": [5]})
    model = run_fn.train(args)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history["loss"]) == 2
    units = [layer.units for layer in model.layers if hasattr(layer, "units")]
    assert 5 in units and 4 not in units, units


class FakeTransformOutput:
    def __init__(self, vocab=None, int_max=None):
        from tensorflow_metadata.proto.v0 import schema_pb2

        self._vocab = vocab
        self.transformed_metadata = types.SimpleNamespace(schema=schema_pb2.Schema())
        f = self.transformed_metadata.schema.feature.add(name="y_xf", type=schema_pb2.INT)
        if int_max is not None:
            f.int_domain.min, f.int_domain.max = 0, int_max

    def vocabulary_by_name(self, name):
        assert name == LABEL_VOCAB
        if self._vocab is None:
            raise ValueError("no such vocabulary")
        return self._vocab


def test_class_names_come_from_classes_vocabulary_domain_or_the_binary_task():
    names = run_fn._class_names
    assert names({"task": "multiclass", "label_classes": ["a", 1]}, FakeTransformOutput(
        vocab=[b"z"]), "y_xf") == ["a", "1"]
    assert names({"task": "multiclass"}, FakeTransformOutput(vocab=[b"b", b"a"]),
                 "y_xf") == ["b", "a"]
    assert names({"task": "multiclass"}, FakeTransformOutput(int_max=2), "y_xf") == [
        "0", "1", "2"]
    assert names({"task": "binary"}, FakeTransformOutput(), "y_xf") == ["0", "1"]
    with pytest.raises(ValueError, match="cannot tell the classes of 'y_xf'"):
        names({"task": "multiclass"}, FakeTransformOutput(), "y_xf")


def _trained(tmp_path, transformed, name, model, base=None):
    """run_fn.train into ``tmp_path/name`` (a Model artifact's folder: Format-Serving and
    warm_start/ inside), with ``base`` (such a folder) as the Trainer's base_model."""
    args = fn_args(tmp_path / name, transformed, model)
    args.serving_model_dir = str(tmp_path / name / "model" / "Format-Serving")
    args.base_model = str(base / "model" / "Format-Serving") if base else None
    trained = run_fn.train(args)
    info = json.loads((tmp_path / name / "run" / run_fn.WARM_START_INFO).read_text())
    return trained, info


@pytest.mark.parametrize("keras", [2, 3])
def test_warm_start_initialises_from_the_base_models_weights(tmp_path, transformed, keras):
    base_cfg = {"hidden_units": [4], "epochs": 2, "batch_size": 4, "keras": keras}
    base, info = _trained(tmp_path, transformed, "base", base_cfg)
    assert info["warm_started"] is False and info["mode"] == "none"
    saved = tmp_path / "base" / "model" / run_fn.WARM_START_DIR
    assert (saved / run_fn.WEIGHTS_FILE).exists() and (saved / run_fn.LAYERS_FILE).exists()
    # a learning rate too small to move a weight: the warm model ends where the base did
    warm, info = _trained(tmp_path, transformed, "warm",
                          dict(base_cfg, warm_start="latest_blessed", learning_rate=1e-9,
                               epochs=1), base=tmp_path / "base")
    assert info == {"mode": "latest_blessed", "warm_started": True,
                    "from": str(tmp_path / "base" / "model"), "from_version": None,
                    "reason": f"initialised from the weights of {tmp_path / 'base' / 'model'}"}
    assert run_fn.weight_signature(warm) == run_fn.weight_signature(base)
    for a, b in zip(warm.get_weights(), base.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # the same without warm start starts elsewhere (seeded init, not the trained weights)
    cold, info = _trained(tmp_path, transformed, "cold",
                          dict(base_cfg, learning_rate=1e-9, epochs=1),
                          base=tmp_path / "base")
    assert info["warm_started"] is False and info["reason"].startswith("model.warm_start is none")
    assert any(not np.allclose(a, b, atol=1e-5)
               for a, b in zip(cold.get_weights(), base.get_weights()))


def test_warm_start_trains_cold_and_says_why(tmp_path, transformed):
    cfg = {"hidden_units": [4], "epochs": 1, "batch_size": 4, "warm_start": "latest_blessed"}
    _, info = _trained(tmp_path, transformed, "first", cfg)
    assert info["warm_started"] is False and info["from"] is None
    assert info["reason"] == "no blessed model of this pipeline yet: trained cold"

    _, info = _trained(tmp_path, transformed, "wide", dict(cfg, hidden_units=[8]),
                       base=tmp_path / "first")
    assert info["warm_started"] is False and info["from"] == str(tmp_path / "first" / "model")
    assert info["reason"].startswith("architecture differs from the base model: layer "
                                     "hidden_0: kernel (")
    assert "4) in the base model vs (" in info["reason"] and info["reason"].endswith(
        "8) now: trained cold")

    old = tmp_path / "old" / "model" / "Format-Serving"
    old.mkdir(parents=True)  # a model trained before warm start: no warm_start/ beside it
    _, info = _trained(tmp_path, transformed, "after_old", cfg, base=tmp_path / "old")
    assert info["warm_started"] is False
    assert "has no saved weights" in info["reason"]


def test_first_mismatch_names_the_first_differing_layer():
    base = [("hidden_0", "kernel", (20, 16)), ("hidden_0", "bias", (16,)),
            ("logits", "kernel", (16, 3)), ("logits", "bias", (3,))]
    assert run_fn.first_mismatch(base, list(base)) is None
    wider = [("hidden_0", "kernel", (20, 32)), ("hidden_0", "bias", (32,))] + base[2:]
    assert run_fn.first_mismatch(base, wider) == \
        "layer hidden_0: kernel (20, 16) in the base model vs (20, 32) now"
    vocab = [("hidden_0", "kernel", (21, 16))] + base[1:]  # one more vocabulary token
    assert run_fn.first_mismatch(base, vocab) == \
        "layer hidden_0: kernel (20, 16) in the base model vs (21, 16) now"
    assert run_fn.first_mismatch(base, base + [("extra", "kernel", (3, 1))]) == \
        "layer extra: not in the base model"
    assert run_fn.first_mismatch(base, base[:2]) == "layer logits: only in the base model"
    assert run_fn.first_mismatch(base, base[:3]) == "layer logits: bias only in the base model"
    assert run_fn.first_mismatch([("logits", "kernel", (16, 3))], base[2:]) == \
        "layer logits: bias (3,) not in the base model"


def test_the_base_models_registry_version_is_looked_up_by_its_uri(tmp_path):
    (tmp_path / "registry.json").write_text(json.dumps({"versions": {
        "11": {"model_uri": "/root/Trainer/model/5"},
        "12": {"model_uri": "/root/Trainer/model/7"}}}))
    assert run_fn.registry_version(str(tmp_path), "/root/Trainer/model/7") == "12"
    assert run_fn.registry_version(str(tmp_path), "/root/Trainer/model/8") is None
    assert run_fn.registry_version(str(tmp_path / "nowhere"), "/root/Trainer/model/7") is None
    assert run_fn.registry_version(None, "/root/Trainer/model/7") is None


def test_caching_batches_trains_on_what_caching_examples_did():
    """cached_and_shuffled gives, epoch after epoch, the batches the old pipeline
    (``unbatch().cache().shuffle(...)``) gave: the same examples in the same order."""
    import numpy as np
    import tensorflow as tf

    from tfxkit.pipelines.run_fn import cached_and_shuffled

    rows = 25_013  # more than the shuffle buffer; a short last batch
    source = tf.data.Dataset.from_tensor_slices(
        ({"x": np.arange(rows, dtype=np.float32),
          "s": tf.sparse.from_dense(np.arange(rows * 2).reshape(rows, 2) % 3)},
         np.arange(rows) % 7)).batch(64)
    old = source.unbatch().cache().shuffle(
        10_000, seed=5, reshuffle_each_iteration=True).batch(64)
    new = cached_and_shuffled(source, 64, 5)
    epochs = []
    for ds in (old, new):
        got = []
        for _ in range(2):
            got.append([(f["x"].numpy(), tf.sparse.to_dense(f["s"]).numpy(), y.numpy())
                        for f, y in ds])
        epochs.append(got)
    assert len(epochs[0][0]) == len(epochs[1][0]) == -(-rows // 64)
    for a_epoch, b_epoch in zip(*epochs):
        for (ax, as_, ay), (bx, bs, by) in zip(a_epoch, b_epoch):
            assert np.array_equal(ax, bx) and np.array_equal(as_, bs) and np.array_equal(ay, by)
    assert not np.array_equal(epochs[1][0][0][0], epochs[1][1][0][0])  # reshuffled
