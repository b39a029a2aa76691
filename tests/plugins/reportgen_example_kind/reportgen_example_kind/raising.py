"""A deliberately broken kind: recognising files raises (the build must contain it)."""

from __future__ import annotations

from collections.abc import Collection, Iterable

from reportgen.kinds.claims import Claim
from reportgen_example_kind import (  # noqa: F401  (re-exported: the rest of the interface)
    CHECKS,
    PATTERNS,
    SCHEMA,
    TEMPLATE,
    analyze,
    checks,
    load,
    page,
    sniff,
)

KIND = "raising-kind"


def matches(path: str) -> bool:
    raise RuntimeError("this kind always fails to recognise files")


def claims(paths: Iterable[str], markers: Collection[str] | None = None) -> tuple[Claim, ...]:
    raise RuntimeError("this kind always fails to claim")
