"""``tfxkit choices export`` (infra/serving/choice_export.py): the choice log joined with
its rewards as one CSV file of the source's columns, which the config reads as data."""
import csv

import pytest

from tfxkit.infra.serving.choice_export import choice_log_path, columns_of, export
from tfxkit.infra.serving.choice_log import ChoiceLog
from tfxkit.pipelines.config import check_data, load_config
from tests.unit.pipelines.config.test_bandit import BANDIT, bandit

DAY1 = 1767225600.0  # 2026-01-01 00:00 UTC
CONFIG = BANDIT + """
inference:
  source: {csv: data.csv}
  key: user_id
  store: {sqlite: predictions.sqlite}
"""


def example(age, country):
    from tensorflow.core.example import example_pb2

    ex = example_pb2.Example()
    ex.features.feature["age"].int64_list.value.append(age)
    ex.features.feature["country"].bytes_list.value.append(country.encode())
    return ex.SerializeToString()


@pytest.fixture
def cfg(tmp_path):
    c = load_config(bandit(tmp_path, CONFIG))
    log = ChoiceLog(choice_log_path(c), lambda: DAY1)
    log.choices("r1", "4", [{"action": "r02", "propensity": 0.7},
                            {"action": "r03", "propensity": 0.1}],
                ["11", "12"], [example(31, "ch"), example(45, "de")])
    log.choices("r2", "4", [{"action": "r01", "propensity": 0.7}], ["13"],
                [example(22, "fr")])
    log.rewards([("r1", 1, -1), ("r2", 0, 1), ("r2", 0, 0)])  # the repeat does not count
    log.close()
    return c


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_export_is_the_sources_columns_and_the_config_reads_it(cfg, tmp_path):
    out = tmp_path / "next" / "week.csv"
    s = export(cfg, str(out))
    assert s["rows"] == 3 and s["rewarded"] == 2 and s["default_reward"] == 1
    assert s["repeated_rewards"] == 1 and s["versions"] == ["4"]
    assert s["log"] == str(tmp_path / "models" / "choices")  # beside the local registry
    with open(out) as f:
        assert f.readline().strip() == "user_id,age,country,recommender,propensity,reward"
    assert rows(out) == [
        {"user_id": "11", "age": "31", "country": "ch", "recommender": "r02",
         "propensity": "0.7", "reward": "0.0"},
        {"user_id": "12", "age": "45", "country": "de", "recommender": "r03",
         "propensity": "0.1", "reward": "-1"},
        {"user_id": "13", "age": "22", "country": "fr", "recommender": "r01",
         "propensity": "0.7", "reward": "1"}]
    assert s["reward_mean"] == pytest.approx(0.0)
    # the next round: the same config on the exported file passes the data checks
    (tmp_path / "n").mkdir()
    nxt = load_config(bandit(tmp_path / "n", CONFIG, out.read_text()))
    assert check_data(nxt)["rows"] == 3


def test_unrewarded_choices_dropped_or_given_a_reward(cfg, tmp_path):
    s = export(cfg, str(tmp_path / "a.csv"), drop_unrewarded=True)
    assert s["rows"] == 2 and s["dropped"] == 1
    export(cfg, str(tmp_path / "b.csv"), default_reward=-0.5)
    assert [r["reward"] for r in rows(tmp_path / "b.csv")] == ["-0.5", "-1", "1"]


def test_a_column_the_log_cannot_fill_is_empty_or_filled(cfg, tmp_path):
    (tmp_path / "data.csv").write_text("user_id,age,country,recommender,propensity,reward,"
                                       "week\n1,31,ch,r01,0.5,1,2026-01-01\n")
    s = export(cfg, str(tmp_path / "a.csv"))
    assert s["empty_columns"] == {"week": 3}
    assert {r["week"] for r in rows(tmp_path / "a.csv")} == {""}
    s = export(cfg, str(tmp_path / "b.csv"), fill={"week": "2026-01-08"})
    assert s["empty_columns"] == {} and {r["week"] for r in rows(tmp_path / "b.csv")} == \
        {"2026-01-08"}
    with pytest.raises(ValueError, match="--fill month: not a column"):
        export(cfg, str(tmp_path / "c.csv"), fill={"month": "1"})


def test_without_a_csv_file_the_columns_are_the_configs(cfg, tmp_path):
    (tmp_path / "data.csv").unlink()
    assert columns_of(cfg) == ["user_id", "age", "country", "recommender", "reward",
                               "propensity"]


def test_refusals_name_the_reason_and_write_nothing(cfg, tmp_path):
    existing = tmp_path / "data.csv"
    before = existing.read_text()
    with pytest.raises(FileExistsError, match="data.csv exists"):
        export(cfg, str(existing))
    assert existing.read_text() == before
    with pytest.raises(LookupError, match="no choices logged .* from 2026-02-01"):
        export(cfg, str(tmp_path / "x.csv"), since="2026-02-01")
    with pytest.raises(ValueError, match="--since: .*YYYY-MM-DD"):
        export(cfg, str(tmp_path / "x.csv"), since="1 Jan")
    assert not (tmp_path / "x.csv").exists()


def test_nothing_to_write_when_every_choice_is_dropped(tmp_path):
    c = load_config(bandit(tmp_path, CONFIG))
    log = ChoiceLog(choice_log_path(c), lambda: DAY1)
    log.choices("r1", "4", [{"action": "r02", "propensity": 0.7}], ["11"], [example(3, "ch")])
    log.close()
    with pytest.raises(LookupError, match="every one of the 1 choices has no reward"):
        export(c, str(tmp_path / "x.csv"), drop_unrewarded=True)
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "x.csv.partial").exists()


def test_only_a_bandit_has_choices(tmp_path):
    from tests.unit.pipelines.config.test_loader import write

    with pytest.raises(ValueError, match="only a bandit's served choices"):
        export(load_config(write(tmp_path)), str(tmp_path / "x.csv"))
