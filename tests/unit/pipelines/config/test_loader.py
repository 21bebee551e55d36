"""Config loading (``config/loader.py``): YAML, profiles, `--set`, and bad configs failing
naming the file, the field, the reason. Each section's own rules are tested in its mirrored
file (test_data.py, test_features.py, ...), the data checks in test_checks.py."""
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


def test_every_problem_in_one_message_one_line_each(tmp_path):
    """A misspelt ``lable:`` used to hide behind 'label: required but missing (and 1 more
    problems)': now every problem has its own line, FILE: FIELD: reason."""
    p = write(tmp_path, BASE.replace("label: species", "lable: species")
              + "model: {epochs: many}\n")
    e = load_err(p)
    lines = str(e).splitlines()
    assert len(lines) == 3 and len(e.problems) == 3
    assert f"{p}: label: required but missing" in lines
    assert f"{p}: lable: unknown key (did you mean label?)" in lines
    assert any(ln.startswith(f"{p}: model.epochs: ") and "integer" in ln for ln in lines)
    # the first problem's attributes stay; reason holds the others on the same line
    assert (e.file, e.field) == e.problems[0][:2] == (str(p), e.field)
    assert "\n" not in e.reason and "lable: unknown key" in e.reason


@pytest.mark.parametrize("extra, field, hint", [
    ("modle: {}\n", "modle", "(did you mean model?)"),
    ("model: {epoch: 3}\n", "model.epoch", "(did you mean epochs?)"),
    ("push: {infra_validation: {exampels: 3}}\n", "push.infra_validation.exampels",
     "(did you mean examples?)"),
    ("inference: {source: {csv: a.csv}, key: id, store: {sqllite: a.db}}\n",
     "inference.store.sqllite", "(did you mean sqlite?)"),
    ("eval:\n  metrics: [{name: accuracy, lower_bond: 0.5}]\n", "eval.metrics[0].lower_bond",
     "(did you mean lower_bound?)"),
    ("serving: {lable: x}\n", "serving.lable", "(did you mean the top-level label?)"),
    ("zzz: 1\n", "zzz", ""),
])
def test_unknown_key_suggests_the_closest_known_key(tmp_path, extra, field, hint):
    body = BASE.replace("eval:\n  metrics: [{name: accuracy, lower_bound: 0.5}]\n", "") \
        if extra.startswith("eval") else BASE
    e = load_err(write(tmp_path, body + extra))
    [(_, got_field, reason)] = [pr for pr in e.problems if pr[1] == field]
    assert reason == "unknown key" + (f" {hint}" if hint else "")


def test_config_error_of_keeps_order_and_rejects_nothing():
    one = ConfigError("a.yaml", "label", "required but missing")
    assert str(one) == "a.yaml: label: required but missing" and one.problems == [
        ("a.yaml", "label", "required but missing")]
    both = ConfigError.of([one, ("a.yaml", "", "the data is empty")])
    assert str(both) == "a.yaml: label: required but missing\na.yaml: the data is empty"
    assert both.field == "label" and both.reason == "required but missing; also the data " \
        "is empty"
    with pytest.raises(ValueError):
        ConfigError.of([])


def test_wrong_type(tmp_path):
    e = load_err(write(tmp_path, BASE + "model: {epochs: many}\n"))
    assert e.field == "model.epochs" and "integer" in e.reason


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


def test_templates_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[4] / "templates"
    for t in ("multiclass", "binary", "regression"):
        cfg = load_config(root / t / "config.yaml")
        assert check_data(cfg)["rows"] > 100


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
