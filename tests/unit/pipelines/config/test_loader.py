"""Config loading and validation: bad configs fail naming the file, the field, the reason."""
import textwrap

import pytest

from tfxkit.pipelines.config import ConfigError, check_data, load_config

CSV = "id,species,island,bill,mass,year\n1,A,x,1.5,3000,2007\n2,B,y,,3100,2008\n3,A,,2.5,,2009\n"

BASE = """
name: demo
task: multiclass
label: species
data:
  source: {csv: data.csv}
features:
  dense: [bill, mass]
  vocab: {island: {top_k: 3}}
eval:
  metrics: [{name: accuracy, lower_bound: 0.5}]
"""


def write(tmp_path, body=BASE, csv=CSV):
    (tmp_path / "data.csv").write_text(csv)
    p = tmp_path / "config.yaml"
    p.write_text(textwrap.dedent(body))
    return p


def load_err(path, **kw):
    with pytest.raises(ConfigError) as e:
        cfg = load_config(path, **kw)
        check_data(cfg)
    return e.value


def test_valid_config_loads_and_checks(tmp_path):
    cfg = load_config(write(tmp_path))
    info = check_data(cfg)
    assert cfg.name == "demo" and cfg.task == "multiclass"
    assert info["rows"] == 3
    assert cfg.resolve("data.csv") == str(tmp_path / "data.csv")
    assert cfg.metadata_path.startswith(str(tmp_path))


def test_unknown_key_names_field(tmp_path):
    e = load_err(write(tmp_path, BASE + "modle: {}\n"))
    assert e.field == "modle" and "unknown key" in str(e) and "config.yaml" in str(e)


def test_nested_unknown_key(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("dense:", "crosses: [a]\n  dense:")))
    assert e.field == "features.crosses"


def test_wrong_type(tmp_path):
    e = load_err(write(tmp_path, BASE + "model: {epochs: many}\n"))
    assert e.field == "model.epochs" and "integer" in e.reason


def test_missing_label(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("label: species\n", "")))
    assert e.field == "label" and "missing" in e.reason


def test_label_absent_from_data(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("label: species", "label: kind")))
    assert e.field == "label" and "'kind'" in e.reason and "not in the data" in e.reason


def test_feature_absent_from_data(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("[bill, mass]", "[bill, weight]")))
    assert e.field == "features.dense" and "'weight'" in e.reason


def test_unknown_transform(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("dense: [bill, mass]",
                                              "dense: [bill, mass]\n  scale: cube")))
    assert e.field.startswith("features.scale") and "cube" in e.reason


def test_unknown_impute_strategy(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("dense: [bill, mass]",
                                              "dense: [bill, mass]\n  impute: {bill: mode}")))
    assert e.field.startswith("features.impute.bill")


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


def test_unknown_metric(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("name: accuracy", "name: mse")))
    assert e.field == "" or "eval.metrics" in str(e)
    assert "unknown metric 'mse'" in str(e)


def test_bad_name(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("name: demo", "name: My_Demo")))
    assert e.field == "name"


def test_label_also_feature(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("[bill, mass]", "[bill, mass, species]")))
    assert "also listed as a feature" in str(e)


def test_no_such_config_file(tmp_path):
    e = load_err(tmp_path / "missing.yaml")
    assert "no such config file" in str(e)


def test_invalid_yaml(tmp_path):
    e = load_err(write(tmp_path, "name: [unclosed\n"))
    assert "not valid YAML" in str(e)


def test_profiles_and_overrides(tmp_path):
    body = BASE + "profiles:\n  quick: {model: {epochs: 2, learning_rate: 0.1}}\n"
    p = write(tmp_path, body)
    assert load_config(p).model.epochs == 10
    cfg = load_config(p, profile="quick", overrides=["model.learning_rate=0.003",
                                                     "model.hidden_units=[4, 2]"])
    assert cfg.model.epochs == 2
    assert cfg.model.learning_rate == 0.003
    assert cfg.model.hidden_units == [4, 2]
    assert cfg.fingerprint() != load_config(p).fingerprint()


def test_profile_file_beside_config(tmp_path):
    p = write(tmp_path)
    (tmp_path / "config.prod.yaml").write_text("push: {registry: /srv/models}\n")
    assert load_config(p, profile="prod").registry_path == "/srv/models"


def test_unknown_profile(tmp_path):
    e = load_err(write(tmp_path), profile="nope")
    assert e.field == "profiles" and "nope" in e.reason


def test_bad_set_override(tmp_path):
    e = load_err(write(tmp_path), overrides=["model.epochs"])
    assert "key=value" in str(e)
    e = load_err(write(tmp_path), overrides=["model.epochs=-3"])
    assert e.field == "model.epochs"


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


def test_two_sources_rejected(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("{csv: data.csv}",
                                              "{csv: data.csv, parquet: x.parquet}")))
    assert e.field == "data.source" and "exactly one" in e.reason


def test_templates_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[4] / "templates"
    for t in ("multiclass", "binary", "regression"):
        cfg = load_config(root / t / "config.yaml")
        assert check_data(cfg)["rows"] > 100


def test_column_in_two_groups(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("vocab: {island: {top_k: 3}}",
                                              "vocab: {island: {top_k: 3}}\n  hash: {island: 8}")))
    assert "'island' is in both vocab and hash" in str(e)


def test_impute_on_unused_column(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("dense: [bill, mass]",
                                              "dense: [bill, mass]\n  impute: {year: mean}")))
    assert "features.impute.year" in str(e) and "not used" in str(e)


def test_categorical_int_on_text(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("vocab: {island: {top_k: 3}}",
                                              "categorical_int: {island: 3}")))
    assert e.field == "features.categorical_int.island" and "integer" in e.reason


def test_text_constant_for_numeric_column(tmp_path):
    e = load_err(write(tmp_path, BASE.replace(
        "dense: [bill, mass]", "dense: [bill, mass]\n  impute: {bill: {constant: abc}}")))
    assert e.field == "features.impute.bill" and "'abc' is text" in e.reason


def test_no_bounded_metric(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("[{name: accuracy, lower_bound: 0.5}]",
                                              "[{name: accuracy}]")))
    assert "eval.metrics" in str(e) and "never blesses" in str(e)


def test_binary_label_checks(tmp_path):
    body = BASE.replace("task: multiclass", "task: binary").replace(
        "name: accuracy", "name: auc")
    e = load_err(write(tmp_path, body))
    assert "label_classes" in str(e) and "need label_classes" in str(e)
    e = load_err(write(tmp_path, body, csv=CSV + "4,C,x,1.0,1.0,2007\n"))
    assert e.field == "label" and "exactly 2 values" in e.reason
    ok = load_config(write(tmp_path, body + "label_classes: [B, A]\n"))
    assert check_data(ok)["rows"] == 3


def test_duplicate_label_classes(tmp_path):
    e = load_err(write(tmp_path, BASE + "label_classes: [A, B, A]\n"))
    assert e.field == "label_classes" and "distinct" in e.reason


def test_null_split_key(tmp_path):
    body = BASE.replace("{csv: data.csv}", "{csv: data.csv}\n  split: {key: bill}")
    e = load_err(write(tmp_path, body))
    assert e.field == "data.split.key" and "1 row(s) have no 'bill'" in e.reason
    body = body.replace("key: bill}", "key: bill, on_null_key: reject}")
    assert check_data(load_config(write(tmp_path, body)))["rows"] == 3


def test_set_values_that_are_not_yaml(tmp_path):
    p = write(tmp_path)
    assert load_config(p, overrides=["schedule=@daily"]).schedule == "@daily"
    assert load_config(p, overrides=["push.registry=a: b"]).push.registry == "a: b"


def test_bad_profile_shapes(tmp_path):
    e = load_err(write(tmp_path, BASE + "profiles: [a, b]\n"))
    assert e.field == "profiles"
    e = load_err(write(tmp_path, BASE + "profiles: {quick: [1]}\n"), profile="quick")
    assert e.field == "profiles.quick"
    p = write(tmp_path)
    (tmp_path / "config.prod.yaml").write_text("push: [unclosed\n")
    e = load_err(p, profile="prod")
    assert "config.prod.yaml" in str(e) and "not valid YAML" in str(e)


def test_union_field_location_is_clean(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("dense: [bill, mass]",
                                              "dense: [bill, mass]\n  impute: {bill: mode}")))
    assert e.field == "features.impute.bill"


def test_repository_configs_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[4] / "configs"
    configs = sorted(root.glob("*.yaml"))
    assert configs
    for p in configs:
        assert check_data(load_config(p))["rows"] > 0


def _with_inference(tmp_path, inference_yaml):
    import shutil

    from tests.conftest import TEMPLATES

    case = tmp_path / "mc"
    shutil.copytree(TEMPLATES / "multiclass", case)
    text = (case / "config.yaml").read_text()
    start = text.index("inference:")
    end = text.index("\nschedule:")
    (case / "config.yaml").write_text(text[:start] + inference_yaml + text[end:])
    return case / "config.yaml"


@pytest.mark.parametrize("block,field,reason", [
    ("inference:\n  source: {csv: data/inference/penguins.csv}\n  key: island\n",
     "inference.key", "is a model feature"),
    ("inference:\n  source: {csv: x.csv}\n  key: id\n  store: {redis: 'redis://u:secret@h:6379/0'}\n",
     "inference.store", "password_env"),
    ("inference:\n  source: {csv: x.csv}\n  key: id\n  store: {sqlite: a, redis: 'redis://h'}\n",
     "inference.store", "exactly one"),
    ("inference:\n  source: {csv: x.csv}\n  key: id\n  models:\n    - {name: b, inputs: {f: a.class}}\n"
     "    - {name: a}\n", "inference", "not a model declared before"),
])
def test_inference_section_errors(tmp_path, block, field, reason):
    from tfxkit.pipelines.config import ConfigError, load_config

    with pytest.raises(ConfigError) as e:
        load_config(_with_inference(tmp_path, block))
    assert field in str(e.value) and reason in str(e.value)


def test_importing_config_needs_neither_duckdb_nor_tensorflow_nor_tfx(tmp_path):
    """The package (the schema and the loader) needs only pydantic and PyYAML: the CLI's
    `validate`, `--help` and the Airflow DAG factory (.venv-airflow has no TFX) import it.
    Only the data checks reach DuckDB, inside the function: the probe sees that too."""
    import json
    import subprocess
    import sys

    p = write(tmp_path)
    code = textwrap.dedent(f"""
        import json, sys
        HEAVY = ("duckdb", "tensorflow", "tfx")
        def heavy():
            return sorted({{m.split(".")[0] for m in sys.modules}} & set(HEAVY))
        import tfxkit.pipelines.config as c
        out = {{"import": heavy()}}
        cfg = c.load_config({str(p)!r}, overrides=["model.epochs=2"])
        out["load"] = heavy()
        c.check_data(cfg)  # reads the CSV with DuckDB
        out["check"] = heavy()
        print(json.dumps(out))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.splitlines()[-1])
    assert out == {"import": [], "load": [], "check": ["duckdb"]}
