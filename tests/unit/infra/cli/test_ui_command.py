"""``tfxkit ui``'s arguments: a bad or missing config, and a token variable that is not
set, exit 2 with one line naming the file or the variable (nothing is started)."""
from click.testing import CliRunner

from tfxkit.infra.cli import main


def test_needs_a_config():
    r = CliRunner().invoke(main, ["ui"])
    assert r.exit_code == 2 and "give one or more CONFIG files, or --dir DIR" in r.output


def test_bad_config_names_the_file(tmp_path):
    bad = tmp_path / "config.yaml"
    bad.write_text("name: Not Valid\n")
    r = CliRunner().invoke(main, ["ui", str(bad)])
    assert r.exit_code == 2 and str(bad) in r.output


def test_empty_dir(tmp_path):
    r = CliRunner().invoke(main, ["ui", "--dir", str(tmp_path)])
    assert r.exit_code == 2 and "no config.yaml found" in r.output


def test_token_variable_must_be_set(tmp_path, monkeypatch):
    from tests.unit.infra.ui.ui_records import make_case

    path, _ = make_case(tmp_path)
    monkeypatch.delenv("UI_TOKEN_FOR_TEST", raising=False)
    r = CliRunner().invoke(main, ["ui", str(path), "--token-env", "UI_TOKEN_FOR_TEST"])
    assert r.exit_code == 2 and "UI_TOKEN_FOR_TEST" in r.output and "not set" in r.output


def test_two_configs_of_one_name(tmp_path):
    from tests.unit.infra.ui.ui_records import make_case

    a, _ = make_case(tmp_path / "a")
    b, _ = make_case(tmp_path / "b")
    r = CliRunner().invoke(main, ["ui", str(a), str(b)])
    assert r.exit_code == 2 and "distinct names" in r.output
