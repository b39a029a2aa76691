"""``--single-file``: a page as one self-contained HTML file, its links that would lead out of
the file turned into plain text (a lone file has no other pages to link to), and the findings
of what the page shows, counted as ``check`` counts them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.build.output_guard import check_output_file
from reportgen.build.result import BuildResult, error_lines
from reportgen.build.totals import add_findings
from reportgen.findings import empty_counts, severity_counts
from reportgen.write import VerifiedFiles, WriteError, write_file_atomic

if TYPE_CHECKING:
    from reportgen.analysis.record import RunRecord
    from reportgen.discover import GroupRef, RunRef, Tree
    from reportgen.pages.output import PageOutput
    from reportgen.pages.render import SiteContext
    from reportgen.settings import BuildOptions

# an <a> tag's href that is neither a fragment of this page nor a data: URI
_OUTWARD_HREF = re.compile(r'(<a\b[^>]*?)\shref="(?!#|data:)[^"]*"')


def without_outward_links(html: bytes) -> bytes:
    """Every link to another page or file becomes plain text (its ``<a>`` loses the href);
    links within the page stay."""
    return _OUTWARD_HREF.sub(lambda m: m.group(1), html.decode()).encode()


@dataclass(frozen=True)
class SingleFile:
    """One page as one file: what it shows (runs, groups, studies) and their findings by
    severity, the ids that failed on the way and why."""

    html: bytes
    failed: tuple[str, ...] = ()
    findings: Mapping[str, int] = field(default_factory=empty_counts)
    runs: int = 0
    groups: int = 0
    studies: int = 0
    reasons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def result(self, out: Path) -> BuildResult:
        return BuildResult(
            out=out, runs=self.runs, rebuilt=max(self.runs, 1), failed_runs=list(self.failed),
            findings=dict(self.findings), written=[str(out)], single_file=True,
            groups=self.groups, studies=self.studies, reasons=dict(self.reasons),
        )  # fmt: skip


def build_single_file(options: BuildOptions) -> BuildResult:
    """Write ``options.out`` as one HTML file holding the page of ``options.single_file`` (a
    run, a group or a study), replacing the page an earlier ``--single-file`` left there."""
    from reportgen.build.context import site_context
    from reportgen.discover import discover

    tree, _ = discover(options.results, options.follow_symlinks)
    ref = next((r for r in tree.runs if r.id == options.single_file), None)
    group = next((g for g in tree.groups if g.id and g.id == options.single_file), None)
    if ref is not None:
        check_single_output(options)
        page = _run_file(options, ref)
    elif group is not None:
        check_single_output(options)
        page = group_file(options, tree, group, site_context(options))
    else:  # a study's id, or none (a WriteError naming a few ids)
        page = _study_file(options, tree)
    write_file_atomic(options.out, page.html)
    return page.result(options.out)


def check_single_output(options: BuildOptions) -> None:
    """One file is written: not over a directory, nor inside the results tree, nor over a file
    that is not a page of ours unless ``--force``."""
    check_output_file(options.out, options.results, options.force)


def _findings(output: PageOutput) -> dict[str, int]:
    return severity_counts(output.record.findings if output.record is not None else ())


def _reasons(run_id: str, output: PageOutput) -> dict[str, tuple[str, ...]]:
    """Why the run could not be read, as its error page says it (none when it could)."""
    error = output.record.error if output.record is not None else None
    return {run_id: error_lines(error)} if error is not None else {}


# --- a run's page ------------------------------------------------------------------------------


def _run_file(options: BuildOptions, ref: RunRef) -> SingleFile:
    """The run's page with its assets and files inline."""
    from reportgen.build.context import run_settings, site_context
    from reportgen.build.runs import run_output
    from reportgen.build.status import input_hash
    from reportgen.load.history import first_commits
    from reportgen.pages import paths
    from reportgen.pages.render import inline_assets
    from reportgen.pages.run import RunContext
    from reportgen.treefile import read_tree_file

    site = replace(site_context(options), inline=inline_assets())
    settings = run_settings(options, inline_files=True)
    labels = read_tree_file(options.results).for_run(ref.id, ref.source)
    first_commit = first_commits(options.results).get(ref.source)
    digest = input_hash(ref, options.results, options.max_bytes)
    context = RunContext(labels, first_commit)
    output = run_output(ref, options.results, site, digest, settings, context)
    html = without_outward_links(output.content(paths.run_page(ref.id)))
    failed = () if output.ok else (ref.id,)
    return SingleFile(html, failed, _findings(output), 1, reasons=_reasons(ref.id, output))


# --- a group's page --------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldFiles(VerifiedFiles):
    """The runs' private files (their samples) held in memory: a single file has no site to
    store them in, and the group page reads them as a build's group stage does."""

    contents: Mapping[str, bytes] = field(default_factory=dict)

    def read(self, path: str) -> bytes | None:
        content = self.contents.get(path)
        return content if content is not None and path in self.digests else None


@dataclass
class GroupRuns:
    """The runs of a group read for its page: their records, samples, findings and failures."""

    records: dict[str, RunRecord] = field(default_factory=dict)
    held: dict[str, bytes] = field(default_factory=dict)
    findings: dict[str, int] = field(default_factory=empty_counts)
    reasons: dict[str, tuple[str, ...]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def add(self, run_id: str, output: PageOutput) -> None:
        if output.record is not None:
            self.records[run_id] = output.record.for_cross_run()
        for severity, count in _findings(output).items():
            self.findings[severity] += count
        if not output.ok:
            self.failed.append(run_id)
            self.reasons |= _reasons(run_id, output)
        self.held.update(output.private_files())


def group_file(options: BuildOptions, tree: Tree, group: GroupRef, site: SiteContext) -> SingleFile:
    """The page of ``group`` with its assets inline (``site`` is the build's, with links to
    asset files): its runs read and analysed as a build does, its analysis computed in this
    process, its links to other pages made plain text; its runs' findings and its own."""
    from reportgen.analysis.group import GroupSettings
    from reportgen.build.group_render import GroupJob, GroupWork, render_group
    from reportgen.build.groups import child_groups
    from reportgen.build.plan import read_group_inputs
    from reportgen.pages.group import GroupPageSettings
    from reportgen.pages.render import inline_assets
    from reportgen.settings import derive
    from reportgen.treefile import read_tree_file
    from reportgen.write import digest_of

    runs = _group_runs(options, tree, group, site)
    tree_file = read_tree_file(options.results)
    digests = {path: digest_of(content) for path, content in runs.held.items()}
    work = GroupWork(
        runs.records,
        replace(site, inline=inline_assets()),
        derive(
            GroupSettings,
            options,
            workers=1,
            incidental=tree_file.incidental,
            fit_windows=tree_file.fits,
        ),
        derive(GroupPageSettings, options, figures=()),
        HeldFiles(options.out, digests, runs.held),
        None,
        {},
        options.verbose,
        read_group_inputs(tree, options.results, options.max_bytes),
    )
    by_id = {g.id: g for g in tree.groups}
    rendered = render_group(work, GroupJob(group, (), child_groups(group, by_id)))
    html = without_outward_links(rendered.output.content(rendered.output.paths[0]))
    failed = (*runs.failed, *(() if rendered.record is not None else (group.id,)))
    add_findings(runs.findings, rendered.findings)
    return SingleFile(html, failed, runs.findings, len(group.run_ids), 1, reasons=runs.reasons)


def _group_runs(options: BuildOptions, tree: Tree, group: GroupRef, site: SiteContext) -> GroupRuns:
    """Every run of the group read and analysed (no page kept)."""
    from reportgen.build.runs import run_output
    from reportgen.build.status import input_hash
    from reportgen.load.history import first_commits
    from reportgen.pages.run import RunContext, RunSettings
    from reportgen.settings import derive
    from reportgen.treefile import read_tree_file

    settings = derive(RunSettings, options, figures=())
    tree_file = read_tree_file(options.results)
    commits = first_commits(options.results)
    wanted = set(group.run_ids)
    runs = GroupRuns()
    for ref in (r for r in tree.runs if r.id in wanted):
        digest = input_hash(ref, options.results, options.max_bytes)
        labels = tree_file.for_run(ref.id, ref.source)
        context = RunContext(labels, commits.get(ref.source))
        output = run_output(ref, options.results, site, digest, settings, context)
        runs.add(ref.id, output)
    return runs


# --- a study's page --------------------------------------------------------------------------


def _study_file(options: BuildOptions, tree: Tree) -> SingleFile:
    """The page of the study ``options.single_file`` names (``<kind>:<directory>``, as ``check``
    prints it), self-contained, with its findings; no study of that id, or one that has no
    page tonight, is a ``WriteError`` (naming a few ids of runs, groups and studies)."""
    from reportgen.build.context import site_context
    from reportgen.build.studies import study_stage
    from reportgen.build.study_jobs import StudyJob, study_output
    from reportgen.pages.render import inline_assets

    stage = study_stage(tree, (), options.results, None, reuse=False)
    plan = next((p for p in stage.plans if p.id == options.single_file), None)
    if plan is None:
        known = ", ".join([r.id for r in tree.runs[:3]] + [g.id for g in tree.groups[:2] if g.id])
        studies = ", ".join(p.id for p in stage.plans[:3])
        also = f"; studies look like: {studies}" if studies else ""
        raise WriteError(
            f"no run, group or study with id {options.single_file!r} (ids look like: {known}{also})"
        )
    check_single_output(options)
    site = replace(site_context(options), inline=inline_assets())
    registered = plan.registered
    job = StudyJob(
        registered.name,
        registered.origin,
        plan.claim,
        options.results,
        site,
        options.max_bytes,
        options.verbose,
        equivalence_margin=options.equivalence_margin,
    )
    result = study_output(registered, job)
    if result.output is None or result.row["page"] is None:
        raise WriteError(f"the study {plan.id} has no page: {result.row['error']}")
    html = without_outward_links(result.output.content(result.row["page"]))
    findings = empty_counts()
    for finding in result.row["findings"]:  # rows as the manifest holds them
        if finding["severity"] in findings:
            findings[finding["severity"]] += 1
    failed = () if result.ok else (plan.id,)
    reasons = {plan.id: (str(result.row["error"]),)} if failed and result.row["error"] else {}
    return SingleFile(html, failed, findings, studies=1, reasons=reasons)
