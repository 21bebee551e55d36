"""Loading a config file: YAML, then the profile (a deep merge), then ``--set KEY=VALUE``
overrides, then validation; every error names the file and the field."""
from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Dict, List, Optional, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from .base import ConfigError
from .pipeline import PipelineConfig


def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _yaml_value(value: str):
    """A --set value as YAML (numbers, lists, true/false), else the plain string."""
    if value == "":
        return ""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    # 'a: b' would silently become a mapping; a scalar was meant unless it looks like YAML
    if isinstance(parsed, dict) and not value.lstrip().startswith("{"):
        return value
    return parsed


def _apply_set(raw: dict, assignment: str, file: str) -> None:
    if "=" not in assignment:
        raise ConfigError(file, assignment, "--set expects key=value (e.g. model.epochs=5)")
    key, value = assignment.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(file, key, "--set key has an empty part")
    node = raw
    for p in parts[:-1]:
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(file, key, f"{p!r} is not a section, cannot set inside it")
        node = nxt
    node[parts[-1]] = _yaml_value(value)


def _loc(loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, str) and ("[" in part or part in ("str", "int", "float")) \
                and out:
            continue  # pydantic's union-member labels, e.g. literal['mean', ...]
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _reason(err) -> str:
    """One pydantic error in our words; an unknown key names the closest known one."""
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        return "unknown key" + _did_you_mean(err["loc"])
    if err["type"] == "missing":
        return "required but missing"
    if err["type"] == "literal_error":
        msg = f"{msg} (got {err.get('input')!r})"
    return msg.replace("Value error, ", "")


def _did_you_mean(loc) -> str:
    key = str(loc[-1])
    close = difflib.get_close_matches(key, _keys_at(PipelineConfig, list(loc[:-1])), n=1)
    if close:
        return f" (did you mean {close[0]}?)"
    if len(loc) > 1:  # e.g. data.lable: the key belongs at the top level
        close = difflib.get_close_matches(key, _keys_at(PipelineConfig, []) + ["profiles"],
                                          n=1)
        if close:
            return f" (did you mean the top-level {close[0]}?)"
    return ""


def _keys_at(ann, parts: list) -> List[str]:
    """The keys (field names and aliases) of the section at ``parts`` of the model
    ``ann``; pydantic's union-member labels in a location are skipped."""
    models = _models_of(ann)
    if not parts:
        keys: List[str] = []
        for m in models:
            for name, f in m.model_fields.items():
                keys += [name] + ([f.alias] if f.alias else [])
        return sorted(set(keys))
    part, rest = parts[0], parts[1:]
    for m in models:
        for name, f in m.model_fields.items():
            if part in (name, f.alias):
                return _keys_at(f.annotation, rest)
    for inner in _containers_of(ann):  # a list index or a dict key
        return _keys_at(inner, rest)
    return _keys_at(ann, rest) if models else []


def _models_of(ann) -> list:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return [ann]
    if get_origin(ann) is Union:
        return [m for a in get_args(ann) for m in _models_of(a)]
    return []


def _containers_of(ann) -> list:
    if get_origin(ann) is Union:
        return [c for a in get_args(ann) for c in _containers_of(a)]
    if get_origin(ann) in (list, List):
        return [get_args(ann)[0]]
    if get_origin(ann) in (dict, Dict):
        return [get_args(ann)[1]]
    return []


def load_config(path: Union[str, Path], profile: Optional[str] = None,
                overrides: Optional[List[str]] = None) -> PipelineConfig:
    """Reads, merges (profile, then --set) and validates a config file."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ConfigError(file, "", "no such config file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(file, "", f"not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(file, "", "the top level must be a mapping")
    profiles = raw.pop("profiles", {}) or {}
    if not isinstance(profiles, dict):
        raise ConfigError(file, "profiles", "must be a mapping of profile name to overrides")
    side = path.with_name(f"{path.stem}.{profile}.yaml") if profile else None
    if profile:
        if profile in profiles:
            over, where = profiles[profile] or {}, f"profiles.{profile}"
        elif side is not None and side.is_file():
            try:
                over, where = yaml.safe_load(side.read_text()) or {}, str(side)
            except yaml.YAMLError as e:
                raise ConfigError(str(side), "", f"not valid YAML: {e}") from None
        else:
            known = sorted(profiles) or ["(none)"]
            raise ConfigError(file, "profiles", f"unknown profile {profile!r}; "
                              f"known: {', '.join(known)} (or a file {side.name})")
        if not isinstance(over, dict):
            raise ConfigError(file, where, "a profile must be a mapping of overrides")
        raw = _deep_merge(raw, over)
    for assignment in overrides or []:
        _apply_set(raw, assignment, file)
    try:
        cfg = PipelineConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError.of([(file, _loc(err["loc"]), _reason(err))
                              for err in e.errors()]) from None
    cfg.config_path = str(path.resolve())
    cfg.profile = profile
    return cfg
