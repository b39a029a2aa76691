"""``reportgen check``: the diagnostics of every run and group, without building a site."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TextIO

from reportgen import check_report
from reportgen.analysis.diagnostics import failure_findings, incomplete_finding
from reportgen.analysis.group import GroupSettings, analyze_group
from reportgen.analysis.record import RunRecord, run_record
from reportgen.build.group_render import aggregate_files
from reportgen.build.guard import guarded
from reportgen.build.plan import GroupInputs, read_group_inputs
from reportgen.build.runs import analyzed_run
from reportgen.build.studies import checked_studies
from reportgen.check_report import GROUP, PLUGIN, RUN, STUDY, CheckedRun, CheckReport
from reportgen.discover import RunRef, Skipped, Tree, discover
from reportgen.load.cv_aggregate import AggregateFiles
from reportgen.load.models import LoadFailure
from reportgen.settings import CheckSettings, ReadOptions, effective_fail_on
from reportgen.treefile import NO_LABELS, RunLabels, read_tree_file

log = logging.getLogger("reportgen")


def check_tree(
    root: Path, options: ReadOptions
) -> tuple[tuple[Skipped, ...], Iterator[CheckedRun]]:
    """The paths discovery skipped, and every run's findings (and uncertainty), streamed;
    incomplete runs follow as ``incomplete``, then every group's own findings as ``group``
    (its id as the source), then every study of an experiment kind (``kind:directory``)."""
    tree, skipped = discover(root, options.follow_symlinks)
    log.debug("discovered %d runs, %d skipped paths", len(tree.runs), len(skipped))
    tree_file = read_tree_file(root)

    def checked() -> Iterator[CheckedRun]:
        records: dict[str, RunRecord] = {}
        for ref in tree.runs:
            labels = tree_file.for_run(ref.id, ref.source)
            run, record = _check_run(ref, root, options, labels)
            if record is not None:
                records[ref.id] = record.for_cross_run()
            yield run
        for incomplete in tree.incomplete:
            yield CheckedRun(incomplete.directory, "incomplete", (incomplete_finding(incomplete),))
        settings = GroupSettings(
            incidental=tree_file.incidental, equivalence_margin=options.equivalence_margin
        )
        inputs = read_group_inputs(tree, root, options.max_bytes)
        yield from _check_groups(tree, records, settings, inputs)
        for study, status, findings in checked_studies(tree, root, options.max_bytes, options):
            # a plug-in left out is named so: no study id starts with a word and a space
            subject = PLUGIN if study.startswith("plug-in ") else STUDY
            yield CheckedRun(study, status, findings, subject=subject)

    return skipped, checked()


def _check_run(
    ref: RunRef, root: Path, options: ReadOptions, labels: RunLabels = NO_LABELS
) -> tuple[CheckedRun, RunRecord | None]:
    def attempt() -> tuple[CheckedRun, RunRecord | None]:
        analysis = analyzed_run(ref, root, options)
        if isinstance(analysis, LoadFailure):
            return CheckedRun(ref.source, "error", failure_findings(analysis)), None
        record = run_record(analysis, "", labels.labels)
        return CheckedRun(ref.source, "ok", analysis.findings, analysis.uncertainty), record

    def failed(reason: str) -> tuple[CheckedRun, RunRecord | None]:
        failure = LoadFailure(ref, f"internal error: {reason}", ref.source)
        return CheckedRun(ref.source, "error", failure_findings(failure)), None

    return guarded(attempt, failed, f"run {ref.id}", verbose=False)


def _check_groups(
    tree: Tree, records: dict[str, RunRecord], settings: GroupSettings, inputs: GroupInputs
) -> Iterator[CheckedRun]:
    """Each group's own findings (pooled estimates per population, copies, its CV batch
    aggregate), from the runs' records: the statistics its page would show, without the
    batch-size comparison."""
    for group in tree.groups:
        members = [records[r] for r in group.run_ids if r in records]
        aggregate = aggregate_files(inputs.get(group.id, ()))
        yield guarded(
            partial(_check_group, group.id, members, settings, aggregate),
            partial(_group_not_checked, group.id),
            f"group {group.id}",
            verbose=False,
        )


def _check_group(
    group_id: str,
    members: list[RunRecord],
    settings: GroupSettings,
    aggregate: AggregateFiles | None,
) -> CheckedRun:
    analysis = analyze_group(group_id, members, settings=settings, aggregate=aggregate)
    return CheckedRun(group_id, GROUP, analysis.findings, subject=GROUP)


def _group_not_checked(group_id: str, reason: str) -> CheckedRun:
    log.warning("reportgen: group %s not checked: %s", group_id, reason)
    return CheckedRun(group_id, GROUP, (), subject=GROUP)


def run_check(settings: CheckSettings, stream: TextIO) -> int:
    """Check the tree, write the report in the chosen format; the exit code (0 or 1)."""
    skipped, checked = check_tree(settings.results, settings)
    fail_on = effective_fail_on(settings.fail_on, settings.strict) or settings.fail_on
    entries = tuple(checked)
    runs = tuple(e for e in entries if e.subject == RUN)
    groups = tuple(e for e in entries if e.subject == GROUP)
    studies = tuple(e for e in entries if e.subject in (STUDY, PLUGIN))
    report = CheckReport(runs, skipped, fail_on, groups, studies)
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
