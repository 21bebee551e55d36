"""Drift between two runs: Jensen-Shannon divergence of numeric histograms and the
L-infinity distance of categorical frequencies (TFDV's measures), for feature statistics
and for batch predictions."""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, List, Optional, Tuple

from tfxkit.infra.metadata.report.model import SplitStats


def _hist_mass(hist: List[Tuple[float, float, float]], edges: List[float]) -> List[float]:
    """The histogram's counts spread uniformly within buckets, over ``edges``' intervals."""
    mass = [0.0] * (len(edges) - 1)
    for lo, hi, n in hist:
        if n <= 0:
            continue
        if hi <= lo:  # a point mass
            for i in range(len(mass)):
                if edges[i] <= lo <= edges[i + 1]:
                    mass[i] += n
                    break
            continue
        for i in range(len(mass)):
            a, b = max(lo, edges[i]), min(hi, edges[i + 1])
            if b > a:
                mass[i] += n * (b - a) / (hi - lo)
    return mass


def _js(p: List[float], q: List[float]) -> Optional[float]:
    sp, sq = sum(p), sum(q)
    if sp <= 0 or sq <= 0:
        return None
    p = [x / sp for x in p]
    q = [x / sq for x in q]

    def kl(a, b):
        return sum(x * math.log2(x / y) for x, y in zip(a, b) if x > 0 and y > 0)

    m = [(x + y) / 2 for x, y in zip(p, q)]
    return max(0.0, 0.5 * kl(p, m) + 0.5 * kl(q, m))


def numeric_drift(cur: List[Tuple[float, float, float]],
                  prev: List[Tuple[float, float, float]]) -> Optional[float]:
    """Jensen-Shannon divergence (base 2, 0..1) of two histograms on the union of their
    bucket edges (TFDV's drift measure for numeric features)."""
    if not cur or not prev:
        return None
    edges = sorted({e for lo, hi, _ in cur + prev for e in (lo, hi)})
    if len(edges) < 2:
        return 0.0
    return _js(_hist_mass(cur, edges), _hist_mass(prev, edges))


def categorical_drift(cur: List[Tuple[str, float]], prev: List[Tuple[str, float]]
                      ) -> Optional[float]:
    """L-infinity distance of the value frequencies (TFDV's measure for categorical)."""
    sc, sp = sum(n for _, n in cur), sum(n for _, n in prev)
    if sc <= 0 or sp <= 0:
        return None
    a = {k: n / sc for k, n in cur}
    b = {k: n / sp for k, n in prev}
    return max(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def attach_previous(current: List[SplitStats], previous: List[SplitStats]) -> None:
    for split in current:
        old = next((p for p in previous if p.split == split.split), None)
        if old is None:
            continue
        for f in split.features:
            pf = old.feature(f.name)
            if pf is None or pf.kind != f.kind:
                continue
            f.previous = pf
            if f.kind == "numeric":
                f.drift = numeric_drift(f.histogram, pf.histogram)
            elif f.kind == "categorical":
                f.drift = categorical_drift(f.top, pf.top)


def prediction_drift(kind: str, cur: List[Any], prev: List[Any]) -> Optional[float]:
    if not cur or not prev:
        return None
    if kind == "categorical":
        return categorical_drift(list(Counter(map(str, cur)).items()),
                                 list(Counter(map(str, prev)).items()))
    lo = min(min(cur), min(prev))
    hi = max(max(cur), max(prev))
    if hi <= lo:
        return 0.0
    width = (hi - lo) / 20
    edges = [lo + i * width for i in range(21)]

    def hist(vals):
        counts = [0.0] * 20
        for v in vals:
            counts[min(int((v - lo) / width), 19)] += 1
        return [(edges[i], edges[i + 1], counts[i]) for i in range(20)]

    return numeric_drift(hist(cur), hist(prev))
