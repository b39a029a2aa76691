"""Claims of the kinds whose study is a whole directory: a marker file names the directory, and
the claim takes every file below it. Standard library only, for no-op builds."""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable

from reportgen.kinds.claims import Claim


def _depth(directory: str) -> int:
    return -1 if directory == "." else directory.count("/")


def directory_claims(
    kind: str, marker: str, paths: Iterable[str], markers: Collection[str] | None = None
) -> tuple[Claim, ...]:
    """One claim per directory holding a file named ``marker`` (only those in ``markers`` when
    given: the marker files that passed the kind's ``sniff``), with every path below it; a
    path below two such directories goes to the deeper one."""
    ordered = sorted(paths)
    found = (
        p for p in ordered if posixpath.basename(p) == marker and (markers is None or p in markers)
    )
    roots = sorted({posixpath.dirname(p) or "." for p in found}, key=lambda d: (-_depth(d), d))
    owned: dict[str, list[str]] = {root: [] for root in roots}
    for path in ordered:
        owner = next((r for r in roots if r == "." or path.startswith(f"{r}/")), None)
        if owner is not None:
            owned[owner].append(path)
    return tuple(Claim(kind, root, tuple(owned[root])) for root in sorted(owned))
