"""The build: discover → load → analyze → charts → render → write, incremental and atomic.

Incremental rules (coverage.py's): the status file from the previous build holds the tool
version, a settings hash (options, templates, static assets, the "built at" stamp) and per run
a content hash of its inputs with the run's cached summary and files.

* version or settings differ, the status file is missing or malformed, or ``--force``: every
  run is re-read and re-rendered;
* otherwise a run whose input hash is unchanged is carried over (hard-linked), never re-read;
  the stat fingerprint only decides whether the bytes must be hashed again;
* a run unreadable tonight that had a good page keeps it (and its data), marked stale;
* group pages are carried over when the hash of their inputs (the group's shape and its
  members' cached summaries) is unchanged, and re-rendered from cached summaries otherwise;
  their costly batch-comparison draws are content-addressed memos reused per larger run;
* index, diagnostics, changes and manifest are rendered from the cached summaries whenever
  anything changed; when nothing did, nothing in OUT is touched (the build is "up to date").

The new site is staged beside OUT and swapped in whole (``write.SiteWriter``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen import __version__
from reportgen.assets import assets_fingerprint, static_assets, vega_bundle_version
from reportgen.discover import Skipped, discover
from reportgen.models import GroupRef, RunRef, Tree
from reportgen.render import SiteContext
from reportgen.status import (
    STATUS_PATH,
    BuildStatus,
    GroupStatus,
    InputStat,
    RunStatus,
    current_hash,
    json_hash,
    read_status,
)
from reportgen.write import SiteWriter, check_output_dir, recover_interrupted, write_file_atomic

if TYPE_CHECKING:
    from reportgen.charts.export import FigureTheme

    # pages pull in Altair and the analysis stack; an up-to-date build never needs them
    from reportgen.pages import RunOutput
    from reportgen.pages.group import GroupOutput

log = logging.getLogger("reportgen")
ProgressCallback = Callable[[int, int, str], None]
# Runs submitted to the pool ahead of the one being written, per worker: enough to keep every
# worker busy, few enough that memory does not grow with the tree.
WINDOW_PER_WORKER = 2
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class BuildOptions:
    results: Path
    out: Path
    jobs: int = 1
    force: bool = False
    title: str = "Entropy experiments"
    figures: tuple[str, ...] = ()
    figure_theme: FigureTheme = "paper"
    single_file: str | None = None
    max_bytes: int = 256 * 1024 * 1024
    follow_symlinks: bool = False
    draws: int = 1000
    seed: int = 0
    max_points: int = 5000
    verbose: bool = False

    def settings_hash(self) -> str:
        """Everything besides the inputs that changes output bytes."""
        settings = {
            "title": self.title,
            "figures": self.figures,
            "figure_theme": self.figure_theme,
            "max_bytes": self.max_bytes,
            "follow_symlinks": self.follow_symlinks,
            "draws": self.draws,
            "seed": self.seed,
            "max_points": self.max_points,
            "built_at": built_at(),
            "assets": assets_fingerprint(),
        }
        return json_hash(settings)


@dataclass
class BuildResult:
    out: Path
    runs: int = 0
    rebuilt: int = 0
    groups_rendered: int = 0
    failed_runs: list[str] = field(default_factory=list)
    stale_runs: list[str] = field(default_factory=list)
    up_to_date: bool = False
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    seconds: float = 0.0

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


def process_run(job: RunJob) -> RunOutput:
    """Load, analyse, chart and render one run; every failure becomes an error page."""
    from reportgen import pages

    settings = pages.RunSettings(
        max_bytes=job.options.max_bytes,
        max_points=job.options.max_points,
        figures=job.options.figures,
        figure_theme=job.options.figure_theme,
        verbose=job.options.verbose,
    )
    return pages.render_run(job.ref, job.root, job.site, job.input_hash, settings)


def _map_runs(jobs: Iterable[RunJob], count: int, workers: int) -> Iterator[RunOutput]:
    """Outputs in job order; at most ``WINDOW_PER_WORKER × workers`` runs in flight.

    ``ProcessPoolExecutor.map`` would submit every job at once and buffer finished outputs
    (pages, arrays) until their turn, so memory would grow with the tree; a sliding window of
    futures consumed in order bounds it and keeps the output independent of scheduling.
    """
    workers = min(workers, count)
    if workers <= 1:
        yield from map(process_run, jobs)
        return
    _warm_before_fork()
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    pending = iter(jobs)
    window: deque[Future[RunOutput]] = deque()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init)
    try:
        for first in pending:
            window.append(pool.submit(process_run, first))
            if len(window) >= WINDOW_PER_WORKER * workers:
                break
        while window:
            output = window.popleft().result()
            following = next(pending, None)
            if following is not None:
                window.append(pool.submit(process_run, following))
            yield output
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _warm_before_fork() -> None:
    """Import the page code and compile the templates once, so forked workers inherit both."""
    from reportgen import pages  # noqa: F401  (Altair and the analysis stack)
    from reportgen.render import environment

    env = environment()
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)


def _worker_init() -> None:
    """Die with the build: a killed build must not leave workers rendering for nobody."""
    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


# --- planning --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    ref: RunRef
    input_hash: str
    stats: tuple[InputStat, ...] | None
    reusable: RunStatus | None  # the previous build's run, if its pages can be carried over
    last_good: RunStatus | None  # the previous build's run, if its pages can stand in as stale

    @property
    def unchanged(self) -> bool:
        return self.reusable is not None and self.reusable.input_hash == self.input_hash


def tree_fingerprint(tree: Tree, skipped: tuple[Skipped, ...]) -> str:
    """The tree's shape as the site-wide pages see it (never its absolute root)."""
    return json_hash(
        {
            "runs": [asdict(r) for r in tree.runs],
            "groups": [asdict(g) for g in tree.groups],
            "incomplete": [asdict(i) for i in tree.incomplete],
            "skipped": [asdict(s) for s in skipped],
        }
    )


def group_key(
    group: GroupRef, groups: Mapping[str, GroupRef], statuses: Mapping[str, RunStatus]
) -> str:
    """A group page is a pure function of this (given the settings hash)."""
    return json_hash(
        {
            "group": asdict(group),
            "children": [asdict(groups[c]) for c in group.child_group_ids],
            "members": [statuses[r].summary for r in group.run_ids if r in statuses],
        }
    )


def _plan(ref: RunRef, root: Path, previous: BuildStatus | None, reuse: bool) -> RunPlan:
    before = previous.runs.get(ref.id) if previous is not None else None
    # --force trusts nothing cached, not even a hash behind an unchanged stat
    digest, stats = current_hash(ref, root, before if reuse else None)
    return RunPlan(ref, digest, stats, before if reuse else None, before)


def _up_to_date(plans: list[RunPlan], previous: BuildStatus, site_key: str, out: Path) -> bool:
    """Nothing to do: same runs, same bytes, same tree, and every file of the site still there."""
    if site_key != previous.site_key or {p.ref.id for p in plans} != set(previous.runs):
        return False
    if not all(p.unchanged for p in plans):
        return False
    root = os.fspath(out)  # os.path: this check is most of a no-op build on a large site
    return all(os.path.isfile(os.path.join(root, f)) for f in previous.files)


# --- the build -------------------------------------------------------------------------------


def build(options: BuildOptions, progress: ProgressCallback | None = None) -> BuildResult:
    """Build (or incrementally update) the site; raises WriteError for unusable outputs."""
    started = time.perf_counter()
    if options.single_file:
        from reportgen.pages import build_single_file

        return build_single_file(options)
    check_output_dir(options.out, options.results, options.force)
    recover_interrupted(options.out)
    tree, skipped = discover(options.results, options.follow_symlinks)
    settings_hash = options.settings_hash()
    site_key = tree_fingerprint(tree, skipped)
    previous = read_status(options.out)
    if previous is not None and previous.version != __version__:
        previous = None
    # pages of the previous build can be carried over, or stand in as stale last-good pages,
    # only if they were rendered by the same templates, assets and settings
    same_pages = previous is not None and previous.settings_hash == settings_hash
    reuse = same_pages and not options.force
    last_good = previous if same_pages else None
    plans = [_plan(ref, options.results, last_good, reuse) for ref in tree.runs]
    result = BuildResult(out=options.out, runs=len(plans))

    if reuse and previous is not None and _up_to_date(plans, previous, site_key, options.out):
        _refresh_stats(plans, previous, options.out)
        result.up_to_date = True
        result.failed_runs = [p.ref.id for p in plans if p.reusable and not p.reusable.ok]
        result.stale_runs = [p.ref.id for p in plans if p.reusable and p.reusable.stale]
        result.seconds = time.perf_counter() - started
        return result

    site = site_context(options)
    with SiteWriter(options.out, reuse_memos=not options.force) as writer:
        statuses = _write_runs(plans, options, site, writer, result, progress)
        reusable = previous if reuse else None
        groups, group_outputs = _write_groups(
            tree, statuses, reusable, site, options, writer, result
        )
        from reportgen.pages import write_site_pages

        write_site_pages(
            tree,
            skipped,
            statuses,
            previous.runs if previous else {},
            site,
            writer,
            group_outputs,
        )
        files = tuple(sorted(writer.claimed))
        status = BuildStatus(__version__, settings_hash, site_key, statuses, groups, files)
        writer.write(STATUS_PATH, status.to_bytes())
        writer.publish()
    result.written, result.kept = writer.log.written, writer.log.kept
    result.failed_runs = [rid for rid, s in statuses.items() if not s.ok]
    result.stale_runs = [rid for rid, s in statuses.items() if s.stale]
    result.seconds = time.perf_counter() - started
    return result


def _refresh_stats(plans: list[RunPlan], previous: BuildStatus, out: Path) -> None:
    """Record new stat fingerprints (touched but identical inputs) so they are not re-hashed.

    Only the private status file changes, atomically and in place: the published site is not
    touched, and a build killed here leaves the old, still valid, status file.
    """
    runs = {p.ref.id: replace(p.reusable, stats=p.stats) for p in plans if p.reusable is not None}
    if all(previous.runs[rid].stats == s.stats for rid, s in runs.items()):
        return
    write_file_atomic(out / STATUS_PATH, replace(previous, runs=runs).to_bytes())


def _write_runs(
    plans: list[RunPlan],
    options: BuildOptions,
    site: SiteContext,
    writer: SiteWriter,
    result: BuildResult,
    progress: ProgressCallback | None,
) -> dict[str, RunStatus]:
    statuses: dict[str, RunStatus] = {}
    todo: list[RunPlan] = []
    for plan in plans:
        if plan.unchanged and plan.reusable is not None and _keep_all(writer, plan.reusable.files):
            statuses[plan.ref.id] = replace(plan.reusable, stats=plan.stats)
        else:
            todo.append(plan)
    done, total = len(statuses), len(plans)
    if progress:
        progress(done, total, "runs")
    read_at = now_stamp()
    jobs = (RunJob(p.ref, options.results, site, options, p.input_hash) for p in todo)
    for plan, output in zip(todo, _map_runs(jobs, len(todo), options.jobs), strict=True):
        statuses[plan.ref.id] = _store_run(plan, output, writer, read_at)
        result.rebuilt += 1
        done += 1
        if progress:
            progress(done, total, "runs")
    return dict(sorted(statuses.items()))


def _keep_all(writer: SiteWriter, files: Iterable[str]) -> bool:
    """Carry every file over from the previous site, or none (then the caller re-renders)."""
    files = list(files)
    if writer.previous is None or not all((writer.previous / f).is_file() for f in files):
        return False
    for path in files:
        writer.keep(path)
    return True


def _store_run(plan: RunPlan, output: RunOutput, writer: SiteWriter, read_at: str) -> RunStatus:
    before = plan.last_good
    if output.ok or before is None or not before.has_good_page or not _all_exist(writer, before):
        for path, content in output.files:
            writer.write(path, content)
        last_good = read_at if output.ok else None
        paths = tuple(p for p, _ in output.files)
        return RunStatus(plan.input_hash, plan.stats, output.summary, paths, last_good)
    return _keep_stale(plan, before, output, writer)


def _keep_stale(
    plan: RunPlan, before: RunStatus, output: RunOutput, writer: SiteWriter
) -> RunStatus:
    """Unreadable tonight, good before: keep the last good page and data, marked stale."""
    from reportgen import pages
    from reportgen.pages import paths, serialize

    reason = str(output.summary.get("error", {}).get("reason", "unreadable"))
    last_good = before.last_good or "an earlier build"
    summary = dict(before.summary)
    summary["status"] = "error"
    summary["stale"] = {"reason": reason, "last_good": last_good}
    if "error" in output.summary:  # what failed tonight, where, and a hint
        summary["error"] = output.summary["error"]
    summary["findings"] = list(output.summary.get("findings", [])) + [
        f for f in before.summary.get("findings", []) if f.get("id") != "parse-error"
    ]
    summary_path = paths.run_summary(plan.ref.id)
    for path in before.files:
        if path == summary_path:
            writer.write(path, serialize.dumps(summary))
        elif path.endswith(".html"):
            old = writer.previous_bytes(path)
            if old is not None:
                writer.write(path, pages.mark_stale(path, old, reason, last_good))
        else:
            writer.keep(path)
    return RunStatus(plan.input_hash, plan.stats, summary, before.files, before.last_good)


def _all_exist(writer: SiteWriter, status: RunStatus) -> bool:
    return writer.previous is not None and all(
        (writer.previous / f).is_file() for f in status.files
    )


def _write_groups(
    tree: Tree,
    statuses: Mapping[str, RunStatus],
    previous: BuildStatus | None,
    site: SiteContext,
    options: BuildOptions,
    writer: SiteWriter,
    result: BuildResult,
) -> tuple[dict[str, GroupStatus], list[GroupOutput]]:
    """Carry over groups whose inputs are unchanged; render the others from cached summaries."""
    from reportgen.pages import paths
    from reportgen.pages.group import GroupOutput, render_group

    by_id = {g.id: g for g in tree.groups}
    summaries = {run_id: s.summary for run_id, s in statuses.items()}
    groups: dict[str, GroupStatus] = {}
    outputs: list[GroupOutput] = []
    for group in tree.groups:
        key = group_key(group, by_id, statuses)
        before = previous.groups.get(group.id) if previous is not None else None
        if before is not None and before.key == key and _keep_all(writer, before.files):
            groups[group.id] = before
            outputs.append(
                GroupOutput(group.id, paths.group_page(group.id), paths.group_summary(group.id))
            )
            continue
        mark = len(writer.claimed)
        outputs.append(render_group(group, tree, summaries, site, options, writer))
        groups[group.id] = GroupStatus(key, tuple(sorted(writer.claimed[mark:])))
        result.groups_rendered += 1
    return groups, outputs
