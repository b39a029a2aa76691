"""A run page's content span in the status: packed, read back exactly as written, and anything
else read as a cache miss; cut from a page's bytes only where the bytes are whole text."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.build.page_span import page_span, span_parts
from reportgen.build.status import RunStatus
from reportgen.pages.stale import cut_content

DIGESTS = st.binary(min_size=32, max_size=32).map(bytes.hex)
OFFSETS = st.integers(min_value=0, max_value=2**63 - 1)


def _status(span: bytes | None) -> RunStatus:
    return RunStatus("h" * 64, None, "r" * 64, ("runs/a/index.html",), None, True, page_span=span)


@given(DIGESTS, OFFSETS, OFFSETS, st.booleans())
def test_a_span_reads_back_as_written(digest: str, a: int, b: int, has_charts: bool) -> None:
    start, end = sorted((a, b))
    status = _status(page_span(digest, start, end, has_charts))
    assert status.page_span is not None
    assert span_parts(status.page_span) == (digest, start, end, has_charts)
    read = RunStatus.from_json(orjson.loads(orjson.dumps(status.to_json())))
    assert read == status


def test_no_span_reads_back_as_none() -> None:
    assert RunStatus.from_json(_status(None).to_json()).page_span is None


@pytest.mark.parametrize(
    "span",
    [
        ["ab" * 32, 10, 5, False],  # ends before it starts
        ["ab" * 32, -1, 5, False],
        ["ab" * 32, 1.0, 5, False],
        ["ab" * 32, True, 5, False],  # a bool is not an offset
        ["ab" * 31, 0, 5, False],  # a short digest
        ["zz" * 32, 0, 5, False],  # not hex
        ["ab" * 32, 0, 5, "yes"],
        ["ab" * 32, 0, 5],
        "ab",
    ],
)
def test_a_span_of_another_shape_is_a_cache_miss(span: Any) -> None:
    data = _status(page_span("ab" * 32, 0, 5, False)).to_json() | {"page_span": span}
    with pytest.raises((ValueError, TypeError)):
        RunStatus.from_json(data)


def test_the_cut_is_the_content_stored_as_a_stale_page_reads_it() -> None:
    page = "<html><main>ΔH ± σ</main></html>".encode()
    start = page.index(b"<main>") + len(b"<main>")
    end = page.index(b"</main>")
    stored = cut_content(page, start, end, True)
    assert stored is not None
    assert orjson.loads(stored) == {"has_charts": True, "content": "ΔH ± σ"}


def test_a_cut_outside_the_page_or_through_a_character_is_none() -> None:
    page = "<main>Δ</main>".encode()
    inside = page.index("Δ".encode())
    assert cut_content(page, inside + 1, len(page), False) is None  # half of Δ's bytes
    assert cut_content(page, 0, len(page) + 1, False) is None
    assert cut_content(page, 5, 4, False) is None
