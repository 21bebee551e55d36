"""The bandit policy's parts (pipelines/policy.py) on in-memory tensors: both reward models
in Keras 2 and 3, the logged-feedback loss (only the chosen action's output moves,
importance weighting scales it), the exploring and greedy probabilities, seeded sampling
and what ``decide`` returns. Trained and exported on generated newsletter data:
test_policy_export.py."""
import numpy as np
import pytest

from tfxkit.pipelines import compat, policy
from tfxkit.pipelines.models import FeatureInfo

ACTIONS = ["a", "b", "c", "d"]
BANDIT = {"action": "arm", "actions": ACTIONS, "propensity": "p"}
FEATURES = [FeatureInfo("x_xf", "dense"), FeatureInfo("s_xf", "categorical", 3)]


def context(n=6):
    rng = np.random.default_rng(0)
    return {"x_xf": rng.normal(size=n).astype("float32"),
            "s_xf": rng.integers(0, 3, n).astype("int64")}


def y_true(action, reward, propensity):
    return np.stack([action, reward, propensity], axis=1).astype("float32")


@pytest.mark.parametrize("keras", [2, 3])
@pytest.mark.parametrize("reward_model,kind", [("per_action", "dnn"), ("per_action", "wide_deep"),
                                               ("shared", "dnn")])
def test_both_reward_models_score_every_action_and_train(keras, reward_model, kind):
    model = policy.build_reward_model(
        FEATURES, {"keras": keras, "kind": kind, "hidden_units": [4], "learning_rate": 0.05},
        dict(BANDIT, reward_model=reward_model))
    assert compat.is_keras3(model) == (keras == 3)
    x = context(8)
    assert tuple(model(x, training=False).shape) == (8, 4)
    y = y_true(np.arange(8) % 4, np.where(np.arange(8) % 4 == 2, 1.0, 0.0), np.full(8, 0.25))
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < first


def test_the_shared_model_scores_each_action_with_the_same_network():
    """The grid layer puts every context beside every action's one-hot: with the action
    part of the first layer's weights zeroed, every action scores the same."""
    model = policy.build_reward_model(FEATURES, {"keras": 3, "hidden_units": [4]},
                                      dict(BANDIT, reward_model="shared"))
    layer = model.get_layer("shared_hidden_0")
    kernel = layer.kernel.numpy()
    kernel[-len(ACTIONS):] = 0.0  # the one-hot action's rows
    layer.kernel.assign(kernel)
    scores = model(context(), training=False).numpy()
    np.testing.assert_allclose(scores, scores[:, :1].repeat(len(ACTIONS), axis=1), atol=1e-6)


@pytest.mark.parametrize("keras", [2, 3])
def test_the_loss_moves_only_the_chosen_actions_output(keras):
    import tensorflow as tf

    model = policy.build_reward_model(FEATURES, {"keras": keras, "kind": "linear"}, BANDIT)
    head = model.get_layer("scores")
    action = np.array([1, 3, 1, 3, 1, 3])  # actions 0 and 2 never chosen
    y = y_true(action, np.ones(6), np.full(6, 0.5))
    with tf.GradientTape(persistent=True) as tape:
        scores = model(context(), training=True)
        tape.watch(scores)
        loss = tf.reduce_mean(policy.logged_reward_loss()(tf.constant(y), scores))
    d_scores = tape.gradient(loss, scores).numpy()
    chosen = np.eye(4, dtype=bool)[action]
    assert (d_scores[~chosen] == 0).all() and (d_scores[chosen] != 0).all()
    np.testing.assert_allclose(d_scores[chosen], 2 * (scores.numpy()[chosen] - 1) / 6,
                               rtol=1e-5)
    d_kernel, d_bias = (g.numpy() for g in tape.gradient(loss, [head.kernel, head.bias]))
    assert (d_kernel[:, [0, 2]] == 0).all() and (d_bias[[0, 2]] == 0).all()
    assert (d_bias[[1, 3]] != 0).all()


def test_importance_weighting_divides_each_rows_loss_by_its_propensity():
    import tensorflow as tf

    scores = tf.constant([[0.0, 1.0, 2.0], [3.0, 0.5, 0.0]])
    y = tf.constant(y_true(np.array([2, 0]), np.array([1.0, -1.0]), np.array([0.25, 0.5])))
    plain = policy.logged_reward_loss(False)(y, scores).numpy()
    weighted = policy.logged_reward_loss(True)(y, scores).numpy()
    np.testing.assert_allclose(plain, [1.0, 16.0])  # (2 - 1)^2, (3 + 1)^2
    np.testing.assert_allclose(weighted, [4.0, 32.0])


SCORES = np.array([[0.1, 0.9, 0.3, 0.2], [2.0, -1.0, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]],
                  dtype="float32")


def test_epsilon_greedy_puts_one_minus_epsilon_more_on_the_best_action():
    probs = policy.exploration_probabilities(
        SCORES, {"kind": "epsilon_greedy", "epsilon": 0.2}).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    best = SCORES.argmax(axis=1)
    np.testing.assert_allclose(probs[np.arange(3), best], 0.8 + 0.2 / 4, atol=1e-6)
    np.testing.assert_allclose(np.sort(probs, axis=1)[:, :3], 0.05, atol=1e-6)
    # a dumped config names every field, the unused ones None
    dumped = policy.exploration_probabilities(
        SCORES, {"kind": "epsilon_greedy", "epsilon": None, "temperature": None}).numpy()
    np.testing.assert_allclose(dumped.max(axis=1), 0.9 + 0.1 / 4, atol=1e-6)
    greedy = policy.exploration_probabilities(SCORES, None).numpy()
    np.testing.assert_array_equal(greedy, np.eye(4)[best])


def test_softmax_is_boltzmann_over_the_scores():
    probs = policy.exploration_probabilities(
        SCORES, {"kind": "softmax", "temperature": 0.5}).numpy()
    want = np.exp(SCORES / 0.5)
    np.testing.assert_allclose(probs, want / want.sum(axis=1, keepdims=True), rtol=1e-5)
    cold = policy.softmax_probabilities(SCORES, 0.01).numpy()
    np.testing.assert_allclose(cold, np.eye(4)[SCORES.argmax(axis=1)], atol=1e-6)


def test_seeded_sampling_repeats_and_follows_the_probabilities():
    probs = np.tile([[0.1, 0.6, 0.3, 0.0]], (4000, 1)).astype("float32")
    first = policy.sample_actions(probs, seed=7).numpy()
    np.testing.assert_array_equal(first, policy.sample_actions(probs, seed=7).numpy())
    freq = np.bincount(first, minlength=4) / len(first)
    np.testing.assert_allclose(freq, probs[0], atol=0.03)
    assert freq[3] == 0
    unseeded = policy.sample_actions(probs).numpy()
    assert unseeded.shape == (4000,) and set(unseeded) <= {0, 1, 2}


def test_decide_greedy_and_exploring():
    greedy = {k: v.numpy() for k, v in policy.decide(SCORES, ACTIONS).items()}
    assert set(greedy) == set(policy.POLICY_OUTPUTS)
    best = SCORES.argmax(axis=1)
    assert greedy["action_id"][:, 0].tolist() == best.tolist()
    assert [a.decode() for a in greedy["action"][:, 0]] == [ACTIONS[i] for i in best]
    np.testing.assert_array_equal(greedy["propensity"], np.ones((3, 1)))
    assert [[a.decode() for a in row] for row in greedy["ranked_actions"]] == [
        ["b", "c", "d", "a"], ["a", "d", "c", "b"], ["d", "a", "b", "c"]]  # ties: first first
    np.testing.assert_array_equal(greedy["scores"], SCORES)

    exploring = {k: v.numpy() for k, v in policy.decide(
        SCORES, ACTIONS, {"kind": "softmax", "temperature": 1.0}, seed=3).items()}
    rows = np.arange(3)
    chosen = exploring["action_id"][:, 0]
    np.testing.assert_allclose(exploring["propensity"][:, 0],
                               exploring["action_probabilities"][rows, chosen])
    assert all(v.shape[0] == 3 and v.ndim == 2 for v in exploring.values())


def test_training_pairs_and_context_features_leave_out_the_logged_columns():
    import tensorflow as tf

    spec = {"label": "r", "bandit": BANDIT}
    assert policy.logged_columns(spec) == ["arm_xf", "p_xf"]
    infos = FEATURES + [FeatureInfo("arm_xf", "categorical", 4), FeatureInfo("p_xf", "dense")]
    assert policy.context_features(infos, spec) == FEATURES
    features = dict(context(3), arm_xf=tf.constant([2, 0, 1], tf.int64),
                    p_xf=tf.constant([0.5, 0.25, 1.0]))
    x, y = policy.training_pairs(spec, ["x_xf", "s_xf"])(features, tf.constant([1, 0, -1]))
    assert set(x) == {"x_xf", "s_xf"}
    np.testing.assert_array_equal(y.numpy(), [[2, 1, 0.5], [0, 0, 0.25], [1, -1, 1]])


def test_errors():
    with pytest.raises(ValueError, match="epsilon must be in"):
        policy.exploration_probabilities(SCORES, {"kind": "epsilon_greedy", "epsilon": 1.5})
    with pytest.raises(ValueError, match="temperature must be > 0"):
        policy.exploration_probabilities(SCORES, {"kind": "softmax", "temperature": 0})
    with pytest.raises(ValueError, match="exploration.kind: 'ucb'"):
        policy.exploration_probabilities(SCORES, {"kind": "ucb"})
    with pytest.raises(ValueError, match="bandit.reward_model: 'tree'"):
        policy.build_reward_model(FEATURES, {}, dict(BANDIT, reward_model="tree"))
    with pytest.raises(ValueError, match="at least 2 actions"):
        policy.build_reward_model(FEATURES, {}, dict(BANDIT, actions=["a"]))
    with pytest.raises(ValueError, match="no context features"):
        policy.build_reward_model([], {}, BANDIT)
    with pytest.raises(ValueError, match="model.module .* is not used for task bandit"):
        policy.build_reward_model(FEATURES, {"module": "model.py"}, BANDIT)
    with pytest.raises(ValueError, match="unknown model kind"):
        policy.build_reward_model(FEATURES, {"kind": "gbdt"}, BANDIT)
