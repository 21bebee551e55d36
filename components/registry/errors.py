"""The registry's errors: each names the version or the path it is about."""
from __future__ import annotations

from typing import Dict, List


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


class UnknownAlias(RegistryError, KeyError):
    """A reference that is neither a version of the registry nor one of its aliases."""

    def __init__(self, ref: str, aliases: Dict[str, str], versions: List[str]):
        self.ref, self.aliases, self.versions = str(ref), dict(aliases), list(versions)
        known = (", ".join(f"{a} -> {v}" for a, v in sorted(aliases.items()))
                 if aliases else "none")
        RuntimeError.__init__(self, f"unknown model alias {ref!r}; the registry's aliases: "
                              f"{known}; its versions: "
                              f"{', '.join(versions) if versions else 'none'}")

    def __str__(self):
        return self.args[0]
