"""One group rendered: its analysis and record, then its page, here or in a forked copy.

A group's analysis merges the partial statistics of its children's records where they are
stored already, and computes those of the others again (the same numbers). In a build that
renders its groups in its own process (one changed run's chain of groups, or too few groups
for workers), a group is analysed and rendered in a forked copy of the process while the next
group is analysed here, when that group is long enough to analyse to pay for the copy (only
its page is, when the next group takes its statistics: it is analysed here first). The last
page is rendered here, beside the one before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.build.forked import Forked, ForkLost, can_fork, reap_finished
from reportgen.build.guard import guarded
from reportgen.build.plan import GroupInput, GroupInputs
from reportgen.build.record_store import stored_members
from reportgen.discover import GroupRef
from reportgen.figures import PreviousFigures
from reportgen.findings import Finding
from reportgen.write import VerifiedFiles

if TYPE_CHECKING:
    from reportgen.analysis.group import GroupAnalysis, GroupSettings
    from reportgen.analysis.group_record import GroupRecord, StoredGroup
    from reportgen.analysis.merge import Partials
    from reportgen.analysis.record import RunRecord
    from reportgen.load.cv_aggregate import AggregateFiles
    from reportgen.memos import MemoReader
    from reportgen.pages.group import GroupPageSettings
    from reportgen.pages.output import PageOutput
    from reportgen.pages.render import SiteContext

# From this many runs on, a group's records are read from the store as its analysis and page
# need them, never held all at once (at ~11 KB a decoded record, 100,000 runs would hold 1.1 GB);
# below it, each is decoded once and held while the group renders, which is several times faster
STORED_GROUP_RUNS = 20_000

# Fewer runs than this, and a group is sent to a worker whatever its share of the build: its
# records are a few MB, and rendered here it would wait for the pool instead of running beside it;
# nor is it started before the group rendered just before it is stored, which it would compute again
LARGE_GROUP_RUNS = 500

# A page is rendered in a forked copy only when the group after it has this many runs: one of
# fewer is analysed in less time than the copy costs (its start, the pages of memory it and this
# process then copy on writing, its page sent back)
OVERLAP_RUNS = 20


@dataclass(frozen=True)
class GroupWork:
    """What every group page of a build reads (each worker receives a copy once, without the
    records and the samples' digests: its jobs carry their own)."""

    records: Mapping[str, RunRecord]  # every run's, by id
    site: SiteContext
    analysis: GroupSettings
    page: GroupPageSettings
    samples: VerifiedFiles  # the runs' samples in the new site, by their digests
    memos: Path | None  # the previous site, whose memos are reused (None: recompute them)
    memo_digests: Mapping[str, str]  # what the previous build recorded of those memos
    verbose: bool
    group_inputs: GroupInputs = field(default_factory=dict)  # each group's own files, read
    # each group's page's figures in the previous site, by group id (``--figures``)
    figures_before: Mapping[str, PreviousFigures] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupJob:
    group: GroupRef
    # its child groups' partials in the new site (path, sha256), those known when the job was
    # made: they are merged (a child still being analysed is computed again)
    children: tuple[tuple[str, str], ...]
    child_groups: tuple[GroupRef, ...]  # its child groups in its order, for their runs and sizes
    # its runs' records, sent with the job to a worker (whose ``GroupWork`` holds none, so that
    # a worker holds one group's records at a time); ``None``: the work's records are read
    records: Mapping[str, RunRecord] | None = None
    # its runs' samples' digests, sent with the job to a worker as its records are
    samples: Mapping[str, str] | None = None


@dataclass(frozen=True)
class RenderedGroup:
    output: PageOutput  # page, summary and figures
    # the group's record (``None``: its analysis failed, or it is made from ``summary``)
    record: StoredGroup | None
    computed_memos: Mapping[str, bytes]  # draws memos the page computed, for the writer to store
    reused_memos: tuple[str, ...]  # names of those it read from the previous site (carried over)
    findings: tuple[Finding, ...] = ()  # the group's own checks
    verdicts: tuple[tuple[str, str | None], ...] = ()  # per population its pooled verdict
    # the statistics its ``summary.json`` is still to be made from, piece by piece as the writer
    # writes it (rendered in the build process only: a worker sends its summary's bytes)
    summary: GroupRecord | None = None


@dataclass
class LastAnalysis:
    """The analysis of the group rendered last in this process: the next, its parent when the
    groups go children first, takes its statistics when it has the same runs (one child), and
    the records of its runs it decoded."""

    analysis: GroupAnalysis | None = None
    stored: StoredGroup | None = None  # its record's files (its partials are the next's too)
    records: dict[str, RunRecord] = field(default_factory=dict)


def members(
    group: GroupRef, records: Mapping[str, RunRecord], last: LastAnalysis | None
) -> dict[str, RunRecord]:
    """The records of the group's runs, each decoded once: those the group rendered last in
    this process decoded are taken from it (a parent after its child), and kept for the next."""
    before = last.records if last is not None else {}
    held = {r: before[r] if r in before else records[r] for r in group.run_ids if r in records}
    if last is not None:
        last.records = held
    return held


def _members(
    group: GroupRef, records: Mapping[str, RunRecord], last: LastAnalysis | None, stored: bool
) -> dict[str, RunRecord]:
    """The group's records: held (``members``), or for a very large group stand-ins that read
    each from the store when it is used."""
    if not stored:
        return members(group, records, last)
    if last is not None:
        last.records = {}
    return stored_members(group.run_ids, records)


def render_group(
    work: GroupWork, job: GroupJob, last: LastAnalysis | None = None, streamed: bool = False
) -> RenderedGroup:
    """A group's analysis, record, page and summary (``streamed``: its summary left for the writer
    to make as it writes it); a failure becomes its error page."""
    analysed = analyse(work, job, last, streamed)
    if isinstance(analysed, RenderedGroup):
        return analysed
    return analysed.render()


@dataclass(frozen=True)
class AnalysedGroup:
    """A group analysed and its record made; its page still to render (here, or in a forked
    copy of this process while the next group is analysed)."""

    work: GroupWork
    job: GroupJob
    analysis: GroupAnalysis
    record: GroupRecord
    stored: StoredGroup | None  # ``None``: streamed (its summary made as it is written)
    records: Mapping[str, RunRecord]
    memos: MemoReader

    def page_or_reason(self) -> PageOutput | str:
        """Its page (with its figures), or why it could not be rendered."""
        return guarded(self._page, _reason, f"group {self.job.group.id}", self.work.verbose)

    def _page(self) -> PageOutput:
        from reportgen.pages.group import group_page

        group, work = self.job.group, self.work
        figures = work.figures_before.get(group.id)
        return group_page(
            group, self.job.child_groups, self.analysis, self.records, work.page, work.site, figures
        )

    def render(self) -> RenderedGroup:
        """``rendered`` with its page rendered in this process."""
        return self.rendered(self.page_or_reason())

    def rendered(self, page: PageOutput | str) -> RenderedGroup:
        """What the group stage stores: its page and record, or its error page."""
        from reportgen.pages import serialize

        analysis, memos = self.analysis, self.memos
        if isinstance(page, str):
            done = failed_group(self.job.group, page, self.work)
        elif self.stored is None:
            verdicts = _verdicts(analysis)
            done = RenderedGroup(page, None, {}, (), analysis.findings, verdicts, self.record)
        else:
            files = (page.files[0], serialize.group_summary_file(self.record), *page.files[1:])
            verdicts = _verdicts(analysis)
            output = replace(page, files=files)
            done = RenderedGroup(output, self.stored, {}, (), analysis.findings, verdicts)
        return _with_memos(done, memos)


def _with_memos(done: RenderedGroup, memos: MemoReader) -> RenderedGroup:
    """``done`` with the draws memos its analysis computed and those it reused."""
    return replace(done, computed_memos=memos.computed, reused_memos=tuple(memos.reused))


def _reason(reason: str) -> PageOutput | str:
    return reason


def _verdicts(analysis: GroupAnalysis) -> tuple[tuple[str, str | None], ...]:
    """Each population's pooled verdict of the linear approximation."""
    from reportgen.analysis.pooling import pooled_verdict

    return tuple(
        (p.population.label, pooled_verdict(p.pooled, "linear")) for p in analysis.populations
    )


def analyse(
    work: GroupWork, job: GroupJob, last: LastAnalysis | None, streamed: bool
) -> AnalysedGroup | RenderedGroup:
    """A group's analysis and record (``RenderedGroup``: its error page, the analysis failed)."""
    from reportgen.analysis.group import analyze_group
    from reportgen.analysis.group_record import GroupRecord
    from reportgen.memos import MemoReader, npy_memo
    from reportgen.pages import serialize

    group = job.group
    memos = MemoReader(work.memos, work.memo_digests)
    samples = work.samples if job.samples is None else replace(work.samples, digests=job.samples)
    records: dict[str, RunRecord] = {}

    def sample(run_id: str) -> serialize.StoredSample | None:
        return serialize.stored_sample(run_id, records[run_id].sample, samples)

    stored_group = len(group.run_ids) >= STORED_GROUP_RUNS
    merged = _children_partials(work, job, packed=stored_group)

    def attempt() -> AnalysedGroup | RenderedGroup:
        source = work.records if job.records is None else job.records
        records.update(_members(group, source, last, stored_group))
        analysis = analyze_group(
            group.id,
            [records[r] for r in group.run_ids if r in records],
            settings=work.analysis,
            child_runs=[c.run_ids for c in job.child_groups],
            children=merged,
            samples=sample,
            memo=npy_memo(memos.memo, "draws"),
            aggregate=aggregate_files(work.group_inputs.get(group.id, ())),
            like=None if last is None else last.analysis,
            packed=stored_group,
        )
        record = GroupRecord.of(analysis)
        stored = None if streamed else record.to_files(_same_partials(last, analysis))
        if last is not None:
            last.analysis, last.stored = analysis, stored
        return AnalysedGroup(work, job, analysis, record, stored, records, memos)

    def failed(reason: str) -> AnalysedGroup | RenderedGroup:
        return _with_memos(failed_group(group, reason, work), memos)

    return guarded(attempt, failed, f"group {group.id}", work.verbose)


def failed_group(group: GroupRef, reason: str, work: GroupWork) -> RenderedGroup:
    """A group's error page, and a summary saying why it has no numbers."""
    from reportgen.pages import serialize
    from reportgen.pages.group import group_error_page

    page = group_error_page(group, reason, site=work.site)
    output = replace(page, files=(*page.files, serialize.group_error_file(group.id, reason)))
    return RenderedGroup(output, None, {}, ())


def _children_partials(work: GroupWork, job: GroupJob, packed: bool) -> list[Partials]:
    """The partials of the job's child groups whose runs' fits use its η window (those whose
    files still have the bytes recorded); ``packed``: their rows as ``PackedRows``."""
    from reportgen.pages import paths

    staged = replace(work.samples, digests=dict(job.children))  # the children's partials
    window = work.analysis.fit_window(job.group.id)
    alike = {
        paths.group_partials(c)
        for c in job.group.child_group_ids
        if work.analysis.fit_window(c) == window
    }
    return [
        p
        for path, _ in job.children
        if path in alike and (p := _partials(staged, path, packed)) is not None
    ]


def _same_partials(last: LastAnalysis | None, analysis: GroupAnalysis) -> bytes | None:
    """The stored partials of the group rendered last, when ``analysis`` took its statistics
    (the same runs: the same partials object); ``None`` otherwise."""
    if last is None or last.stored is None or last.analysis is None:
        return None
    return last.stored.partials if last.analysis.partials is analysis.partials else None


def aggregate_files(inputs: tuple[GroupInput, ...]) -> AggregateFiles | None:
    """A group's CV batch aggregate files as planning read them (``None``: it has none)."""
    from reportgen.load.cv_aggregate import AggregateFiles
    from reportgen.load.models import InputFile

    if not inputs:
        return None
    return AggregateFiles(
        tuple(InputFile(i.path, i.content) for i in inputs if i.content is not None),
        tuple(f"{i.path}: {i.problem}" for i in inputs if i.content is None),
    )


def _partials(files: VerifiedFiles, path: str, packed: bool) -> Partials | None:
    """A child's partials in the new site, if they have the recorded bytes."""
    from reportgen.analysis.group_record import stored_partials

    content = files.read(path)
    try:
        return None if content is None else stored_partials(content, packed)
    except ValueError:  # not a record of the current format: its rows are computed again
        return None


def rendered_in_turn(
    work: GroupWork,
    jobs: Callable[[list[GroupRef]], Iterator[GroupJob]],
    todo: list[GroupRef],
    last: LastAnalysis,
) -> Iterator[tuple[GroupRef, RenderedGroup]]:
    """The groups rendered here, each job made once the groups yielded before it are stored.
    With a core to spare, a group is rendered in a forked copy while the next group is analysed;
    the last, or one followed by a large group, is rendered here (the last is yielded before the
    copy's group beside it: it is stored while the copy finishes). Beside a copy, an analysis
    draws its batch-size subsets on one thread: the copy has the other core."""
    pending: _ForkedGroup | None = None
    beside = replace(work, analysis=replace(work.analysis, workers=1))
    try:
        for at, group in enumerate(todo):
            job = next(jobs([group]))
            following = todo[at + 1] if at + 1 < len(todo) else None
            here = work if pending is None else beside
            # this group started (or rendered) before the one before it is collected
            if following is not None and _overlaps(work, following):
                done = _start(here, job, last, following, beside)
            else:
                done = render_group(here, job, last, streamed=True)
            if pending is not None and following is not None:
                yield pending.group, pending.rendered()
                pending = None
            if isinstance(done, _ForkedGroup):
                pending = done
            else:
                yield group, done
        if pending is not None:
            yield pending.group, pending.rendered()
            pending = None
    finally:
        if pending is not None:
            pending.cancel()
        reap_finished(block=True)


def _start(
    work: GroupWork, job: GroupJob, last: LastAnalysis, following: GroupRef, beside: GroupWork
) -> _ForkedGroup | RenderedGroup:
    """The group's page, summary and record started in a forked copy (which analyses as
    ``beside`` says, this process having work of its own): its analysis too unless the group
    that follows takes its statistics (the same runs), when it is analysed here first (rendered
    here when no copy can be made; its error page when the analysis failed)."""
    call: Callable[[], RenderedGroup]
    here: Callable[[], RenderedGroup]
    if following.run_ids != job.group.run_ids:
        members(job.group, work.records, last)  # decoded here: for the copy, and for the next
        last.analysis = last.stored = None  # the group analysed last here is not the one before
        call = partial(render_group, beside, job, last)
        here = partial(render_group, work, job, None, streamed=True)
        memos = None
    else:
        analysed = analyse(work, job, last, streamed=True)
        if isinstance(analysed, RenderedGroup):
            return analysed
        call, here, memos = partial(_made_whole, analysed), analysed.render, analysed.memos
    try:
        return _ForkedGroup(job.group, Forked(call), here, memos)
    except OSError:  # no process to spare (a limit on processes, or memory)
        return here()


def _made_whole(analysed: AnalysedGroup) -> RenderedGroup:
    """In the forked copy: the group's page with its summary and record as bytes, as a worker
    makes them (without its memos: the build has them)."""
    whole = replace(analysed, stored=analysed.record.to_files(None))
    return replace(whole.render(), computed_memos={}, reused_memos=())


def _overlaps(work: GroupWork, following: GroupRef | None) -> bool:
    """Whether a page is worth a forked copy: a group follows whose analysis takes long enough
    and may start at once (it is not large), ``-j`` allows a second core, and no figures are
    exported (their converter processes belong to this process)."""
    if following is None or work.analysis.workers < 2 or work.page.figures:
        return False
    return OVERLAP_RUNS <= len(following.run_ids) < LARGE_GROUP_RUNS and can_fork()


@dataclass
class _ForkedGroup:
    group: GroupRef
    forked: Forked[RenderedGroup]
    here: Callable[[], RenderedGroup]  # what renders it here instead, the same bytes
    memos: MemoReader | None  # those of its analysis here (``None``: analysed in the copy)

    def rendered(self) -> RenderedGroup:
        try:
            done = self.forked.result()
        except ForkLost:  # killed (out of memory?)
            return self.here()
        return done if self.memos is None else _with_memos(done, self.memos)

    def cancel(self) -> None:
        self.forked.cancel()
