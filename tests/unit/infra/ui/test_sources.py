"""The use cases ``tfxkit ui`` shows: configs by path or found under a folder; bad ones
named with the reason."""
import pytest

from tfxkit.infra.ui.sources import SourceError, find_configs, load_use_cases
from tests.unit.infra.ui.ui_records import make_case


def test_sources_errors(tmp_path):
    with pytest.raises(SourceError, match="give one or more CONFIG"):
        load_use_cases([])
    with pytest.raises(SourceError, match="no config.yaml found"):
        load_use_cases([], str(tmp_path))
    bad = tmp_path / "bad" / "config.yaml"
    bad.parent.mkdir()
    bad.write_text("name: Bad Name\n")
    with pytest.raises(SourceError, match="config.yaml"):
        load_use_cases([str(bad)])
    assert find_configs(str(tmp_path)) == [str(bad)]


def test_dir_finds_configs_but_not_inside_pipeline_roots(tmp_path):
    a, _ = make_case(tmp_path / "cases", "case-a")
    b, _ = make_case(tmp_path / "cases" / "team", "case-b")
    hidden = tmp_path / "cases" / "case-a" / ".tfxkit" / "x"
    hidden.mkdir(parents=True)
    (hidden / "config.yaml").write_text("name: nope\n")
    assert find_configs(str(tmp_path / "cases")) == sorted([str(a), str(b)])
    names = [u.name for u in load_use_cases([], str(tmp_path / "cases"))]
    assert sorted(names) == ["case-a", "case-b"]
    with pytest.raises(SourceError, match="not a folder"):
        find_configs(str(tmp_path / "missing"))
