"""pipelines/scaffold/plan.py: label, task, key, features and gate from a profile."""
import pytest

from tfxkit.pipelines.scaffold.plan import PlanError, make_plan
from tfxkit.pipelines.scaffold.profile import profile


def prof(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return profile(str(p))


def rows(n, fn):
    return "".join(fn(i) + "\n" for i in range(n))


@pytest.fixture
def mixed(tmp_path):
    """id, numeric (some missing), skewed positive, low- and high-cardinality strings,
    a constant, a string label with 3 classes (b is the majority, 0.5 of rows)."""
    head = "order_id,x,amount,city,user,const,species\n"
    body = rows(40, lambda i: f"o{i},{'' if i % 10 == 3 else i * 0.5},"
                f"{1000 if i == 0 else i % 7 + 1},{'ab'[i % 2]},u{i % 37},k,"
                f"{'b' if i % 2 else 'ac'[i % 4 // 2]}")
    return prof(tmp_path, head + body)


def test_features_key_label_and_gate(mixed):
    plan = make_plan(mixed)
    assert (plan.label, plan.task) == ("species", "multiclass")
    assert "usual label name" in plan.label_why and "string with 3" in plan.task_why
    assert plan.label_classes == ["a", "b", "c"]
    assert plan.key == "order_id" and "never a feature" in plan.key_why
    assert plan.dense == ["x", "amount"] and plan.log == ["amount"]
    assert plan.impute == {"x": "median"}
    assert "4 of 40 missing" in plan.why["x"] and "log" in plan.why["amount"]
    assert plan.vocab == {"city": 2, "user": 37} and plan.hash == {}  # 37 <= VOCAB_MAX
    assert "const" in plan.dropped and "order_id" not in plan.features
    g = plan.gate
    assert (g.metric, g.bound, g.value) == ("accuracy", "lower_bound", 0.55)
    assert g.line() == "gate: accuracy >= 0.55 (majority class 'b' is 0.50 of rows, +0.05)"


def test_regression_gate_is_the_mean_predictors_mae(tmp_path):
    p = prof(tmp_path, "f,y\n" + rows(30, lambda i: f"{i * i},{i * 2.5 + 0.1}"))
    plan = make_plan(p, label="y")
    mae = sum(abs(i * 2.5 - 14.5 * 2.5) for i in range(30)) / 30
    assert plan.task == "regression" and plan.gate.metric == "mae"
    assert plan.gate.bound == "upper_bound"
    assert plan.gate.value == pytest.approx(mae * 0.9, rel=1e-2)
    assert "predicting the mean" in plan.gate.line()
    assert plan.key is None and "hash of the whole row" in plan.key_why


def test_binary_and_its_classes(tmp_path):
    p = prof(tmp_path, "f,label\n" + rows(20, lambda i: f"{i * 0.3},{i % 2}"))
    plan = make_plan(p)
    assert plan.task == "binary" and plan.label_classes is None  # 0/1 is its own id
    p = prof(tmp_path, "f,label\n" + rows(20, lambda i: f"{i * 0.3},{'yes' if i % 3 else 'no'}"),
             "yn.csv")
    plan = make_plan(p)
    assert plan.label_classes == ["no", "yes"]
    assert plan.gate.value == pytest.approx(0.7)  # yes: 13 of 20 = 0.65, +0.05


def test_integer_label_with_few_values_needs_task(tmp_path):
    p = prof(tmp_path, "f,target\n" + rows(30, lambda i: f"{i * 0.3},{i % 3}"))
    with pytest.raises(PlanError, match="classes or a quantity\\? Give --task multiclass or "
                                        "--task regression"):
        make_plan(p)
    assert make_plan(p, task="multiclass").label_classes == ["0", "1", "2"]
    assert make_plan(p, task="regression").gate.metric == "mae"
    with pytest.raises(PlanError, match="--task binary: label 'target' has 3 distinct"):
        make_plan(p, task="binary")


def test_no_obvious_label_lists_candidates(tmp_path):
    p = prof(tmp_path, "id,a,b\n" + rows(5, lambda i: f"{i},{i % 2},{i * 1.5}"))
    with pytest.raises(PlanError) as e:
        make_plan(p)
    assert "--label COLUMN; candidates: a, b" in str(e.value)
    with pytest.raises(PlanError, match="--label 'B': not a column .* did you mean 'b'"):
        make_plan(p, label="B")


def test_bad_key_and_missing_labels(tmp_path):
    p = prof(tmp_path, "k,f,y\n" + rows(30, lambda i: f"{i % 5},{i},{'' if i == 4 else i * 1.1}"))
    with pytest.raises(PlanError, match="--key 'k': not a row id"):
        make_plan(p, label="f", key="k")
    with pytest.raises(PlanError, match="label 'y': 1 of 30 rows have no value"):
        make_plan(p, label="y")


def test_hash_buckets_for_many_strings(tmp_path):
    p = prof(tmp_path, "name,f,y\n" + rows(200, lambda i: f"n{i % 90},{i},{i * 0.7}"))
    plan = make_plan(p, label="y")
    assert plan.hash == {"name": 256} and "90 distinct values: hashed into 256" in plan.why["name"]
