"""The model card's content, in plain Python: ``build`` assembles it from what the push
knows (the version's record) and what ``sources.py`` read; ``files`` gives the files the
registry puts into the version folder (``model_card/model_card.json`` and ``.html``)."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

FORMAT = "tfxkit-model-card/1"
DIR = "model_card"  # the registry's CARD_DIR
JSON_NAME = "model_card.json"
HTML_NAME = "model_card.html"
CARD_FIELDS = ("overview", "intended_use", "limitations", "owners",
               "ethical_considerations", "references")


def build(*, name: str, version: str, record: Dict[str, Any],
          card_config: Optional[Dict[str, Any]] = None,
          slices: Optional[List[Dict[str, Any]]] = None,
          statistics: Optional[Dict[str, Any]] = None,
          lineage: Optional[Dict[str, Any]] = None,
          fairness: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The card (a JSON-able dict).

    ``record``: the version's registry record (created_at, sha256, metrics, config_hash,
    git_commit, data, pipeline_run). ``slices``: ``sources.slice_metrics`` (the overall
    slice first). ``statistics``: ``sources.feature_statistics`` (train split). ``fairness``: the
    ``eval.fairness`` section (its features, rates and thresholds) when configured: the
    card then lists its rates per slice. ``card_config``: the ``card:`` section."""
    cfg = {k: v for k, v in (card_config or {}).items() if k in CARD_FIELDS}
    data = record.get("data") or {}
    slices = list(slices or [])
    overall = next((s for s in slices if s["slice"] == "Overall"), None)
    metrics = [{"name": k, "value": v,
                **_threshold_of(overall, k)} for k, v in sorted((record.get("metrics") or
                                                                  {}).items())]
    card: Dict[str, Any] = {
        "format": FORMAT,
        "model": {"name": name, "version": str(version),
                  "pushed_at": record.get("created_at"), "sha256": record.get("sha256"),
                  "config_hash": record.get("config_hash"),
                  "git_commit": record.get("git_commit"),
                  "model_uri": record.get("model_uri")},
        "considerations": {k: cfg.get(k) or ([] if k in ("owners", "references") else None)
                           for k in CARD_FIELDS},
        "data": {"spans": data.get("spans", []),
                 "rows": data.get("rows"),
                 "rows_per_split": _rows_per_split(data),
                 "examples": [{k: e.get(k) for k in ("uri", "span", "rows", "fingerprint")
                               if e.get(k) is not None} for e in data.get("examples", [])],
                 "statistics": dict(statistics or {})},
        "metrics": {"overall": metrics, "slices": [s for s in slices
                                                   if s["slice"] != "Overall"]},
        "lineage": {"pipeline": record.get("pipeline"),
                    "pipeline_run": record.get("pipeline_run"), **(lineage or {})},
    }
    if fairness:
        card["fairness"] = fairness_rates(slices, fairness)
    return card


def _threshold_of(overall: Optional[Dict[str, Any]], metric: str) -> Dict[str, Any]:
    if not overall:
        return {}
    for m in overall["metrics"]:
        if m["name"] == metric and m.get("threshold"):
            return {"threshold": m["threshold"], "passed": m.get("passed")}
    return {}


def _rows_per_split(data: Dict[str, Any]) -> Dict[str, int]:
    """Rows of each split, summed over the Examples artifacts (the spans of the window)."""
    out: Dict[str, int] = {}
    for e in data.get("examples", []):
        for split, n in (e.get("rows") or {}).items():
            out[split] = out.get(split, 0) + int(n)
    return out


def fairness_rates(slices: List[Dict[str, Any]], fairness: Dict[str, Any]
                   ) -> Dict[str, Any]:
    """The Fairness Indicators rates (``fairness_indicators_metrics/<rate>@<t>``) of the
    overall slice and of every slice of a fairness feature, and the configured gates."""
    features = list(fairness.get("features") or [])
    rows = []
    for s in slices:
        if s["slice"] != "Overall" and s.get("feature") not in features:
            continue
        rates = {m["name"].split("/", 1)[1]: m["value"] for m in s["metrics"]
                 if m["name"].startswith("fairness_indicators_metrics/")}
        if rates:
            rows.append({"slice": s["slice"], "rates": rates})
    return {"features": features, "gate": fairness.get("gate") or {}, "slices": rows}


def files(card: Dict[str, Any]) -> Dict[str, bytes]:
    """{``model_card/model_card.json``: bytes, ``model_card/model_card.html``: bytes}."""
    from tfxkit.components.model_card.html import render

    return {f"{DIR}/{JSON_NAME}": json.dumps(card, indent=1, sort_keys=True,
                                             default=str).encode(),
            f"{DIR}/{HTML_NAME}": render(card).encode()}
