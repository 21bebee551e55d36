"""What Beam arguments say about where a component's Beam work runs."""
from __future__ import annotations

from typing import Dict, Sequence


def in_memory(beam_pipeline_args: Sequence[str]) -> bool:
    """Whether these Beam arguments run the direct runner in memory: one thread runs
    every bundle in this process (TFX's default: no arguments)."""
    opts: Dict[str, str] = {}
    for a in beam_pipeline_args or ():
        name, _, value = str(a).partition("=")
        opts[name] = value
    if opts.get("--runner", "DirectRunner") not in ("DirectRunner", "direct",
                                                    "SwitchingDirectRunner"):
        return False
    if opts.get("--direct_running_mode", "in_memory") != "in_memory":
        return False
    return opts.get("--direct_num_workers", "1") in ("0", "1")
