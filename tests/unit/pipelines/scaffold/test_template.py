"""pipelines/scaffold/template.py: a template copied as a new use case, cleaned of the
template's identity."""
from pathlib import Path

import pytest
import yaml

from tfxkit.pipelines.scaffold.template import clean_config, copy_template, database_name

TEMPLATES = Path(__file__).resolve().parents[4] / "templates"


@pytest.mark.parametrize("template", ["multiclass", "binary", "regression", "bandit"])
def test_copy_leaves_nothing_of_the_template_name(template, tmp_path):
    old = yaml.safe_load((TEMPLATES / template / "config.yaml").read_text())["name"]
    dest = copy_template(TEMPLATES / template, tmp_path / "my-case", "my-case")
    text = (dest / "config.yaml").read_text()
    cfg = yaml.safe_load(text)
    assert cfg["name"] == "my-case"
    assert old not in text
    assert text.startswith(f"# my-case ({cfg['task']}): made from the {template} template")
    for db in [line for line in text.splitlines() if "database:" in line]:
        assert "database: tfxkit_my_case" in db
    assert "gs://" not in text or "gs://my-bucket/my-case/" in text
    assert (dest / "README.md").read_text().startswith(f"# my-case, from the {template}")
    assert not list(tmp_path.glob(".my-case*"))  # the build folder is gone


def test_clean_config_rewrites_names_and_database():
    text = ("# About penguins.\n# More.\nname: penguin-species\ntask: multiclass\n"
            "x: gs://b/penguin-species/models  # penguin-species-old stays\n"
            "m: {database: tfxkit_penguin, user: root}\n")
    out = clean_config(text, "birds", "multiclass")
    assert "About penguins" not in out and "name: birds\n" in out
    assert "gs://b/birds/models  # penguin-species-old stays" in out
    assert "database: tfxkit_birds," in out
    assert database_name("my-case") == "tfxkit_my_case"


def test_refuses_an_existing_folder(tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="already exists"):
        copy_template(TEMPLATES / "multiclass", tmp_path / "taken", "taken")
