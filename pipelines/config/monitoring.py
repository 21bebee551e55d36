"""``monitoring:`` (``tfxkit monitor``): the served traffic compared, window by window,
with the serving model's training data (skew) and with the window before (drift)."""
from __future__ import annotations

import re
from typing import Dict, Optional

from pydantic import Field, field_validator

from .base import _Strict

_WINDOW = re.compile(r"^\s*(\d+)\s*(m|h|d)\s*$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}


def window_seconds(text: str) -> int:
    """``"1h"`` -> 3600 (minutes ``m``, hours ``h``, days ``d``)."""
    m = _WINDOW.match(str(text))
    if not m or int(m.group(1)) <= 0:
        raise ValueError(f"{text!r} is not a window: a positive number and a unit m, h or d "
                         "(e.g. 30m, 1h, 1d)")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


class FeatureThresholds(_Strict):
    """One feature's own thresholds (None: the default of its kind)."""

    skew: Optional[float] = Field(None, gt=0)
    drift: Optional[float] = Field(None, gt=0)


class Thresholds(_Strict):
    """Distances above which a feature is flagged: L-infinity for categorical features,
    Jensen-Shannon divergence for numeric ones (TFDV's skew/drift comparators)."""

    categorical: float = Field(0.1, gt=0)   # L-infinity distance of the value frequencies
    numeric: float = Field(0.1, gt=0)       # Jensen-Shannon divergence of the histograms


class Monitoring(_Strict):
    """``tfxkit monitor`` (infra/monitoring): per ``window`` of the request log, TFDV
    statistics of the served features against the serving model's training statistics
    (skew) and the previous window's (drift), and the outputs against the previous
    window (prediction drift)."""

    window: str = "1h"
    min_rows: int = Field(50, ge=1)               # fewer rows in a window: not judged
    skew: Thresholds = Thresholds()
    drift: Thresholds = Thresholds()
    prediction_drift: float = Field(0.1, gt=0)    # L-inf (classes) or JS (a regression value)
    features: Dict[str, FeatureThresholds] = {}   # per-feature overrides
    schedule: Optional[str] = None                # Airflow: a <name>-monitor DAG
    output: Optional[str] = None                  # default: monitoring/ beside the registry
    retrain_on_drift: bool = False                # recorded; retraining is the scheduler's

    @field_validator("window")
    @classmethod
    def _window(cls, v):
        window_seconds(v)
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v):
        if v is None:
            return v
        presets = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly"}
        if v in presets or len(v.split()) == 5:
            return v
        raise ValueError(f"{v!r} is neither a cron expression (5 fields) "
                         f"nor one of {sorted(presets)}")

    @property
    def window_s(self) -> int:
        return window_seconds(self.window)

    def threshold(self, feature: str, kind: str, categorical: bool) -> float:
        """The ``kind`` (skew or drift) threshold of ``feature``."""
        own = self.features.get(feature)
        value = getattr(own, kind) if own is not None else None
        if value is not None:
            return value
        group: Thresholds = getattr(self, kind)
        return group.categorical if categorical else group.numeric
