"""The build: discover → load → analyze → charts → render → write, incremental and atomic.

Incremental rules (coverage.py's): the status file from the previous build holds the tool
version, a settings hash (options, templates, static assets, the "built at" stamp) and per run
a content hash of its inputs, its files and the digest of its record (the ``RunRecord``
itself is the run's private ``record.json``, read back only when a cross-run page needs it;
planning lives in ``plan.py``).

* version or settings differ, the status file is missing or malformed, or ``--force``: every
  run is re-read and re-rendered;
* otherwise a run whose input hash is unchanged is carried over (hard-linked), never re-read
  (a missing or unreadable ``record.json`` makes it a cache miss: the run is read again);
  the stat fingerprint only decides whether the bytes must be hashed again;
* a run unreadable tonight that had a good page keeps it (and its data), marked stale;
* a run whose last read failed is read again by the next build whatever its hash: the bytes
  the planner hashed need not be the bytes the loader read (a file broken and restored
  between the two would otherwise stay stale for ever);
* group pages are carried over when the hash of their inputs (the group's shape and its
  members' record digests) is unchanged, and re-rendered from the runs' records otherwise
  (several at once in worker processes); their costly batch-comparison draws are
  content-addressed memos reused per larger run;
* index, diagnostics, changes and manifest are rendered from the runs' records whenever
  anything changed; when nothing did, nothing in OUT is touched (the build is "up to date").

The new site is staged beside OUT and swapped in whole (``write.SiteWriter``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen import __version__
from reportgen.build import trusted
from reportgen.build.guard import guarded
from reportgen.build.plan import (
    RunPlan,
    group_key,
    plan_run,
    refresh_stats,
    unreadable_inputs,
    up_to_date,
)
from reportgen.build.pool import in_pool, in_process, pool_pays, start_server
from reportgen.build.status import (
    STATUS_PATH,
    BuildStatus,
    GroupStatus,
    RunStatus,
    finding_totals,
    input_hash,
    json_hash,
    read_status,
)
from reportgen.build.studies import study_stage, tally
from reportgen.discover import GroupRef, RunRef, Tree, discover
from reportgen.findings import SEVERITIES, Severity, empty_counts
from reportgen.pages.assets import (
    assets_fingerprint,
    static_assets,
    vega_bundle,
    vega_bundle_version,
)
from reportgen.settings import BuildOptions as BuildOptions  # its home before settings.py
from reportgen.settings import derive
from reportgen.treefile import NO_LABELS, NO_TREE_FILE, RunLabels, TreeFile, read_tree_file
from reportgen.write import (
    SiteWriter,
    WriteError,
    check_output_dir,
    recover_interrupted,
    write_file_atomic,
)

if TYPE_CHECKING:
    # pages pull in Altair and the analysis stack, render Jinja: an up-to-date build needs none
    from reportgen.analysis.record import RunRecord
    from reportgen.load.history import FirstCommit
    from reportgen.pages.group import GroupSettings
    from reportgen.pages.output import PageOutput
    from reportgen.pages.render import SiteContext
    from reportgen.pages.run import RunSettings

log = logging.getLogger("reportgen")
ProgressCallback = Callable[[int, int, str], None]


@dataclass
class BuildResult:
    out: Path
    runs: int = 0
    rebuilt: int = 0
    groups_rendered: int = 0
    failed_runs: list[str] = field(default_factory=list)
    stale_runs: list[str] = field(default_factory=list)
    # inputs and directories that could not be read (an OS error, not a limit), with the reason
    unreadable: list[str] = field(default_factory=list)
    up_to_date: bool = False
    findings: dict[str, int] = field(default_factory=empty_counts)  # of every run, by severity
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def findings_at_or_above(self, severity: Severity) -> int:
        return sum(self.findings[s] for s in SEVERITIES[: SEVERITIES.index(severity) + 1])

    def report_lines(self) -> Iterator[str]:
        if self.up_to_date:
            yield f"Site is up to date ({self.runs} runs)."
        else:
            yield (
                f"Built {self.runs} runs ({self.rebuilt} re-rendered) in {self.seconds:.1f} s; "
                f"{len(self.written)} files written, {len(self.kept)} unchanged."
            )
        for run_id in self.failed_runs:
            suffix = " (kept its last good page)" if run_id in self.stale_runs else ""
            yield f"  could not read: {run_id}{suffix}"
        for item in self.unreadable:
            yield f"  could not read: {item}"
        yield (self.out / "index.html").resolve().as_uri()


def built_at() -> str | None:
    """The one timestamp a page may carry, and only when SOURCE_DATE_EPOCH asks for it."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    try:
        return datetime.fromtimestamp(int(epoch), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, OverflowError, OSError):
        return None


def now_stamp() -> str:
    """When a run was last read successfully (status file and stale banners only)."""
    stamp = built_at()
    return stamp or datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def site_context(options: BuildOptions) -> SiteContext:
    from reportgen.pages.render import SiteContext

    return SiteContext(
        title=options.title,
        version=__version__,
        assets={asset.name: asset.hashed_name for asset in static_assets()},
        built_at=built_at(),
        vega_version=vega_bundle_version(),
    )


# --- per-run work (runs in worker processes) -------------------------------------------------


@dataclass(frozen=True)
class RunJob:
    ref: RunRef
    root: Path
    site: SiteContext
    options: BuildOptions
    input_hash: str
    labels: RunLabels = NO_LABELS  # what reportgen.toml declares for this run
    first_commit: FirstCommit | None = None  # git's first commit of its results file


def process_run(job: RunJob) -> PageOutput:
    """Load, analyse and render one run; every failure becomes an error page."""
    settings = _run_settings(job.options)
    return run_output(
        job.ref, job.root, job.site, job.input_hash, settings, job.labels, job.first_commit
    )


def _run_settings(options: BuildOptions, inline_files: bool = False) -> RunSettings:
    from reportgen.pages.run import RunSettings

    figures = () if inline_files else options.figures
    return derive(RunSettings, options, figures=figures, inline_files=inline_files)


def run_output(
    ref: RunRef,
    root: Path,
    site: SiteContext,
    input_hash: str,
    settings: RunSettings,
    labels: RunLabels = NO_LABELS,
    first_commit: FirstCommit | None = None,
) -> PageOutput:
    import numpy as np

    from reportgen.analysis import analyze_run
    from reportgen.load import load_run
    from reportgen.load.models import LoadFailure
    from reportgen.pages.run import RunContext, error_page, run_page

    def attempt() -> PageOutput:
        loaded = load_run(ref, root, settings.max_bytes)
        if isinstance(loaded, LoadFailure):
            return error_page(loaded, site, input_hash)
        with np.errstate(all="ignore"):  # non-finite results are reported as findings instead
            analysis = analyze_run(
                loaded,
                bootstrap=settings.bootstrap,
                seed=settings.seed,
                margin=settings.equivalence_margin,
            )
            context = RunContext(labels, first_commit)
            return run_page(analysis, site, input_hash, settings, context)

    def failed(reason: str) -> PageOutput:
        hint = "Run with -v for a traceback and report it."
        failure = LoadFailure(
            ref, f"internal error while analysing: {reason}", ref.source, hint=hint
        )
        return error_page(failure, site, input_hash)

    return guarded(attempt, failed, f"run {ref.id}", settings.verbose)


def lost_run(job: RunJob, reason: str) -> PageOutput:
    """The error page of a run whose worker died (twice) or failed outside the guarded work."""
    from reportgen.load.models import LoadFailure
    from reportgen.pages.run import error_page

    hint = "Its worker process died while rendering it; see the reason, and run with -v."
    failure = LoadFailure(job.ref, f"not rendered: {reason}", job.ref.source, hint=hint)
    return error_page(failure, job.site, job.input_hash)


def _map_runs(jobs: Iterable[RunJob], count: int, workers: int) -> Iterator[PageOutput]:
    """Every run's output, in job order (in this process when one worker would do)."""
    if not pool_pays(count, workers):
        return in_process(process_run, jobs)
    return in_pool(process_run, jobs, workers, lost_run)


# --- the build -------------------------------------------------------------------------------


def build(options: BuildOptions, progress: ProgressCallback | None = None) -> BuildResult:
    """Build (or incrementally update) the site; raises WriteError for unusable outputs."""
    started = time.perf_counter()
    if options.single_file:
        return build_single_file(options)
    check_output_dir(options.out, options.results, options.force)
    recover_interrupted(options.out)
    tree, skipped = discover(options.results, options.follow_symlinks)
    tree_file = read_tree_file(options.results)  # labels, incidental keys: they change pages
    settings_hash = json_hash(
        options.output_settings()
        | {"built_at": built_at(), "assets": assets_fingerprint(), "tree_file": tree_file.sha256}
    )
    previous = read_status(options.out)
    if previous is not None and previous.version != __version__:
        previous = None
    # pages of the previous build can be carried over, or stand in as stale last-good pages,
    # only if they were rendered by the same templates, assets and settings
    same_pages = previous is not None and previous.settings_hash == settings_hash
    reuse = same_pages and not options.force
    last_good = previous if same_pages else None
    plans = [
        plan_run(ref, options.results, last_good, reuse, options.max_bytes) for ref in tree.runs
    ]
    stage = study_stage(tree, skipped, options.results, previous, reuse)
    site_key = stage.site_key  # the tree's shape, its inventory and every study's input hash
    result = BuildResult(out=options.out, runs=len(plans))

    if reuse and previous is not None and up_to_date(plans, previous, site_key, options.out):
        refresh_stats(plans, previous, options.out)
        result.up_to_date = True
        result.failed_runs = [p.ref.id for p in plans if p.reusable and not p.reusable.ok]
        result.stale_runs = [p.ref.id for p in plans if p.reusable and p.reusable.stale]
        result.unreadable = unreadable_inputs(skipped, previous.runs)
        result.findings = finding_totals(previous.runs.values())
        tally(previous.studies, stage.problems, result.findings, result.failed_runs)
        result.seconds = time.perf_counter() - started
        return result

    changed = {p.ref.id for p in plans if not p.unchanged}
    touched = sum(1 for g in tree.groups if not changed.isdisjoint(g.run_ids))
    if pool_pays(max(len(changed), touched), options.jobs):
        start_server()  # the workers' server imports the page code while this process works
    site = site_context(options)
    if vega_bundle().problem is not None:  # the stand-in: nothing is carried over, and the
        settings_hash = json_hash([settings_hash, "charts not drawn"])  # next build renders
        plans, reuse = [replace(p, reusable=None) for p in plans], False
    with SiteWriter(options.out, reuse_memos=not options.force) as writer:
        drawn = trusted.runs_whose_samples_are_read(tree.groups, plans)
        statuses, records = _write_runs(
            plans, options, site, writer, result, progress, tree_file, drawn
        )
        reusable = previous if reuse else None
        groups = _write_groups(
            tree, statuses, records, reusable, site, options, writer, result, tree_file.incidental,
            trusted.previous_memo_digests(previous),
        )  # fmt: skip
        studies, inventory = stage.write(site, writer, options, reuse)
        from reportgen.pages.site import site_pages

        before = _previous_records(previous, statuses, records, writer)
        figures = _figure_manifests(writer)
        _write_output(writer, site_pages(tree, skipped, records, before, site, figures, inventory))
        files = tuple(sorted(writer.claimed))
        status = BuildStatus(__version__, settings_hash, site_key, statuses, groups, files, studies)
        writer.write(STATUS_PATH, status.to_bytes())
        writer.publish()
    result.written, result.kept = writer.log.written, writer.log.kept
    result.failed_runs = [rid for rid, s in statuses.items() if not s.ok]
    result.stale_runs = [rid for rid, s in statuses.items() if s.stale]
    result.unreadable = unreadable_inputs(skipped, statuses)
    result.findings = finding_totals(statuses.values())
    tally(studies, stage.problems, result.findings, result.failed_runs)
    result.seconds = time.perf_counter() - started
    return result


def _previous_records(
    previous: BuildStatus | None,
    statuses: Mapping[str, RunStatus],
    records: Mapping[str, RunRecord],
    writer: SiteWriter,
) -> dict[str, RunRecord]:
    """The previous build's records, for the change log (an unchanged one is tonight's)."""
    if previous is None:
        return {}
    before = {}
    for run_id, old in previous.runs.items():
        now = statuses.get(run_id)
        if now is not None and now.record_hash == old.record_hash:
            before[run_id] = records[run_id]
        elif record := trusted.stored_record(writer.previous, run_id, old.record_hash):
            before[run_id] = record.for_cross_run()
    return before


def _write_output(writer: SiteWriter, output: PageOutput) -> None:
    """The one place page bytes reach the writer."""
    for path, content in output.files:
        writer.write(path, content)


def _write_runs(
    plans: list[RunPlan],
    options: BuildOptions,
    site: SiteContext,
    writer: SiteWriter,
    result: BuildResult,
    progress: ProgressCallback | None,
    tree_file: TreeFile = NO_TREE_FILE,
    drawn: Collection[str] = (),
) -> tuple[dict[str, RunStatus], dict[str, RunRecord]]:
    """Every run's status and its record as the cross-run pages need it (a ``drawn`` run's
    sample is read again, so it is carried over only if it is the one its status names)."""
    statuses: dict[str, RunStatus] = {}
    records: dict[str, RunRecord] = {}
    todo: list[RunPlan] = []
    for plan in plans:
        kept = plan.reusable if plan.unchanged else None
        run_id, old = plan.ref.id, writer.previous
        record = None if kept is None else trusted.stored_record(old, run_id, kept.record_hash)
        intact = (
            kept is None
            or run_id not in drawn
            or trusted.sample_intact(old, run_id, kept.sample_hash)
        )
        if kept is not None and record is not None and intact and writer.keep_all(kept.files):
            statuses[plan.ref.id] = replace(kept, stats=plan.stats)
            records[plan.ref.id] = record.for_cross_run()
        else:
            todo.append(plan)
    done, total = len(statuses), len(plans)
    if progress:
        progress(done, total, "runs")
    from reportgen.load.history import first_commits

    read_at = now_stamp()
    commits = first_commits(options.results) if todo else {}  # one git call, only when needed
    jobs = (
        RunJob(p.ref, options.results, site, options, p.input_hash,
               tree_file.for_run(p.ref.id, p.ref.source), commits.get(p.ref.source))
        for p in todo
    )  # fmt: skip
    outputs = _map_runs(jobs, len(todo), options.jobs)
    for plan, output in zip(todo, outputs, strict=True):
        status, record = _store_run(plan, output, writer, read_at, site)
        statuses[plan.ref.id], records[plan.ref.id] = status, record.for_cross_run()
        result.rebuilt += 1
        done += 1
        if progress:
            progress(done, total, "runs")
    return dict(sorted(statuses.items())), dict(sorted(records.items()))


def _store_run(
    plan: RunPlan, output: PageOutput, writer: SiteWriter, read_at: str, site: SiteContext
) -> tuple[RunStatus, RunRecord]:
    from reportgen.pages import paths, serialize

    tonight = output.record
    assert tonight is not None
    before = plan.last_good
    good = None
    if (
        not output.ok
        and before is not None
        and before.has_good_page
        and writer.previous_has(before.files)
    ):
        good = trusted.stored_record(writer.previous, tonight.id, before.record_hash)
    if good is not None and before is not None:
        return _keep_stale(plan, before, good, tonight, writer, site)
    _write_output(writer, output)
    record_path = paths.run_record(tonight.id)
    digest = _write_record(writer, record_path, tonight)
    last_good = read_at if output.ok else None
    files = (*output.paths, record_path)
    fragment, sample = paths.run_fragment(tonight.id), paths.run_sample(tonight.id)
    page_hash = hashlib.sha256(output.content(fragment)).hexdigest() if fragment in files else None
    sample_hash = (
        serialize.sample_digest(output.content(sample), tonight.id) if sample in files else None
    )
    status = RunStatus.of(
        tonight, digest, plan.input_hash, plan.stats, files, last_good, not output.ok,
        page_hash, sample_hash,
    )  # fmt: skip
    return status, tonight


def _write_record(writer: SiteWriter, path: str, record: RunRecord) -> str:
    content = record.to_bytes()
    writer.write(path, content)
    return hashlib.sha256(content).hexdigest()


def _keep_stale(
    plan: RunPlan,
    before: RunStatus,
    good: RunRecord,
    tonight: RunRecord,
    writer: SiteWriter,
    site: SiteContext,
) -> tuple[RunStatus, RunRecord]:
    """Unreadable tonight, good before: keep the last good page and data, marked stale."""
    from reportgen.pages import paths, serialize
    from reportgen.pages.stale import stale_page

    last_good = before.last_good or "an earlier build"
    record = good.as_stale(tonight, last_good)
    assert record.stale is not None
    page_path, summary_path = paths.run_page(good.id), paths.run_summary(good.id)
    record_path = paths.run_record(good.id)
    stored = writer.previous_bytes(paths.run_fragment(good.id))
    trusted = stored is not None and hashlib.sha256(stored).hexdigest() == before.page_hash
    page = stale_page(stored, site, record.stale, page_path) if stored and trusted else None
    digest = _write_record(writer, record_path, record)
    for path in before.files:
        if path == summary_path:
            writer.write(path, serialize.dumps(serialize.summary_json(record)))
        elif path == page_path and page is not None:
            writer.write(path, page)
        elif path != record_path:
            writer.keep(path)
    status = RunStatus.of(
        record, digest, plan.input_hash, plan.stats, before.files, before.last_good, True,
        before.page_hash, before.sample_hash,
    )  # fmt: skip
    return status, record


def _figure_manifests(writer: SiteWriter) -> tuple[tuple[str, bytes], ...]:
    """Every page's ``figures/figures.json`` of the new site (written or carried over)."""
    from reportgen.charts.export import MANIFEST

    suffix = f"/figures/{MANIFEST}"
    return tuple(
        (path, (writer.staging / path).read_bytes())
        for path in sorted(writer.claimed)
        if path.endswith(suffix)
    )


def _write_groups(
    tree: Tree,
    statuses: Mapping[str, RunStatus],
    records: Mapping[str, RunRecord],
    previous: BuildStatus | None,
    site: SiteContext,
    options: BuildOptions,
    writer: SiteWriter,
    result: BuildResult,
    incidental: tuple[str, ...] = (),
    memo_digests: Mapping[str, str] | None = None,
) -> dict[str, GroupStatus]:
    """Carry over groups whose inputs are unchanged; render the others from the records."""
    from reportgen.pages.group import GroupSettings

    by_id = {g.id: g for g in tree.groups}
    keys = {g.id: group_key(g, by_id, statuses) for g in tree.groups}
    groups: dict[str, GroupStatus] = {}
    todo = []
    for group in tree.groups:
        before = previous.groups.get(group.id) if previous is not None else None
        if before is not None and before.key == keys[group.id] and writer.keep_all(before.files):
            groups[group.id] = before
        else:
            todo.append(group)
    settings = derive(GroupSettings, options, workers=options.jobs, incidental=incidental)
    work = GroupWork(
        tree,
        records,
        site,
        settings,
        writer.staging,
        writer.previous if writer.reuse_memos else None,
        options.verbose,
        {run_id: status.sample_hash for run_id, status in statuses.items()},
        memo_digests or {},
    )
    for group, rendered in zip(todo, _render_groups(work, todo, options.jobs), strict=True):
        _write_output(writer, rendered.output)
        memos = writer.store_memos(rendered.computed_memos, rendered.reused_memos)
        files = tuple(sorted({*rendered.output.paths, *memos}))
        groups[group.id] = GroupStatus(keys[group.id], files, rendered.memo_digests)
        result.groups_rendered += 1
    return {g.id: groups[g.id] for g in tree.groups}


@dataclass(frozen=True)
class GroupWork:
    """What every group page of a build reads (a forked worker inherits it; one started from a
    fresh server, for figures, receives a copy once)."""

    tree: Tree
    records: Mapping[str, RunRecord]
    site: SiteContext
    settings: GroupSettings
    staging: Path  # the run samples of the new site
    memos: Path | None  # the previous site, whose memos are reused (None: recompute them)
    verbose: bool
    sample_digests: Mapping[str, str | None]  # a stored sample is read only with its digest
    memo_digests: Mapping[str, str]  # and a memo


@dataclass(frozen=True)
class RenderedGroup:
    output: PageOutput
    computed_memos: Mapping[str, bytes]  # draws memos the page computed, for the writer to store
    reused_memos: tuple[str, ...]  # names of those it read from the previous site (carried over)
    memo_digests: Mapping[str, str]  # the sha256 of every memo the page used, by name


def render_group(work: GroupWork, group: GroupRef) -> RenderedGroup:
    """A group's page and summary; a failure becomes its error page."""
    from reportgen.pages import paths, serialize
    from reportgen.pages.group import group_error_page, group_page
    from reportgen.write import MemoReader, npy_memo

    def sample(run_id: str) -> serialize.StoredSample | None:
        # the build's private store; read one η at a time while drawing
        stored = serialize.stored_sample(work.staging / paths.run_sample(run_id), run_id)
        expected = work.sample_digests.get(run_id)
        if stored is None or expected is None or stored.content_digest() != expected:
            return None  # not the sample the run's status vouches for: never used
        return stored

    memos = MemoReader(work.memos, work.memo_digests)
    draws = npy_memo(memos.memo, "draws")
    output = guarded(
        partial(
            group_page, group, work.tree, work.records, sample, draws, work.settings, work.site
        ),
        partial(group_error_page, group, site=work.site),
        f"group {group.id}",
        work.verbose,
    )
    return RenderedGroup(output, memos.computed, tuple(memos.reused), memos.memo_digests())


def _render_groups(
    work: GroupWork, groups: list[GroupRef], workers: int
) -> Iterator[RenderedGroup]:
    """Group pages in order, several at once in worker processes when there are several."""
    if not pool_pays(len(groups), workers):
        return in_process(partial(render_group, work), groups)
    lost = partial(lost_group, work.site)
    return in_pool(_render_in_worker, groups, workers, lost, _group_worker_init, (work,))


def lost_group(site: SiteContext, group: GroupRef, reason: str) -> RenderedGroup:
    """The error page of a group whose worker died (twice)."""
    from reportgen.pages.group import group_error_page

    page = group_error_page(group, f"not rendered: {reason}", site=site)
    return RenderedGroup(page, {}, (), {})


_worker_groups: GroupWork | None = None  # a group worker's inputs, set by its initializer


def _group_worker_init(work: GroupWork) -> None:
    global _worker_groups
    _worker_groups = work


def _render_in_worker(group: GroupRef) -> RenderedGroup:
    assert _worker_groups is not None, "not a group worker"
    return render_group(_worker_groups, group)


# --- one self-contained file -----------------------------------------------------------------


def build_single_file(options: BuildOptions) -> BuildResult:
    """Write ``options.out`` as one HTML file holding the page of ``options.single_file``."""
    from reportgen.pages import paths
    from reportgen.pages.render import inline_assets

    tree, _ = discover(options.results, options.follow_symlinks)
    ref = next((r for r in tree.runs if r.id == options.single_file), None)
    if ref is None:
        known = ", ".join(r.id for r in tree.runs[:5])
        raise WriteError(f"no run with id {options.single_file!r} (runs look like: {known})")
    if options.out.is_dir():
        raise WriteError(
            f"{options.out} is a directory; --single-file writes one file (e.g. -o report.html)"
        )
    check_output_dir(options.out, options.results, force=True)
    site = replace(site_context(options), inline=inline_assets())
    from reportgen.load.history import first_commits

    settings = _run_settings(options, inline_files=True)
    labels = read_tree_file(options.results).for_run(ref.id, ref.source)
    first_commit = first_commits(options.results).get(ref.source)
    digest = input_hash(ref, options.results, options.max_bytes)
    output = run_output(ref, options.results, site, digest, settings, labels, first_commit)
    page = output.content(paths.run_page(ref.id))
    write_file_atomic(options.out, page)
    result = BuildResult(out=options.out, runs=1, rebuilt=1, written=[str(options.out)])
    if not output.ok:
        result.failed_runs = [ref.id]
    return result
