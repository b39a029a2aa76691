"""The studies written: carried over when unchanged, else rendered (in worker processes when
that pays) and written with their stored content; a study that fails tonight after a good
read keeps its last good page, marked stale, as a run does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reportgen.build.status import StudyStatus
from reportgen.build.study_jobs import StudyJob, StudyResult, map_studies
from reportgen.figures import PreviousFigures
from reportgen.kinds.stage_checks import KIND_FAILED, STUDY_FAILED

if TYPE_CHECKING:
    from reportgen.build.studies import StudyPlan
    from reportgen.charts.export import FigureTheme
    from reportgen.pages.render import SiteContext
    from reportgen.write import SiteWriter

FAILURES = (KIND_FAILED, STUDY_FAILED)  # findings of a failed read: never kept from before


@dataclass(frozen=True)
class StudyWork:
    """What rendering tonight's studies takes besides their plans."""

    root: Path
    site: SiteContext
    max_bytes: int
    verbose: bool
    workers: int
    read_at: str  # when tonight's reads happened (status and stale banners)
    figures: tuple[str, ...] = ()  # --figures
    figure_theme: FigureTheme = "paper"
    equivalence_margin: float = 0.2  # --equivalence-margin: of the kinds' equivalence statements
    # each study's figures in the previous site, by study id (``--figures``)
    figures_before: Mapping[str, PreviousFigures] = field(default_factory=dict)


@dataclass(frozen=True)
class StaleStudy:
    """Why a study's page is its last good one, for the stale banner."""

    reason: str
    last_good: str
    study: bool = True  # the banner speaks of a study's files, not a run's results


def write_studies(
    plans: Sequence[StudyPlan], work: StudyWork, writer: SiteWriter
) -> dict[str, StudyStatus]:
    """Every study's status: carried over when unchanged, else rendered and written."""
    statuses: dict[str, StudyStatus] = {}
    todo = []
    for plan in plans:
        kept = plan.reusable if plan.unchanged else None
        if kept is not None and _carried_over(kept, writer):
            statuses[plan.id] = replace(kept, stats=plan.stats)
        else:
            todo.append(plan)
    jobs = [
        (
            p.registered,
            StudyJob(
                p.registered.name,
                p.registered.origin,
                p.claim,
                work.root,
                work.site,
                work.max_bytes,
                work.verbose,
                work.figures,
                work.figure_theme,
                work.equivalence_margin,
                work.figures_before.get(p.id),
            ),
        )
        for p in todo
    ]
    for plan, result in zip(todo, map_studies(jobs, work.workers), strict=True):
        statuses[plan.id] = _store(plan, result, writer, work)
    return statuses


def _carried_over(kept: StudyStatus, writer: SiteWriter) -> bool:
    """Keep an unchanged study's files, if its stored content still has the bytes recorded."""
    if not all(writer.previous_verified(path, digest) for path, digest in kept.private):
        return False
    return writer.keep_all(kept.files)


def _store(
    plan: StudyPlan, result: StudyResult, writer: SiteWriter, work: StudyWork
) -> StudyStatus:
    before = plan.last_good
    if not result.ok and before is not None and before.has_good_page:
        stale = _keep_stale(plan, before, result.row, writer, work.site)
        if stale is not None:
            return stale
    files: tuple[str, ...] = ()
    private: tuple[tuple[str, str], ...] = ()
    if result.output is not None:
        for path, content in result.output.files:
            writer.write(path, content)
        private = tuple(
            (path, writer.write_private(path, content)) for path, content in result.output.private
        )
        files = (*result.output.paths, *(path for path, _ in private))
    last_good = work.read_at if result.ok else None
    figures = None if result.output is None else result.output.figures
    return StudyStatus(plan.input_hash, plan.stats, files, result.row, private, last_good, figures)


def _keep_stale(
    plan: StudyPlan,
    before: StudyStatus,
    tonight: Mapping[str, Any],
    writer: SiteWriter,
    site: SiteContext,
) -> StudyStatus | None:
    """Failed tonight, good before: the last good page under the stale banner, its other files
    kept. ``None`` when what the previous build kept of it is gone or no longer the bytes it
    recorded, or its page was elsewhere: then tonight's error row stands."""
    from reportgen.kinds.study_page import default_page_dir, page_meta, study_fragment
    from reportgen.pages.stale import stale_page

    page_dir = default_page_dir(plan.claim.kind, plan.claim.directory)
    digests = dict(before.private)
    fragment = study_fragment(page_dir)
    stored = writer.previous_verified(fragment, digests[fragment]) if fragment in digests else None
    if stored is None or before.row["page"] != f"{page_dir}/index.html":
        return None
    if not writer.previous_has(before.files) or before.last_good is None:
        return None
    stale = StaleStudy(str(tonight["error"] or "unreadable"), before.last_good)
    title = f"{plan.claim.kind} {plan.claim.directory}"
    page = stale_page(stored, page_meta(page_dir, title, "study", False), site, stale)
    if page is None:
        return None
    writer.write(*page)
    for path in before.files:
        if path != page[0]:
            writer.keep(path)
    row = stale_row(before.row, tonight, stale)
    return StudyStatus(
        plan.input_hash,
        plan.stats,
        before.files,
        row,
        before.private,
        before.last_good,
        before.figures,
    )


def stale_row(
    good: Mapping[str, Any], tonight: Mapping[str, Any], stale: StaleStudy
) -> dict[str, Any]:
    """Tonight's row (its inputs, its failure) showing the last good page and findings."""
    kept = [f for f in good["findings"] if f["id"] not in FAILURES]
    return dict(tonight) | {
        "page": good["page"],
        "summary": good["summary"],
        "findings": [*tonight["findings"], *kept],
        "stale": {"reason": stale.reason, "last_good": stale.last_good},
    }
