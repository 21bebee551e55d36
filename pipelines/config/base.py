"""What every section of the config shares: the error a bad config raises, the strict
base model (unknown keys fail), span placeholders and remote paths."""
from __future__ import annotations

import re
from typing import Optional

from pydantic import BaseModel, ConfigDict


class ConfigError(ValueError):
    """A config that cannot run: names the file, the field and the reason."""

    def __init__(self, file: str, field: str, reason: str):
        self.file, self.field, self.reason = str(file), field, reason
        where = f"{self.file}: {field}: " if field else f"{self.file}: "
        super().__init__(where + reason)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


SPAN_TOKENS = ("{SPAN}", "{YYYY}", "{MM}", "{DD}", "{VERSION}")


_URI = re.compile(r"^[a-z][a-z0-9+.-]*://")


def is_remote(path: Optional[str]) -> bool:
    """Whether a path is a URI (gs://, s3://, ...) rather than a local path."""
    return bool(path) and bool(_URI.match(path))
