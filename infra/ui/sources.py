"""The use cases ``tfxkit ui`` shows: configs given by path, or every ``config.yaml`` found
under a folder (``--dir``). Each opens its ML Metadata read-only (the dashboard never
writes MLMD) and its model registry."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import List, Optional, Sequence


class SourceError(ValueError):
    """A config that cannot be read, or none found (the message names the file and why)."""


@dataclass
class UseCase:
    cfg: object                         # tfxkit.pipelines.config.PipelineConfig
    config_path: str
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def name(self) -> str:
        return self.cfg.name

    def has_metadata(self) -> bool:
        from tfxkit.pipelines import mlmd

        return mlmd.exists(self.cfg)

    def store(self):
        """A read-only MetadataStore on the use case's MLMD (None when none exists yet).
        SQLite is opened with READONLY; a MySQL store with skip_db_creation."""
        from tfxkit.pipelines import mlmd

        if not mlmd.exists(self.cfg):
            return None
        return mlmd.open_store(self.cfg, readonly=True)

    def registry(self):
        from tfxkit.components.registry.registry import Registry

        return Registry(self.cfg.registry_path, name=self.cfg.name)


def find_configs(folder: str, max_depth: int = 3) -> List[str]:
    """Every ``config.yaml`` under ``folder`` (not below ``max_depth`` levels, never inside
    a pipeline root ``.tfxkit`` or a registry's version folders), sorted."""
    out = []
    base = os.path.abspath(folder)
    if not os.path.isdir(base):
        raise SourceError(f"--dir {folder}: not a folder")
    for root, dirs, files in os.walk(base):
        depth = os.path.relpath(root, base).count(os.sep) + (root != base)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.isdigit()
                         and d not in ("node_modules", "__pycache__"))
        if depth >= max_depth:
            dirs[:] = []
        if "config.yaml" in files:
            out.append(os.path.join(root, "config.yaml"))
    return sorted(out)


def load_use_cases(configs: Sequence[str] = (), folder: Optional[str] = None,
                   profile: Optional[str] = None, overrides: Sequence[str] = ()
                   ) -> List[UseCase]:
    """The use cases of ``configs`` and of every config.yaml under ``folder`` (``profile``
    and ``overrides``, KEY=VALUE, applied to each); a bad config raises SourceError naming
    the file and the reason; two with the same name too."""
    from tfxkit.pipelines.config import ConfigError, load_config

    paths = list(configs)
    if folder is not None:
        found = find_configs(folder)
        if not found:
            raise SourceError(f"--dir {folder}: no config.yaml found (looked {3} levels deep)")
        paths += found
    if not paths:
        raise SourceError("give one or more CONFIG files, or --dir DIR")
    out: List[UseCase] = []
    for p in paths:
        try:
            cfg = load_config(p, profile=profile, overrides=list(overrides))
        except ConfigError as e:
            raise SourceError(str(e)) from None
        if any(u.name == cfg.name for u in out):
            other = next(u for u in out if u.name == cfg.name)
            raise SourceError(f"{p}: use case name {cfg.name!r} is also the name of "
                              f"{other.config_path}; the dashboard needs distinct names")
        out.append(UseCase(cfg, os.path.abspath(p)))
    return out
