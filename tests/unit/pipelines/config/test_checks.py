"""The data checks (``config/checks.py``, ``check_data``): what the config names must be in
the data, with values a model can use."""
import pytest

from tfxkit.pipelines.config import check_data, load_config
from tests.unit.pipelines.config.test_bandit import BANDIT, CSV as BANDIT_CSV
from tests.unit.pipelines.config.test_loader import BASE, CSV, load_err, write


def test_label_absent_from_data(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("label: species", "label: kind")))
    assert e.field == "label" and "'kind'" in e.reason and "not in the data" in e.reason


def test_feature_absent_from_data(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("[bill, mass]", "[bill, weight]")))
    assert e.field == "features.dense" and "'weight'" in e.reason


def test_path_does_not_exist(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("data.csv", "nope/*.csv")))
    assert e.field == "data.source.csv" and "matches no file" in e.reason


def test_empty_data(tmp_path):
    e = load_err(write(tmp_path, csv="id,species,island,bill,mass,year\n"))
    assert e.field == "data.source.csv" and "empty" in e.reason


def test_text_column_as_dense(tmp_path):
    body = BASE.replace("[bill, mass]", "[bill, island]").replace("vocab: {island: {top_k: 3}}",
                                                                  "hash: {id: 4}")
    e = load_err(write(tmp_path, body))
    assert e.field == "features.dense" and "numeric" in e.reason


def test_label_with_missing_values(tmp_path):
    e = load_err(write(tmp_path, csv=CSV + "4,,x,1.0,1.0,2007\n"))
    assert e.field == "label" and "1 of 4 rows" in e.reason


def test_glob_and_folder_sources(tmp_path):
    (tmp_path / "d").mkdir()
    for i in range(2):
        (tmp_path / "d" / f"part-{i}.csv").write_text(CSV)
    body = BASE.replace("data.csv", "d/part-*.csv")
    info = check_data(load_config(write(tmp_path, body)))
    assert info["rows"] == 6 and len(info["files"]) == 2
    info = check_data(load_config(write(tmp_path, BASE.replace("data.csv", "d"))))
    assert info["rows"] == 6


def test_parquet_source(tmp_path):
    import duckdb

    write(tmp_path)
    duckdb.sql(f"COPY (SELECT * FROM read_csv_auto('{tmp_path / 'data.csv'}')) "
               f"TO '{tmp_path / 'data.parquet'}' (FORMAT parquet)")
    cfg = load_config(write(tmp_path, BASE.replace("{csv: data.csv}", "{parquet: data.parquet}")))
    assert check_data(cfg)["rows"] == 3


def test_categorical_int_on_text(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("vocab: {island: {top_k: 3}}",
                                              "categorical_int: {island: 3}")))
    assert e.field == "features.categorical_int.island" and "integer" in e.reason


def test_text_constant_for_numeric_column(tmp_path):
    e = load_err(write(tmp_path, BASE.replace(
        "dense: [bill, mass]", "dense: [bill, mass]\n  impute: {bill: {constant: abc}}")))
    assert e.field == "features.impute.bill" and "'abc' is text" in e.reason


def test_binary_label_checks(tmp_path):
    body = BASE.replace("task: multiclass", "task: binary").replace(
        "name: accuracy", "name: auc")
    e = load_err(write(tmp_path, body))
    assert "label_classes" in str(e) and "need label_classes" in str(e)
    e = load_err(write(tmp_path, body, csv=CSV + "4,C,x,1.0,1.0,2007\n"))
    assert e.field == "label" and "exactly 2 values" in e.reason
    ok = load_config(write(tmp_path, body + "label_classes: [B, A]\n"))
    assert check_data(ok)["rows"] == 3


def test_null_split_key(tmp_path):
    body = BASE.replace("{csv: data.csv}", "{csv: data.csv}\n  split: {key: bill}")
    e = load_err(write(tmp_path, body))
    assert e.field == "data.split.key" and "1 row(s) have no 'bill'" in e.reason
    body = body.replace("key: bill}", "key: bill, on_null_key: reject}")
    assert check_data(load_config(write(tmp_path, body)))["rows"] == 3


# -- task: bandit (the example config and data of test_bandit.py) ---------------------------

def _bandit(tmp_path, body=None, csv=None):
    return write(tmp_path, body or BANDIT, BANDIT_CSV if csv is None else csv)


def _bandit_csv(**rows):
    """The bandit CSV with data rows replaced: {row number (1-based): 'line'}."""
    lines = BANDIT_CSV.splitlines()
    for k, line in rows.items():
        lines[int(k[1:])] = line
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("old, new, field, name, close", [
    ("action: recommender", "action: recomender", "bandit.action", "recomender",
     "recommender"),
    ("propensity: propensity", "propensity: propensty", "bandit.propensity", "propensty",
     "propensity"),
    ("label: reward", "label: rewards", "label", "rewards", "reward"),
    ("propensity: propensity", "propensity: pscore", "bandit.propensity", "pscore", None),
])
def test_bandit_columns_absent_suggest_the_closest(tmp_path, old, new, field, name, close):
    e = load_err(_bandit(tmp_path, BANDIT.replace(old, new)))
    assert e.field == field and f"column {name!r} is not in the data" in e.reason, str(e)
    if close:
        assert f"did you mean {close!r}?" in e.reason
    else:
        assert "did you mean" not in e.reason
    assert "columns: user_id, age, country, recommender, propensity, reward" in e.reason


def test_absent_feature_suggests_the_closest(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("[bill, mass]", "[bill, mas]")))
    assert e.field == "features.dense" and "did you mean 'mass'?" in e.reason


@pytest.mark.parametrize("line, shown", [
    ("3,22,ch,r03,0,-1", "0.0"),
    ("3,22,ch,r03,1.5,-1", "1.5"),
    ("3,22,ch,r03,-0.2,-1", "-0.2"),
    ("3,22,ch,r03,,-1", "empty"),
    ("3,22,ch,r03,nan,-1", "nan"),
])
def test_propensity_outside_0_1_names_file_row_and_value(tmp_path, line, shown):
    e = load_err(_bandit(tmp_path, csv=_bandit_csv(r3=line)))
    assert e.field == "bandit.propensity", str(e)
    assert e.reason.startswith(f"{tmp_path / 'data.csv'}, data row 3: column 'propensity' "
                               f"is {shown};"), e.reason
    assert "(0, 1]" in e.reason


def test_propensity_as_text_names_the_first_value_that_is_no_number(tmp_path):
    e = load_err(_bandit(tmp_path, csv=_bandit_csv(r2="2,45,de,r02,high,0")))
    assert e.field == "bandit.propensity"
    assert "data.csv, data row 2: column 'propensity' is 'high'" in e.reason
    assert "(0, 1]" in e.reason


def test_propensity_of_another_type(tmp_path):
    csv = _bandit_csv(r1="1,31,ch,r01,true,1", r2="2,45,de,r02,false,0",
                      r3="3,22,ch,r03,true,-1", r4="4,60,fr,r01,true,0")
    body = BANDIT.replace("source: {csv: data.csv}",
                           "source: {csv: data.csv, query: 'SELECT * EXCLUDE "
                           "(propensity), propensity = ''true'' AS propensity "
                           "FROM source'}")
    e = load_err(_bandit(tmp_path, body, csv))
    assert e.field == "bandit.propensity" and "is BOOLEAN, a number in (0, 1]" in e.reason


def test_propensity_in_the_second_file_and_counted(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "week-1.csv").write_text(BANDIT_CSV)
    bad = _bandit_csv(r2="2,45,de,r02,0,0", r4="4,60,fr,r01,2,0")
    (tmp_path / "d" / "week-2.csv").write_text(bad)
    e = load_err(_bandit(tmp_path, BANDIT.replace("data.csv", "d/week-*.csv")))
    assert e.reason.startswith(f"{tmp_path / 'd' / 'week-2.csv'}, data row 2: column "
                               "'propensity' is 0.0 (1 more row(s) too);"), e.reason


def test_file_without_the_propensity_column(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "week-1.csv").write_text(BANDIT_CSV)
    (tmp_path / "d" / "week-2.csv").write_text(
        "user_id,age,country,recommender,reward\n5,30,ch,r01,1\n")
    e = load_err(_bandit(tmp_path, BANDIT.replace("data.csv", "d")))
    assert e.field == "bandit.propensity"
    assert f"{tmp_path / 'd' / 'week-2.csv'} (it has no such column): column 'propensity' " \
           "is empty" in e.reason


def test_propensity_after_a_query_names_the_row_of_its_result(tmp_path):
    body = BANDIT.replace("source: {csv: data.csv}", "source: {csv: data.csv, query: "
                          "'SELECT * FROM source WHERE age > 30'}")
    e = load_err(_bandit(tmp_path, body, _bandit_csv(r4="4,60,fr,r01,0,0")))
    # rows 1, 2 and 4 of the file are the query's (age > 30): row 4 is its third
    assert e.reason.startswith("data.source.query's result, data row 3: column 'propensity' "
                               "is 0.0;"), e.reason


def test_propensity_of_1_and_parquet(tmp_path):
    import duckdb

    p = _bandit(tmp_path, csv=_bandit_csv(r2="2,45,de,r02,1,0"))
    assert check_data(load_config(p))["rows"] == 4
    duckdb.sql(f"COPY (SELECT * REPLACE (CAST(0 AS DOUBLE) AS propensity) FROM "
               f"read_csv_auto('{tmp_path / 'data.csv'}')) TO '{tmp_path / 'd.parquet'}' "
               "(FORMAT parquet)")
    e = load_err(_bandit(tmp_path, BANDIT.replace("{csv: data.csv}", "{parquet: d.parquet}")))
    assert e.reason.startswith(f"{tmp_path / 'd.parquet'}, data row 1: column 'propensity' "
                               "is 0.0 (3 more row(s) too)"), e.reason


def test_logged_actions_not_listed(tmp_path):
    csv = _bandit_csv(r2="2,45,de,r09,0.25,0", r3="3,22,ch,r07,0.25,-1",
                      r4="4,60,fr,r09,1.0,0")
    e = load_err(_bandit(tmp_path, csv=csv))
    assert e.field == "bandit.actions", str(e)
    assert e.reason == (f"{tmp_path / 'data.csv'}, data row 2: column 'recommender' is 'r09' "
                        "(2 more row(s) too), not one of bandit.actions; other actions not "
                        "listed: ['r07']")
    e = load_err(_bandit(tmp_path, csv=_bandit_csv(r3="3,22,ch,,0.25,-1")))
    assert "data row 3: column 'recommender' is empty" in e.reason


def test_reward_must_be_numeric(tmp_path):
    csv = _bandit_csv(r1="1,31,ch,r01,0.5,open", r2="2,45,de,r02,0.25,click",
                      r3="3,22,ch,r03,0.25,none", r4="4,60,fr,r01,1.0,click")
    e = load_err(_bandit(tmp_path, csv=csv))
    assert e.field == "label" and "reward and must be numeric" in e.reason
    assert "'reward' is VARCHAR" in e.reason
    # one value among numbers is a bad value, named with its row
    e = load_err(_bandit(tmp_path, csv=_bandit_csv(r2="2,45,de,r02,0.25,click")))
    assert e.field == "label" and "data row 2: column 'reward' is 'click', not a number" \
        in e.reason and len(e.problems) == 1
    e = load_err(_bandit(tmp_path, csv=_bandit_csv(r2="2,45,de,r02,0.25,")))
    assert e.field == "label" and "1 of 4 rows have no 'reward' value" in e.reason
    # a float reward is fine for a bandit (it is not a class)
    ok = _bandit(tmp_path, csv=_bandit_csv(r2="2,45,de,r02,0.25,0.5"))
    assert check_data(load_config(ok))["rows"] == 4


def test_the_newsletter_generator_passes_the_bandit_checks(tmp_path):
    from tfxkit.pipelines.datasets import newsletter
    newsletter.write_weeks(str(tmp_path / "weeks"), weeks=2, users_per_week=300, seed=3)
    body = BANDIT.replace("{csv: data.csv}", "{csv: 'weeks/newsletter-{YYYY}-{MM}-{DD}.csv'}")
    body = body.replace("recommender", "action").replace(
        "[r01, r02, r03]", "[" + ", ".join(newsletter.ACTIONS) + "]")
    body = body.replace("dense: [age]", "dense: [age, tenure_weeks, past_clicks]").replace(
        "vocab: [country]", "vocab: [country, device]")
    info = check_data(load_config(write(tmp_path, body)))
    assert info["rows"] == 600 and len(info["files"]) == 2
    short = body.replace(f", {newsletter.ACTIONS[-1]}]", "]")
    e = load_err(write(tmp_path, short))
    assert e.field == "bandit.actions" and f"is {newsletter.ACTIONS[-1]!r}" in e.reason


def test_every_data_problem_in_one_message(tmp_path):
    """A renamed column, a misspelt slice and a bad split key: three lines, each
    FILE: FIELD: reason, each with the closest column name."""
    csv = CSV.replace("mass", "flipper_mm")
    body = BASE.replace("[bill, mass]", "[bill, flipper_length_mm]").replace(
        "source: {csv: data.csv}", "source: {csv: data.csv}\n  split: {key: idd}").replace(
        "metrics: [", "slices: [islnd]\n  metrics: [")
    p = write(tmp_path, body, csv=csv)
    e = load_err(p)
    lines = str(e).splitlines()
    assert [ln.split(": ")[:2] for ln in lines] == [
        [str(p), "features.dense"], [str(p), "data.split.key"], [str(p), "eval.slices[0]"]]
    assert "column 'flipper_length_mm' is not in the data; did you mean 'flipper_mm'?" \
        in lines[0]
    assert "did you mean 'id'?" in lines[1] and "did you mean 'island'?" in lines[2]


@pytest.mark.parametrize("old, new, field", [
    ("vocab: {island: {top_k: 3}}", "vocab: {iland: {top_k: 3}}", "features.vocab.iland"),
    ("dense: [bill, mass]", "dense: [bill]\n  bucket: {mas: 3}", "features.bucket.mas"),
    ("dense: [bill, mass]", "dense: [bill, mass]\n  hash: {yeer: 3}", "features.hash.yeer"),
    ("metrics: [{name: accuracy, lower_bound: 0.5}]",
     "metrics: [{name: accuracy, lower_bound: 0.5, slices: {islnd: {lower_bound: 0.4}}}]",
     "eval.metrics[0].slices.islnd"),
])
def test_every_column_reference_suggests_the_closest(tmp_path, old, new, field):
    assert old in BASE
    e = load_err(write(tmp_path, BASE.replace(old, new)))
    assert e.field == field and "did you mean" in e.reason, str(e)


def test_rows_and_missing_values_are_counted_in_one_scan(tmp_path):
    """Every query re-reads (re-parses) the files: the row count and the rows without a
    split key or label come from one query (3M CSV rows: 23 s -> 11 s of checks here)."""
    from tfxkit.pipelines.config.checks import _columns_tabular, _nulls

    f = tmp_path / "d.csv"
    f.write_text("id,y,x\n1,2.0,a\n,3.0,b\n3,,c\n4,,d\n")
    info = _columns_tabular("csv", [str(f)], None, ["id", "y", "absent"])
    assert info["rows"] == 4
    assert info["nulls"] == {"id": 1, "y": 2}  # a column not in the data is left out
    assert _nulls(info, "x") == 0  # not counted up front: queried
    info["con"].close()
