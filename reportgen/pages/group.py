"""Group pages: a view of a group's analysis (``analysis.group``) with its charts, rendered with
templates/group.html."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from markupsafe import Markup

from reportgen.analysis.batch import BatchComparison
from reportgen.analysis.diagnostics import CheckCount, runs_per_check
from reportgen.analysis.fits import Agreement, Fit
from reportgen.analysis.group import GroupAnalysis
from reportgen.analysis.group_stats import (
    AgreementTally,
    EtaStats,
    PopulationStats,
    QuadHelp,
    RelativeErrors,
    rel_err_se,
    resolved,
)
from reportgen.analysis.per_run import PerRun
from reportgen.analysis.record import RunRecord
from reportgen.analysis.tails import TailGroupRow
from reportgen.analysis.uncertainty import Doubling, EtaUncertainty
from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.charts import Chart
from reportgen.charts.export import FigureTheme
from reportgen.discover import GroupRef
from reportgen.figures import PreviousFigures
from reportgen.findings import Finding, severity_counts
from reportgen.pages import paths, serialize
from reportgen.pages.cv_batch import CvBatchView, cv_batch_view
from reportgen.pages.group_charts import (
    GroupRuns,
    denominator_resolved,
    group_charts,
    se_true_of,
    short_label,
)
from reportgen.pages.group_heading import (
    ChildLink,
    RunCount,
    child_links,
    copy_labels,
    norm_note,
    run_count,
)
from reportgen.pages.group_pooled import PooledView, pooled_views
from reportgen.pages.group_rows import (
    doubling_rows_html,
    quad_rows_html,
    run_rows_html,
    verdict_rows_html,
)
from reportgen.pages.output import PageOutput
from reportgen.pages.paper_tables import paper_table_link
from reportgen.pages.paper_verdicts import group_tables
from reportgen.pages.render import (
    PageMeta,
    SiteContext,
    json_for_script,
    relative_href,
    render_page,
)
from reportgen.pages.run_charts import ChartSet, collect
from reportgen.pages.verdict import RunPairs, Verdict, group_verdict
from reportgen.treefile import FitWindow

# Above this many runs a group with subgroups is summarised: its page keeps the group's own
# statistics and leaves per-run series and tables to the subgroup pages. Listing every run made
# the top page of a 1,000-run tree 14 MB (and 10× that at 10,000 runs); no reader can use a
# chart of 1,000 series, and summary.json still holds every run.
PER_RUN_LIMIT = 200


@dataclass(frozen=True)
class GroupPageSettings:
    """What a group page needs of the build's options."""

    figures: tuple[str, ...] = ()
    figure_theme: FigureTheme = "paper"
    equivalence_margin: float = DEFAULT_MARGIN  # stated beside the pooled verdicts


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
    rel_err_se: float | None = None  # its delta-method SE (group_stats.rel_err_se)


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
    ratio: float | None = None  # ΔH_lin/ΔH_true and its SE, as the verdict judged them
    se_ratio: float | None = None  # (EtaUncertainty.ratio_linear, se_ratio_linear)


@dataclass(frozen=True)
class QuadRow:
    run_id: str
    label: str
    href: str
    row: QuadHelp
    se_linear: float | None = None  # paired SE of linear − true (that of |linear − true|)
    se_linquad: float | None = None  # paired SE of linquad − true


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


@dataclass(frozen=True, eq=False)
class GroupView:
    group: GroupRef
    children: tuple[ChildLink, ...]
    run_rows: tuple[RunEtaRow, ...]
    other_runs: tuple[tuple[str, str, str], ...]
    findings: tuple[FindingCount, ...]
    per_eta: tuple[EtaStats, ...]
    fits: tuple[FitRow, ...]
    agreement_counts: tuple[AgreementCount, ...]
    rel_errors: RelativeErrors
    batch: tuple[BatchComparison, ...]
    tails: tuple[TailGroupRow, ...]
    charts: Mapping[str, tuple[Chart, ...]]
    page_data: Markup
    norm_note: str
    verdict: Verdict
    verdicts: tuple[VerdictRow, ...] = ()
    populations: tuple[PopulationStats, ...] = ()
    differs: tuple[DiffersRow, ...] = ()
    differs_runs: tuple[tuple[str, str], ...] = ()  # (label, href) columns of the differs table
    copies: tuple[tuple[str, str], ...] = ()  # (copy, the run it duplicates): one run each
    quad_rows: tuple[QuadRow, ...] = ()
    run_tallies: tuple[tuple[str, str, AgreementTally], ...] = ()  # (label, href, paired counts)
    doubling_rows: tuple[DoublingRow, ...] = ()
    per_run: bool = True  # False: summarised (more than PER_RUN_LIMIT runs, with subgroups)
    check_counts: tuple[CheckCount, ...] = ()  # runs affected per check (summarised pages)
    pooled: tuple[PooledView, ...] = ()  # per population, its runs pooled per η
    group_findings: tuple[Finding, ...] = ()  # the group's own checks
    margin: float = DEFAULT_MARGIN
    differs_more: int = 0  # differing keys beyond the table (every one in what_differs.csv)
    fit_window: FitWindow | None = None  # the tree file's η window of the fits
    cv_batch: CvBatchView | None = None  # its directory's CV batch aggregate, corrected
    invalid_cv: Mapping[str, str] = field(default_factory=dict)  # feature → why not valid
    count: RunCount = field(default_factory=RunCount)  # its runs, each copy counted once

    @property
    def run_html(self) -> tuple[Markup, ...]:
        """The per run and η table's rows, ready to place."""
        return run_rows_html(self.run_rows)

    @property
    def verdict_html(self) -> tuple[Markup, ...]:
        """The per run and η verdict table's rows, ready to place."""
        return verdict_rows_html(self.verdicts, len(self.populations) > 1)

    @property
    def doubling_html(self) -> tuple[Markup, ...]:
        return doubling_rows_html(self.doubling_rows)

    @property
    def quad_html(self) -> tuple[Markup, ...]:
        """The rows of the η where the quadratic term's gain has an SE (the page's "judged")."""
        return quad_rows_html([q for q in self.quad_rows if q.row.se is not None])

    @property
    def batch_unpaired(self) -> bool:
        """Its subgroups split by batch size, but no runs of two sizes are alike but for B_E."""
        return any(f.id == "batch-sizes-not-compared" for f in self.group_findings)

    @property
    def cv_populations(self) -> tuple[PopulationStats, ...]:
        """The populations with control-variate statistics (each its own table)."""
        return tuple(p for p in self.populations if p.cv)

    @property
    def quad_unjudged(self) -> int:
        """Run×η pairs with a gain but no SE of it: not shown, counted."""
        return sum(1 for q in self.quad_rows if q.row.gain is not None and q.row.se is None)


@dataclass(frozen=True)
class _Context:
    """A group's runs as its view lays them out: records, links and labels."""

    group: GroupRef
    members: tuple[RunRecord, ...]  # the group's runs, in its order
    runs: GroupRuns
    href: Mapping[str, str]

    def label(self, run_id: str) -> str:
        return self.runs.label(run_id)


def _context(group: GroupRef, records: Mapping[str, RunRecord], page_path: str) -> _Context:
    members = tuple(records[r] for r in group.run_ids if r in records)
    with_points = [r.id for r in members if r.was_read and r.points.etas]
    per_run = len(members) <= PER_RUN_LIMIT or not group.child_group_ids
    runs = GroupRuns(
        PerRun(with_points, lambda r: records[r].points),
        PerRun(with_points, lambda r: records[r].eta_errors),
        lambda run_id: short_label(run_id, group.id),
        per_run,
    )
    href = {r.id: relative_href(page_path, paths.run_page(r.id)) for r in members}
    return _Context(group, members, runs, href)


# --- the page --------------------------------------------------------------------------------


def group_error_page(group: GroupRef, reason: str, *, site: SiteContext) -> PageOutput:
    """A group whose analysis failed: a page saying why."""
    page = PageMeta(
        paths.group_page(group.id), f"Group {group.id}", "group", paths.tree_crumbs(group.id)
    )
    html = render_page("group_error.html", site, page, group=group, reason=reason)
    return PageOutput(((page.path, html),))


def group_page(
    group: GroupRef,
    child_groups: Sequence[GroupRef],
    analysis: GroupAnalysis,
    records: Mapping[str, RunRecord],
    settings: GroupPageSettings,
    site: SiteContext,
    previous_figures: PreviousFigures | None = None,
) -> PageOutput:
    """A group's page (and its figures; ``previous_figures``: its last ones, taken where
    unchanged) from its analysis and its runs' records."""
    page_path, directory = paths.group_page(group.id), paths.group_dir(group.id)
    context = _context(group, records, page_path)
    chart_set, figure_files, figures = collect(group_charts(analysis, context.runs), None).export(
        settings.figures, settings.figure_theme, directory, page_path, previous_figures
    )
    view = group_view(context, child_groups, analysis, chart_set, settings.equivalence_margin)
    page = PageMeta(
        page_path, f"Group {group.id}", "group", paths.tree_crumbs(group.id), chart_set.has_charts
    )
    # the citable tables beside the figures, linked from the page and from the figure index
    table_files, tables = group_tables(view, directory) if settings.figures else ([], ())
    links = tuple(paper_table_link(t, directory) for t in tables)
    html = render_page("group.html", site, page, view=view, paper_tables=links)
    files = [(page_path, html), *figure_files, *table_files]
    if analysis.all_differs:
        files.append((paths.group_differs(group.id), serialize.differs_csv(analysis.all_differs)))
    if figures is not None and tables:
        figures = replace(figures, tables=tables)
    return PageOutput(tuple(files), figures=figures)


def group_chart_set(
    group: GroupRef, analysis: GroupAnalysis, records: Mapping[str, RunRecord]
) -> ChartSet:
    """The charts of the group's page, as the page draws them."""
    context = _context(group, records, paths.group_page(group.id))
    return collect(group_charts(analysis, context.runs), None)


@dataclass(frozen=True)
class _RunTables:
    """The per-run tables of a group page (all empty on a summarised page)."""

    run_rows: tuple[RunEtaRow, ...] = ()
    findings: tuple[FindingCount, ...] = ()
    fits: tuple[FitRow, ...] = ()
    agreement_counts: tuple[AgreementCount, ...] = ()
    verdicts: tuple[VerdictRow, ...] = ()
    run_tallies: tuple[tuple[str, str, AgreementTally], ...] = ()
    quad_rows: tuple[QuadRow, ...] = ()
    doubling_rows: tuple[DoublingRow, ...] = ()


def group_view(
    context: _Context,
    child_groups: Sequence[GroupRef],
    analysis: GroupAnalysis,
    chart_set: ChartSet,
    margin: float = DEFAULT_MARGIN,
) -> GroupView:
    members, href = context.members, context.href
    tables = _run_tables(context, analysis) if context.runs.per_run else _RunTables()
    return GroupView(
        group=context.group,
        children=child_links(child_groups, paths.group_page(context.group.id), analysis.duplicates),
        run_rows=tables.run_rows,
        other_runs=tuple(
            (r.id, href[r.id], str(r.schema or r.status))
            for r in members
            if r.id not in context.runs.points
        ),
        findings=tables.findings,
        per_eta=analysis.per_eta,
        fits=tables.fits,
        agreement_counts=tables.agreement_counts,
        rel_errors=analysis.relative,
        batch=analysis.batch,
        tails=analysis.tails,
        charts=chart_set.charts,
        page_data=json_for_script({"datasets": chart_set.datasets}),
        norm_note=norm_note(members),
        verdict=_verdict(members, analysis.copies),
        verdicts=tables.verdicts,
        populations=analysis.populations,
        differs=tuple(
            DiffersRow(d.key, d.splits, tuple(v for _, v in d.values)) for d in analysis.differs
        ),
        differs_runs=tuple(  # the columns of what_differs: each run once, as its rows
            (context.label(r.id), href[r.id])
            for r in members
            if r.was_read and r.id not in analysis.copies
        ),
        copies=copy_labels(analysis.duplicates, context.label),
        run_tallies=tables.run_tallies,
        quad_rows=tables.quad_rows,
        doubling_rows=tables.doubling_rows,
        per_run=context.runs.per_run,
        check_counts=()
        if context.runs.per_run
        else runs_per_check({f.id for f in r.findings} for r in members),
        pooled=pooled_views(analysis.populations, margin),
        group_findings=analysis.findings,
        margin=margin,
        differs_more=analysis.differs_more,
        fit_window=analysis.fit_window,
        cv_batch=None if (b := analysis.cv_batch) is None else cv_batch_view(b, analysis.group_id),
        invalid_cv=dict(sorted({f for r in members for f in r.invalid_cv_features})),
        count=run_count(context.group.run_ids, analysis.duplicates),
    )


def _verdict(members: Sequence[RunRecord], copies: frozenset[str]) -> Verdict:
    """The headline verdict of the runs read, each once (copies left out)."""
    return group_verdict(
        RunPairs(r.id, r.etas, r.eta_errors) for r in members if r.was_read and r.id not in copies
    )


def _run_tables(context: _Context, analysis: GroupAnalysis) -> _RunTables:
    href, label = context.href, context.label
    runs = analysis.runs
    return _RunTables(
        run_rows=_run_rows(context),
        findings=tuple(
            FindingCount(
                r.id,
                href[r.id],
                r.status,
                severity_counts(r.findings),
                tuple(sorted({f.id for f in r.findings})),
            )
            for r in context.members
        ),
        fits=tuple(FitRow(r.run_id, href[r.run_id], r.fit) for r in runs),
        agreement_counts=tuple(
            AgreementCount(
                r.run_id,
                href[r.run_id],
                sum(1 for a in r.agreements if a.combined_se is not None),
                sum(1 for a in r.agreements if a.within_1sigma),
                sum(1 for a in r.agreements if a.within_2sigma),
            )
            for r in runs
            if any(a.combined_se is not None for a in r.agreements)
        ),
        verdicts=_verdict_rows(context, analysis),
        run_tallies=tuple((label(r.run_id), href[r.run_id], r.tally) for r in runs),
        quad_rows=tuple(
            QuadRow(r.run_id, label(r.run_id), href[r.run_id], q, *_diff_ses(e))
            for r in runs
            for q, e in zip(r.quads, context.runs.errors[r.run_id], strict=True)
        ),
        doubling_rows=tuple(
            DoublingRow(
                r.run_id,
                label(r.run_id),
                href[r.run_id],
                d,
                denominator_resolved(
                    context.runs.points[r.run_id], context.runs.errors[r.run_id], d
                ),
            )
            for r in runs
            for d in r.doublings
        ),
    )


def _diff_ses(error: EtaUncertainty | None) -> tuple[float | None, float | None]:
    """The paired SEs of linear − true and linquad − true."""
    return (None, None) if error is None else (error.se_diff_linear, error.se_diff_linquad)


def _run_rows(context: _Context) -> tuple[RunEtaRow, ...]:
    return tuple(
        RunEtaRow(
            run_id,
            context.href[run_id],
            s.eta,
            s.delta_h_true,
            s.delta_h_linear,
            s.delta_h_linquad,
            s.rel_err_linear,
            se_true=se_true_of(e),
            resolved=resolved(s.delta_h_true, se_true_of(e)),
            rel_err_se=rel_err_se(s.delta_h_linear, s.delta_h_true, e),
        )
        for run_id, p in context.runs.points.items()
        for s, e in zip(p.etas, context.runs.errors[run_id], strict=True)
    )


def _verdict_rows(context: _Context, analysis: GroupAnalysis) -> tuple[VerdictRow, ...]:
    population = {
        r: pop.population.label for pop in analysis.populations for r in pop.population.run_ids
    }
    return tuple(
        VerdictRow(
            r.run_id,
            context.label(r.run_id),
            context.href[r.run_id],
            population.get(r.run_id, ""),
            a,
            s.delta_h_true,
            se_true_of(e),
            e.ci95_diff_linear if e is not None else None,
            e.ratio_linear if e is not None else None,
            e.se_ratio_linear if e is not None else None,
        )
        for r in analysis.runs
        for a, s, e in zip(
            r.agreements,
            context.runs.points[r.run_id].etas,
            context.runs.errors[r.run_id],
            strict=True,
        )
    )
