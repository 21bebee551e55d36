"""pipelines/scaffold/write.py: the use-case folder from a plan, valid and atomic."""
import os

import pytest
import yaml

from tfxkit.pipelines.config import load_config
from tfxkit.pipelines.scaffold.plan import make_plan
from tfxkit.pipelines.scaffold.profile import profile
from tfxkit.pipelines.scaffold.write import data_ref, render_config, write_use_case, y


def data(tmp_path, with_id=True):
    lines = ["sample_id,size,yes,color,target" if with_id else "size,yes,color,target"]
    for i in range(60):
        row = [f"{'' if i % 9 == 4 else i * 0.5}", str(i % 5 * 1.5), "abc"[i % 3],
               "xyz"[i % 3 // 2 + (i % 4 == 0)]]
        lines.append(",".join(([f"s{i}"] if with_id else []) + row))
    p = tmp_path / "raw" / "d.csv"
    p.parent.mkdir(exist_ok=True)
    p.write_text("\n".join(lines) + "\n")
    return p


def test_writes_a_valid_use_case(tmp_path):
    p = data(tmp_path)
    prof = profile(str(p))
    plan = make_plan(prof)
    dest = write_use_case(tmp_path / "cases" / "my-case", "my-case", prof, plan)
    assert sorted(os.listdir(dest)) == ["README.md", "config.yaml", "data", "tests"]
    cfg = load_config(str(dest / "config.yaml"))  # the schema accepts it
    assert (cfg.name, cfg.task, cfg.label, cfg.data.split.key) == (
        "my-case", "multiclass", "target", "sample_id")
    assert cfg.data.source.csv == "../../raw/d.csv"
    assert cfg.features.dense == ["size", "yes"] and list(cfg.features.vocab) == ["color"]
    assert cfg.features.impute == {"size": "median"}
    [gate] = cfg.eval.metrics
    assert gate.name == "accuracy" and gate.lower_bound == plan.gate.value
    assert cfg.inference.key == "sample_id"
    sample = (dest / "data" / "inference" / "sample.csv").read_text().splitlines()
    assert sample[0] == "sample_id,size,yes,color" and len(sample) == 51  # no label
    text = (dest / "config.yaml").read_text()
    assert "# gate: accuracy >=" in text and "tfxkit_my_case" in text
    for word in ("penguin", "island", "trip", "species", "tfxkit_penguin"):
        assert word not in text
    assert "assert_config_features(CONFIG)" in (dest / "tests" / "test_preprocessing.py").read_text()
    assert not [f for f in os.listdir(dest.parent) if f.startswith(".")]
    assert oct(dest.stat().st_mode & 0o777) == "0o755"


def test_without_an_id_the_sample_gets_a_row_key(tmp_path):
    prof = profile(str(data(tmp_path, with_id=False)))
    plan = make_plan(prof)
    dest = write_use_case(tmp_path / "c", "c", prof, plan)
    cfg = load_config(str(dest / "config.yaml"))
    assert cfg.data.split.key is None and cfg.inference.key == "row_id"
    head = (dest / "data" / "inference" / "sample.csv").read_text().splitlines()[0]
    assert head == "row_id,size,yes,color"


def test_nothing_half_written(tmp_path, monkeypatch):
    from tfxkit.pipelines.scaffold import write

    prof = profile(str(data(tmp_path)))
    plan = make_plan(prof)
    monkeypatch.setattr(write, "render_readme", lambda *a: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        write_use_case(tmp_path / "out" / "c", "c", prof, plan)
    assert os.listdir(tmp_path / "out") == []
    (tmp_path / "out" / "c").mkdir()
    with pytest.raises(FileExistsError, match="already exists"):
        write_use_case(tmp_path / "out" / "c", "c", prof, plan)


def test_yaml_names_are_quoted_when_needed(tmp_path):
    assert y("size") == "size" and y("yes") == '"yes"' and y("a b") == '"a b"'
    assert yaml.safe_load(f"k: {y('on')}")["k"] == "on"
    far = tmp_path / "a" / "b" / "c" / "case"
    assert data_ref(str(tmp_path / "d.csv"), far) == str(tmp_path / "d.csv")
    assert data_ref(str(tmp_path / "d.csv"), tmp_path / "case") == os.path.join("..", "d.csv")


def test_render_config_comments_each_choice(tmp_path):
    prof = profile(str(data(tmp_path)))
    plan = make_plan(prof)
    text = render_config("c", prof, plan, "d.csv", "sample_id")
    assert "the only column with a usual label name ('target')" in text
    assert "# 6 of 60 missing" not in text and "7 of 60 missing" in text
    assert yaml.safe_load(text)["features"]["dense"] == ["size", "yes"]
