"""A bandit policy's SavedModel (issue 16): the trained reward model, the transform graph
and the policies over them, exported by the Trainer's ``run_fn`` for task ``bandit``.

Every signature takes serialized *raw* tf.Examples (``examples``; the logged action,
reward and propensity need not be present) and returns, per row, every output [batch, k]
(``pipelines/policy.py`` ``decide``):

- ``action`` [b, 1] (string: the chosen action's name), ``action_id`` [b, 1] (int64: its
  index in ``bandit.actions``), ``propensity`` [b, 1] (float: its probability under the
  policy: log it as the next round's propensity), ``ranked_actions`` [b, n] (string: every
  action, best-scored first), ``scores`` [b, n] (float: the predicted reward of every
  action) and ``action_probabilities`` [b, n] (float: the policy's probability of every
  action; what off-policy evaluation weighs), both in ``bandit.actions`` order.

Signatures:

- ``serving_default``: the policy ``bandit.serve`` names: ``exploring`` (an action drawn
  from ``bandit.exploration``'s probabilities, anew on every call) or ``greedy``;
- ``greedy``: always the greedy policy (the best-scored action, probability 1): the
  policy that evaluation judges;
- ``transform_features``: the transformed features, as for every task.
"""
from __future__ import annotations

from typing import Any, Dict

import tensorflow as tf

from tfxkit.pipelines import policy, run_fn

SERVES = ("exploring", "greedy")


def serving_exploration(bandit: Dict[str, Any]):
    """The exploration ``serving_default`` uses: ``bandit.exploration``, or None (greedy)."""
    serve = bandit.get("serve") or "exploring"
    if serve not in SERVES:
        raise ValueError(f"bandit.serve: {serve!r} should be one of {', '.join(SERVES)}")
    if serve == "greedy":
        return None
    return bandit.get("exploration") or {"kind": "epsilon_greedy", "epsilon": 0.1}


def export(model, tf_transform_output, spec: Dict[str, Any], export_dir: str) -> None:
    """Saves the reward ``model`` with the ``serving_default``, ``greedy`` and
    ``transform_features`` signatures into ``export_dir``."""
    bandit = spec["bandit"]
    actions = [str(a) for a in bandit["actions"]]
    exploration = serving_exploration(bandit)
    holder = run_fn.with_transform(model, tf_transform_output)
    logged = {spec["label"], bandit["action"], bandit["propensity"]}
    serving_spec = {k: v for k, v in tf_transform_output.raw_feature_spec().items()
                    if k not in logged}
    names = run_fn.input_names(model)

    def scores(serialized):
        transformed = holder.tft_layer(tf.io.parse_example(serialized, serving_spec))
        return model({k: transformed[k] for k in names}, training=False)

    examples = tf.TensorSpec([None], tf.string, name="examples")

    @tf.function(input_signature=[examples])
    def serve(serialized):
        return policy.decide(scores(serialized), actions, exploration)

    @tf.function(input_signature=[examples])
    def greedy(serialized):
        return policy.decide(scores(serialized), actions)

    run_fn.save(model, holder, {
        "serving_default": serve, "greedy": greedy,
        "transform_features": run_fn.transform_features_fn(holder, tf_transform_output)},
        export_dir)
