"""Where a run page's content block lies in the page's file, as a build's status keeps it.

A later stale build cuts the content from the previous site's page, checked against the page's
sha256 recorded here, instead of keeping a copy of every good page's content.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

# Packed in one bytes (a build holds one per run): the page's sha256, then the UTF-8 byte
# offsets of the block and whether it draws charts.
PageSpan = bytes
_PAGE_SPAN = struct.Struct("<32sQQ?")


class SpanParts(NamedTuple):
    digest: str  # the page's sha256, hex
    start: int
    end: int
    has_charts: bool


def page_span(digest: str, start: int, end: int, has_charts: bool) -> PageSpan:
    return _PAGE_SPAN.pack(bytes.fromhex(digest), start, end, has_charts)


def span_parts(span: PageSpan) -> SpanParts:
    digest, start, end, has_charts = _PAGE_SPAN.unpack(span)
    return SpanParts(digest.hex(), start, end, has_charts)


def span_from_json(raw: Any) -> PageSpan | None:
    """A span as the status file holds it (``span_parts`` as a list); ``ValueError`` for
    anything else."""
    if raw is None:
        return None
    digest, start, end, has_charts = raw
    if not (isinstance(digest, str) and len(digest) == 64 and isinstance(has_charts, bool)):
        raise ValueError("a page span of another shape")
    if not (type(start) is int and type(end) is int and 0 <= start <= end):
        raise ValueError("a page span of another shape")
    return page_span(digest, start, end, has_charts)
