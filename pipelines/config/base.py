"""What every section of the config shares: the error a bad config raises, the strict
base model (unknown keys fail), span placeholders and remote paths."""
from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple, Union

from pydantic import BaseModel, ConfigDict


class ConfigError(ValueError):
    """A config that cannot run: names the file, the field and the reason.

    It may hold several problems (``problems``: (file, field, reason) each, see
    ``ConfigError.of``); its message then has one line per problem, ``FILE: FIELD:
    reason``. ``file``, ``field`` and ``reason`` are the first problem's, ``reason``
    followed on the same line by the others (for callers that show one line)."""

    def __init__(self, file: str, field: str, reason: str,
                 more: Sequence[Tuple[str, str, str]] = ()):
        first = (str(file), field, reason)
        self.problems: List[Tuple[str, str, str]] = [first] + [
            (str(f), fld, r) for f, fld, r in more]
        self.file, self.field = first[0], field
        also = "; ".join(f"{fld}: {r}" if fld else r for _, fld, r in self.problems[1:])
        self.reason = f"{reason}; also {also}" if also else reason
        super().__init__("\n".join(_line(*p) for p in self.problems))

    @classmethod
    def of(cls, problems: Sequence[Union["ConfigError", Tuple[str, str, str]]]
           ) -> "ConfigError":
        """One error holding every problem (ConfigErrors or (file, field, reason)) in order."""
        flat: List[Tuple[str, str, str]] = []
        for p in problems:
            flat += p.problems if isinstance(p, ConfigError) else [tuple(p)]
        if not flat:
            raise ValueError("ConfigError.of needs at least one problem")
        return cls(*flat[0], more=flat[1:])


def _line(file: str, field: str, reason: str) -> str:
    return f"{file}: {field}: {reason}" if field else f"{file}: {reason}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


SPAN_TOKENS = ("{SPAN}", "{YYYY}", "{MM}", "{DD}", "{VERSION}")


_URI = re.compile(r"^[a-z][a-z0-9+.-]*://")


def is_remote(path: Optional[str]) -> bool:
    """Whether a path is a URI (gs://, s3://, ...) rather than a local path."""
    return bool(path) and bool(_URI.match(path))
