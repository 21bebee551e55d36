"""``features.sequence`` (variable-length list features) and ``model.kind: rnn``:
defaults, bad values named by field, and the checks across sections."""
import pytest

from tfxkit.pipelines.config import ConfigError, load_config
from tests.unit.pipelines.config.test_loader import BASE

SEQ = BASE.replace("dense: [bill, mass]",
                   "dense: [bill, mass]\n  sequence: {route: {max_length: 5}, km: {scale: log}}")


def write(tmp_path, body):
    (tmp_path / "data.csv").write_text("species,bill,mass,island,route,km\n"
                                       "a,1,2,x,p|q,1.0|2.0\n")
    p = tmp_path / "config.yaml"
    p.write_text(body)
    return p


def err(tmp_path, body):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, body))
    return e.value


def test_defaults_vocab_for_text_scale_for_numbers(tmp_path):
    cfg = load_config(write(tmp_path, SEQ))
    route, km = cfg.features.sequence["route"], cfg.features.sequence["km"]
    assert (route.max_length, route.dtype, route.delimiter) == (5, "string", "|")
    assert route.vocab is not None and route.vocab.num_oov_buckets == 1 and route.scale is None
    assert (km.max_length, km.dtype, km.scale, km.vocab) == (20, "float", "log", None)
    assert cfg.features.raw_columns()[-2:] == ["route", "km"]
    assert cfg.model.kind == "dnn" and cfg.model.rnn.cell == "gru"


def test_a_bare_sequence_and_a_float_one(tmp_path):
    cfg = load_config(write(tmp_path, BASE.replace(
        "dense: [bill, mass]",
        "dense: [bill, mass]\n  sequence: {route: , km: {dtype: float, delimiter: ';'}}")))
    assert cfg.features.sequence["route"].is_categorical()
    assert cfg.features.sequence["km"].scale == "z_score"
    assert cfg.features.sequence["km"].delimiter == ";"


@pytest.mark.parametrize("spec,field,words", [
    ("{max_length: 0}", "features.sequence.route.max_length", "greater than or equal to 1"),
    ("{vocab: {}, scale: z_score}", "features.sequence.route", "not both"),
    ("{dtype: float, vocab: {top_k: 3}}", "features.sequence.route", "dtype float with a vocab"),
    ("{dtype: string, scale: log}", "features.sequence.route", "text elements need a vocab"),
    ("{delimiter: ''}", "features.sequence.route.delimiter", "empty delimiter"),
    ("{dtype: text}", "features.sequence.route.dtype", "string"),
    ("{max_len: 3}", "features.sequence.route.max_len", ""),
])
def test_bad_sequences_name_the_field(tmp_path, spec, field, words):
    e = err(tmp_path, BASE.replace("dense: [bill, mass]",
                                   f"dense: [bill, mass]\n  sequence: {{route: {spec}}}"))
    assert e.field == field, str(e)
    assert words in e.reason


def test_a_sequence_in_another_group_too(tmp_path):
    e = err(tmp_path, BASE.replace("dense: [bill, mass]",
                                   "dense: [bill, mass]\n  sequence: {island: {}}"))
    assert "'island' is in both vocab and sequence" in str(e)


def test_a_sequence_is_not_imputed(tmp_path):
    e = err(tmp_path, SEQ.replace("sequence:", "impute: {route: mean}\n  sequence:"))
    assert "features.impute.route" in str(e) and "empty sequence" in str(e)


def test_rnn_needs_a_sequence_and_takes_its_settings(tmp_path):
    e = err(tmp_path, BASE + "model: {kind: rnn}\n")
    assert "model.kind: rnn reads features.sequence" in str(e)
    cfg = load_config(write(tmp_path, SEQ + "model: {kind: rnn, rnn: {cell: lstm, units: 8, "
                                             "attention: true}}\n"))
    assert (cfg.model.kind, cfg.model.rnn.cell, cfg.model.rnn.units,
            cfg.model.rnn.attention) == ("rnn", "lstm", 8, True)
    e = err(tmp_path, SEQ + "model: {kind: rnn, rnn: {cell: tcn}}\n")
    assert e.field == "model.rnn.cell"
    e = err(tmp_path, SEQ + "model: {kind: rnn, rnn: {units: 0}}\n")
    assert e.field == "model.rnn.units"


def test_tuning_may_search_rnn_but_only_with_a_sequence(tmp_path):
    tune = ("model:\n  tune:\n    space: {kind: [dnn, rnn]}\n    objective: accuracy\n")
    cfg = load_config(write(tmp_path, SEQ + tune))
    assert cfg.model.tune.space["kind"] == ["dnn", "rnn"]
    e = err(tmp_path, BASE + tune)
    assert "model.kind: rnn reads features.sequence" in str(e)
