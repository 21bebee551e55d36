"""A contextual bandit's policy in Keras (issue 16): the reward model, its loss on logged
feedback, and exploration as TF ops.

- **Reward model** (``bandit.reward_model``): ``per_action``, the zoo's network over the
  transformed context (``model.kind``: dnn, linear, wide_deep) with one output per action;
  ``shared``, one network over concat(context, one-hot action), scored for every action.
  Both output the predicted reward of every action, [batch, n_actions], in
  ``bandit.actions`` order.
- **Loss**: only the logged action's reward is observed, so only its output is compared
  with the reward (squared error, the other outputs get no gradient), optionally weighted
  by 1 / propensity (``bandit.importance_weighted``). Keras gives a loss ``y_true`` and
  ``y_pred``; here ``y_true`` is [batch, 3]: the action index, the reward and the
  propensity (``training_pairs`` makes it from the transformed examples).
- **Exploration** (``bandit.exploration``): ``epsilon_greedy`` (``epsilon`` spread evenly,
  the rest on the best-scored action) or ``softmax`` (Boltzmann, ``temperature``): the
  per-action probabilities of the exploring policy; ``greedy`` puts all on the argmax.
  ``decide`` samples an action from them (seeded for tests) and returns what the exported
  signatures return (``pipelines/policy_export.py``).

The bandit columns reach the Trainer from the transform (``transform_bandit`` in
``pipelines/transform.py``): the action index and the propensity under their transformed
names, the reward as the label. They are never context features.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import tensorflow as tf

from tfxkit.pipelines import compat
from tfxkit.pipelines import models as zoo
from tfxkit.pipelines.transform import transformed_name

REWARD_MODELS = ("per_action", "shared")
EXPLORATIONS = ("epsilon_greedy", "softmax")
POLICY_OUTPUTS = ("action", "action_id", "propensity", "ranked_actions", "scores",
                  "action_probabilities")


def _get(section: Mapping[str, Any], key: str, default):
    """A config section's value, its default where absent or None (a dumped config names
    every field, the unused ones None)."""
    value = section.get(key)
    return default if value is None else value


def logged_columns(spec: Mapping[str, Any]) -> List[str]:
    """The transformed names of the logged action and propensity: not context features."""
    bandit = spec["bandit"]
    return [transformed_name(bandit["action"]), transformed_name(bandit["propensity"])]


def context_features(features: Sequence[zoo.FeatureInfo],
                     spec: Mapping[str, Any]) -> List[zoo.FeatureInfo]:
    """The transformed features less the logged columns (the label is already out)."""
    logged = set(logged_columns(spec))
    return [f for f in features if f.name not in logged]


# --------------------------------------------------------------------------- reward model

@functools.lru_cache(maxsize=None)
def _action_grid(keras):
    """The layer class (of ``keras``, Keras 2 or 3) that puts every context beside every
    action's one-hot: [batch, d] -> [batch, n_actions, d + n_actions]. No weights."""

    class ActionGrid(keras.layers.Layer):
        def __init__(self, n_actions: int, **kwargs):
            super().__init__(**kwargs)
            self.n_actions = n_actions

        def call(self, x):
            n = self.n_actions
            tiled = tf.tile(x[:, None, :], [1, n, 1])
            eye = tf.broadcast_to(tf.eye(n, dtype=x.dtype)[None], [tf.shape(x)[0], n, n])
            return tf.concat([tiled, eye], axis=-1)

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self.n_actions, input_shape[-1] + self.n_actions)

        def get_config(self):
            return {**super().get_config(), "n_actions": self.n_actions}

    return ActionGrid


def _per_action_scores(keras, inputs, features, model_cfg, n: int):
    kind = model_cfg.get("kind", "dnn")
    if kind == "dnn":
        return keras.layers.Dense(n, name="scores")(
            zoo.deep_tower(keras, inputs, features, model_cfg))
    if kind == "linear":
        return keras.layers.Dense(n, name="scores")(zoo.wide_tower(keras, inputs, features))
    if kind == "wide_deep":
        deep = keras.layers.Dense(n, name="deep_scores")(
            zoo.deep_tower(keras, inputs, features, model_cfg))
        wide = keras.layers.Dense(n, name="wide_scores")(zoo.wide_tower(keras, inputs, features))
        return keras.layers.Add(name="scores")([deep, wide])
    raise ValueError(f"unknown model kind {kind!r}")


def _shared_scores(keras, inputs, features, model_cfg, n: int):
    # the context as the deep tower's input layer (dense columns, embeddings) ...
    context = zoo.deep_tower(keras, inputs, features, dict(model_cfg, hidden_units=[],
                                                            dropout=0.0))
    # ... beside each action's one-hot, through the same layers for every action
    x = _action_grid(keras)(n, name="context_x_action")(context)
    dropout = model_cfg.get("dropout", 0.0)
    for i, units in enumerate(model_cfg.get("hidden_units", [64, 32])):
        x = keras.layers.Dense(units, activation="relu", name=f"shared_hidden_{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout)(x)
    x = keras.layers.Dense(1, name="reward")(x)
    return keras.layers.Reshape((n,), name="scores")(x)


def build_reward_model(features: Sequence[zoo.FeatureInfo], model_cfg: Mapping[str, Any],
                       bandit: Mapping[str, Any]):
    """A compiled Keras model (``model.keras``'s Keras) from the context ``features`` to
    the predicted reward of every action, [batch, len(bandit.actions)], trained with
    ``logged_reward_loss``."""
    if not features:
        raise ValueError("the reward model has no context features")
    n = len(bandit["actions"])
    if n < 2:
        raise ValueError(f"a bandit needs at least 2 actions, got {n}")
    model_cfg = dict(model_cfg or {})
    if model_cfg.get("module"):
        raise ValueError("model.module (a build_model of your own) is not used for task "
                         "bandit: the reward model is bandit.reward_model's")
    keras = compat.keras_module(compat.keras_version(model_cfg.get("keras", "auto")))
    keras.utils.set_random_seed(model_cfg.get("seed", 42))
    inputs = zoo.feature_inputs(keras, list(features))
    kind = _get(bandit, "reward_model", "per_action")
    if kind == "per_action":
        scores = _per_action_scores(keras, inputs, list(features), model_cfg, n)
    elif kind == "shared":
        scores = _shared_scores(keras, inputs, list(features), model_cfg, n)
    else:
        raise ValueError(f"bandit.reward_model: {kind!r} should be one of "
                         f"{', '.join(REWARD_MODELS)}")
    model = keras.Model(inputs=inputs, outputs=scores, name=f"{kind}_reward_model")
    model.compile(optimizer=zoo.optimizer(keras, model_cfg),
                  loss=logged_reward_loss(bool(bandit.get("importance_weighted"))))
    return model


# --------------------------------------------------------------------------- loss

def chosen_squared_error(scores, action, reward, propensity=None):
    """Per row: (score of the logged action - reward)^2, divided by the propensity when
    given. Only the logged action's output enters (gathered by its index)."""
    chosen = tf.gather(scores, tf.cast(action, tf.int32), batch_dims=1)
    err = tf.square(chosen - tf.cast(reward, scores.dtype))
    if propensity is not None:
        err = err / tf.cast(propensity, scores.dtype)
    return err


def logged_reward_loss(importance_weighted: bool = False) -> Callable:
    """The Keras loss: ``y_true`` [batch, 3] is (action index, reward, propensity),
    ``y_pred`` the scores of every action."""

    def logged_reward(y_true, y_pred):
        y_true = tf.cast(y_true, y_pred.dtype)
        return chosen_squared_error(y_pred, y_true[:, 0], y_true[:, 1],
                                    y_true[:, 2] if importance_weighted else None)

    return logged_reward


def training_pairs(spec: Mapping[str, Any], context_names: Sequence[str]) -> Callable:
    """Maps a transformed dataset's (features, reward) batches to (context, y_true) for
    ``logged_reward_loss``."""
    action, propensity = logged_columns(spec)
    names = list(context_names)

    def to_pair(features, reward):
        column = lambda x: tf.reshape(tf.cast(x, tf.float32), [-1])  # noqa: E731
        y_true = tf.stack([column(features[action]), column(reward),
                           column(features[propensity])], axis=1)
        return {k: features[k] for k in names}, y_true

    return to_pair


# --------------------------------------------------------------------------- exploration

def greedy_probabilities(scores):
    """Probability 1 on each row's best-scored action (the first of ties)."""
    return tf.one_hot(tf.argmax(scores, axis=1), tf.shape(scores)[1], dtype=scores.dtype)


def epsilon_greedy_probabilities(scores, epsilon: float):
    """``epsilon`` spread evenly over the actions, the rest on the best-scored one."""
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"exploration.epsilon must be in [0, 1], got {epsilon}")
    n = tf.cast(tf.shape(scores)[1], scores.dtype)
    return epsilon / n + (1.0 - epsilon) * greedy_probabilities(scores)


def softmax_probabilities(scores, temperature: float):
    """Boltzmann exploration: softmax(scores / temperature)."""
    if not temperature > 0:
        raise ValueError(f"exploration.temperature must be > 0, got {temperature}")
    return tf.nn.softmax(scores / temperature, axis=1)


def exploration_probabilities(scores, exploration: Optional[Mapping[str, Any]]):
    """The exploring policy's probabilities ([batch, n_actions], rows sum to 1) for a
    ``bandit.exploration`` section; ``None`` is the greedy policy."""
    scores = tf.convert_to_tensor(scores)
    if exploration is None:
        return greedy_probabilities(scores)
    kind = _get(exploration, "kind", "epsilon_greedy")
    if kind == "epsilon_greedy":
        return epsilon_greedy_probabilities(scores, float(_get(exploration, "epsilon", 0.1)))
    if kind == "softmax":
        return softmax_probabilities(scores, float(_get(exploration, "temperature", 1.0)))
    raise ValueError(f"exploration.kind: {kind!r} should be one of {', '.join(EXPLORATIONS)}")


def sample_actions(probabilities, seed: Optional[int] = None):
    """One action index (int64 [batch]) drawn per row; with ``seed`` the same draws every
    time (stateless), else fresh ones on every call."""
    logits = tf.math.log(probabilities)
    if seed is None:
        return tf.random.categorical(logits, 1, dtype=tf.int64)[:, 0]
    return tf.random.stateless_categorical(logits, 1, seed=[seed, 0], dtype=tf.int64)[:, 0]


def decide(scores, actions: Sequence[str], exploration: Optional[Mapping[str, Any]] = None,
           seed: Optional[int] = None) -> Dict[str, tf.Tensor]:
    """The policy's answer for each row (every output [batch, k]): ``action`` (its name),
    ``action_id``, ``propensity`` (the chosen action's probability under this policy),
    ``ranked_actions`` (every action, best-scored first), ``scores`` and
    ``action_probabilities`` (both in ``actions`` order). ``exploration`` None: greedy,
    the argmax with probability 1."""
    scores = tf.convert_to_tensor(scores)
    probs = exploration_probabilities(scores, exploration)
    if exploration is None:
        action_id = tf.argmax(scores, axis=1)
    else:
        action_id = sample_actions(probs, seed)
    names = tf.constant(list(actions))
    order = tf.argsort(scores, axis=1, direction="DESCENDING", stable=True)
    return {"action": tf.gather(names, action_id)[:, None],
            "action_id": action_id[:, None],
            "propensity": tf.gather(probs, action_id, batch_dims=1)[:, None],
            "ranked_actions": tf.gather(names, order),
            "scores": scores,
            "action_probabilities": probs}
