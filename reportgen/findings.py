"""Findings and their severities: what checks report, shared by every stage after loading."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")


@dataclass(frozen=True, slots=True)
class SkippedInput:
    """A file of the run (or part of one) that is not used, with the reason."""

    path: str
    reason: str
    unreadable: bool  # an OS error (not a limit): the build's exit code becomes 1


@dataclass(frozen=True, slots=True)
class Finding:
    id: str
    severity: Severity
    message: str
    eta: float | None = None  # the η when the finding concerns exactly one
    section: str = ""
    etas: tuple[float, ...] = ()  # every η the finding concerns (empty: the whole run)


@dataclass(frozen=True)
class CheckInfo:
    """A check's documentation, shown on the guide page."""

    id: str
    severity: Severity
    title: str
    explanation: str
    section: str = ""


# --- shared helpers --------------------------------------------------------------------------


def empty_counts() -> dict[str, int]:
    return {severity: 0 for severity in SEVERITIES}


_COUNTS: dict[tuple[tuple[str, int], ...], Mapping[str, int]] = {}


def shared_counts(counts: dict[str, int]) -> Mapping[str, int]:
    """One object per distinct count by severity: a site's runs share a handful of them (never
    mutated: counts held per run are read only)."""
    return _COUNTS.setdefault(tuple(counts.items()), counts)


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = empty_counts()
    for finding in findings:
        if finding.severity in counts:  # cached summaries are data: tolerate an odd severity
            counts[finding.severity] += 1
    return counts
