"""LatestSpansStrategy: the newest artifact of each of the latest N spans.

Stock ``SpanRangeStrategy`` returns every artifact whose span is in range, so a span
ingested twice (its files changed) would be trained on twice. This strategy keeps one
artifact per span (highest version, then newest) and the latest ``num_spans`` spans.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.components.common import resolver

EXAMPLES = "examples"


def _span(a: types.Artifact) -> int:
    s = a.get_string_custom_property("span")
    return int(s) if s else a.get_int_custom_property("span")


def _version(a: types.Artifact) -> int:
    return a.get_int_custom_property("version") if a.has_custom_property("version") else 0


def latest_spans(artifacts: List[types.Artifact], num_spans: int,
                 max_span: Optional[int] = None) -> List[types.Artifact]:
    """Newest artifact per span, latest ``num_spans`` spans, newest span first; with
    ``max_span`` (a backfill of a past span) the window ends at that span."""
    if num_spans < 1:
        raise ValueError("num_spans must be positive")
    best: Dict[int, types.Artifact] = {}
    for a in artifacts:
        if not a.has_custom_property("span"):
            raise RuntimeError(f"artifact {a.id} has no span")
        s = _span(a)
        if max_span is not None and s > max_span:
            continue
        cur = best.get(s)
        if cur is None or (_version(a), a.id) > (_version(cur), cur.id):
            best[s] = a
    return [best[s] for s in sorted(best, reverse=True)[:num_spans]]


class LatestSpansStrategy(resolver.ResolverStrategy):
    def __init__(self, num_spans: int, max_span: Optional[int] = None):
        self._num_spans = int(num_spans)
        self._max_span = None if max_span is None else int(max_span)

    def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        return {EXAMPLES: latest_spans(input_dict.get(EXAMPLES, []), self._num_spans,
                                       self._max_span)}
