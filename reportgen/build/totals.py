"""What ``build`` and ``check`` looked at (runs, groups, studies) and their findings by severity:
one count, named alike by both commands, that ``--strict`` and ``--fail-on`` gate on."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from reportgen.build.status import BuildStatus, finding_totals
from reportgen.discover import IncompleteRun
from reportgen.findings import SEVERITIES, Finding, Severity, empty_counts


def plural(count: int, word: str, words: str = "") -> str:
    return f"{count} {word if count == 1 else words or word + 's'}"


@dataclass(frozen=True)
class Totals:
    """Runs (a directory with a plan but no results counts as one), groups and studies, and
    the findings of all of them (a plug-in left out adds its error, not a study)."""

    runs: int = 0
    groups: int = 0
    studies: int = 0
    findings: Mapping[str, int] = field(default_factory=empty_counts)

    def at_or_above(self, severity: Severity) -> int:
        return sum(self.findings[s] for s in SEVERITIES[: SEVERITIES.index(severity) + 1])

    def subjects(self) -> str:
        """``6 runs, 2 groups, 1 study``: always all three, so a zero is seen as one."""
        return ", ".join(
            (
                plural(self.runs, "run"),
                plural(self.groups, "group"),
                plural(self.studies, "study", "studies"),
            )
        )

    def counts(self) -> str:
        """``0 errors, 1 warning, 12 infos``."""
        return ", ".join(plural(self.findings[s], s) for s in SEVERITIES)


def add_findings(counts: dict[str, int], findings: Iterable[Finding]) -> None:
    for finding in findings:
        if finding.severity in counts:
            counts[finding.severity] += 1


def site_findings(status: BuildStatus, incomplete: Sequence[IncompleteRun]) -> dict[str, int]:
    """The findings of a build's runs, groups and incomplete runs, by severity, as ``check``
    counts them (the studies' are added by ``studies.tally``)."""
    counts = finding_totals(status.runs.values())
    for group in status.groups.values():
        add_findings(counts, group.findings)
    if incomplete:  # the checks' registry only when there is one: a no-op build stays light
        from reportgen.analysis.diagnostics import incomplete_finding

        add_findings(counts, (incomplete_finding(item) for item in incomplete))
    return counts
