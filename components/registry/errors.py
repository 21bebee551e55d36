"""The registry's errors: each names the version or the path it is about."""
from __future__ import annotations

from typing import List


class RegistryError(RuntimeError):
    """A registry operation that cannot be done (names the version or the path)."""


class UnknownVersion(RegistryError, KeyError):
    def __init__(self, version: str, known: List[str]):
        self.version, self.known = str(version), list(known)
        RuntimeError.__init__(self, f"unknown model version {version!r}; the registry has "
                              f"{', '.join(known) if known else 'no versions'}")

    def __str__(self):  # KeyError would quote the message
        return self.args[0]


class IndexBroken(RegistryError):
    """The index exists but cannot be used (not JSON, truncated, wrong shape)."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}; `tfxkit models CONFIG --repair` rebuilds it "
                         "from the version folders' records (keeping this file)")
