"""The build: discover → load → analyze → charts → render → write, incremental and atomic."""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from reportgen import __version__, pages
from reportgen.assets import assets_fingerprint, static_assets, vega_bundle_version
from reportgen.discover import Skipped, discover
from reportgen.models import RunRef, Tree
from reportgen.render import SiteContext
from reportgen.status import (
    STATUS_PATH,
    BuildStatus,
    RunStatus,
    current_hash,
    read_status,
)
from reportgen.write import SiteWriter, check_output_dir, recover_interrupted

log = logging.getLogger("reportgen")
ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class BuildOptions:
    results: Path
    out: Path
    jobs: int = 1
    force: bool = False
    title: str = "Entropy experiments"
    figures: tuple[str, ...] = ()
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
            "max_bytes": self.max_bytes,
            "follow_symlinks": self.follow_symlinks,
            "draws": self.draws,
            "seed": self.seed,
            "max_points": self.max_points,
            "built_at": built_at(),
            "assets": assets_fingerprint(),
        }
        return hashlib.sha256(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass
class BuildResult:
    out: Path
    runs: int = 0
    rebuilt: int = 0
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


def process_run(job: RunJob) -> pages.RunOutput:
    """Load, analyse, chart and render one run; every failure becomes an error page."""
    return pages.render_run(job.ref, job.root, job.site, job.input_hash, pages.RunSettings(
        max_bytes=job.options.max_bytes,
        max_points=job.options.max_points,
        figures=job.options.figures,
        verbose=job.options.verbose,
    ))


def _map_runs(jobs: list[RunJob], workers: int) -> Iterator[pages.RunOutput]:
    if workers <= 1 or len(jobs) <= 1:
        yield from map(process_run, jobs)
        return
    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        # Results come back in job order, so output never depends on scheduling.
        yield from pool.map(process_run, jobs, chunksize=1)


# --- the build -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    ref: RunRef
    input_hash: str
    stats: tuple[Any, ...]
    previous: RunStatus | None

    @property
    def unchanged(self) -> bool:
        return self.previous is not None and self.previous.input_hash == self.input_hash


def tree_fingerprint(tree: Tree, skipped: tuple[Skipped, ...]) -> str:
    data = {
        "runs": [asdict(r) for r in tree.runs],
        "incomplete": [asdict(i) for i in tree.incomplete],
        "skipped": [asdict(s) for s in skipped],
    }
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def build(options: BuildOptions, progress: ProgressCallback | None = None) -> BuildResult:
    """Build (or incrementally update) the site; raises WriteError for unusable outputs."""
    started = time.perf_counter()
    if options.single_file:
        return pages.build_single_file(options)
    check_output_dir(options.out, options.results, options.force)
    recover_interrupted(options.out)
    tree, skipped = discover(options.results, options.follow_symlinks)
    settings_hash = options.settings_hash() + tree_fingerprint(tree, skipped)
    previous = None if options.force else read_status(options.out)
    if previous is not None and previous.version != __version__:
        previous = None
    same_settings = previous is not None and previous.settings_hash == settings_hash
    plans = [_plan(ref, options.results, previous if same_settings else None) for ref in tree.runs]
    result = BuildResult(out=options.out, runs=len(plans))
    if same_settings and previous is not None and _nothing_changed(plans, previous, options.out):
        result.up_to_date = True
        result.failed_runs = [p.ref.id for p in plans if not p.previous or not p.previous.ok]
        result.stale_runs = [p.ref.id for p in plans if p.previous and p.previous.summary.get("stale")]
        result.seconds = time.perf_counter() - started
        return result

    site = site_context(options)
    with SiteWriter(options.out) as writer:
        statuses = _write_runs(plans, options, site, writer, result, progress)
        pages.write_site_pages(
            tree, skipped, statuses, previous.runs if previous else {}, site, options, writer
        )
        new_status = BuildStatus(__version__, settings_hash, statuses)
        writer.write(STATUS_PATH, new_status.to_bytes())
        writer.publish()
    result.written, result.kept = writer.log.written, writer.log.kept
    result.failed_runs = [rid for rid, s in statuses.items() if not s.ok]
    result.stale_runs = [rid for rid, s in statuses.items() if s.summary.get("stale")]
    result.seconds = time.perf_counter() - started
    return result


def _plan(ref: RunRef, root: Path, previous: BuildStatus | None) -> RunPlan:
    before = previous.runs.get(ref.id) if previous is not None else None
    digest, stats = current_hash(ref, root, before)
    return RunPlan(ref, digest, stats, before)


def _nothing_changed(plans: list[RunPlan], previous: BuildStatus, out: Path) -> bool:
    if {p.ref.id for p in plans} != set(previous.runs):
        return False
    return all(p.unchanged and p.previous is not None and p.previous.stats == p.stats for p in plans) and all(
        (out / f).is_file() for p in plans if p.previous for f in p.previous.files
    )


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
        if plan.unchanged and plan.previous is not None and _keep_all(writer, plan.previous.files):
            statuses[plan.ref.id] = plan.previous
        else:
            todo.append(plan)
    done = len(statuses)
    total = len(plans)
    if progress:
        progress(done, total, "runs")
    jobs = [RunJob(p.ref, options.results, site, options, p.input_hash) for p in todo]
    for plan, output in zip(todo, _map_runs(jobs, options.jobs)):
        statuses[plan.ref.id] = _store_run(plan, output, writer)
        result.rebuilt += 1
        done += 1
        if progress:
            progress(done, total, "runs")
    return dict(sorted(statuses.items()))


def _keep_all(writer: SiteWriter, files: Iterable[str]) -> bool:
    files = list(files)
    if not all(writer.previous is not None and (writer.previous / f).is_file() for f in files):
        return False
    for path in files:
        writer.keep(path)
    return True


def _store_run(plan: RunPlan, output: pages.RunOutput, writer: SiteWriter) -> RunStatus:
    previous = plan.previous
    if output.ok or previous is None or not previous.has_good_page or not _previous_files_exist(writer, previous):
        for path, content in output.files:
            writer.write(path, content)
        summary = output.summary
        last_good = now_stamp() if output.ok else None
        return RunStatus(plan.input_hash, plan.stats, summary, tuple(p for p, _ in output.files), last_good)
    # Unreadable tonight, good before: keep the last good page, marked stale.
    reason = str(output.summary.get("error", {}).get("reason", "unreadable"))
    last_good = previous.last_good or "an earlier build"
    for path in previous.files:
        old = writer.previous_bytes(path)
        if old is None:
            continue
        writer.write(path, pages.mark_stale(path, old, reason, last_good))
    summary = {**previous.summary, "status": "error", "stale": {"reason": reason, "last_good": last_good}}
    summary["findings"] = list(output.summary.get("findings", [])) + [
        f for f in previous.summary.get("findings", []) if f.get("id") != "parse-error"
    ]
    return RunStatus(plan.input_hash, plan.stats, summary, previous.files, last_good)


def _previous_files_exist(writer: SiteWriter, status: RunStatus) -> bool:
    return writer.previous is not None and all((writer.previous / f).is_file() for f in status.files)

