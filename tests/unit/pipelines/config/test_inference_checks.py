"""The inference and serving checks (``config/inference_checks.py``) and
``check_use_case``, what ``tfxkit validate`` runs: every problem of the data, the inference
data and the store's address in one ConfigError, one line each."""
import pytest

from tfxkit.pipelines.config import ConfigError, load_config
from tfxkit.pipelines.config.inference_checks import (check_inference, check_serving,
                                                      check_use_case)
from tests.unit.pipelines.config.test_loader import BASE, CSV, write

INF = "inference:\n  source: {csv: new.csv}\n  key: id\n"
NEW = "id,island,bill,mass\n10,x,1.0,3000\n11,y,2.0,3100\n"


def _cfg(tmp_path, inference=INF, new=NEW, body=BASE, csv=CSV):
    (tmp_path / "new.csv").write_text(new)
    return load_config(write(tmp_path, body + inference, csv=csv))


def test_a_good_inference_section(tmp_path):
    info, problems = check_inference(_cfg(tmp_path))
    assert problems == [] and info["rows"] == 2
    assert info["models"] == {"demo": ["bill", "mass", "island"]}  # never the label
    assert check_use_case(_cfg(tmp_path))["inference"]["rows"] == 2
    assert check_inference(load_config(write(tmp_path))) == ({}, [])  # no section


def test_the_templates_inference_data_for_another_use_case(tmp_path):
    """The issue's case: the data was changed, inference still points at data without the
    model's columns (and the key): each named, with the closest column."""
    new = "penguin_id,island,bill_mm,weight\n1,x,1.0,3000\n"
    cfg = _cfg(tmp_path, new=new)
    _, problems = check_inference(cfg)
    assert [(p.field, p.reason.split(" (columns")[0]) for p in problems] == [
        ("inference.key", "column 'id' is not in the inference data"),
        ("inference.source.csv", "the inference data lacks column(s) 'bill' (did you mean "
         "'bill_mm'?), 'mass' that model 'demo' reads")]
    assert all("(columns: penguin_id, island, bill_mm, weight)" in p.reason for p in problems)


@pytest.mark.parametrize("inference, new, field, reason", [
    (INF.replace("new.csv", "nope/*.csv"), NEW, "inference.source.csv", "matches no file"),
    (INF, "id,island,bill,mass\n", "inference.source.csv", "the inference data is empty"),
    (INF, NEW.replace("3000", "heavy"), "inference.source.csv",
     "column 'mass' is VARCHAR in the inference data; model 'demo' reads it as a number"),
    (INF.replace("key: id", "key: idd"), NEW, "inference.key", "did you mean 'id'?"),
])
def test_inference_problems(tmp_path, inference, new, field, reason):
    _, problems = check_inference(_cfg(tmp_path, inference, new))
    assert [p.field for p in problems] == [field] and reason in problems[0].reason


def test_a_model_of_another_use_case_is_checked_with_its_own_columns(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    write(other, BASE.replace("name: demo", "name: other").replace(
        "[bill, mass]", "[bill, mass, year]"))
    inf = INF + ("  models:\n    - {name: other, config: other/config.yaml}\n"
                 "    - {name: broken, config: nope.yaml}\n")
    _, problems = check_inference(_cfg(tmp_path, inf))
    assert [p.field for p in problems] == ["inference.source.csv",
                                           "inference.models.broken.config"]
    assert "lacks column(s) 'year' that model 'other' reads" in problems[0].reason
    assert "no such config file" in problems[1].reason


@pytest.mark.parametrize("store, reason", [
    ("{postgres: 'host=db port'}", "is not a PostgreSQL DSN"),
    ("{postgres: 'postgresql://u@db:fivefour/x'}", "port 'fivefour' is not a number"),
    ("{redis: '127.0.0.1:6379'}", "is not a Redis URL"),
    ("{redis: 'redis://h:6379/zero'}", "the database 'zero' is not a number"),
    ("{redis: 'redis://h:63x/0'}", "the port is not a number"),
    ("{sqlite: 'gs://b/p.sqlite'}", "sqlite needs a local file path"),
])
def test_store_addresses_that_do_not_parse(tmp_path, store, reason):
    cfg = _cfg(tmp_path, INF + f"  store: {store}\n")
    [p] = check_serving(cfg)
    assert p.field.startswith("inference.store.") and reason in p.reason


@pytest.mark.parametrize("store", ["{postgres: 'postgresql://tfxkit@db:5432/predictions'}",
                                   "{postgres: 'host=db dbname=p user=u'}",
                                   "{redis: 'redis://127.0.0.1:6379/0'}",
                                   "{sqlite: .tfxkit/p.sqlite}"])
def test_store_addresses_that_parse(tmp_path, store):
    assert check_serving(_cfg(tmp_path, INF + f"  store: {store}\n")) == []


def test_use_case_reports_data_inference_and_store_problems_together(tmp_path):
    cfg = _cfg(tmp_path, INF.replace("key: id", "key: idd") + "  store: {redis: h:1}\n",
               body=BASE.replace("[bill, mass]", "[bill, mas]"))
    with pytest.raises(ConfigError) as e:
        check_use_case(cfg)
    lines = str(e.value).splitlines()
    assert [ln.split(": ")[1] for ln in lines] == [
        "features.dense", "inference.key", "inference.source.csv", "inference.store.redis"]
    assert all(ln.startswith(f"{cfg.config_path}: ") for ln in lines)
