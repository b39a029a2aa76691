"""Per-run pages: view dataclasses built from a RunAnalysis, rendered with templates/run.html."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

from reportgen import __version__
from reportgen.analysis import RunAnalysis
from reportgen.analysis.contributions import EtaSummary, formula_for
from reportgen.analysis.record import RunRecord
from reportgen.analysis.uncertainty import DEFAULT_BOOTSTRAP, EtaUncertainty
from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.charts import Chart
from reportgen.charts.export import FigureTheme
from reportgen.discover import RunRef
from reportgen.figures import FigureList, PreviousFigures
from reportgen.findings import Finding, severity_counts
from reportgen.load.history import FirstCommit
from reportgen.load.models import CvData, Fact, GenericField, Run, Schema
from reportgen.pages import paths, serialize
from reportgen.pages.guide import check_explanations
from reportgen.pages.judged import Judged, judged
from reportgen.pages.output import ContentSpan, PageOutput
from reportgen.pages.render import (
    PageMeta,
    SiteContext,
    json_for_script,
    render_page,
    render_page_and_span,
)
from reportgen.pages.run_charts import ChartSet, norm_of, run_charts
from reportgen.pages.run_sections import (
    OUTLIERS_PER_ETA,
    Cite,
    CurvatureView,
    Link,
    Note,
    OutlierRow,
    Section,
    SkippedFile,
    TailRow,
    curvature_view,
    outlier_rows,
    outlier_rows_html,
    run_files,
    se_linear_label,
    se_note,
    sections_for,
    tail_rows,
    tail_rows_html,
)
from reportgen.pages.run_supplement import SupplementView, section_parts, supplement_view
from reportgen.pages.stale import stored_page
from reportgen.pages.verdict import Verdict, run_verdict
from reportgen.treefile import NO_LABELS, RunLabels


@dataclass(frozen=True)
class RunSettings:
    max_bytes: int
    max_points: int = 5000
    figures: tuple[str, ...] = ()
    figure_theme: FigureTheme = "paper"
    verbose: bool = False
    inline_files: bool = False
    bootstrap: int = DEFAULT_BOOTSTRAP
    seed: int = 0
    equivalence_margin: float = DEFAULT_MARGIN  # of the verdicts


@dataclass(frozen=True)
class RunContext:
    """What the tree says of a run beyond its own files: the labels and notes its
    reportgen.toml declares, and git's first commit of its results file."""

    labels: RunLabels = NO_LABELS
    first_commit: FirstCommit | None = None
    previous_figures: PreviousFigures | None = None  # its last figures (``--figures``)


NO_CONTEXT = RunContext()


@dataclass(frozen=True, eq=False)
class RunHeader:
    """What the page says about the run itself: identity, schema flags, normalisation, config."""

    id: str
    source: str
    schema: str
    is_snis: bool
    has_per_sequence: bool  # approx.per_sequence records exist (SNIS runs)
    true_per_token: bool
    approx_mode: str
    normalization_source: str
    facts: tuple[Fact, ...]
    cv: CvData | None
    generic: tuple[GenericField, ...]
    config_text: str | None
    config_path: str | None
    plan_text: str | None


def run_header(run: Run) -> RunHeader:
    return RunHeader(
        id=run.ref.id,
        source=run.ref.source,
        schema=run.schema.value,
        is_snis=run.schema is Schema.SNIS,
        has_per_sequence=run.snis is not None and run.snis.approx.per_sequence is not None,
        true_per_token=run.normalization.true_mode == "per_token",
        approx_mode=run.normalization.approx_mode,
        normalization_source=run.normalization.source,
        facts=run.facts,
        cv=run.cv,
        generic=run.generic,
        config_text=run.config_text,
        config_path=run.ref.config,
        plan_text=run.plan_text,
    )


@dataclass(frozen=True)
class EtaRow:
    """One η of the run's ΔH table: its numbers and their uncertainty, and the relative errors
    and linear ÷ true as shown (± SE where ΔH_true is resolved, else why not)."""

    summary: EtaSummary
    error: EtaUncertainty
    rel_linear: Judged
    rel_linquad: Judged
    ratio_linear: Judged


def eta_row(s: EtaSummary, u: EtaUncertainty) -> EtaRow:
    """The row of one η. (approx − true)/|true| = sign(true)·(approx/true − 1), so its SE is the
    SE of approx/true (``se_ratio_*``; the group pages' ``rel_err_se`` for linear)."""
    true, se_true = s.delta_h_true, u.se_true
    return EtaRow(
        s,
        u,
        rel_linear=judged(s.rel_err_linear, u.se_ratio_linear, true, se_true),
        rel_linquad=judged(s.rel_err_linquad, u.se_ratio_linquad, true, se_true),
        ratio_linear=judged(u.ratio_linear, u.se_ratio_linear, true, se_true),
    )


@dataclass(frozen=True, eq=False)
class RunView:
    """Everything run.html shows; templates see flags and plain values, never domain objects."""

    run: RunHeader
    rows: tuple[EtaRow, ...]
    verdict: Verdict
    se_note: str
    findings: tuple[Finding, ...]
    counts: Mapping[str, int]
    formula: str
    source_hash: str
    sections: tuple[Section, ...]
    charts: Mapping[str, tuple[Chart, ...]]
    page_data: Markup
    etas: tuple[float, ...]
    initial_eta: float | None
    has_contributions: bool
    per_sequence_reason: str
    curvature: CurvatureView | None
    outliers: tuple[OutlierRow, ...]
    outliers_per_eta: int
    outlier_columns: tuple[str, ...]
    outlier_html: Markup
    outliers_centred: bool  # their true values are each sequence's own change
    tails: tuple[TailRow, ...]
    tail_html: Markup
    notes: tuple[Note, ...]
    images: tuple[Link, ...]
    artifacts: tuple[Link, ...]
    skipped_files: tuple[SkippedFile, ...]
    cite_all: Cite
    cite_selected: Cite
    supplement: SupplementView
    labels: tuple[tuple[str, str], ...] = ()  # from the tree's reportgen.toml
    label_notes: tuple[str, ...] = ()
    first_commit: FirstCommit | None = None
    margin: float = DEFAULT_MARGIN
    se_linear_label: str = "delta method"


@dataclass(frozen=True)
class ErrorView:
    run_id: str
    reason: str
    file: str
    line: int | None
    column: int | None
    hint: str
    findings: tuple[Finding, ...]


# --- building the view -----------------------------------------------------------------------


def eta_rows(analysis: RunAnalysis) -> tuple[EtaRow, ...]:
    """Each η's numbers with their uncertainty (an empty one where the run has none)."""
    return tuple(
        eta_row(s, u if u is not None else EtaUncertainty(s.eta))
        for s, u in zip(analysis.summaries, _aligned(analysis), strict=True)
    )


def _aligned(analysis: RunAnalysis) -> tuple[EtaUncertainty | None, ...]:
    rows = analysis.uncertainty.etas
    return (
        tuple(rows) if len(rows) == len(analysis.summaries) else (None,) * len(analysis.summaries)
    )


def _per_sequence_reason(run: Run) -> str:
    if run.snis is not None and run.snis.approx.per_sequence is None:
        capture = "false" if run.capture_per_sequence is False else "absent"
        return (
            "the run has no per-sequence approximation records (plan.json "
            f"capture_per_sequence is {capture})"
        )
    return "the SNIS arrays are missing or do not line up (see the findings)"


@dataclass(frozen=True)
class _Parts:
    """The optional sections of a run page, built before the view that shows them."""

    curvature: CurvatureView | None
    outliers: tuple[OutlierRow, ...]
    outlier_columns: tuple[str, ...]
    tails: tuple[TailRow, ...]
    notes: tuple[Note, ...]
    images: tuple[Link, ...]
    artifacts: tuple[Link, ...]

    def shown(self, analysis: RunAnalysis, chart_set: ChartSet) -> dict[str, bool]:
        run = analysis.run
        return {
            "eta-table": bool(analysis.summaries),
            "per-sequence": run.schema is Schema.SNIS,
            "snis": bool(chart_set.charts.get("snis")),
            "curvature": self.curvature is not None,
            "outliers": bool(self.outliers),
            "tails": bool(self.tails),
            "cv": run.cv is not None,
            "fields": bool(run.generic),
            "artifacts": bool(self.images or self.artifacts or run.inputs.skipped),
            "notes": bool(self.notes),
        }


def _parts(analysis: RunAnalysis, settings: RunSettings) -> tuple[_Parts, list[tuple[str, bytes]]]:
    """The optional sections, and the run's files copied beside its page."""
    run = analysis.run
    outliers, outlier_columns = outlier_rows(analysis)
    notes, images, artifacts, copies = run_files(run, settings.inline_files)
    parts = _Parts(
        curvature_view(run, tuple(s.eta for s in analysis.summaries)),
        outliers,
        outlier_columns,
        tail_rows(analysis),
        tuple(notes),
        tuple(images),
        tuple(artifacts),
    )
    return parts, copies


def _exported_charts(
    analysis: RunAnalysis, settings: RunSettings, context: RunContext
) -> tuple[ChartSet, list[tuple[str, bytes]], FigureList | None]:
    """The run's charts, and with ``--figures`` their files (the last ones taken where
    unchanged) and the page's figure list."""
    run_id = analysis.run.ref.id
    return run_charts(analysis, settings.max_points).export(
        settings.figures,
        settings.figure_theme,
        paths.run_dir(run_id),
        paths.run_page(run_id),
        context.previous_figures,
    )


def run_view(
    analysis: RunAnalysis, settings: RunSettings, context: RunContext = NO_CONTEXT
) -> tuple[RunView, ChartSet, list[tuple[str, bytes]], FigureList | None]:
    """The page's view, its charts, the files it places beside itself and its figure list."""
    run = analysis.run
    etas = tuple(c.eta for c in analysis.contributions)
    chart_set, figure_files, figures = _exported_charts(analysis, settings, context)
    parts, copies = _parts(analysis, settings)
    supplement = supplement_view(analysis)
    source_hash = run.inputs.source_sha256
    cite = Cite(f"{run.ref.id}", run.ref.id, "all", source_hash, __version__)
    view = RunView(
        run=run_header(run),
        rows=eta_rows(analysis),
        verdict=run_verdict(
            analysis.summaries,
            _aligned(analysis),
            norm_of(run),
            run.cv,
            settings.equivalence_margin,
        ),
        se_note=se_note(analysis.uncertainty, run),
        findings=analysis.findings,
        counts=severity_counts(analysis.findings),
        formula=formula_for(run.normalization),
        source_hash=source_hash,
        sections=sections_for(parts.shown(analysis, chart_set) | section_parts(supplement)),
        charts=chart_set.charts,
        page_data=json_for_script({"datasets": chart_set.datasets}),
        etas=etas,
        initial_eta=etas[-1] if etas else None,
        has_contributions=bool(analysis.contributions),
        per_sequence_reason=_per_sequence_reason(run),
        curvature=parts.curvature,
        outliers=parts.outliers,
        outliers_per_eta=OUTLIERS_PER_ETA,
        outlier_columns=parts.outlier_columns,
        outlier_html=outlier_rows_html(parts.outliers, len(parts.outlier_columns)),
        outliers_centred=all(c.centred is not None for c in analysis.contributions),
        tails=parts.tails,
        tail_html=tail_rows_html(parts.tails),
        notes=parts.notes,
        images=parts.images,
        artifacts=parts.artifacts,
        skipped_files=tuple(SkippedFile(f.path, f.reason) for f in run.inputs.skipped),
        cite_all=cite,
        cite_selected=Cite(cite.label, cite.run_id, "selected", source_hash, __version__),
        labels=context.labels.labels,
        label_notes=context.labels.notes,
        first_commit=context.first_commit,
        margin=settings.equivalence_margin,
        se_linear_label=se_linear_label(analysis.uncertainty),
        supplement=supplement,
    )
    return view, chart_set, copies + figure_files, figures


# --- rendering -------------------------------------------------------------------------------


def run_page_meta(ref: RunRef, has_charts: bool, readable: bool = True) -> PageMeta:
    title = f"Run {ref.id}" if readable else f"Unreadable run {ref.id}"
    kind = "run" if readable else "error"
    crumbs = paths.run_crumbs(ref.id, ref.directory)
    return PageMeta(paths.run_page(ref.id), title, kind, crumbs, has_charts)


def error_page(record: RunRecord, site: SiteContext, ref: RunRef) -> PageOutput:
    """The page of a run that could not be read: what failed, where, and how to fix it."""
    error = record.error
    assert error is not None, "an error page is for a run that could not be read"
    view = ErrorView(
        record.id,
        error.reason,
        error.file,
        error.line,
        error.column,
        error.hint,
        record.findings,
    )
    page = run_page_meta(ref, has_charts=False, readable=False)
    html = render_page("error.html", site, page, view=view, checks=check_explanations())
    return PageOutput(((page.path, html),), record)


def run_page(
    analysis: RunAnalysis,
    record: RunRecord,
    site: SiteContext,
    settings: RunSettings,
    context: RunContext = NO_CONTEXT,
) -> PageOutput:
    """The run's page, its data twins and private files, and its record (no file is read:
    loading handed over everything the page shows)."""
    run_id = analysis.run.ref.id
    view, chart_set, copies, figures = run_view(analysis, settings, context)
    page = run_page_meta(analysis.run.ref, chart_set.has_charts)
    html, content, span = render_page_and_span(
        "run.html", site, page, view=view, checks=check_explanations()
    )
    files: list[tuple[str, bytes]] = [(page.path, html)]
    if analysis.contributions:
        csv = serialize.contributions_csv(analysis.contributions)
        files.append((paths.run_contributions(run_id), csv))
    # the content for a later stale page: cut from the page's bytes by the build where it can be
    fragment, private = None, []
    if span is not None:
        fragment = ContentSpan(paths.run_fragment(run_id), page.path, *span, chart_set.has_charts)
    else:
        private.append((paths.run_fragment(run_id), stored_page(chart_set.has_charts, content)))
    if analysis.sample is not None:
        private.append((paths.run_sample(run_id), serialize.sample_npy(analysis.sample)))
    return PageOutput(tuple(files + copies), record, tuple(private), figures, fragment)
