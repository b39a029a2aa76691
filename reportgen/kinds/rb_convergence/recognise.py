"""Which files are Rao-Blackwell convergence pickles: by name, then by their first bytes.

Nothing is unpickled to decide: a pickled dict stores its keys as text, so the block names
appear in the first bytes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from reportgen.kinds.claims import SNIFF_BYTES, Claim, claims_by_directory, name_matches

KIND = "rb-convergence"
PATTERNS = ("*.pkl", "*.pickle")
_PICKLE_START = b"\x80"  # protocol 2 and later open with PROTO
_MARKERS = (b"population_stats", b"convergence_results")


def matches(path: str) -> bool:
    return name_matches(path, PATTERNS)


def sniff(head: bytes) -> bool:
    """A pickle whose first bytes name the study's blocks."""
    window = head[:SNIFF_BYTES]
    return window.startswith(_PICKLE_START) and any(m in window for m in _MARKERS)


def claims(paths: Iterable[str], markers: Collection[str] | None = None) -> tuple[Claim, ...]:
    """One study per directory of matching pickles (only those in ``markers``, the files that
    passed ``sniff``, when given)."""
    chosen = (p for p in paths if matches(p) and (markers is None or p in markers))
    return claims_by_directory(KIND, chosen)
