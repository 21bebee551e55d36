"""``tfxkit choices export``: a served bandit policy's choice log (``choice_log.py``)
joined with its rewards, written as one CSV file the next training round reads as a span
(issue 16): the context features as the model read them, the key, the action, the
propensity it was chosen with and the reward.

Columns: the header of the config's newest source file when the source is CSV (so the
export is one more file of the same data), else key, features, action, reward,
propensity. A column the log cannot fill (e.g. a ``week`` column of the generator) is
written empty unless ``fill`` gives it a value; the summary names it. A choice with no
reward gets ``default_reward`` (a newsletter nobody clicked: reward 0) or, with
``drop_unrewarded``, is left out."""
from __future__ import annotations

import csv
import datetime as dt
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from tfxkit.infra.serving import choice_log


def choice_log_path(cfg) -> str:
    """``serving.choice_log``, else ``choices/`` beside a local registry, else in the
    pipeline root (as the canary decision log)."""
    from tfxkit.pipelines.config import is_remote

    if cfg.serving.choice_log:
        return cfg.resolve(cfg.serving.choice_log)
    if not is_remote(cfg.registry_path):
        return os.path.join(cfg.registry_path, "choices")
    return os.path.join(cfg.resolve(cfg.root), cfg.name, "choices")


def columns_of(cfg) -> List[str]:
    """The source's own columns (the newest CSV file's header), else the ones the log has."""
    from tfxkit.pipelines.config import files_of

    src = cfg.data.source
    if src.kind == "csv":
        files = files_of(cfg, src.path)
        if files:
            with open(files[-1], newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), None)
            if header:
                return header
    key = [cfg.inference.key] if cfg.inference and cfg.inference.key else []
    b = cfg.bandit
    return key + cfg.features.raw_columns() + [b.action, cfg.label, b.propensity]


def _features(raw: bytes) -> Dict[str, Any]:
    """A serialized tf.Example's features, each as its first value (bytes as text)."""
    from tensorflow.core.example import example_pb2

    from tfxkit.components.policy_evaluator.gate import feature_value

    feats = example_pb2.Example.FromString(raw).features.feature
    out = {name: feature_value(f) for name, f in feats.items()}
    return {k: v for k, v in out.items() if v is not None}


def _rewards(lines: List[Dict[str, Any]]) -> Tuple[Dict[Tuple[str, int], Any], int]:
    """(request_id, index) -> reward (the first one), and how many repeated a pair."""
    out, repeated = {}, 0
    for r in lines:
        k = (r["request_id"], int(r["index"]))
        if k in out:
            repeated += 1
        else:
            out[k] = r["reward"]
    return out, repeated


def export(cfg, out: str, since: Optional[str] = None, until: Optional[str] = None,
           default_reward: float = 0.0, drop_unrewarded: bool = False,
           fill: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Writes the CSV (all at once: a temporary file renamed into place; an existing
    file is never replaced) and returns what went in."""
    if cfg.bandit is None:
        raise ValueError(f"{cfg.name}: task is {cfg.task!r}; only a bandit's served "
                         "choices are logged (task: bandit)")
    for flag, day in (("--since", since), ("--until", until)):
        if day is not None:
            try:
                dt.date.fromisoformat(day)
            except ValueError:
                raise ValueError(f"{flag}: {day!r} is not a day (YYYY-MM-DD)") from None
    if os.path.exists(out):
        raise FileExistsError(f"{out} exists: give a new file (one file per span)")
    folder = choice_log_path(cfg)
    choices, torn = choice_log.read(folder, "choices", since, until)
    if not choices:
        raise LookupError(f"no choices logged in {folder}"
                          + (f" from {since or 'the start'} to {until or 'now'}"
                             if since or until else "")
                          + ": tfxkit serve logs each POST /predict a bandit policy answers")
    reward_lines, torn_r = choice_log.read(folder, "rewards", since)  # may come days later
    rewards, repeated = _rewards(reward_lines)
    b, key = cfg.bandit, cfg.inference.key if cfg.inference else None
    columns = columns_of(cfg)
    fill = dict(fill or {})
    unknown = sorted(set(fill) - set(columns))
    if unknown:
        raise ValueError(f"--fill {', '.join(unknown)}: not a column of the export "
                         f"({', '.join(columns)})")
    rows, rewarded, defaulted, dropped, total = [], 0, 0, 0, 0.0
    empty: Dict[str, int] = {}
    for c in choices:
        reward = rewards.get((c["request_id"], int(c["index"])))
        if reward is None:
            if drop_unrewarded:
                dropped += 1
                continue
            reward, defaulted = default_reward, defaulted + 1
        else:
            rewarded += 1
        values = _features(choice_log.example_of(c))
        values.update({b.action: c["action"], b.propensity: c["propensity"],
                       cfg.label: reward})
        if key and c.get("key") is not None:
            values[key] = c["key"]
        row = []
        for col in columns:
            if col in values:
                row.append(values[col])
            else:
                row.append(fill.get(col, ""))
                if col not in fill:
                    empty[col] = empty.get(col, 0) + 1
        rows.append(row)
        total += float(reward)
    if not rows:
        raise LookupError(f"every one of the {len(choices)} choices has no reward and "
                          "--drop-unrewarded leaves them out: nothing to write")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = f"{out}.partial"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        w.writerows(rows)
    os.replace(tmp, out)
    return {"file": out, "log": folder, "rows": len(rows), "choices": len(choices),
            "rewarded": rewarded, "default_reward": defaulted, "dropped": dropped,
            "reward_mean": total / len(rows), "repeated_rewards": repeated,
            "torn_lines": torn + torn_r, "columns": columns, "empty_columns": empty,
            "versions": sorted({c["model_version"] for c in choices})}
