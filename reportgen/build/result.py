"""What a build did, for the command line: counts, what could not be read and why, the link."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.build.totals import Totals, plural
from reportgen.findings import Severity, empty_counts

if TYPE_CHECKING:
    from reportgen.analysis.record import ErrorRecord, RunRecord
    from reportgen.build.status import RunStatus, StudyStatus
    from reportgen.kinds.registry import PluginProblem


@dataclass
class BuildResult:
    out: Path
    runs: int = 0  # runs with a results file (pages built or carried over)
    rebuilt: int = 0
    groups_rendered: int = 0
    failed_runs: list[str] = field(default_factory=list)  # and studies, plug-ins left out
    stale_runs: list[str] = field(default_factory=list)
    # inputs and directories that could not be read (an OS error, not a limit), with the reason
    unreadable: list[str] = field(default_factory=list)
    up_to_date: bool = False
    # of every run, incomplete run, group and study, by severity (what ``check`` counts)
    findings: dict[str, int] = field(default_factory=empty_counts)
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    seconds: float = 0.0
    single_file: bool = False  # ``out`` is the one page written (--single-file)
    incomplete: int = 0  # directories with a plan but no results: runs, as ``check`` counts them
    groups: int = 0
    studies: int = 0
    # why each of ``failed_runs`` failed tonight, as its error page says it (for ``-v``)
    reasons: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def totals(self) -> Totals:
        return Totals(self.runs + self.incomplete, self.groups, self.studies, self.findings)

    def findings_at_or_above(self, severity: Severity) -> int:
        return self.totals.at_or_above(severity)

    def fails(self, threshold: Severity | None) -> bool:
        """Something could not be read, or (with a threshold) a finding is at or above it."""
        failing = threshold is not None and self.findings_at_or_above(threshold) > 0
        return bool(self.failed_runs or self.unreadable or failing)

    def summary_line(self, threshold: Severity | None, code: int) -> str:
        """The build's last line: runs, groups and studies and their findings by severity (as
        ``check`` counts and names them), what could not be read, the exit code."""
        line = f"reportgen: {self.totals.subjects()}; findings: {self.totals.counts()}"
        if unread := len(self.failed_runs) + len(self.unreadable):
            line += f"; {unread} could not be read"
        line += f"; failing on {threshold} and worse" if threshold else ""
        return f"{line} — exit {code}"

    def report_lines(self, verbose: bool = False) -> Iterator[str]:
        """What was built, what could not be read (``verbose``: and why), the link to open."""
        if self.up_to_date:
            yield f"Site is up to date ({plural(self.runs, 'run')})."
        else:
            yield (
                f"Built {plural(self.runs, 'run')} ({self.rebuilt} re-rendered) in "
                f"{self.seconds:.1f} s; "
                f"{len(self.written)} files written, {len(self.kept)} unchanged."
            )
        for run_id in self.failed_runs:
            suffix = " (kept its last good page)" if run_id in self.stale_runs else ""
            yield f"  could not read: {run_id}{suffix}"
            if verbose:
                yield from (f"    {line}" for line in self.reasons.get(run_id, ()))
        for item in self.unreadable:
            yield f"  could not read: {item}"
        yield (self.out if self.single_file else self.out / "index.html").resolve().as_uri()


def error_lines(error: ErrorRecord | None) -> tuple[str, ...]:
    """A failed read as its error page gives it: the file and position with the reason, then
    the hint."""
    if error is None:
        return ()
    where = error.file
    if error.line is not None:
        where += f", line {error.line}" + (
            f", column {error.column}" if error.column is not None else ""
        )
    return (f"{where}: {error.reason}", *((f"hint: {error.hint}",) if error.hint else ()))


def run_reasons(
    statuses: Mapping[str, RunStatus], records: Mapping[str, RunRecord]
) -> dict[str, tuple[str, ...]]:
    """Why each run that failed could not be read (its record is decoded for it: a few runs)."""
    return {rid: error_lines(records[rid].error) for rid, s in statuses.items() if not s.ok}


def study_reasons(
    statuses: Mapping[str, StudyStatus], problems: Sequence[PluginProblem]
) -> dict[str, tuple[str, ...]]:
    """Why each study that failed, and each plug-in left out, did."""
    reasons: dict[str, tuple[str, ...]] = {
        str(s.row["id"]): (str(s.row["error"]),)
        for s in statuses.values()
        if s.row["status"] != "ok" and s.row.get("error")
    }
    return reasons | {f"plug-in {p.plugin}": (p.reason,) for p in problems}
