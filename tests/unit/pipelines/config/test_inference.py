"""The ``inference:`` section (``config/inference.py``): its key, store and chained models."""
import pytest


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
