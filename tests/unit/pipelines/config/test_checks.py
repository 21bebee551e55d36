"""The data checks (``config/checks.py``, ``check_data``): what the config names must be in
the data, with values a model can use."""
from tfxkit.pipelines.config import check_data, load_config
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
