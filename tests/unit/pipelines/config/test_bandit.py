"""The ``bandit:`` section and ``task: bandit`` (``config/bandit.py``, checked across sections
in ``config/pipeline.py``): what a contextual bandit's config must say, each mistake failing
naming its field."""
import pytest

from tfxkit.pipelines.config import (OPE_METRICS, Bandit, Bootstrap, Exploration, check_data,
                                     load_config, metric_names)
from tests.unit.pipelines.config.test_loader import load_err, write

# Logged feedback: context (age, country), the logged action, its propensity, the reward.
CSV = ("user_id,age,country,recommender,propensity,reward\n"
       "1,31,ch,r01,0.5,1\n"
       "2,45,de,r02,0.25,0\n"
       "3,22,ch,r03,0.25,-1\n"
       "4,60,fr,r01,1.0,0\n")

# The example config of a bandit (what templates/bandit/config.yaml will hold, on this data).
BANDIT = """
name: newsletter
task: bandit
label: reward
data:
  source: {csv: data.csv}
features:
  dense: [age]
  vocab: [country]
bandit:
  action: recommender
  actions: [r01, r02, r03]
  propensity: propensity
  reward_model: per_action
  importance_weighted: false
  exploration: {kind: epsilon_greedy, epsilon: 0.1}
  serve: exploring
  bootstrap: {resamples: 500, level: 0.95, seed: 0}
eval:
  metrics:
    - {name: policy_value_dr, lower_bound: 0.0, absolute_change: -0.01}
    - {name: policy_value_snips, relative_change: -0.05}
    - {name: mse, upper_bound: 2.0}
"""


def bandit(tmp_path, body=BANDIT, csv=CSV):
    return write(tmp_path, body, csv)


def test_the_example_config_loads_and_checks(tmp_path):
    cfg = load_config(bandit(tmp_path))
    b = cfg.bandit
    assert cfg.task == "bandit" and cfg.label == "reward"
    assert (b.action, b.propensity, b.actions) == ("recommender", "propensity",
                                                   ["r01", "r02", "r03"])
    assert (b.reward_model, b.importance_weighted, b.serve) == ("per_action", False,
                                                                "exploring")
    assert (b.exploration.kind, b.exploration.epsilon, b.exploration.temperature) == \
        ("epsilon_greedy", 0.1, None)
    assert (b.bootstrap.resamples, b.bootstrap.level, b.bootstrap.seed) == (500, 0.95, 0)
    assert check_data(cfg)["rows"] == 4


def test_defaults_of_the_section():
    b = Bandit(action="a", actions=["x", "y"], propensity="p")
    assert (b.reward_model, b.importance_weighted, b.serve) == ("per_action", False,
                                                                "exploring")
    assert (b.exploration.kind, b.exploration.epsilon) == ("epsilon_greedy", 0.1)
    assert b.bootstrap == Bootstrap(resamples=500, level=0.95, seed=0)
    assert Exploration(kind="softmax").temperature == 1.0
    assert Exploration(kind="softmax").epsilon is None


def test_softmax_exploration_and_greedy_serving(tmp_path):
    body = BANDIT.replace("{kind: epsilon_greedy, epsilon: 0.1}",
                          "{kind: softmax, temperature: 0.5}").replace(
        "serve: exploring", "serve: greedy").replace("per_action", "shared")
    cfg = load_config(bandit(tmp_path, body))
    assert (cfg.bandit.exploration.kind, cfg.bandit.exploration.temperature) == ("softmax", 0.5)
    assert cfg.bandit.serve == "greedy" and cfg.bandit.reward_model == "shared"


def test_integer_actions_are_compared_as_text(tmp_path):
    csv = CSV.replace("r0", "")
    cfg = load_config(bandit(tmp_path, BANDIT.replace("[r01, r02, r03]", "[1, 2, 3]"), csv))
    assert cfg.bandit.actions == ["1", "2", "3"]
    assert check_data(cfg)["rows"] == 4


def test_section_required_for_a_bandit(tmp_path):
    body = BANDIT[:BANDIT.index("bandit:\n")] + BANDIT[BANDIT.index("eval:"):]
    e = load_err(bandit(tmp_path, body))
    assert "bandit: task bandit needs a bandit section" in str(e)


def test_section_refused_for_other_tasks(tmp_path):
    body = BANDIT.replace("task: bandit", "task: regression").replace(
        "policy_value_dr, lower_bound: 0.0, absolute_change: -0.01", "mae, upper_bound: 9")
    body = body.replace("    - {name: policy_value_snips, relative_change: -0.05}\n", "")
    e = load_err(bandit(tmp_path, body))
    assert "bandit: only for task bandit (this is task regression)" in str(e)


@pytest.mark.parametrize("old, new, message", [
    ("propensity: propensity", "propensity: recommender",
     "action and propensity are both column 'recommender'"),
    ("label: reward", "label: recommender", "bandit.action: 'recommender' is also label"),
    ("label: reward", "label: propensity", "bandit.propensity: 'propensity' is also label"),
    ("dense: [age]", "dense: [age, propensity]",
     "bandit.propensity: 'propensity' is also listed as a feature"),
    ("vocab: [country]", "vocab: [country, recommender]",
     "bandit.action: 'recommender' is also listed as a feature"),
    ("dense: [age]", "dense: [age, reward]", "label 'reward' is also listed as a feature"),
])
def test_bandit_columns_are_three_and_no_feature(tmp_path, old, new, message):
    e = load_err(bandit(tmp_path, BANDIT.replace(old, new)))
    assert message in str(e), str(e)


@pytest.mark.parametrize("actions, field, message", [
    ("[r01]", "bandit.actions", "at least 2"),
    ("[r01, r02, r01]", "bandit.actions", "distinct, ['r01'] appear more than once"),
    ("[r01, '']", "bandit.actions", "empty"),
])
def test_action_list(tmp_path, actions, field, message):
    e = load_err(bandit(tmp_path, BANDIT.replace("[r01, r02, r03]", actions)))
    assert e.field == field and message in e.reason, str(e)


@pytest.mark.parametrize("exploration, field, message", [
    ("{kind: epsilon_greedy, epsilon: 1.5}", "bandit.exploration.epsilon", "less than or equal to 1"),
    ("{kind: epsilon_greedy, epsilon: -0.1}", "bandit.exploration.epsilon", "greater than or equal to 0"),
    ("{kind: softmax, temperature: 0}", "bandit.exploration.temperature", "greater than 0"),
    ("{kind: softmax, temperature: -1}", "bandit.exploration.temperature", "greater than 0"),
    ("{kind: softmax, epsilon: 0.1}", "bandit.exploration", "epsilon is for kind epsilon_greedy"),
    ("{kind: epsilon_greedy, temperature: 2}", "bandit.exploration", "temperature is for kind softmax"),
    ("{kind: thompson}", "bandit.exploration.kind", "'thompson'"),
])
def test_exploration_parameters(tmp_path, exploration, field, message):
    body = BANDIT.replace("{kind: epsilon_greedy, epsilon: 0.1}", exploration)
    e = load_err(bandit(tmp_path, body))
    assert e.field == field and message in e.reason, str(e)


def test_epsilon_bounds_are_allowed(tmp_path):
    for eps in ("0", "1"):
        body = BANDIT.replace("epsilon: 0.1", f"epsilon: {eps}")
        assert load_config(bandit(tmp_path, body)).bandit.exploration.epsilon == float(eps)


@pytest.mark.parametrize("old, new, field", [
    ("serve: exploring", "serve: random", "bandit.serve"),
    ("reward_model: per_action", "reward_model: tree", "bandit.reward_model"),
    ("level: 0.95", "level: 1.0", "bandit.bootstrap.level"),
    ("resamples: 500", "resamples: 3", "bandit.bootstrap.resamples"),
    ("serve: exploring", "serve: exploring\n  policy: greedy", "bandit.policy"),
])
def test_other_fields(tmp_path, old, new, field):
    e = load_err(bandit(tmp_path, BANDIT.replace(old, new)))
    assert e.field == field, str(e)


def test_label_classes_refused(tmp_path):
    e = load_err(bandit(tmp_path, BANDIT + "label_classes: ['-1', '0', '1']\n"))
    assert "label_classes: only for binary and multiclass tasks" in str(e)


def test_bandit_metric_names():
    assert metric_names("bandit") == [*OPE_METRICS, "mse", "rmse", "mae", "auc"]
    for task in ("binary", "multiclass", "regression"):
        assert not set(OPE_METRICS) & set(metric_names(task))


@pytest.mark.parametrize("metric", ["auc_pr", "accuracy", "mape"])
def test_metrics_of_other_tasks_refused(tmp_path, metric):
    e = load_err(bandit(tmp_path, BANDIT.replace("name: mse", f"name: {metric}")))
    assert f"unknown metric {metric!r} for task bandit" in str(e)
    assert "policy_value_dr" in str(e)


def test_ope_metrics_refused_for_other_tasks(tmp_path):
    from tests.unit.pipelines.config.test_loader import BASE

    e = load_err(write(tmp_path, BASE.replace("name: accuracy", "name: policy_value_ips")))
    assert "unknown metric 'policy_value_ips' for task multiclass" in str(e)


def test_ope_metric_thresholds(tmp_path):
    e = load_err(bandit(tmp_path, BANDIT.replace("lower_bound: 0.0,", "upper_bound: 0.5,")))
    assert "eval.metrics[0].upper_bound: policy_value_dr is a policy value" in str(e)
    sliced = BANDIT.replace("absolute_change: -0.01}",
                            "absolute_change: -0.01, slices: {country: {lower_bound: 0}}}")
    e = load_err(bandit(tmp_path, sliced))
    assert "eval.metrics[0].slices: policy_value_dr is estimated on the whole" in str(e)
    # the reward model's metrics keep their slices
    ok = BANDIT.replace("upper_bound: 2.0}", "upper_bound: 2.0, slices: {country: "
                        "{upper_bound: 3}}}")
    assert load_config(bandit(tmp_path, ok)).eval.metrics[2].slices


def test_a_gate_needs_a_bound(tmp_path):
    body = BANDIT.replace("lower_bound: 0.0, ", "").replace("{name: mse, upper_bound: 2.0}",
                                                            "{name: mse}")
    e = load_err(bandit(tmp_path, body))
    assert "give at least one metric with a lower_bound or upper_bound" in str(e)


def test_fairness_refused_and_the_canary_judged_on_reward(tmp_path):
    from tfxkit.infra.canary.policy import policy_from_config

    e = load_err(bandit(tmp_path, BANDIT + "  fairness: {features: [country]}\n"))
    assert "eval.fairness: Fairness Indicators need a binary or multiclass task" in str(e)
    e = load_err(bandit(tmp_path, BANDIT + "serving: {canary: {quality_metric: mae}}\n"))
    assert "serving.canary.quality_metric: 'mae' does not fit task bandit; use reward" \
        in str(e)
    ok = load_config(bandit(tmp_path, BANDIT + "serving: {canary: {steps: [0.5, 1.0]}}\n"))
    assert ok.serving.canary.quality_metric is None
    assert policy_from_config(ok).quality_metric == "reward"  # the mean reward fed back


def test_inference_key_is_not_a_bandit_column(tmp_path):
    body = BANDIT + "inference: {source: {csv: data.csv}, key: recommender}\n"
    e = load_err(bandit(tmp_path, body))
    assert "inference.key: 'recommender' is a bandit column" in str(e)
