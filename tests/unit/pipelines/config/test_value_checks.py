"""Values in the data (``config/value_checks.py``): a value that is not a number in a
column the config uses as one is named with its file, row, column and value (or, with
``data.on_bad_value: reject``, counted); a bandit's columns are tested in test_checks.py."""
import pytest

from tfxkit.pipelines.config import check_data, load_config, numeric_columns
from tests.unit.pipelines.config.test_loader import BASE, CSV, load_err, write

# 'mass' of data row 5 is 'heavy'; 'bill' of row 4 is '?'
DIRTY = CSV + "4,B,x,2.0,3200,2010\n5,A,y,1.0,heavy,2010\n"


def test_text_in_a_numeric_column_names_file_row_column_and_value(tmp_path):
    e = load_err(write(tmp_path, csv=DIRTY))
    [(file, field, reason)] = e.problems
    assert field == "features.dense"
    assert reason == (f"{tmp_path / 'data.csv'}, data row 5: column 'mass' is 'heavy', not a "
                      "number (1 row like it); fix the data, or set data.on_bad_value: "
                      "reject (drop such rows, counted) \u2014 impute fills missing values "
                      "only")
    assert "VARCHAR" not in str(e) and "vocab or hash" not in str(e)


def test_bad_values_of_several_columns_and_files(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.csv").write_text(CSV)
    (tmp_path / "d" / "b.csv").write_text(CSV.splitlines()[0] + "\n7,A,x,n/a,3000,2010\n"
                                          "8,A,x,1.0,?,2010\n9,A,x,1.0,??,2010\n")
    body = BASE.replace("data.csv", "d").replace("dense: [bill, mass]",
                                                  "dense: [bill]\n  bucket: {mass: 4}")
    e = load_err(write(tmp_path, body))
    lines = str(e).splitlines()
    assert len(lines) == 2
    assert f"features.dense: {tmp_path / 'd' / 'b.csv'}, data row 1: column 'bill' is " \
           "'n/a', not a number (1 row like it)" in lines[0]
    assert f"features.bucket.mass: {tmp_path / 'd' / 'b.csv'}, data row 2: column 'mass' " \
           "is '?', not a number (2 rows like it)" in lines[1]


def test_reject_counts_the_rows_instead(tmp_path):
    body = BASE.replace("source: {csv: data.csv}", "source: {csv: data.csv}\n  "
                        "on_bad_value: reject")
    info = check_data(load_config(write(tmp_path, body, csv=DIRTY)))
    assert info["bad_values"] == {"mass": 1} and info["rejected_rows"] == 1
    assert info["columns"]["mass"] == "BIGINT" and info["rows"] == 5
    assert "bad_values" not in check_data(load_config(write(tmp_path, body)))


def test_a_text_column_is_still_a_text_column(tmp_path):
    """No value is a number: the column is text, not dirty (use vocab or hash)."""
    body = BASE.replace("[bill, mass]", "[bill, island]").replace(
        "vocab: {island: {top_k: 3}}", "hash: {id: 4}")
    e = load_err(write(tmp_path, body))
    assert e.field == "features.dense" and "is VARCHAR, a numeric column is needed" in e.reason


@pytest.mark.parametrize("extra, field", [
    ("hash: {mass: 4}\n  impute: {mass: mean}", "features.impute.mass"),
    ("scale: {mass: log}", "features.scale.mass"),
    ("categorical_int: {mass: 4}", "features.categorical_int.mass"),
])
def test_every_numeric_use_is_checked(tmp_path, extra, field):
    body = BASE.replace("dense: [bill, mass]", f"dense: [bill]\n  {extra}")
    e = load_err(write(tmp_path, body, csv=DIRTY))
    assert [p[1] for p in e.problems] == [field]
    assert "column 'mass' is 'heavy', not a number" in e.reason


def test_a_regression_label_with_a_bad_value(tmp_path):
    body = BASE.replace("task: multiclass", "task: regression").replace(
        "label: species", "label: mass").replace("[bill, mass]", "[bill]").replace(
        "{name: accuracy, lower_bound: 0.5}", "{name: mae, upper_bound: 9}")
    e = load_err(write(tmp_path, body, csv=DIRTY.replace("3,A,,2.5,,2009", "3,A,,2.5,1,2009")))
    assert e.field == "label" and "data row 5: column 'mass' is 'heavy'" in e.reason


def test_numeric_columns_names_the_field_of_each(tmp_path):
    body = BASE.replace("dense: [bill, mass]", "dense: [bill]\n  bucket: {mass: 3}\n  "
                        "hash: {year: 3}\n  "
                        "impute: {year: {constant: 0}, island: {constant: none}}")
    cfg = load_config(write(tmp_path, body))
    assert numeric_columns(cfg) == {"bill": "features.dense", "mass": "features.bucket.mass",
                                    "year": "features.impute.year"}
