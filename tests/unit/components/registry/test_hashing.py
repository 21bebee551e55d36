"""The content hash (components/registry/hashing.py): a version folder's model card is
not part of the model."""
import pytest

from tfxkit.components.registry.errors import RegistryError
from tfxkit.components.registry.hashing import content_hash
from tests.unit.components.registry.test_registry import model


def test_model_card_folder_is_outside_the_hash(tmp_path):
    d = model(tmp_path, "a")
    before = content_hash(d)
    (tmp_path / "src" / "a" / "model_card").mkdir()
    (tmp_path / "src" / "a" / "model_card" / "model_card.json").write_text("{}")
    assert content_hash(d) == before
    # any other extra file is part of the model
    (tmp_path / "src" / "a" / "assets.extra").mkdir()
    (tmp_path / "src" / "a" / "assets.extra" / "x").write_text("1")
    assert content_hash(d) != before
    # a file named like the card folder deeper down is the model's
    (tmp_path / "src" / "a" / "variables" / "model_card").write_text("1")
    assert content_hash(d) != before


def test_only_a_card_is_an_empty_model(tmp_path):
    (tmp_path / "m" / "model_card").mkdir(parents=True)
    (tmp_path / "m" / "model_card" / "model_card.html").write_text("x")
    with pytest.raises(RegistryError, match="empty"):
        content_hash(str(tmp_path / "m"))


def test_tflite_folder_is_outside_the_hash(tmp_path):
    """``<version>/tflite/`` (push.tflite: converted from the SavedModel, its own sha256 in
    the version's record) is not part of the model either."""
    d = model(tmp_path, "a")
    before = content_hash(d)
    (tmp_path / "src" / "a" / "tflite").mkdir()
    (tmp_path / "src" / "a" / "tflite" / "model.tflite").write_bytes(b"TFL3")
    assert content_hash(d) == before
    (tmp_path / "src" / "a" / "variables" / "tflite").write_text("1")
    assert content_hash(d) != before
