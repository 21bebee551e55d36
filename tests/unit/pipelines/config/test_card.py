"""``card:`` (pipelines/config/card.py): optional, every field optional."""
import pytest
from pydantic import ValidationError

from tfxkit.pipelines.config.card import Card


def test_every_field_is_optional_and_references_are_urls():
    assert Card().model_dump() == {"overview": None, "intended_use": None,
                                   "limitations": None, "owners": [],
                                   "ethical_considerations": None, "references": []}
    c = Card(overview="o", owners=["a", "b"], references=["https://x.org/paper"])
    assert c.owners == ["a", "b"]
    with pytest.raises(ValidationError, match="http"):
        Card(references=["paper.pdf"])
    with pytest.raises(ValidationError):
        Card(owner="a")  # a misspelt field is an error, not ignored


def test_the_root_config_takes_a_card_section(tmp_path):
    from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG
    from tfxkit.pipelines.config import load_config

    cfg = load_config(TEMPLATE_CONFIG)
    assert cfg.card is None  # absent: the card is written all the same
    with_card = load_config(TEMPLATE_CONFIG, overrides=["card.intended_use=teaching"])
    assert with_card.card.intended_use == "teaching"
    assert with_card.fingerprint() != cfg.fingerprint()
