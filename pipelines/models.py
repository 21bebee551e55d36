"""The Keras model zoo: networks built from config and the transformed features.

Which Keras builds them is ``model.keras`` (``pipelines/compat.py``): ``auto`` is Keras 3 on
TFX 1.21 and Keras 2 (``tf_keras``) on TFX 1.16, whose TFMA 0.47 and stock BulkInferrer
expect Keras 2 exports. The same code builds both: every layer comes from the ``keras``
module passed around here. No ``tf.feature_column``: categorical inputs are int64 ids
(from the transform) fed to embeddings (deep) or one-hot encodings (wide).

``build_model(task, features, model_cfg, n_classes)`` is also the signature a user's
``model.py`` implements to replace the network and keep everything else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from tfxkit.pipelines import compat


SEQUENCE_KINDS = ("sequence", "sequence_dense", "sequence_mask")
MASK_SUFFIX = "_mask_xf"  # a numeric sequence's mask: <name>_mask_xf beside <name>_xf


@dataclass(frozen=True)
class FeatureInfo:
    """One transformed input: ``dense`` float, or ``categorical`` ids in [0, size); a
    list feature (``features.sequence``) of ``length`` steps: ``sequence`` ids in
    [0, size) with 0 as padding, ``sequence_dense`` numbers with their
    ``sequence_mask`` (1.0 per element)."""

    name: str
    kind: str  # "dense" | "categorical" | "sequence" | "sequence_dense" | "sequence_mask"
    size: int = 0
    length: int = 0  # steps of a sequence kind

    @property
    def is_sequence(self) -> bool:
        return self.kind in SEQUENCE_KINDS


def mask_of(name: str) -> str:
    """The mask feature of the numeric sequence ``name`` (``segment_km_xf`` ->
    ``segment_km_mask_xf``)."""
    base = name[:-3] if name.endswith("_xf") else name
    return base + MASK_SUFFIX


def scalar_features(features: List[FeatureInfo]) -> List[FeatureInfo]:
    """The features of kinds dnn, wide_deep and linear: every one but the sequences."""
    return [f for f in features if not f.is_sequence]


def prediction_key(task: str) -> str:
    """The serving output that evaluation reads."""
    return "prediction" if task == "regression" else "probabilities"


def feature_infos_from_schema(schema, label_key: str) -> List[FeatureInfo]:
    """Reads transformed features from a TFT output schema: int features with an
    int_domain are categorical (vocabularies, buckets, hashes), floats are dense."""
    from tensorflow_metadata.proto.v0 import schema_pb2

    out = []
    names = {f.name for f in schema.feature}
    for f in schema.feature:
        if f.name == label_key:
            continue
        dims = [int(d.size) for d in f.shape.dim] if f.HasField("shape") else []
        if len(dims) == 1:  # a padded list feature [batch, length]
            if f.type == schema_pb2.INT and f.HasField("int_domain"):
                out.append(FeatureInfo(f.name, "sequence", int(f.int_domain.max) + 1, dims[0]))
            elif f.type == schema_pb2.FLOAT:
                kind = "sequence_dense"
                if f.name.endswith(MASK_SUFFIX) and \
                        f.name[:-len(MASK_SUFFIX)] + "_xf" in names:
                    kind = "sequence_mask"
                out.append(FeatureInfo(f.name, kind, 0, dims[0]))
            continue
        if len(dims) > 1:
            continue  # no zoo model reads [batch, a, b] features
        if f.type == schema_pb2.INT and f.HasField("int_domain"):
            out.append(FeatureInfo(f.name, "categorical", int(f.int_domain.max) + 1))
        elif f.type == schema_pb2.INT:
            out.append(FeatureInfo(f.name, "dense"))
        elif f.type == schema_pb2.FLOAT:
            out.append(FeatureInfo(f.name, "dense"))
        # BYTES features are not model inputs (ids must be computed in the transform).
    return sorted(out, key=lambda fi: fi.name)


def _cfg(model_cfg: Any, key: str, default=None):
    if isinstance(model_cfg, Mapping):
        return model_cfg.get(key, default)
    return getattr(model_cfg, key, default)


def _embedding_dim(size: int, configured: Optional[int]) -> int:
    return configured or max(2, min(32, int(round(6 * size ** 0.25))))


def feature_inputs(keras, features: List[FeatureInfo]) -> Dict[str, Any]:
    """One ``keras.Input`` per transformed feature (float32 dense, int64 ids; a sequence
    ``(length,)``)."""
    return {f.name: keras.Input(shape=(f.length,) if f.is_sequence else (), name=f.name,
                                dtype="int64" if f.kind in ("categorical", "sequence")
                                else "float32")
            for f in features}


def _as_column(keras, x):
    return keras.layers.Reshape((1,))(x)


def deep_tower(keras, inputs, features, model_cfg):
    """Dense columns and embeddings concatenated, then ``hidden_units`` ReLU layers."""
    parts = []
    for f in features:
        x = inputs[f.name]
        if f.kind == "dense":
            parts.append(_as_column(keras, x))
        else:
            emb = keras.layers.Embedding(f.size, _embedding_dim(f.size, _cfg(model_cfg, "embedding_dim")),
                                         name=f"{f.name}_embedding")(x)
            parts.append(emb)
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate()(parts)
    dropout = _cfg(model_cfg, "dropout", 0.0)
    for i, units in enumerate(_cfg(model_cfg, "hidden_units", [64, 32])):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    return x


def wide_tower(keras, inputs, features):
    """Dense columns and one-hot categories concatenated (no hidden layer)."""
    parts = []
    for f in features:
        x = inputs[f.name]
        if f.kind == "dense":
            parts.append(_as_column(keras, x))
        else:
            parts.append(keras.layers.CategoryEncoding(num_tokens=f.size, output_mode="one_hot",
                                                       name=f"{f.name}_one_hot")(_as_column(keras, x)))
    return parts[0] if len(parts) == 1 else keras.layers.Concatenate()(parts)


def _rnn_layer(keras, rnn_cfg, name: str, attention: bool):
    cell = _cfg(rnn_cfg, "cell", "gru")
    layer_cls = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}[cell]
    return layer_cls(_cfg(rnn_cfg, "units", 32), return_sequences=attention,
                     return_state=attention, name=f"{name}_{cell}")


def sequence_tower(keras, inputs, seq: FeatureInfo, features: List[FeatureInfo], model_cfg):
    """One sequence through a GRU/LSTM (``model.rnn``) with its padding masked: ids by an
    Embedding with ``mask_zero``, numbers (and their mask as a second channel) by a
    Masking layer. Returns the last state, or with ``attention`` the attention-pooled
    steps (a dot-product attention of the last state over the masked steps) beside it."""
    rnn_cfg = _cfg(model_cfg, "rnn", None) or {}
    base = seq.name[:-3] if seq.name.endswith("_xf") else seq.name
    x = inputs[seq.name]
    if seq.kind == "sequence":
        x = keras.layers.Embedding(seq.size, _embedding_dim(seq.size, _cfg(model_cfg, "embedding_dim")),
                                   mask_zero=True, name=f"{seq.name}_embedding")(x)
    else:
        mask_name = mask_of(seq.name)
        if mask_name not in inputs:
            raise ValueError(f"the numeric sequence {seq.name!r} has no mask feature "
                             f"{mask_name!r} (pipelines/transform.py's sequence() makes it)")
        values = keras.layers.Reshape((seq.length, 1), name=f"{base}_steps")(x)
        present = keras.layers.Reshape((seq.length, 1), name=f"{base}_present")(inputs[mask_name])
        values = keras.layers.Multiply(name=f"{base}_masked_values")([values, present])
        x = keras.layers.Concatenate(name=f"{base}_channels")([values, present])
        # a padding step is all zeros (its value zeroed, present 0); an element has present 1
        x = keras.layers.Masking(mask_value=0.0, name=f"{base}_masking")(x)
    if not _cfg(rnn_cfg, "attention", False):
        return _rnn_layer(keras, rnn_cfg, base, attention=False)(x)
    # the steps and the last state (GRU: [steps, state]; LSTM: [steps, h, c])
    steps, last = _rnn_layer(keras, rnn_cfg, base, attention=True)(x)[:2]
    width = int(last.shape[-1])
    query = keras.layers.Reshape((1, width), name=f"{base}_query")(last)
    pooled = keras.layers.Attention(name=f"{base}_attention")([query, steps])
    pooled = keras.layers.Reshape((width,), name=f"{base}_pooled")(pooled)
    return keras.layers.Concatenate(name=f"{base}_summary")([last, pooled])


def rnn_body(keras, inputs, features: List[FeatureInfo], model_cfg):
    """Kind ``rnn``: every sequence's recurrent summary concatenated with the other
    features (dense columns and embeddings), then ``hidden_units`` ReLU layers."""
    seqs = [f for f in features if f.kind in ("sequence", "sequence_dense")]
    if not seqs:
        raise ValueError("model kind rnn needs a sequence feature (features.sequence); "
                         "the transformed features have none")
    parts = [sequence_tower(keras, inputs, s, features, model_cfg) for s in seqs]
    for f in scalar_features(features):
        x = inputs[f.name]
        if f.kind == "dense":
            parts.append(_as_column(keras, x))
        else:
            parts.append(keras.layers.Embedding(
                f.size, _embedding_dim(f.size, _cfg(model_cfg, "embedding_dim")),
                name=f"{f.name}_embedding")(x))
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="rnn_concat")(parts)
    dropout = _cfg(model_cfg, "dropout", 0.0)
    for i, units in enumerate(_cfg(model_cfg, "hidden_units", [64, 32])):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    return x


def _head(task: str, n_classes: int):
    units = n_classes if task == "multiclass" else 1
    activation = {"multiclass": "softmax", "binary": "sigmoid", "regression": None}[task]
    return units, activation


def optimizer(keras, model_cfg: Any):
    """The optimizer ``model.optimizer`` names, at ``model.learning_rate``."""
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
                  "rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad}
    return optimizers[_cfg(model_cfg, "optimizer", "adam")](
        learning_rate=_cfg(model_cfg, "learning_rate", 0.001))


def compile_model(model, task: str, model_cfg: Any):
    keras = compat.keras_of(model)
    opt = optimizer(keras, model_cfg)
    if task == "multiclass":
        loss, metrics = "sparse_categorical_crossentropy", ["sparse_categorical_accuracy"]
    elif task == "binary":
        loss, metrics = "binary_crossentropy", ["binary_accuracy", keras.metrics.AUC(name="auc")]
    else:
        loss, metrics = "mse", ["mae", keras.metrics.RootMeanSquaredError(name="rmse")]
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    return model


def build_model(task: str, features: List[FeatureInfo], model_cfg: Any,
                n_classes: int = 2):
    """A compiled Keras model for ``task`` over ``features`` (``model.kind``:
    ``dnn``, ``wide_deep`` or ``linear``, which ignore sequence features, or ``rnn``),
    built with ``model.keras``'s Keras."""
    kind = _cfg(model_cfg, "kind", "dnn")
    if kind != "rnn":
        features = scalar_features(features)
    if not features:
        raise ValueError("the model has no input features" + (
            " (kind dnn, wide_deep and linear ignore sequence features)" if kind != "rnn"
            else ""))
    if task == "multiclass" and n_classes < 2:
        raise ValueError(f"multiclass needs at least 2 classes, the label has {n_classes}")
    keras = compat.keras_module(compat.keras_version(_cfg(model_cfg, "keras", "auto")))
    keras.utils.set_random_seed(_cfg(model_cfg, "seed", 42))
    inputs = feature_inputs(keras, features)
    units, activation = _head(task, n_classes)
    if kind == "dnn":
        logits = keras.layers.Dense(units, name="logits")(deep_tower(keras, inputs, features, model_cfg))
    elif kind == "linear":
        logits = keras.layers.Dense(units, name="logits")(wide_tower(keras, inputs, features))
    elif kind == "wide_deep":
        deep = keras.layers.Dense(units, name="deep_logits")(deep_tower(keras, inputs, features, model_cfg))
        wide = keras.layers.Dense(units, name="wide_logits")(wide_tower(keras, inputs, features))
        logits = keras.layers.Add(name="logits")([deep, wide])
    elif kind == "rnn":
        logits = keras.layers.Dense(units, name="logits")(rnn_body(keras, inputs, features, model_cfg))
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    outputs = keras.layers.Activation(activation or "linear", name="output")(logits)
    model = keras.Model(inputs=inputs, outputs=outputs, name=f"{kind}_{task}")
    return compile_model(model, task, model_cfg)
