"""``--single-file``: a page as one self-contained HTML file, its links that would lead out of
the file turned into plain text (a lone file has no other pages to link to)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reportgen.write import VerifiedFiles, WriteError, check_output_dir

if TYPE_CHECKING:
    from reportgen.analysis.record import RunRecord
    from reportgen.discover import GroupRef, Tree
    from reportgen.pages.render import SiteContext
    from reportgen.settings import BuildOptions

# an <a> tag's href that is neither a fragment of this page nor a data: URI
_OUTWARD_HREF = re.compile(r'(<a\b[^>]*?)\shref="(?!#|data:)[^"]*"')


def without_outward_links(html: bytes) -> bytes:
    """Every link to another page or file becomes plain text (its ``<a>`` loses the href);
    links within the page stay."""
    return _OUTWARD_HREF.sub(lambda m: m.group(1), html.decode()).encode()


# --- a group's page --------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldFiles(VerifiedFiles):
    """The runs' private files (their samples) held in memory: a single file has no site to
    store them in, and the group page reads them as a build's group stage does."""

    contents: Mapping[str, bytes] = field(default_factory=dict)

    def read(self, path: str) -> bytes | None:
        content = self.contents.get(path)
        return content if content is not None and path in self.digests else None


@dataclass(frozen=True)
class GroupFile:
    """A group's page as one file, and the runs that failed on the way."""

    html: bytes
    ok: bool
    failed_runs: tuple[str, ...]


def group_file(options: BuildOptions, tree: Tree, group: GroupRef, site: SiteContext) -> GroupFile:
    """The page of ``group`` with its assets inline (``site`` is the build's, with links to
    asset files): its runs read and analysed as a build does, its analysis computed in this
    process, its links to other pages made plain text."""
    from dataclasses import replace

    from reportgen.analysis.group import GroupSettings
    from reportgen.build.groups import GroupJob, GroupWork, child_groups, render_group
    from reportgen.build.plan import read_group_inputs
    from reportgen.pages.group import GroupPageSettings
    from reportgen.pages.render import inline_assets
    from reportgen.settings import derive
    from reportgen.treefile import read_tree_file

    records, samples, failed = _group_runs(options, tree, group, site)
    tree_file = read_tree_file(options.results)
    work = GroupWork(
        records,
        replace(site, inline=inline_assets()),
        derive(
            GroupSettings,
            options,
            workers=1,
            incidental=tree_file.incidental,
            fit_windows=tree_file.fits,
        ),
        derive(GroupPageSettings, options, figures=()),
        samples,
        None,
        {},
        options.verbose,
        read_group_inputs(tree, options.results, options.max_bytes),
    )
    by_id = {g.id: g for g in tree.groups}
    rendered = render_group(work, GroupJob(group, (), child_groups(group, by_id)))
    html = without_outward_links(rendered.output.content(rendered.output.paths[0]))
    return GroupFile(html, rendered.record is not None, failed)


def _group_runs(
    options: BuildOptions, tree: Tree, group: GroupRef, site: SiteContext
) -> tuple[dict[str, RunRecord], HeldFiles, tuple[str, ...]]:
    """Every run of the group read and analysed (no page kept): their records for the group
    analysis, their samples, and the ids of those that failed."""
    from reportgen.build.runs import run_output
    from reportgen.build.status import input_hash
    from reportgen.load.history import first_commits
    from reportgen.pages.run import RunSettings
    from reportgen.settings import derive
    from reportgen.treefile import read_tree_file
    from reportgen.write import digest_of

    settings = derive(RunSettings, options, figures=())
    tree_file = read_tree_file(options.results)
    commits = first_commits(options.results)
    wanted = set(group.run_ids)
    records: dict[str, RunRecord] = {}
    held: dict[str, bytes] = {}
    failed: list[str] = []
    for ref in (r for r in tree.runs if r.id in wanted):
        digest = input_hash(ref, options.results, options.max_bytes)
        labels = tree_file.for_run(ref.id, ref.source)
        output = run_output(
            ref, options.results, site, digest, settings, labels, commits.get(ref.source)
        )
        if output.record is not None:
            records[ref.id] = output.record.for_cross_run()
        if not output.ok:
            failed.append(ref.id)
        held.update(output.private_files())
    digests = {path: digest_of(content) for path, content in held.items()}
    return records, HeldFiles(options.out, digests, held), tuple(failed)


# --- a study's page --------------------------------------------------------------------------


def single_study_page(
    options: BuildOptions, tree: Tree, known: str, site: SiteContext
) -> tuple[bytes, bool]:
    """The page of the study ``options.single_file`` names (``<kind>:<directory>``, as ``check``
    prints it), self-contained (``site`` inlines the assets), and whether it rendered without
    error; no study of that id, or one that has no page tonight, is a ``WriteError``."""
    from reportgen.build.studies import study_stage
    from reportgen.build.study_jobs import StudyJob, study_output

    stage = study_stage(tree, (), options.results, None, reuse=False)
    plan = next((p for p in stage.plans if p.id == options.single_file), None)
    if plan is None:
        studies = ", ".join(p.id for p in stage.plans[:3])
        also = f"; studies look like: {studies}" if studies else ""
        raise WriteError(
            f"no run, group or study with id {options.single_file!r} (ids look like: {known}{also})"
        )
    check_single_output(options)
    registered = plan.registered
    job = StudyJob(
        registered.name,
        registered.origin,
        plan.claim,
        options.results,
        site,
        options.max_bytes,
        options.verbose,
    )
    result = study_output(registered, job)
    if result.output is None or result.row["page"] is None:
        raise WriteError(f"the study {plan.id} has no page: {result.row['error']}")
    return without_outward_links(result.output.content(result.row["page"])), result.ok


def check_single_output(options: BuildOptions) -> None:
    """One file is written: not over a directory, nor inside the results tree."""
    if options.out.is_dir():
        raise WriteError(
            f"{options.out} is a directory; --single-file writes one file (e.g. -o report.html)"
        )
    check_output_dir(options.out, options.results, force=True)
