"""The build: discover → plan → runs (load → analyse → record → page) → groups (analyse →
record → page) → site pages → write, incremental and atomic.

Incremental rules (coverage.py's): the status file from the previous build holds the tool
version, a settings hash (options, templates, static assets, the "built at" stamp), per run a
content hash of its inputs, its files and the sha256 of each private file it keeps (record,
page content, per-sequence sample), and per group the hash of its inputs, its files and the
sha256 of its record and draws memos (planning lives in ``plan.py``).

* version or settings differ, the status file is missing or malformed, or ``--force``: every
  run is re-read and re-rendered;
* otherwise a run whose input hash is unchanged is carried over (``runs.py``), never re-read,
  while its private files still hash to what the status recorded (else it is a cache miss and
  read again); the stat fingerprint only decides whether the bytes must be hashed again;
* a run unreadable tonight that had a good page keeps it (and its data), marked stale;
* a run whose last read failed is read again by the next build whatever its hash: the bytes
  the planner hashed need not be the bytes the loader read;
* group pages are carried over when the hash of their inputs is unchanged, and analysed and
  rendered from the runs' records otherwise (``groups.py``);
* index, diagnostics, changes and manifest are rendered from the runs' records whenever
  anything changed; when nothing did, nothing in OUT is touched (the build is "up to date").

Stages hand each other values in memory (samples' digests, figure lists; records through a
scratch file, ``record_store.py``); the only code that opens files under OUT is ``write.py``
(``status_file.py`` for the status file). The new site is staged and swapped in whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen import __version__, class_code, collector
from reportgen.build.context import built_at, run_settings, site_context
from reportgen.build.cross_runs import read_cross_runs, write_cross_runs
from reportgen.build.group_render import GroupWork
from reportgen.build.groups import write_groups
from reportgen.build.output_guard import check_output_dir
from reportgen.build.plan import (
    GroupInputs,
    RunPlan,
    group_input_digests,
    plan_run,
    read_group_inputs,
    refresh_stats,
    unreadable_inputs,
    up_to_date,
)
from reportgen.build.pool import blas_threads_at_most, pool_pays, server_pays, start_server
from reportgen.build.result import BuildResult, run_reasons, study_reasons
from reportgen.build.runs import (
    RunJob,
    RunStage,
    RunWork,
    marked_lost,
    previous_records,
    process_run,
    record_store,
    run_output,
    write_runs,
)
from reportgen.build.status import (
    STATUS_PATH,
    BuildStatus,
    GroupStatus,
    RunStatus,
    StudyStatus,
    json_hash,
)
from reportgen.build.status_file import read_status, status_pieces
from reportgen.build.studies import StudyStage, study_stage, tally
from reportgen.build.study_write import StudyWork
from reportgen.build.totals import site_findings
from reportgen.discover import Skipped, Tree, discover
from reportgen.figures import FigureList, figures_before
from reportgen.settings import BuildOptions as BuildOptions  # its home before settings.py
from reportgen.settings import derive
from reportgen.treefile import TreeFile, read_tree_file
from reportgen.write import SiteWriter, recover_interrupted

if TYPE_CHECKING:
    from reportgen.pages.changes import PopulationChange
    from reportgen.pages.render import SiteContext

__all__ = [
    "BuildOptions",
    "BuildResult",
    "RunJob",
    "build",
    "process_run",
    "run_output",
    "site_context",
]

ProgressCallback = Callable[[int, int, str], None]


def now_stamp() -> str:
    """When a run was last read successfully (status file and stale banners only)."""
    stamp = built_at()
    return stamp or datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _assets_fingerprint() -> str:
    from reportgen.pages.assets import assets_fingerprint

    return assets_fingerprint()


def _unless_charts_missing(planned: Planned) -> Planned:
    """The plan, or (the Vega bundle missing or damaged: pages get a stand-in) one that carries
    nothing over and makes the next build render everything."""
    from reportgen.pages.assets import vega_bundle

    if vega_bundle().problem is None:
        return planned
    settings_hash = json_hash([planned.settings_hash, "charts not drawn"])
    plans = [replace(p, reusable=None) for p in planned.plans]
    return replace(planned, plans=plans, reuse=False, settings_hash=settings_hash)


# --- the build -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """What planning decided: the tree, each run's plan, and what the previous build left."""

    tree: Tree
    skipped: tuple[Skipped, ...]
    plans: list[RunPlan]
    previous: BuildStatus | None
    reuse: bool  # the previous build's pages may be carried over
    settings_hash: str
    site_key: str
    tree_file: TreeFile  # the tree's reportgen.toml (labels, incidental keys)
    studies: StudyStage  # the kinds' claims on the tree and their studies' plans
    group_inputs: GroupInputs = field(default_factory=dict)  # groups' own files, read


def build(options: BuildOptions, progress: ProgressCallback | None = None) -> BuildResult:
    """Build (or incrementally update) the site; raises WriteError for unusable outputs."""
    with collector.fewer_collections():
        return _build(options, progress)


def _build(options: BuildOptions, progress: ProgressCallback | None) -> BuildResult:
    started = time.perf_counter()
    if options.single_file:
        from reportgen.build.single_file import build_single_file

        with class_code.tables_on("pages"):
            return build_single_file(options)
    check_output_dir(options.out, options.results, options.force)
    recover_interrupted(options.out)
    planned = plan(options)
    tree, studies = planned.tree, planned.studies
    result = BuildResult(
        out=options.out, runs=len(planned.plans), incomplete=len(tree.incomplete),
        groups=len(tree.groups), studies=len(studies.plans),
    )  # fmt: skip
    previous, plans = planned.previous, planned.plans
    if planned.reuse and previous and _up_to_date(planned, options.out):
        refresh_stats(plans, previous, options.out)
        result.up_to_date = True
        result.failed_runs = [p.ref.id for p in plans if p.reusable and not p.reusable.ok]
        result.stale_runs = [p.ref.id for p in plans if p.reusable and p.reusable.stale]
        status = previous
    else:
        with class_code.tables_on("pages"):  # before the page code's ~300 dataclasses are made
            status = write_site(_unless_charts_missing(planned), options, result, progress)
        result.failed_runs = [rid for rid, s in status.runs.items() if not s.ok]
        result.stale_runs = [rid for rid, s in status.runs.items() if s.stale]
    result.unreadable = unreadable_inputs(planned.skipped, status.runs)
    # the runs', incomplete runs', groups' and studies' findings: what ``check`` counts
    result.findings = site_findings(status, tree.incomplete)
    tally(status.studies, studies.problems, result.findings, result.failed_runs, result.stale_runs)
    result.reasons |= study_reasons(status.studies, studies.problems)
    result.seconds = time.perf_counter() - started
    return result


def _up_to_date(planned: Planned, out: Path) -> bool:
    """Nothing to do: every run and every study unchanged since a good read, the site whole."""
    previous = planned.previous
    assert previous is not None
    if not all(p.unchanged for p in planned.studies.plans):
        return False
    return up_to_date(planned.plans, previous, planned.site_key, out)


def plan(options: BuildOptions) -> Planned:
    """Discover the tree and decide, from the previous status, what may be carried over."""
    tree, skipped = discover(options.results, options.follow_symlinks)
    tree_file = read_tree_file(options.results)  # labels, incidental keys: they change pages
    settings_hash = json_hash(
        options.output_settings()
        | {"built_at": built_at(), "assets": _assets_fingerprint(), "tree_file": tree_file.sha256}
    )
    previous = read_status(options.out)
    if previous is not None and previous.version != __version__:
        previous = None
    # pages of the previous build can be carried over, or stand in as stale last-good pages,
    # only if they were rendered by the same templates, assets and settings
    same_pages = previous is not None and previous.settings_hash == settings_hash
    reuse = same_pages and not options.force
    pages = len(tree.runs) + sum(1 for g in tree.groups if g.run_ids)
    if not reuse and rendering_workers(pages, options) > 1:
        start_server()  # every page will be rendered: the server preloads while inputs are hashed
    last_good = previous if same_pages else None
    plans = [
        plan_run(ref, options.results, last_good, reuse, options.max_bytes) for ref in tree.runs
    ]
    group_inputs = read_group_inputs(tree, options.results, options.max_bytes)
    stage = study_stage(tree, skipped, options.results, previous, reuse, same_pages)
    # the tree's shape, its inventory, every study's input hash and the groups' own files
    site_key = json_hash([stage.site_key, group_input_digests(group_inputs)])
    return Planned(
        tree,
        skipped,
        plans,
        previous,
        reuse,
        settings_hash,
        site_key,
        tree_file,
        stage,
        group_inputs,
    )


def write_site(
    planned: Planned,
    options: BuildOptions,
    result: BuildResult,
    progress: ProgressCallback | None,
) -> BuildStatus:
    """Runs, then groups, then the site's pages, staged and swapped in; the new status."""
    rendering, workers = _prepare_workers(planned, options)
    # imported once the server is started: the two import side by side, not one after the other
    with collector.importing():
        from reportgen.pages.site import site_pages

    site = site_context(options)
    tree, previous = planned.tree, planned.previous
    reusable = previous if planned.reuse else None
    with SiteWriter(options.out, not options.force) as writer, _cores(options, rendering):
        stamp = now_stamp()
        store = record_store(writer, planned.plans)
        run_figures = figures_before(reusable.runs if reusable else {}, writer.memo_source)
        work = RunWork(
            options.results, site, run_settings(options), workers, stamp, planned.tree_file,
            read_cross_runs(writer, reusable, store), run_figures,
        )  # fmt: skip
        runs = write_runs(planned.plans, work, writer, store, progress)
        result.reasons = run_reasons(runs.statuses, runs.records)  # for -v
        del work  # the rows carried over: their records are in the store from here
        cross_runs = write_cross_runs(writer, runs.statuses, runs.records, planned.settings_hash)
        group_work = _group_work(planned, runs, site, options, writer)
        groups = write_groups(tree, runs.statuses, reusable, group_work, workers, writer)
        before = previous_records(previous, runs.statuses, runs.records, writer)
        study_work = _study_work(options, site, stamp, reusable, writer, workers)
        studies, inventory = planned.studies.write(study_work, writer, planned.reuse)
        figures = _figure_lists(runs.statuses, groups.statuses, studies)
        own = {group_id: status.findings for group_id, status in groups.statuses.items()}
        flipped = _population_changes(previous, groups.statuses)
        pages = site_pages(
            tree, planned.skipped, groups.take_records(runs.records), before, site, figures, own,
            flipped, inventory, before.same,
        )  # fmt: skip
        for path, content in pages.files:
            writer.write(path, content)
        files = tuple(sorted(writer.claimed))
        status = BuildStatus(
            __version__,
            planned.settings_hash,
            planned.site_key,
            *marked_lost(frozenset(store.lost), runs.statuses, groups.statuses, tree),
            files,
            studies,
            *cross_runs,  # the file's digest and this install's seal of it
        )
        writer.write(STATUS_PATH, status_pieces(status))
        writer.publish()
    result.rebuilt, result.groups_rendered = runs.rebuilt, groups.rendered
    result.written, result.kept = writer.log.written, writer.log.kept
    return status


def _prepare_workers(planned: Planned, options: BuildOptions) -> tuple[bool, int]:
    """Start the workers' server now when the pool will pay (it imports the page code while
    this process works); whether any page will be rendered, and the workers that render."""
    changed = {p.ref.id for p in planned.plans if not p.unchanged}
    # one changed run's groups are one chain, rendered here in turn (``groups.one_chain``)
    touched = sum(1 for g in planned.tree.groups if not changed.isdisjoint(g.run_ids))
    redone = sum(1 for p in planned.studies.plans if not (planned.reuse and p.unchanged))
    group_jobs = touched if len(changed) > 1 else 0
    workers = rendering_workers(len(changed) + group_jobs + redone, options)
    if pool_pays(max(len(changed), group_jobs, redone), workers):
        start_server()
    return bool(changed) or redone > 0, workers


def rendering_workers(pages: int, options: BuildOptions) -> int:
    """The processes a build rendering ``pages`` pages renders in: ``-j``, or this one alone
    when too few pages would pay for starting workers (with ``--figures`` every page converts
    its charts, far more work than rendering it: any pool that pays per stage pays)."""
    pays = pool_pays if options.figures else server_pays
    return options.jobs if pays(pages, options.jobs) else 1


@contextmanager
def _cores(options: BuildOptions, rendering: bool) -> Iterator[None]:
    """What this process computes on while the site is made: at most ``-j`` BLAS threads, and
    the figures' converters (``_converters``)."""
    with blas_threads_at_most(options.jobs), _converters(options, rendering):
        yield


def _converters(options: BuildOptions, rendering: bool) -> AbstractContextManager[None]:
    """With ``--figures``, while pages will be rendered, vl-convert children for every core
    ``-j`` allows (``export``); a group rendered for another reason uses its process's own."""
    if not options.figures:
        return nullcontext()
    from reportgen.charts import export

    export.spread_over(options.jobs)  # pages rendered here convert on every core -j allows
    return export.converting_on(options.jobs) if rendering else nullcontext()


def _group_work(
    planned: Planned,
    runs: RunStage,
    site: SiteContext,
    options: BuildOptions,
    writer: SiteWriter,
) -> GroupWork:
    """What the group stage reads: the runs' records, their samples through the writer, and
    the groups' own files as planning read them."""
    from reportgen.analysis.group import GroupSettings
    from reportgen.pages import paths
    from reportgen.pages.group import GroupPageSettings

    samples = {
        path: digest
        for run_id, status in runs.statuses.items()
        if (digest := status.digest(path := paths.run_sample(run_id))) is not None
    }
    tree_file = planned.tree_file
    previous = planned.previous if planned.reuse else None
    return GroupWork(
        runs.records,
        site,
        derive(
            GroupSettings,
            options,
            workers=options.jobs,
            incidental=tree_file.incidental,
            fit_windows=tree_file.fits,
        ),
        derive(GroupPageSettings, options),
        writer.verified(samples),
        writer.memo_source,
        previous.memo_digests() if previous is not None else {},
        options.verbose,
        planned.group_inputs,
        figures_before(previous.groups if previous else {}, writer.memo_source),
    )


def _study_work(
    options: BuildOptions,
    site: SiteContext,
    read_at: str,
    previous: BuildStatus | None,
    writer: SiteWriter,
    workers: int,
) -> StudyWork:
    """What the study stage reads besides its plans (``previous``: the status whose pages may
    be reused)."""
    figures = figures_before(previous.studies if previous else {}, writer.memo_source)
    return derive(
        StudyWork, options, root=options.results, site=site, workers=workers,
        read_at=read_at, figures_before=figures,
    )  # fmt: skip


def _population_changes(
    previous: BuildStatus | None, groups: Mapping[str, GroupStatus]
) -> tuple[PopulationChange, ...]:
    """Populations whose pooled verdict flipped since the previous build."""
    from reportgen.pages.changes import population_changes

    if previous is None:
        return ()
    before = {group_id: status.verdicts for group_id, status in previous.groups.items()}
    return population_changes(before, {g: s.verdicts for g, s in groups.items()})


def _figure_lists(
    runs: Mapping[str, RunStatus],
    groups: Mapping[str, GroupStatus],
    studies: Mapping[str, StudyStatus],
) -> list[FigureList]:
    """Every page's figure list (tonight's, or a carried-over page's from the status)."""
    listed = [s.figures for s in runs.values()] + [s.figures for s in groups.values()]
    listed += [s.figures for s in studies.values()]
    return [figures for figures in listed if figures is not None]
