"""Which files are entropy-influence directories: a ``summary.json`` whose first bytes name the
runner's top-level blocks; the study is the whole directory. Standard library only."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from reportgen.kinds.claims import SNIFF_BYTES, Claim, name_matches
from reportgen.kinds.directories import directory_claims

KIND = "influence"
MARKER = "summary.json"
PATTERNS = (MARKER,)
# the runner writes plan, workspace, evaluations in that order: the first two open the file
_MARKERS = (b'"plan"', b'"workspace"')


def matches(path: str) -> bool:
    """The cheap name test: a file named ``summary.json``."""
    return name_matches(path, PATTERNS)


def sniff(head: bytes) -> bool:
    """The cheap content test on the first bytes: a JSON object naming plan and workspace."""
    window = head[:SNIFF_BYTES]
    return window.lstrip().startswith(b"{") and all(m in window for m in _MARKERS)


def claims(paths: Iterable[str], markers: Collection[str] | None = None) -> tuple[Claim, ...]:
    """One study per directory with a ``summary.json`` (those in ``markers``, the ones that
    passed ``sniff``, when given), claiming every file below it (``eval_NN_*`` subdirectories
    included)."""
    return directory_claims(KIND, MARKER, paths, markers)
