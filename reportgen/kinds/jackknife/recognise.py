"""Which files are jackknife-vs-batch-size studies: by name, then by their first bytes."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from reportgen.kinds.claims import SNIFF_BYTES, Claim, claims_by_directory, name_matches

KIND = "jackknife-study"
PATTERNS = ("*_results.jsonl",)
_MARKERS = (b'"estimate_mean_per_seq_entropy"', b'"experiment_type"')


def matches(path: str) -> bool:
    """The cheap name test: ``*_results.jsonl``."""
    return name_matches(path, PATTERNS)


def sniff(head: bytes) -> bool:
    """The cheap content test on a file's first bytes: a study names these fields early."""
    window = head[:SNIFF_BYTES]
    return any(marker in window for marker in _MARKERS)


def claims(paths: Iterable[str], markers: Collection[str] | None = None) -> tuple[Claim, ...]:
    """One study per directory of matching files (only those in ``markers``, the files that
    passed ``sniff``, when given)."""
    chosen = (p for p in paths if matches(p) and (markers is None or p in markers))
    return claims_by_directory(KIND, chosen)
