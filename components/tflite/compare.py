"""The comparison of the TFLite interpreter's outputs with the SavedModel's, in plain
Python: numbers within an absolute tolerance, strings equal."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

import numpy as np


@dataclass
class Comparison:
    rows: int
    tolerance: float
    max_abs_diff: Optional[float] = None          # over every numeric output
    per_output: Dict[str, float] = field(default_factory=dict)  # numeric: max abs diff
    mismatched_rows: Dict[str, int] = field(default_factory=dict)  # rows off per output
    problems: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _is_text(a: np.ndarray) -> bool:
    return a.dtype.kind in ("S", "U", "O")


def compare(expected: Dict[str, Any], actual: Dict[str, Any], tolerance: float) -> Comparison:
    """Compares each output of ``expected`` (the SavedModel's) with ``actual`` (the TFLite
    interpreter's) on the same rows: an output missing, of another shape, a number further
    than ``tolerance`` or a different string is a problem naming the output, the
    difference and the rows."""
    names = sorted(expected)
    rows = int(np.asarray(expected[names[0]]).shape[0]) if names else 0
    res = Comparison(rows=rows, tolerance=float(tolerance))
    if not names:
        res.problems.append("the SavedModel returned no outputs to compare")
        return res
    worst = 0.0
    for name in names:
        want = np.asarray(expected[name])
        if name not in actual:
            res.problems.append(f"TFLite output {name!r} is missing (it has "
                                f"{', '.join(sorted(actual)) or 'none'})")
            continue
        got = np.asarray(actual[name])
        if got.shape != want.shape and got.size == want.size:
            got = got.reshape(want.shape)  # e.g. [n] vs [n, 1]
        if got.shape != want.shape:
            res.problems.append(f"TFLite output {name!r} has shape {list(got.shape)}, the "
                                f"SavedModel's {list(want.shape)}")
            continue
        if _is_text(want) or _is_text(got):
            w = np.vectorize(lambda x: x.decode() if isinstance(x, bytes) else str(x),
                             otypes=[object])(want) if want.size else want
            g = np.vectorize(lambda x: x.decode() if isinstance(x, bytes) else str(x),
                             otypes=[object])(got) if got.size else got
            off = (w != g).reshape(rows, -1).any(axis=1) if rows else np.zeros(0, bool)
            res.mismatched_rows[name] = int(off.sum())
            if off.any():
                i = int(np.argmax(off))
                res.problems.append(f"TFLite output {name!r} differs on {int(off.sum())} of "
                                    f"{rows} rows (row {i}: {g.reshape(rows, -1)[i].tolist()} "
                                    f"vs the SavedModel's {w.reshape(rows, -1)[i].tolist()})")
            continue
        w64, g64 = want.astype(np.float64), got.astype(np.float64)
        both_nan = np.isnan(w64) & np.isnan(g64)
        diff = np.where(both_nan, 0.0, np.abs(w64 - g64))
        diff = np.where(np.isnan(diff), np.inf, diff)  # NaN on one side only
        d = float(diff.max()) if diff.size else 0.0
        res.per_output[name] = d
        worst = max(worst, d)
        off = (diff > tolerance).reshape(rows, -1).any(axis=1) if rows else np.zeros(0, bool)
        res.mismatched_rows[name] = int(off.sum())
        if off.any():
            res.problems.append(f"TFLite output {name!r} differs from the SavedModel's by up to "
                                f"{d:.3g} (tolerance {tolerance:g}) on {int(off.sum())} of "
                                f"{rows} rows")
    res.max_abs_diff = worst if res.per_output else None
    return res
