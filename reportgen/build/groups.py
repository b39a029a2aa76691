"""The group stage: every group carried over, or analysed and rendered from its runs' records.

A group page is carried over when the hash of its inputs (the group's shape and its members'
record digests) is unchanged. The others are analysed (``analysis.group``), their record kept
and their summary derived from it, several at once in worker processes, each subtree before
its root: a parent merges the partial statistics in its children's records (tonight's or
carried over, read back through the writer's checked store) instead of computing them again.
Costly batch-size draws are content-addressed memos, reused per larger run when their bytes
still match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import chain, pairwise
from typing import TYPE_CHECKING

from reportgen.build.group_render import (
    LARGE_GROUP_RUNS,
    GroupJob,
    GroupWork,
    LastAnalysis,
    RenderedGroup,
    failed_group,
    render_group,
    rendered_in_turn,
)
from reportgen.build.guard import guarded
from reportgen.build.plan import group_key
from reportgen.build.pool import in_pool_as_done, in_process, pool_pays, stop_server
from reportgen.build.record_store import HeldRecords, RecordStore
from reportgen.build.status import BuildStatus, GroupStatus, RunStatus
from reportgen.discover import GroupRef, Tree
from reportgen.write import SiteWriter, VerifiedFiles

if TYPE_CHECKING:
    from reportgen.analysis.record import RunRecord
    from reportgen.pages.render import SiteContext


def _children_first(group: GroupRef) -> tuple[str, ...]:
    """Sort key of a post-order walk: each subtree's groups, then the group itself, so a parent
    follows its children closely and their partials are held only until it is started."""
    return (*group.id.split("/"), "\U0010ffff")


@dataclass
class GroupStage:
    """The statuses of every group so far."""

    statuses: dict[str, GroupStatus]
    rendered: int = 0
    # the records the group rendered last in this process decoded (all of them, for the root)
    decoded: dict[str, RunRecord] = field(default_factory=dict)

    def take_records(self, store: Mapping[str, RunRecord]) -> Mapping[str, RunRecord]:
        """``store``'s records, those still held decoded taken as they are; from then on they
        are the returned mapping's alone."""
        held, self.decoded = self.decoded, {}
        return HeldRecords(store, held) if held else store

    def jobs(self, groups: list[GroupRef], by_id: Mapping[str, GroupRef]) -> Iterator[GroupJob]:
        """Each group's job, with the partials of those of its children whose status is known."""
        from reportgen.pages import paths

        for group in groups:
            records = ((c, paths.group_partials(c)) for c in group.child_group_ids)
            children = tuple(
                (path, digest)
                for child, path in records
                if child in self.statuses and (digest := self.statuses[child].digest(path))
            )
            yield GroupJob(group, children, child_groups(group, by_id))


def write_groups(
    tree: Tree,
    runs: Mapping[str, RunStatus],
    previous: BuildStatus | None,
    work: GroupWork,
    workers: int,
    writer: SiteWriter,
) -> GroupStage:
    """Carry over groups whose inputs are unchanged; analyse and render the others."""
    by_id = {g.id: g for g in tree.groups}
    keys = {g.id: group_key(g, by_id, runs, work.group_inputs.get(g.id, ())) for g in tree.groups}
    stage = GroupStage({})
    todo = []
    for group in tree.groups:
        before = previous.groups.get(group.id) if previous is not None else None
        if before is not None and before.key == keys[group.id] and writer.keep_all(before.files):
            stage.statuses[group.id] = before
        else:
            todo.append(group)
    todo.sort(key=_children_first)
    last = LastAnalysis()
    for group, done in _render_groups(work, partial(stage.jobs, by_id=by_id), todo, workers, last):
        stage.statuses[group.id] = _store_group(group, keys[group.id], done, work, writer)
        stage.rendered += 1
        del done  # a large group's page and summary: not held while the next group renders
    stage.statuses = {g.id: stage.statuses[g.id] for g in tree.groups}
    stage.decoded = last.records
    return stage


def _store_group(
    group: GroupRef, key: str, done: RenderedGroup, work: GroupWork, writer: SiteWriter
) -> GroupStatus:
    group_id = group.id
    summary: tuple[str, ...] = ()
    if done.summary is not None:
        done, summary = _stream_summary(group, done, work, writer)
    for path, content in done.output.files:
        writer.write(path, content)
    private = writer.store_memos(done.computed_memos, done.reused_memos, work.memo_digests)
    private = _write_record(group_id, done, writer, work.verbose) | private
    files = tuple(sorted({*done.output.paths, *summary, *private}))
    return GroupStatus(
        key,
        files,
        tuple(sorted(private.items())),
        done.output.figures,
        done.findings,
        done.verdicts,
    )


def _write_record(
    group_id: str, done: RenderedGroup, writer: SiteWriter, verbose: bool
) -> dict[str, str]:
    """The group record's files written, with their digests; one that fails as it is made is
    not kept (a parent computes those rows again), and the build goes on."""
    written: dict[str, str] = {}
    for path, pieces in _record_files(group_id, done).items():
        digest: str | None = guarded(
            partial(writer.write_private_streamed, path, pieces), _no_digest, path, verbose
        )
        if digest is not None:
            written[path] = digest
    return written


def _no_digest(reason: str) -> str | None:
    return None


def _record_files(group_id: str, done: RenderedGroup) -> dict[str, Iterable[bytes]]:
    """The group record's two files: as its worker made them, or made from the statistics of
    its summary as they are written (never held whole)."""
    from reportgen.pages import paths

    if done.record is not None:
        pieces: tuple[Iterable[bytes], ...] = (done.record.statistics,), (done.record.partials,)
    elif done.summary is not None:
        pieces = done.summary.file_pieces()
    else:  # its analysis failed
        return {}
    names = paths.group_record(group_id), paths.group_partials(group_id)
    return dict(zip(names, pieces, strict=True))


def _stream_summary(
    group: GroupRef, done: RenderedGroup, work: GroupWork, writer: SiteWriter
) -> tuple[RenderedGroup, tuple[str, ...]]:
    """Its ``summary.json`` made as it is written; a failure makes it the group's error page (as
    ``render_group``'s guard would have)."""
    from reportgen.pages import paths
    from reportgen.pages.serialize import group_summary_pieces

    assert done.summary is not None
    path = paths.group_summary(group.id)
    try:
        writer.write_streamed(path, group_summary_pieces(done.summary))
    except Exception as exc:  # one bad group never breaks the site
        failed = failed_group(group, f"{type(exc).__name__}: {exc}"[:400], work)
        kept = replace(failed, computed_memos=done.computed_memos, reused_memos=done.reused_memos)
        return kept, ()
    return done, (path,)


def _render_groups(
    work: GroupWork,
    jobs: Callable[[list[GroupRef]], Iterator[GroupJob]],
    todo: list[GroupRef],
    workers: int,
    last: LastAnalysis,
) -> Iterator[tuple[GroupRef, RenderedGroup]]:
    """Each group with its page as it is rendered, several at once in worker processes when
    there are several that can be: the groups of one chain (one changed run's, up to the root)
    each wait for their child's partials, so they are rendered here. A worker receives each
    job's records with the job; a group too large to send (``rendered_here``) is rendered here,
    where every run's record already is, once the pool has finished the others (its children
    among them: it merges their partials)."""
    if not pool_pays(len(todo), workers) or one_chain(todo):
        return rendered_in_turn(work, jobs, todo, last)
    large: list[GroupRef] = []
    pooled: list[GroupRef] = []
    for group in todo:
        (large if rendered_here(group, len(work.records), workers) else pooled).append(group)
    if not pool_pays(len(pooled), workers):
        return rendered_in_turn(work, jobs, todo, last)
    pooled = _largest_first(pooled)
    here = partial(render_group, work, last=last, streamed=True)
    lost = partial(lost_group, work.site)
    shipped = (with_members(job, work.records, work.samples) for job in jobs(pooled))
    # every worker's share: no run's record, no sample's digest
    bare = (replace(work, records={}, samples=replace(work.samples, digests={})),)
    in_workers = in_pool_as_done(
        _render_in_worker, shipped, workers, lost, _group_worker_init, bare
    )
    return chain(_named(pooled, in_workers), _after_pool(here, jobs(large), large))


def _largest_first(groups: list[GroupRef]) -> list[GroupRef]:
    """The groups children first, but for the one of most runs, handed out first: the pool ends
    when its longest job does, and a group handed out just after its children would not find
    their partials stored anyway (it computes their rows again, a small part of its work)."""
    largest = max(groups, key=lambda g: len(g.run_ids))
    return [largest, *(g for g in groups if g is not largest)]


def _after_pool(
    here: Callable[[GroupJob], RenderedGroup], jobs: Iterator[GroupJob], large: list[GroupRef]
) -> Iterator[tuple[GroupRef, RenderedGroup]]:
    """The largest groups, rendered here once the pool has finished: its worker server is
    stopped first, its memory better theirs."""
    stop_server()
    yield from _paired(large, in_process(here, jobs))


def _paired(
    groups: list[GroupRef], rendered: Iterator[RenderedGroup]
) -> Iterator[tuple[GroupRef, RenderedGroup]]:
    """Each group with its page, in turn (not ``zip``: it would hold each page until the next
    one is rendered)."""
    for group in groups:
        yield group, next(rendered)


def _named(
    groups: list[GroupRef], rendered: Iterator[tuple[int, RenderedGroup]]
) -> Iterator[tuple[GroupRef, RenderedGroup]]:
    """Each page the pool has done with its group, as it comes (none held while the next is
    awaited)."""
    for index, done in rendered:
        yield groups[index], done
        del done


def rendered_here(group: GroupRef, runs: int, workers: int) -> bool:
    """Whether a group is large and holds more than one worker's share of the build's runs:
    sent to a worker, its records would be pickled and held a second time there, and its
    summary sent back whole. Every ancestor of such a group is one too, so the others are a
    set of whole subtrees the pool can render children first."""
    size = len(group.run_ids)
    return size >= LARGE_GROUP_RUNS and size * workers > runs


def with_members(
    job: GroupJob, records: Mapping[str, RunRecord], samples: VerifiedFiles
) -> GroupJob:
    """``job`` carrying the records of its group's runs and their samples' digests, all that
    its rendering reads of them (records from a record store as their stored bytes: the worker
    decodes them)."""
    from reportgen.pages import paths

    run_ids = job.group.run_ids
    digests = samples.digests
    own_samples = {p: d for r in run_ids if (d := digests.get(p := paths.run_sample(r)))}
    if isinstance(records, RecordStore):
        own: Mapping[str, RunRecord] = records.shipped(run_ids)
    else:
        own = {r: records[r] for r in run_ids if r in records}
    return replace(job, records=own, samples=own_samples)


def child_groups(group: GroupRef, by_id: Mapping[str, GroupRef]) -> tuple[GroupRef, ...]:
    return tuple(by_id[c] for c in group.child_group_ids)


def one_chain(groups: list[GroupRef]) -> bool:
    """Whether each group (children first) encloses the one before it: no two can be rendered
    at once without one computing again what the other is about to store."""
    return all(
        inner.id.startswith(outer.id + "/") or outer.id in ("", ".")
        for inner, outer in pairwise(groups)
    )


def lost_group(site: SiteContext, job: GroupJob, reason: str) -> RenderedGroup:
    """The error page of a group whose worker died (twice)."""
    from reportgen.pages import serialize
    from reportgen.pages.group import group_error_page

    page = group_error_page(job.group, f"not rendered: {reason}", site=site)
    summary = serialize.group_error_file(job.group.id, reason)
    return RenderedGroup(replace(page, files=(*page.files, summary)), None, {}, ())


_worker_groups: GroupWork | None = None  # a group worker's inputs, set by its initializer


def _group_worker_init(work: GroupWork) -> None:
    global _worker_groups
    _worker_groups = work


def _render_in_worker(job: GroupJob) -> RenderedGroup:
    assert _worker_groups is not None, "not a group worker"
    return render_group(_worker_groups, job)
