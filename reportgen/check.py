"""``reportgen check``: the diagnostics of every run, without building a site."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from reportgen import check_report
from reportgen.analysis import analyze_run
from reportgen.analysis.diagnostics import failure_findings, incomplete_finding
from reportgen.build.guard import guarded
from reportgen.build.studies import checked_studies
from reportgen.check_report import CheckedRun, CheckReport
from reportgen.discover import RunRef, Skipped, discover
from reportgen.load import load_run
from reportgen.load.models import LoadFailure
from reportgen.settings import CheckSettings, ReadOptions, effective_fail_on

log = logging.getLogger("reportgen")


def check_tree(
    root: Path, options: ReadOptions
) -> tuple[tuple[Skipped, ...], Iterator[CheckedRun]]:
    """The paths discovery skipped, and every run's findings (and uncertainty), streamed;
    then incomplete runs as ``incomplete``, then every study of an experiment kind (its id,
    ``kind:directory``)."""
    tree, skipped = discover(root, options.follow_symlinks)
    log.debug("discovered %d runs, %d skipped paths", len(tree.runs), len(skipped))

    def checked() -> Iterator[CheckedRun]:
        for ref in tree.runs:
            yield _check_run(ref, root, options)
        for incomplete in tree.incomplete:
            yield CheckedRun(incomplete.directory, "incomplete", (incomplete_finding(incomplete),))
        for study, status, findings in checked_studies(tree, root, options.max_bytes):
            yield CheckedRun(study, status, findings)

    return skipped, checked()


def _check_run(ref: RunRef, root: Path, options: ReadOptions) -> CheckedRun:
    def attempt() -> CheckedRun:
        loaded = load_run(ref, root, options.max_bytes)
        if isinstance(loaded, LoadFailure):
            return CheckedRun(ref.source, "error", failure_findings(loaded))
        analysis = analyze_run(
            loaded,
            bootstrap=options.bootstrap,
            seed=options.seed,
            margin=options.equivalence_margin,
        )
        return CheckedRun(ref.source, "ok", analysis.findings, analysis.uncertainty)

    def failed(reason: str) -> CheckedRun:
        failure = LoadFailure(ref, f"internal error: {reason}", ref.source)
        return CheckedRun(ref.source, "error", failure_findings(failure))

    return guarded(attempt, failed, f"run {ref.id}", verbose=False)


def run_check(settings: CheckSettings, stream: TextIO) -> int:
    """Check the tree, write the report in the chosen format; the exit code (0 or 1)."""
    skipped, runs = check_tree(settings.results, settings)
    fail_on = effective_fail_on(settings.fail_on, settings.strict) or settings.fail_on
    report = CheckReport(tuple(runs), skipped, fail_on)
    if settings.format == "json":
        stream.write(check_report.json_report(report))
    elif settings.format == "markdown":
        stream.write(check_report.markdown_report(report))
    elif settings.format == "junit":
        stream.write(check_report.junit_report(report))
    else:
        for line in check_report.text_report(report, quiet=settings.quiet):
            stream.write(line + "\n")
    return report.exit_code
