"""The run stage: every run carried over, or loaded, analysed and rendered (in worker processes),
then written with its record, its summary and its private files.

A run whose input hash is unchanged is carried over (hard-linked), never re-read, when its
cached record and sample still hash to the digests the status holds; otherwise it is a cache
miss and read again. A run unreadable tonight that had a good page keeps it, marked stale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.build.guard import guarded
from reportgen.build.page_span import PageSpan, page_span, span_parts
from reportgen.build.plan import RunPlan
from reportgen.build.pool import in_pool, in_process, pool_pays
from reportgen.build.record_store import PreviousRecords, RecordStore
from reportgen.build.status import BuildStatus, GroupStatus, RunStatus
from reportgen.discover import RunRef, Tree
from reportgen.figures import PreviousFigures
from reportgen.kinds.interface import AnalysisSettings
from reportgen.treefile import NO_LABELS, NO_TREE_FILE, RunLabels, TreeFile
from reportgen.write import SiteWriter, digest_of

if TYPE_CHECKING:
    # pages pull in Altair and the analysis stack, render Jinja: an up-to-date build needs none
    from reportgen.analysis import RunAnalysis
    from reportgen.analysis.record import RunRecord
    from reportgen.build.cross_runs import CarriedRow
    from reportgen.load.history import FirstCommit
    from reportgen.load.models import LoadFailure
    from reportgen.pages.output import PageOutput
    from reportgen.pages.render import SiteContext
    from reportgen.pages.run import RunContext, RunSettings

ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class RunJob:
    ref: RunRef
    root: Path
    site: SiteContext
    settings: RunSettings
    input_hash: str
    labels: RunLabels = NO_LABELS  # what reportgen.toml declares for this run
    first_commit: FirstCommit | None = None  # git's first commit of its results file
    previous_figures: PreviousFigures | None = None  # its figures in the previous site


def process_run(job: RunJob) -> PageOutput:
    """Load, analyse and render one run; every failure becomes an error page."""
    from reportgen.pages.run import RunContext

    context = RunContext(job.labels, job.first_commit, job.previous_figures)
    return run_output(job.ref, job.root, job.site, job.input_hash, job.settings, context)


def analyzed_run(ref: RunRef, root: Path, settings: AnalysisSettings) -> RunAnalysis | LoadFailure:
    """The run loaded and analysed by the run kind its results object has, or why it could not
    be read."""
    from reportgen.kinds.runs import run_kind
    from reportgen.load import read_results
    from reportgen.load.models import LoadFailure

    results = read_results(ref, root, settings.max_bytes)
    if isinstance(results, LoadFailure):
        return results
    kind = run_kind(results.schema)
    loaded = kind.load(ref, root, settings.max_bytes, results)
    if isinstance(loaded, LoadFailure):
        return loaded
    return kind.analyze(loaded, settings)


def run_output(
    ref: RunRef,
    root: Path,
    site: SiteContext,
    input_hash: str,
    settings: RunSettings,
    context: RunContext | None = None,
) -> PageOutput:
    """A run's pages and record: load → analyse → record → page."""
    import numpy as np

    from reportgen.analysis.record import failure_record, run_record
    from reportgen.load.models import LoadFailure
    from reportgen.pages.run import NO_CONTEXT, error_page, run_page

    context = NO_CONTEXT if context is None else context

    def attempt() -> PageOutput:
        analysis = analyzed_run(ref, root, settings)
        if isinstance(analysis, LoadFailure):
            return error_page(failure_record(analysis, input_hash), site, ref)
        with np.errstate(all="ignore"):
            record = run_record(analysis, input_hash, context.labels.labels)
            return run_page(analysis, record, site, settings, context)

    def failed(reason: str) -> PageOutput:
        hint = "Run with -v for a traceback and report it."
        failure = LoadFailure(
            ref, f"internal error while analysing: {reason}", ref.source, hint=hint
        )
        return error_page(failure_record(failure, input_hash), site, ref)

    return guarded(attempt, failed, f"run {ref.id}", settings.verbose)


def lost_run(job: RunJob, reason: str) -> PageOutput:
    """The error page of a run whose worker died (twice) or failed outside the guarded work."""
    from reportgen.analysis.record import failure_record
    from reportgen.load.models import LoadFailure
    from reportgen.pages.run import error_page

    hint = "Its worker process died while rendering it; see the reason, and run with -v."
    failure = LoadFailure(job.ref, f"not rendered: {reason}", job.ref.source, hint=hint)
    return error_page(failure_record(failure, job.input_hash), job.site, job.ref)


def map_runs(jobs: Iterable[RunJob], count: int, workers: int) -> Iterator[PageOutput]:
    """Every run's output, in job order (in this process when one worker would do)."""
    if not pool_pays(count, workers):
        return in_process(process_run, jobs)
    return in_pool(process_run, jobs, workers, lost_run)


@dataclass
class RunStage:
    """What the run stage leaves for the later ones: every run's status and cross-run record
    (held in the record store, decoded on access)."""

    statuses: dict[str, RunStatus]
    records: RecordStore
    rebuilt: int = 0


@dataclass(frozen=True)
class RunWork:
    """What reading the runs of one build takes besides their plans."""

    root: Path
    site: SiteContext
    settings: RunSettings
    workers: int
    read_at: str  # when tonight's reads happened (status and stale banners)
    tree_file: TreeFile = NO_TREE_FILE  # labels of runs, from the tree's reportgen.toml
    # the previous build's cross-run records, by run id, with their full records' digests
    # (their bytes in the record store)
    cross_runs: Mapping[str, CarriedRow] = field(default_factory=dict)
    # each run's figures in the previous site, by run id (``--figures``)
    figures_before: Mapping[str, PreviousFigures] = field(default_factory=dict)


def write_runs(
    plans: list[RunPlan],
    work: RunWork,
    writer: SiteWriter,
    store: RecordStore,
    progress: ProgressCallback | None,
) -> RunStage:
    """Every run carried over or rendered, its files written; statuses by id, and the records
    put in ``store``."""
    stage = RunStage({}, store)
    todo: list[RunPlan] = []
    for plan in plans:
        kept = _carried_over(plan, writer, work.cross_runs.get(plan.ref.id), store)
        if kept is None:
            todo.append(plan)
        else:
            stage.statuses[plan.ref.id] = kept
    done, total = len(stage.statuses), len(plans)
    if progress:
        progress(done, total, "runs")
    from reportgen.load.history import first_commits

    commits = first_commits(work.root) if todo else {}  # one git call, only when needed
    jobs = (
        RunJob(p.ref, work.root, work.site, work.settings, p.input_hash,
               work.tree_file.for_run(p.ref.id, p.ref.source), commits.get(p.ref.source),
               work.figures_before.get(p.ref.id))
        for p in todo
    )  # fmt: skip
    outputs = map_runs(jobs, len(todo), work.workers)
    for plan, output in zip(todo, outputs, strict=True):
        status, record = _store_run(plan, output, writer, work)
        del output  # its pages are written: only the slim record is kept, in the store
        stage.statuses[plan.ref.id] = status
        store.add(record.for_cross_run(), plan.ref.id)
        stage.rebuilt += 1
        done += 1
        if progress:
            progress(done, total, "runs")
    stage.statuses = dict(sorted(stage.statuses.items()))
    return stage


def marked_lost(
    lost: frozenset[str],
    runs: Mapping[str, RunStatus],
    groups: Mapping[str, GroupStatus],
    tree: Tree,
) -> tuple[dict[str, RunStatus], dict[str, GroupStatus]]:
    """The statuses, with the runs of ``lost`` (whose stored record did not come back within
    this build: its pages showed them as errors) marked as failed reads and their groups as
    never matching, so the next build reads them again and renders their groups and the
    site's pages from their records."""
    if not lost:
        return dict(runs), dict(groups)
    touched = {g.id for g in tree.groups if not lost.isdisjoint(g.run_ids)}
    return (
        {r: replace(s, read_failed=True) if r in lost else s for r, s in runs.items()},
        {g: replace(s, key="") if g in touched else s for g, s in groups.items()},
    )


def record_store(writer: SiteWriter, plans: Iterable[RunPlan]) -> RecordStore:
    """This build's record store, empty: a scratch file of the writer's staging directory."""
    return RecordStore(writer.scratch_file(), unreadable_record(plans))


def unreadable_record(plans: Iterable[RunPlan]) -> Callable[[str], RunRecord]:
    """The record that stands in for a run of ``plans`` whose stored record cannot be read back
    within this build: an error record saying so (that run's problem, not the build's)."""
    by_id = {plan.ref.id: plan for plan in plans}

    def lost(run_id: str) -> RunRecord:
        from reportgen.analysis.record import failure_record
        from reportgen.load.models import LoadFailure

        plan = by_id.get(run_id)
        ref = plan.ref if plan is not None else RunRef(run_id, run_id, run_id)
        hint = "Its record was lost from the build's scratch file; build again."
        failure = LoadFailure(ref, "its record could not be read back", ref.source, hint=hint)
        return failure_record(failure, plan.input_hash if plan is not None else "")

    return lost


def stored_record(writer: SiteWriter, run_id: str, digest: str) -> RunRecord | None:
    """A run's record as a previous build stored it, if its bytes are those ``digest`` names
    and have the record's shape; ``None`` (a cache miss) otherwise."""
    from reportgen.analysis.record import RunRecord
    from reportgen.pages import paths

    content = writer.previous_verified(paths.run_record(run_id), digest)
    if content is None:
        return None
    try:
        record = RunRecord.from_bytes(content)
    except ValueError:
        return None
    return record if record.id == run_id else None


def previous_records(
    previous: BuildStatus | None,
    statuses: Mapping[str, RunStatus],
    records: Mapping[str, RunRecord],
    writer: SiteWriter,
) -> PreviousRecords:
    """The previous build's records, for the change log (an unchanged one is tonight's: only
    the changed ones are read and held)."""
    if previous is None:
        return PreviousRecords({}, (), records)
    same = []
    changed = {}
    for run_id, old in previous.runs.items():
        now = statuses.get(run_id)
        if now is not None and now.record_hash == old.record_hash:
            same.append(run_id)
        elif (record := stored_record(writer, run_id, old.record_hash)) is not None:
            changed[run_id] = record.for_cross_run()
    return PreviousRecords(changed, same, records)


def _carried_over(
    plan: RunPlan, writer: SiteWriter, cross_run: CarriedRow | None, store: RecordStore
) -> RunStatus | None:
    """An unchanged run's status, its files kept and its cross-run record put in ``store``;
    ``None``: read it again.

    ``cross_run``: its row of the previous build's cross-run records (a file checked against
    its digest), its bytes already in the store; used only when its full record's digest is the
    one the status names (and its record file still has those bytes), else its own record file
    is read and decoded.
    """
    from reportgen.pages import paths

    kept = plan.reusable if plan.unchanged else None
    if kept is None:
        return None
    record: RunRecord | None = None
    if cross_run is not None and cross_run.digest == kept.record_hash:
        # its record file is carried over too, so it must still be the bytes recorded
        stored = writer.previous_verified(paths.run_record(plan.ref.id), kept.record_hash)
        if stored is None or cross_run.input_hash != plan.input_hash:
            return None
    else:
        record = stored_record(writer, plan.ref.id, kept.record_hash)
        if record is None or record.input_hash != plan.input_hash:
            return None
    sample = paths.run_sample(plan.ref.id)
    digest = kept.digest(sample)
    if digest is not None and writer.previous_verified(sample, digest) is None:
        return None
    if not writer.keep_all(kept.files):
        return None
    if record is not None:
        store.add(record.for_cross_run(), plan.ref.id)
    else:
        assert cross_run is not None
        store.adopt(plan.ref.id, cross_run.entry)
    return replace(kept, stats=plan.stats)


def _write_output(
    writer: SiteWriter, output: PageOutput
) -> tuple[list[tuple[str, str]], PageSpan | None]:
    """A page's public files and its private ones (whose digests are returned), and where its
    content lies in its page (kept instead of a copy of that content)."""
    for path, content in output.files:
        writer.write(path, content)
    private = [(p, writer.write_private(p, content)) for p, content in output.private]
    cut = output.fragment
    if cut is None:
        return private, None
    digest = digest_of(output.content(cut.page))
    return private, page_span(digest, cut.start, cut.end, cut.has_charts)


def _store_run(
    plan: RunPlan, output: PageOutput, writer: SiteWriter, work: RunWork
) -> tuple[RunStatus, RunRecord]:
    from reportgen.pages import paths, serialize

    tonight = output.record
    assert tonight is not None
    before = plan.last_good
    if not output.ok and before is not None and before.has_good_page:
        stale = _keep_stale(plan, before, tonight, writer, work.site)
        if stale is not None:
            return stale
    private, span = _write_output(writer, output)
    writer.write(*serialize.run_summary_file(tonight))
    record_path = paths.run_record(tonight.id)
    digest = writer.write_private(record_path, tonight.to_bytes())
    files = (*output.paths, paths.run_summary(tonight.id), *(p for p, _ in private), record_path)
    status = RunStatus.of(
        tonight,
        digest,
        plan.input_hash,
        plan.stats,
        files,
        work.read_at if output.ok else None,
        not output.ok,
        private=tuple(private),
        figures=output.figures,
        page_span=span,
    )
    return status, tonight


def _keep_stale(
    plan: RunPlan, before: RunStatus, tonight: RunRecord, writer: SiteWriter, site: SiteContext
) -> tuple[RunStatus, RunRecord] | None:
    """Unreadable tonight, good before: keep the last good page and data, marked stale.

    ``None`` when what the previous build kept of it (record, page content, sample) is gone or
    no longer the bytes it recorded: then tonight's error page stands.
    """
    from reportgen.pages import paths, serialize
    from reportgen.pages.run import run_page_meta
    from reportgen.pages.stale import stale_page

    good = stored_record(writer, tonight.id, before.record_hash)
    fragment = paths.run_fragment(tonight.id)
    copy = before.digest(fragment)  # a stale run's copy of its last good page's content
    if copy is not None:
        stored = writer.previous_verified(fragment, copy)
    else:
        stored = _cut_from_page(before, tonight.id, writer)
    if good is None or stored is None or not writer.previous_has(before.files):
        return None
    record = good.as_stale(tonight, before.last_good or "an earlier build")
    assert record.stale is not None
    page = stale_page(stored, run_page_meta(plan.ref, False), site, record.stale)
    if page is None or not _keep_private(before, writer):
        return None
    writer.write(*page)
    writer.write(*serialize.run_summary_file(record))
    record_path = paths.run_record(record.id)
    record_digest = writer.write_private(record_path, record.to_bytes())
    rewritten = {page[0], paths.run_summary(record.id), record_path}
    private_paths = {p for p, _ in before.private}
    for path in before.files:
        if path not in rewritten and path not in private_paths:
            writer.keep(path)
    private, files = before.private, before.files
    if copy is None:  # cut from the good page, which the stale page replaces: kept from now on
        private = (*private, (fragment, writer.write_private(fragment, stored)))
        files = (*files, fragment)
    status = RunStatus.of(
        record,
        record_digest,
        plan.input_hash,
        plan.stats,
        files,
        before.last_good,
        True,
        private=private,
        figures=before.figures,
    )
    return status, record


def _cut_from_page(before: RunStatus, run_id: str, writer: SiteWriter) -> bytes | None:
    """The content the run's good page showed in the previous site, stored for a stale page;
    ``None`` unless the page's bytes are the ones the previous build recorded."""
    from reportgen.pages import paths
    from reportgen.pages.stale import cut_content

    if before.page_span is None:
        return None
    span = span_parts(before.page_span)
    page = writer.previous_verified(paths.run_page(run_id), span.digest)
    return None if page is None else cut_content(page, span.start, span.end, span.has_charts)


def _keep_private(before: RunStatus, writer: SiteWriter) -> bool:
    """Carry over a run's private files, each only if it still has the bytes recorded."""
    if not all(writer.previous_verified(p, d) is not None for p, d in before.private):
        return False
    return all(writer.keep(p) for p, _ in before.private)
