"""Group pages: the notebooks' cross-run comparisons for every group, from cached run summaries."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

import numpy as np
from markupsafe import Markup

from reportgen import charts
from reportgen.analysis.batch import BatchComparison, DrawMemo, compare_batch_sizes
from reportgen.analysis.fits import Agreement, Fit, agreement, fit_run
from reportgen.analysis.group_stats import (
    CvFeatureStats,
    EtaStats,
    RelativeErrors,
    cv_group_stats,
    group_summary_json,
    per_eta_stats,
    relative_errors,
)
from reportgen.analysis.points import RunPoints, SampleSource
from reportgen.analysis.tails import TailGroupRow, TailSensitivity, group_tail_summary
from reportgen.charts import Chart, Datasets
from reportgen.charts.export import FigureTheme
from reportgen.models import GroupRef, Tree, severity_counts
from reportgen.pages import paths, serialize
from reportgen.pages.output import PageOutput
from reportgen.pages.run_charts import ChartResult, collect
from reportgen.pages.verdict import RunPairs, Verdict, group_verdict
from reportgen.record import RunRecord
from reportgen.render import (
    PageMeta,
    SiteContext,
    json_for_script,
    relative_href,
    render_page,
)

SampleLoader = Callable[[str], SampleSource | None]
"""A run's per-sequence sample by id (read lazily, one η at a time), or ``None``."""


@dataclass(frozen=True)
class GroupSettings:
    """What a group page needs of the build's options."""

    draws: int
    seed: int
    workers: int = 1
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


@dataclass(frozen=True)
class FitRow:
    run_id: str
    href: str
    fit: Fit


@dataclass(frozen=True)
class AgreementRow:
    run_id: str
    href: str
    row: Agreement


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


# --- charts ----------------------------------------------------------------------------------


def short_label(run_id: str, group_id: str) -> str:
    """A run's name inside its group (legends would otherwise truncate long ids)."""
    prefix = group_id + "/"
    return run_id.removeprefix(prefix) if group_id else run_id


def relabel(points: Sequence[RunPoints], group_id: str) -> list[RunPoints]:
    return [replace(p, run_id=short_label(p.run_id, group_id)) for p in points]


def group_charts(
    view_points: Sequence[RunPoints],
    per_eta: Sequence[EtaStats],
    fits: Sequence[tuple[str, Fit]],
    agreements: Sequence[AgreementRow],
    rel: RelativeErrors,
    batch: Sequence[BatchComparison],
    tails: Sequence[tuple[str, TailSensitivity]],
    cv: Sequence[CvFeatureStats],
) -> dict[str, list[ChartResult]]:
    out: dict[str, list[ChartResult]] = {
        k: [] for k in ("overlay", "fits", "agreement", "relative", "batch", "tails", "cv")
    }
    rows = [(p.run_id, s) for p in view_points for s in p.etas if s.delta_h_true is not None]
    if rows:
        runs = [r for r, _ in rows]
        etas = [s.eta for _, s in rows]
        true = [s.delta_h_true for _, s in rows]
        out["overlay"].append(charts.group_overlay(runs, etas, true, eta_scale="log"))
        out["overlay"].append(charts.group_overlay(runs, etas, true, eta_scale="linear"))
    if per_eta:
        out["overlay"].append(
            charts.group_band(
                [s.eta for s in per_eta],
                [s.true_mean for s in per_eta],
                [s.true_std for s in per_eta],
                [s.linear_mean for s in per_eta],
                [s.linquad_mean for s in per_eta],
            )
        )
    fitted = [(r, f) for r, f in fits if f.loglog_slope is not None]
    if rows and fitted:
        out["fits"].append(
            charts.fit_chart(
                [r for r, _ in rows],
                [s.eta for _, s in rows],
                [s.delta_h_true for _, s in rows],
                [r for r, _ in fitted],
                [f.loglog_slope for _, f in fitted],
                [f.loglog_intercept for _, f in fitted],
                log_base=2.718281828459045,
            )
        )
    usable = [a for a in agreements if a.row.diff is not None]
    if usable:
        out["agreement"].append(
            charts.agreement_chart(
                [a.run_id for a in usable],
                [a.row.eta for a in usable],
                [a.row.diff for a in usable],
                [a.row.combined_se for a in usable],
            )
        )
    rel_rows = [(r.run_id, eta, v) for r in rel.runs for eta, v in r.values]
    if rel_rows:
        out["relative"].append(
            charts.relative_error_chart(
                [r for r, _, _ in rel_rows],
                [e for _, e, _ in rel_rows],
                [v for _, _, v in rel_rows],
            )
        )
    for i, comparison in enumerate(batch):
        dist = comparison.reestimated or comparison.raw
        out["batch"].append(
            charts.batch_comparison_chart(
                dist.hist_edges,
                dist.hist_counts,
                [r for r, _ in comparison.small_runs],
                [v for _, v in comparison.small_runs],
                _mean([v for _, v in comparison.full_run_values]),
                small_size=comparison.small_size,
                large_size=comparison.large_size,
                eta=comparison.eta,
                key=f"b{i}",
            )
        )
    tail_rows = [
        (run_id, method, row)
        for run_id, t in tails
        for method, items in (("truncate", t.truncated), ("clip", t.clipped))
        for row in items
        if t.eta == max(x.eta for rid, x in tails if rid == run_id)
    ]
    if tail_rows:
        out["tails"].append(
            charts.group_tail_chart(
                [r for r, _, _ in tail_rows],
                [m for _, m, _ in tail_rows],
                [row.quantile for _, _, row in tail_rows],
                [row.ratio for _, _, row in tail_rows],
            )
        )
    features = [f for f in cv if not f.joint]
    if features:
        for metric in ("correlation", "variance-ratio"):
            out["cv"].append(
                charts.cv_group_chart(
                    [f.feature for f in features],
                    [f.corr.mean for f in features],
                    [f.corr.min for f in features],
                    [f.corr.max for f in features],
                    [f.var_ratio.mean for f in features],
                    [f.var_ratio.min for f in features],
                    [f.var_ratio.max for f in features],
                    metric=metric,
                )
            )
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return sum(finite) / len(finite) if finite else None


def index_charts(records: Sequence[RunRecord]) -> tuple[tuple[Chart, ...], Datasets]:
    """The index's whole-tree overlay of ΔH_true against η."""
    points = [r.points for r in records if r.was_read]
    rows = [(p.run_id, s) for p in points for s in p.etas if s.delta_h_true is not None]
    if not rows:
        return (), {}
    chart_set = collect(
        {
            "overlay": [
                charts.group_overlay(
                    [r for r, _ in rows],
                    [s.eta for _, s in rows],
                    [s.delta_h_true for _, s in rows],
                    eta_scale="log",
                )
            ]
        },
        None,
    )
    return tuple(chart_set.all_charts()), chart_set.datasets


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
    href = {r.id: relative_href(page_path, paths.run_page(r.id)) for r in members}

    per_eta = per_eta_stats(view_points)
    fits = [(p.run_id, fit_run(p)) for p in view_points]
    agreements = {p.run_id: agreement(p) for p in view_points}
    rel = relative_errors(view_points)
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
    tails = [(r.id, t) for r in members for t in r.tails]
    cv_runs = [(r.id, r.cv) for r in members if r.cv is not None]
    cv = cv_group_stats(cv_runs) if cv_runs else ()

    agreement_rows = tuple(
        AgreementRow(r, href[r], a) for r, rows in agreements.items() for a in rows
    )

    def label(run_id: str) -> str:
        return short_label(run_id, group.id)

    chart_results = group_charts(
        relabel(view_points, group.id),
        per_eta,
        [(label(r), f) for r, f in fits],
        [replace(a, run_id=label(a.run_id)) for a in agreement_rows],
        relative_errors(relabel(view_points, group.id)),
        tuple(replace(b, small_runs=tuple((label(r), v) for r, v in b.small_runs)) for b in batch),
        [(label(r), t) for r, t in _last_eta_tails(tails)],
        cv,
    )
    chart_set, figure_files = collect(chart_results, None).export(
        settings.figures, settings.figure_theme, posixpath.dirname(page_path), page_path
    )
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
            )
            for p in view_points
            for s in p.etas
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
            for r in members
        ),
        per_eta=per_eta,
        fits=tuple(FitRow(r, href[r], f) for r, f in fits),
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
            if any(a.combined_se is not None for a in rows)
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
    )
    return PageOutput(
        (
            (page_path, html),
            (paths.group_summary(group.id), serialize.dumps(summary)),
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
