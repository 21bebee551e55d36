"""Plain functions behind the ValidationGate executor (testable without TFX)."""
from __future__ import annotations

from typing import Dict, List


class AnomaliesFound(RuntimeError):
    """Raised when the data has anomalies and the config says ``fail``."""


def describe_anomalies(anomalies_by_split: Dict[str, object]) -> List[str]:
    """One line per anomaly: ``split: feature: description``.

    ``anomalies_by_split`` maps split names to TFMD ``Anomalies`` protos.
    """
    lines = []
    for split in sorted(anomalies_by_split):
        proto = anomalies_by_split[split]
        for feature in sorted(proto.anomaly_info):
            info = proto.anomaly_info[feature]
            reason = info.short_description or info.description
            detail = f" ({info.description})" if info.description and info.description != reason else ""
            lines.append(f"{split}: {feature}: {reason}{detail}")
        if proto.HasField("dataset_anomaly_info"):
            info = proto.dataset_anomaly_info
            lines.append(f"{split}: <dataset>: {info.short_description or info.description}")
    return lines


def check(anomalies_by_split: Dict[str, object], on_anomalies: str) -> List[str]:
    """Returns the anomalies; raises AnomaliesFound if any and ``on_anomalies == 'fail'``."""
    if on_anomalies not in ("fail", "warn"):
        raise ValueError(f"on_anomalies must be 'fail' or 'warn', got {on_anomalies!r}")
    lines = describe_anomalies(anomalies_by_split)
    if lines and on_anomalies == "fail":
        raise AnomaliesFound(
            f"{len(lines)} data anomal{'y' if len(lines) == 1 else 'ies'} against the schema "
            "(set validation.on_anomalies: warn to train anyway):\n  " + "\n  ".join(lines))
    return lines
