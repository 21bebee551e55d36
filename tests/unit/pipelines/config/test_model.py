import pytest
from pydantic import ValidationError

from tfxkit.pipelines.config.model import ModelConfig


def test_warm_start_takes_none_or_latest_blessed():
    assert ModelConfig().warm_start == "none"
    assert ModelConfig(warm_start="latest_blessed").warm_start == "latest_blessed"
    with pytest.raises(ValidationError):
        ModelConfig(warm_start="version_3")
