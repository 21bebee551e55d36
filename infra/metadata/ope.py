"""A bandit policy's off-policy evaluation as ``tfxkit lineage`` and the run report show it
(issue 16): read from the PolicyEvaluator's ``ope.json`` in its blessing's folder (every
estimate with its bootstrap interval, the baseline's, the change vs the baseline, each
threshold's verdict and the decision), else from the numbers it recorded as the blessing's
custom properties (``gate.headline``: ``policy_value_dr``, ``policy_value_dr_lower``,
``baseline_...``, ``change_...``; no verdicts there). A bad or absent file is said in
``note``, never raised.

``read`` returns one plain dict whatever the source: ``candidate`` / ``baseline`` /
``change`` map each metric to ``{"value", "lower", "upper"}`` (no interval: None bounds;
a metric the gate could not compute: None value),
``thresholds`` the gate's verdicts, ``blessed``, ``reason``, ``n``, ``level``, ``resamples``.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional

REPORT_FILE = "ope.json"  # components/policy_evaluator/executor.py writes it
SIDES = ("candidate", "baseline", "change")
_PREFIX = {"baseline": "baseline_", "change": "change_"}  # their custom properties'
_NOT_METRICS = {"n"}
# how the gate's metrics are listed (components/policy_evaluator/gate.py: OPE, REWARD_MODEL)
ORDER = ("policy_value_ips", "policy_value_snips", "policy_value_dr", "mse", "rmse", "mae",
         "auc")


def is_policy_evaluation(execution_type: Optional[str], blessing_uri: Optional[str],
                         props: Mapping[str, Any]) -> bool:
    """Whether a blessing is the PolicyEvaluator's: by its execution's type, its
    ``policy_value_*`` properties or the ``ope.json`` beside it."""
    return ((execution_type or "").endswith("PolicyEvaluator")
            or any(k.startswith("policy_value_") for k in props)
            or bool(blessing_uri) and _exists(os.path.join(blessing_uri, REPORT_FILE)))


def _exists(path: str) -> bool:
    from tfx.dsl.io import fileio

    return fileio.exists(path)


def _entry(v: Any) -> Dict[str, Optional[float]]:
    """An estimate ({value, lower, upper, ...}) or a plain number, as value/lower/upper;
    None (a metric the gate could not compute, e.g. an AUC of one kind of reward) too."""
    if v is None:
        return {"value": None, "lower": None, "upper": None}
    if isinstance(v, Mapping):
        lo, hi = v.get("lower"), v.get("upper")
        return {"value": float(v["value"]), "lower": None if lo is None else float(lo),
                "upper": None if hi is None else float(hi)}
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"not a number or an estimate: {v!r}")
    return {"value": float(v), "lower": None, "upper": None}


def _side(d: Any) -> Optional[Dict[str, Dict[str, Optional[float]]]]:
    if d is None:
        return None
    if not isinstance(d, Mapping):
        raise TypeError(f"expected an object of metrics, got {type(d).__name__}")
    return {str(k): _entry(v) for k, v in d.items()}


def _verdict(v: Mapping[str, Any]) -> Dict[str, Any]:
    interval = v.get("interval")
    return {"metric": str(v["metric"]), "bound": str(v["bound"]),
            "threshold": v.get("threshold"), "value": v.get("value"),
            "interval": list(interval) if interval else None,
            "baseline": v.get("baseline"), "passed": v.get("passed"),
            "reason": str(v.get("reason") or "")}


def from_report(raw: Any) -> Dict[str, Any]:
    """``ope.json``'s content in the shape ``read`` returns (TypeError / KeyError /
    ValueError when it is not the PolicyEvaluator's)."""
    if not isinstance(raw, Mapping):
        raise TypeError(f"expected a JSON object, got {type(raw).__name__}")
    boot = raw.get("bootstrap") or {}
    out: Dict[str, Any] = {side: _side(raw.get(side)) for side in SIDES}
    if out["candidate"] is None:
        raise KeyError("candidate")
    out.update(source=REPORT_FILE, note=None, n=raw.get("n"), level=boot.get("level"),
               resamples=boot.get("resamples"), logged_reward_mean=raw.get("logged_reward_mean"),
               thresholds=[_verdict(v) for v in raw.get("thresholds") or []],
               blessed=raw.get("blessed"), reason=raw.get("reason"),
               model=raw.get("model"), baseline_model=raw.get("baseline_model"))
    return out


def from_properties(props: Mapping[str, Any]) -> Dict[str, Any]:
    """The headline numbers the blessing records (float custom properties), any metric
    name: ``X`` with ``X_lower`` / ``X_upper``, ``baseline_X``, ``change_X``."""
    nums = {k: float(v) for k, v in props.items() if isinstance(v, float)}
    sides: Dict[str, Dict[str, Dict[str, Optional[float]]]] = {s: {} for s in SIDES}
    for key, value in sorted(nums.items()):
        if key in _NOT_METRICS or key.endswith(("_lower", "_upper")):
            continue
        side = next((s for s, p in _PREFIX.items() if key.startswith(p)), "candidate")
        name = key[len(_PREFIX.get(side, "")):]
        sides[side][name] = {"value": value, "lower": nums.get(key + "_lower"),
                             "upper": nums.get(key + "_upper")}
    n = nums.get("n")
    blessed = props.get("blessed")
    return {"source": "blessing properties", "note": None,
            "n": int(n) if n is not None else None, "level": None, "resamples": None,
            "logged_reward_mean": None, "candidate": sides["candidate"],
            "baseline": sides["baseline"] or None, "change": sides["change"] or None,
            "thresholds": [], "blessed": None if blessed is None else bool(blessed),
            "reason": props.get("reason"), "model": props.get("current_model"),
            "baseline_model": props.get("baseline_model")}


def read(blessing_uri: Optional[str], props: Mapping[str, Any]) -> Dict[str, Any]:
    """The off-policy evaluation of a PolicyEvaluator's blessing: ``ope.json`` (the one
    source), else its custom properties, with a ``note`` saying why."""
    path = os.path.join(blessing_uri or "", REPORT_FILE)
    try:
        if not blessing_uri or not _exists(path):
            note = f"{REPORT_FILE} absent ({path})"
        else:
            from tfx.dsl.io import fileio

            with fileio.open(path) as f:
                raw = json.load(f)
            out = from_report(raw)
            out["path"] = path
            return out
    except Exception as e:  # pylint: disable=broad-except
        note = f"{REPORT_FILE} unreadable ({path}): {type(e).__name__}: {e}"
    out = from_properties(props)
    out["path"] = None
    has = any(out[s] for s in SIDES)
    out["note"] = note + ("; shown from the blessing's custom properties (no verdicts)" if has
                          else "; the blessing records no off-policy numbers either")
    return out


# -- words and numbers, the same in lineage and the report ------------------------------

def num(v: Optional[float], sign: bool = False) -> str:
    if v is None:
        return "n/a"
    return f"{v:+.4g}" if sign else f"{v:.4g}"


def interval_text(entry: Mapping[str, Any], sign: bool = False) -> str:
    """``[lower, upper]`` (empty when the entry has no interval)."""
    if entry.get("lower") is None or entry.get("upper") is None:
        return ""
    return f"[{num(entry['lower'], sign)}, {num(entry['upper'], sign)}]"


def how_text(ope: Mapping[str, Any]) -> str:
    """How the intervals were drawn: ``95% bootstrap, n 1884``."""
    level = ope.get("level")
    parts = [f"{level:.0%} bootstrap" if isinstance(level, (int, float)) else
             "bootstrap, level not recorded"]
    if ope.get("n") is not None:
        parts.append(f"n {ope['n']}")
    return ", ".join(parts)


def estimate_text(name: str, entry: Mapping[str, Any], ope: Mapping[str, Any],
                  sign: bool = False) -> str:
    """``policy_value_dr 0.169 [0.125, 0.215] (95% bootstrap, n 1884)``."""
    iv = interval_text(entry, sign)
    return f"{name} {num(entry.get('value'), sign)}" + (
        f" {iv} ({how_text(ope)})" if iv else "")


def verdict_word(passed: Optional[bool]) -> str:
    return {True: "pass", False: "FAIL", None: "skipped"}[passed]


def metric_names(ope: Mapping[str, Any], sides=SIDES) -> List[str]:
    """Every metric of ``sides``: the ones with intervals (the policy values) first, the
    estimators in ``ORDER``, then any other by name."""
    names = {n for side in sides for n in ope.get(side) or {}}
    has_iv = {n for s in sides for n, e in (ope.get(s) or {}).items()
              if e.get("lower") is not None}
    return sorted(names, key=lambda n: (n not in has_iv,
                                        ORDER.index(n) if n in ORDER else len(ORDER), n))
