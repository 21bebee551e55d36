"""The ``data:`` section (``config/data.py``): one source, its split and spans."""
import pytest

from tfxkit.pipelines.config import ConfigError, load_config
from tests.unit.pipelines.config.test_loader import BASE, load_err, write


def test_two_sources_rejected(tmp_path):
    e = load_err(write(tmp_path, BASE.replace("{csv: data.csv}",
                                              "{csv: data.csv, parquet: x.parquet}")))
    assert e.field == "data.source" and "exactly one" in e.reason


@pytest.mark.parametrize("data,field,reason", [
    ("{source: {csv: data.csv}, split: {predicates: {eval: 'year > 2008'}}}",
     "data.split", "predicates: give exactly train and eval (got eval)"),
    ("{source: {csv: data.csv}, split: {key: id, predicates: {train: 'true', eval: 'x'}}}",
     "data.split", "a predicate split has no key"),
    ("{source: {csv: data.csv}, split: {train: 0}}", "data.split.train", "greater than or equal"),
    ("{source: {csv: data.csv}, span: 3}", "data", "need {SPAN} or {YYYY}-{MM}-{DD}"),
    ("{source: {csv: data.csv}, rolling_window: 2}", "data", "need {SPAN}"),
    ("{source: {tfrecord: data.tfrecord, query: 'SELECT 1'}}", "data.source",
     "SQL runs over csv or parquet"),
    ("{source: {}}", "data.source", "exactly one of csv, parquet, tfrecord, bigquery (got none)"),
])
def test_bad_split_span_and_query(tmp_path, data, field, reason):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path), overrides=[f"data={data}"])
    assert e.value.field == field and reason in e.value.reason, e.value


def test_a_source_knows_its_kind_and_path_and_spans_need_a_token(tmp_path):
    cfg = load_config(write(tmp_path), overrides=[
        "data={source: {parquet: 'd/{SPAN}/*.parquet'}, span: 2, rolling_window: 3, "
        "split: {predicates: {train: 'true', eval: 'year > 2008'}}}"])
    src = cfg.data.source
    assert (src.kind, src.path) == ("parquet", "d/{SPAN}/*.parquet")
    assert (cfg.data.span, cfg.data.rolling_window) == (2, 3)
    assert cfg.data.split.predicates == {"train": "true", "eval": "year > 2008"}
    bq = load_config(write(tmp_path), overrides=[
        "data={source: {bigquery: {query: 'SELECT 1'}}}"]).data.source
    assert (bq.kind, bq.path) == ("bigquery", "")
    assert load_config(write(tmp_path)).data.split.on_null_key == "fail"
    v = load_config(write(tmp_path), overrides=["validation={schema: s.pbtxt}"]).validation
    assert v.schema_file == "s.pbtxt" and v.on_anomalies == "fail"
