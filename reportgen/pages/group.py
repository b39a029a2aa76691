"""Group pages: the notebooks' cross-run comparisons for every group, from cached run summaries."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TypeVar

import numpy as np
from markupsafe import Markup

from reportgen.analysis.batch import BatchComparison, DrawMemo, compare_batch_sizes
from reportgen.analysis.diagnostics import CheckCount, runs_per_check
from reportgen.analysis.fits import Agreement, Fit, agreement, fit_run
from reportgen.analysis.group_stats import (
    AgreementTally,
    CvFeatureStats,
    EtaStats,
    PopulationStats,
    QuadHelp,
    RelativeErrors,
    cv_group_stats,
    group_summary_json,
    per_eta_stats,
    population_stats,
    quad_help,
    relative_errors,
    resolved,
    tally,
)
from reportgen.analysis.points import RunPoints, SampleSource
from reportgen.analysis.populations import differing_parameters, populations
from reportgen.analysis.record import RunRecord
from reportgen.analysis.tails import TailGroupRow, TailSensitivity, group_tail_summary
from reportgen.analysis.uncertainty import Doubling
from reportgen.charts import Chart
from reportgen.charts.export import FigureTheme
from reportgen.discover import GroupRef, Tree
from reportgen.findings import severity_counts
from reportgen.load.parameters import Incidental
from reportgen.pages import paths, serialize
from reportgen.pages.group_charts import (
    AgreementRow,
    denominator_resolved,
    group_charts,
    notebook_charts,
    pop_title,
    relabel,
    run_doublings,
    se_true_of,
    short_label,
    verdict_charts,
)
from reportgen.pages.output import PageOutput
from reportgen.pages.render import (
    PageMeta,
    SiteContext,
    json_for_script,
    relative_href,
    render_page,
)
from reportgen.pages.run_charts import collect
from reportgen.pages.verdict import RunPairs, Verdict, group_verdict

# Above this many runs a group with subgroups is summarised: its page keeps the group's own
# statistics and leaves per-run series and tables to the subgroup pages. Listing every run made
# the top page of a 1,000-run tree 14 MB (and 10× that at 10,000 runs); no reader can use a
# chart of 1,000 series, and summary.json still holds every run.
PER_RUN_LIMIT = 200

T = TypeVar("T")
SampleLoader = Callable[[str], SampleSource | None]
"""A run's per-sequence sample by id (read lazily, one η at a time), or ``None``."""


@dataclass(frozen=True)
class GroupSettings:
    """What a group page needs of the build's options."""

    draws: int
    seed: int
    workers: int = 1
    incidental: tuple[str, ...] = ()  # the tree file's additions to the incidental keys
    figures: tuple[str, ...] = ()
    figure_theme: FigureTheme = "paper"


@dataclass(frozen=True)
class RunEtaRow:
    run_id: str
    href: str
    eta: float
    true: float | None
    linear: float | None
    linquad: float | None
    rel_err: float | None
    se_true: float | None = None
    resolved: bool | None = None  # |ΔH_true| > 2·se_true: the relative error means something


@dataclass(frozen=True)
class VerdictRow:
    """One run×η of the paired verdict, with the notebook's numbers beside it."""

    run_id: str
    label: str
    href: str
    population: str
    row: Agreement
    true: float | None
    se_true: float | None
    ci95_diff: tuple[float, float] | None


@dataclass(frozen=True)
class QuadRow:
    run_id: str
    label: str
    href: str
    row: QuadHelp


@dataclass(frozen=True)
class DoublingRow:
    run_id: str
    label: str
    href: str
    row: Doubling
    resolved: bool | None = None  # ΔH_true(η), the denominator, is resolved from zero


@dataclass(frozen=True)
class DiffersRow:
    """A "what differs" row: a key and each run's value (``None``: the run does not set it)."""

    key: str
    splits: bool
    values: tuple[str | None, ...]


@dataclass(frozen=True)
class FitRow:
    run_id: str
    href: str
    fit: Fit


@dataclass(frozen=True)
class AgreementCount:
    run_id: str
    href: str
    total: int
    within_1sigma: int
    within_2sigma: int


@dataclass(frozen=True)
class FindingCount:
    run_id: str
    href: str
    status: str
    counts: Mapping[str, int]
    ids: tuple[str, ...]


@dataclass(frozen=True)
class ChildLink:
    name: str
    href: str
    run_count: int


@dataclass(frozen=True, eq=False)
class GroupView:
    group: GroupRef
    children: tuple[ChildLink, ...]
    run_rows: tuple[RunEtaRow, ...]
    other_runs: tuple[tuple[str, str, str], ...]
    findings: tuple[FindingCount, ...]
    per_eta: tuple[EtaStats, ...]
    fits: tuple[FitRow, ...]
    agreements: tuple[AgreementRow, ...]
    agreement_counts: tuple[AgreementCount, ...]
    rel_errors: RelativeErrors
    batch: tuple[BatchComparison, ...]
    tails: tuple[TailGroupRow, ...]
    cv: tuple[CvFeatureStats, ...]
    charts: Mapping[str, tuple[Chart, ...]]
    page_data: Markup
    norm_note: str
    verdict: Verdict
    verdicts: tuple[VerdictRow, ...] = ()
    populations: tuple[PopulationStats, ...] = ()
    differs: tuple[DiffersRow, ...] = ()
    differs_runs: tuple[tuple[str, str], ...] = ()  # (label, href) columns of the differs table
    quad_rows: tuple[QuadRow, ...] = ()
    run_tallies: tuple[tuple[str, str, AgreementTally], ...] = ()  # (label, href, paired counts)
    doubling_rows: tuple[DoublingRow, ...] = ()
    per_run: bool = True  # False: summarised (more than PER_RUN_LIMIT runs, with subgroups)
    check_counts: tuple[CheckCount, ...] = ()  # runs affected per check (summarised pages)


# --- inputs ------------------------------------------------------------------------------------


def batch_groups(group: GroupRef, tree: Tree, points: Mapping[str, RunPoints]) -> bool:
    """True when the group's child groups hold runs of different (uniform) batch sizes."""
    sizes = set()
    children = {g.id: g for g in tree.groups}
    for child_id in group.child_group_ids:
        child_sizes = {points[r].batch_size for r in children[child_id].run_ids if r in points}
        child_sizes.discard(None)
        if len(child_sizes) != 1:
            return False
        sizes |= child_sizes
    return len(sizes) >= 2


# --- the page --------------------------------------------------------------------------------


def group_error_page(group: GroupRef, reason: str, *, site: SiteContext) -> PageOutput:
    """A group whose analysis failed: a page saying why, and a summary with the reason."""
    page = PageMeta(
        paths.group_page(group.id), f"Group {group.id}", "group", paths.tree_crumbs(group.id)
    )
    summary = {
        "group": group.id,
        "error": reason,
        "runs": [],
        "per_eta": [],
        "batch_comparison": [],
    }
    html = render_page("group_error.html", site, page, group=group, reason=reason)
    return PageOutput(
        ((page.path, html), (paths.group_summary(group.id), serialize.dumps(summary)))
    )


def group_page(
    group: GroupRef,
    tree: Tree,
    records: Mapping[str, RunRecord],
    samples: SampleLoader,
    memo: DrawMemo | None,
    settings: GroupSettings,
    site: SiteContext,
) -> PageOutput:
    """A group's page and summary from its members' records (and, for a batch-size
    comparison, the larger runs' per-sequence samples)."""
    with np.errstate(all="ignore"):  # extreme values become None in the tables, not noise
        return _group_page(group, tree, records, samples, memo, settings, site)


def _group_page(
    group: GroupRef,
    tree: Tree,
    records: Mapping[str, RunRecord],
    samples: SampleLoader,
    memo: DrawMemo | None,
    settings: GroupSettings,
    site: SiteContext,
) -> PageOutput:
    page_path = paths.group_page(group.id)
    members = [records[r] for r in group.run_ids if r in records]
    points = {r.id: p for r in members if r.was_read and (p := r.points).etas}
    view_points = [points[r] for r in group.run_ids if r in points]
    per_run = len(members) <= PER_RUN_LIMIT or not group.child_group_ids

    def per_run_only(items: Sequence[T]) -> Sequence[T]:
        return items if per_run else ()

    href = {r.id: relative_href(page_path, paths.run_page(r.id)) for r in members}

    errors = {r.id: r.eta_errors for r in members if r.id in points}
    per_eta = per_eta_stats(view_points)
    fits = [(p.run_id, fit_run(p, records[p.run_id].uncertainty)) for p in view_points]
    agreements = {p.run_id: agreement(p, errors[p.run_id]) for p in view_points}
    rel = relative_errors(view_points, errors)
    incidental = Incidental(settings.incidental)
    found = populations([r.member for r in members if r.was_read], incidental)
    tails = [(r.id, t) for r in members for t in r.tails]
    pops = tuple(
        replace(
            pop,
            tails=group_tail_summary(
                _last_eta_tails([(r, t) for r, t in tails if r in pop.population.run_ids])
            ),
        )
        for pop in population_stats(found, view_points, agreements, errors)
    )
    pop_of = {r: pop.label for pop in found for r in pop.run_ids}
    diffs = differing_parameters([r.member for r in members if r.was_read], incidental)
    batch: tuple[BatchComparison, ...] = ()
    if batch_groups(group, tree, points):
        loaded = [s for r in group.run_ids if r in points and (s := samples(r)) is not None]
        batch = compare_batch_sizes(
            view_points,
            loaded,
            draws=settings.draws,
            seed=settings.seed,
            workers=settings.workers,
            memo=memo,
        )
    cv_runs = [(r.id, r.cv) for r in members if r.cv is not None]
    cv = cv_group_stats(cv_runs) if cv_runs else ()

    agreement_rows = tuple(
        AgreementRow(r, href[r], a) for r, rows in agreements.items() for a in rows
    )

    def label(run_id: str) -> str:
        return short_label(run_id, group.id)

    labelled = {label(r): e for r, e in errors.items()}
    chart_results = group_charts(
        relabel(per_run_only(view_points), group.id),
        [(pop_title(pops, pop), pop.per_eta) for pop in pops],
        [(label(r), f) for r, f in per_run_only(fits)],
        [replace(a, run_id=label(a.run_id)) for a in per_run_only(agreement_rows)],
        per_run_only(
            [
                (
                    pop_title(pops, pop),
                    relative_errors(
                        relabel(
                            [points[r] for r in pop.population.run_ids if r in points], group.id
                        ),
                        labelled,
                    ),
                )
                for pop in pops
            ]
        ),
        tuple(replace(b, small_runs=tuple((label(r), v) for r, v in b.small_runs)) for b in batch),
        [(label(r), t) for r, t in per_run_only(_last_eta_tails(tails))],
        cv,
    )
    chart_results["verdict"] = verdict_charts(pops, agreements, label) if per_run else []
    quads = {
        p.run_id: tuple(quad_help(s, e) for s, e in zip(p.etas, errors[p.run_id], strict=True))
        for p in view_points
    }
    doubles = {p.run_id: run_doublings(records[p.run_id]) for p in view_points}
    if per_run:
        chart_results |= notebook_charts(pops, points, errors, quads, doubles, label)
    chart_set, figure_files = collect(chart_results, None).export(
        settings.figures, settings.figure_theme, posixpath.dirname(page_path), page_path
    )
    read = [r for r in members if r.was_read]
    children = {g.id: g for g in tree.groups}
    view = GroupView(
        group=group,
        children=tuple(
            ChildLink(
                PurePosixPath(c).name,
                relative_href(page_path, paths.group_page(c)),
                len(children[c].run_ids),
            )
            for c in group.child_group_ids
        ),
        run_rows=tuple(
            RunEtaRow(
                p.run_id,
                href[p.run_id],
                s.eta,
                s.delta_h_true,
                s.delta_h_linear,
                s.delta_h_linquad,
                s.rel_err_linear,
                se_true=se_true_of(e),
                resolved=resolved(s.delta_h_true, se_true_of(e)),
            )
            for p in per_run_only(view_points)
            for s, e in zip(p.etas, errors[p.run_id], strict=True)
        ),
        other_runs=tuple(
            (r.id, href[r.id], str(r.schema or r.status)) for r in members if r.id not in points
        ),
        findings=tuple(
            FindingCount(
                r.id,
                href[r.id],
                r.status,
                severity_counts(r.findings),
                tuple(sorted({f.id for f in r.findings})),
            )
            for r in per_run_only(members)
        ),
        per_eta=per_eta,
        fits=tuple(FitRow(r, href[r], f) for r, f in per_run_only(fits)),
        agreements=agreement_rows,
        agreement_counts=tuple(
            AgreementCount(
                r,
                href[r],
                sum(1 for a in rows if a.combined_se is not None),
                sum(1 for a in rows if a.within_1sigma),
                sum(1 for a in rows if a.within_2sigma),
            )
            for r, rows in agreements.items()
            if per_run and any(a.combined_se is not None for a in rows)
        ),
        rel_errors=rel,
        batch=batch,
        tails=group_tail_summary(_last_eta_tails(tails)),
        cv=cv,
        charts=chart_set.charts,
        page_data=json_for_script({"datasets": chart_set.datasets}),
        norm_note=_norm_note(members),
        verdict=group_verdict(
            [RunPairs(r.id, r.etas, r.eta_errors) for r in members if r.was_read]
        ),
        verdicts=tuple(
            VerdictRow(
                p.run_id,
                label(p.run_id),
                href[p.run_id],
                pop_of.get(p.run_id, ""),
                a,
                s.delta_h_true,
                se_true_of(e),
                e.ci95_diff_linear if e is not None else None,
            )
            for p in per_run_only(view_points)
            for a, s, e in zip(agreements[p.run_id], p.etas, errors[p.run_id], strict=True)
        ),
        populations=pops,
        differs=tuple(DiffersRow(d.key, d.splits, tuple(v for _, v in d.values)) for d in diffs),
        differs_runs=tuple((label(r.id), href[r.id]) for r in read),
        run_tallies=tuple(
            (label(r), href[r], tally(rows)) for r, rows in agreements.items() if per_run
        ),
        quad_rows=tuple(
            QuadRow(r, label(r), href[r], q) for r, rows in quads.items() if per_run for q in rows
        ),
        doubling_rows=tuple(
            DoublingRow(r, label(r), href[r], d, denominator_resolved(points[r], errors[r], d))
            for r, rows in doubles.items()
            if per_run
            for d in rows
        ),
        per_run=per_run,
        check_counts=() if per_run else runs_per_check({f.id for f in r.findings} for r in members),
    )
    page = PageMeta(
        page_path, f"Group {group.id}", "group", paths.tree_crumbs(group.id), chart_set.has_charts
    )
    html = render_page("group.html", site, page, view=view)
    summary = group_summary_json(
        group.id,
        view_points,
        [f for _, f in fits],
        [agreements[p.run_id] for p in view_points],
        per_eta,
        batch,
        rel_errors=rel,
        tails=group_tail_summary(_last_eta_tails(tails)),
        cv=cv,
        populations=pops,
        differs=diffs,
        run_extras=lambda r: {
            "quad_help": [q.to_json() for q in quads[r]],
            "doublings": [d.to_json() for d in doubles[r]],
        },
        streamed=True,
    )
    return PageOutput(
        (
            (page_path, html),
            (paths.group_summary(group.id), serialize.dump_pieces(summary)),
            *figure_files,
        )
    )


def _last_eta_tails(
    tails: Sequence[tuple[str, TailSensitivity]],
) -> list[tuple[str, TailSensitivity]]:
    """Per run, the tail sensitivity at its largest η (where the approximation is stressed most)."""
    largest: dict[str, TailSensitivity] = {}
    for run_id, tail in tails:
        if run_id not in largest or tail.eta > largest[run_id].eta:
            largest[run_id] = tail
    return sorted(largest.items())


def _norm_note(members: Sequence[RunRecord]) -> str:
    modes = sorted({r.normalization.true for r in members if r.normalization is not None})
    if not modes:
        return "No run of this group could be read."
    if len(modes) == 1:
        return f"All runs report ΔH_true {modes[0].replace('_', '-')}."
    return f"Runs mix normalisations ({', '.join(modes)}): compare with care."
