import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


@pytest.fixture
def template_copy(tmp_path):
    """Copies a template (config, data, modules) into a fresh folder."""

    def make(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(TEMPLATES / name, dest,
                        ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
        return dest

    return make
