"""Per-run pages: view dataclasses built from a RunAnalysis, rendered with templates/run.html."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from markupsafe import Markup

from reportgen import __version__
from reportgen.analysis import RunAnalysis
from reportgen.analysis.contributions import EtaSummary, formula_for
from reportgen.analysis.diagnostics import failure_findings
from reportgen.analysis.points import sequence_sample
from reportgen.analysis.record import CvRecord, ErrorRecord, NormalizationRecord, RunRecord
from reportgen.analysis.uncertainty import (
    DEFAULT_BOOTSTRAP,
    DELTA,
    SHARDS,
    SHARDS_SWEEP,
    UNPAIRED,
    EtaUncertainty,
    RunUncertainty,
)
from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.charts import Chart
from reportgen.charts.export import FigureTheme
from reportgen.discover import RunRef
from reportgen.findings import Finding, severity_counts
from reportgen.load.history import FirstCommit
from reportgen.load.models import CvData, Fact, GenericField, LoadFailure, Run, Schema
from reportgen.pages import paths, serialize
from reportgen.pages.guide import check_explanations
from reportgen.pages.output import PageOutput
from reportgen.pages.render import (
    PageMeta,
    SiteContext,
    json_for_script,
    render_markdown,
    render_page,
    render_page_and_content,
)
from reportgen.pages.run_charts import ChartSet, norm_of, run_charts
from reportgen.pages.run_sections import (
    OUTLIERS_PER_ETA,
    OutlierRow,
    TailRow,
    outlier_rows,
    tail_rows,
)
from reportgen.pages.run_supplement import SupplementView, section_parts, supplement_view
from reportgen.pages.stale import stored_page
from reportgen.pages.verdict import Verdict, run_verdict
from reportgen.treefile import NO_LABELS, RunLabels

IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


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


NO_CONTEXT = RunContext()


@dataclass(frozen=True)
class Section:
    id: str
    title: str


@dataclass(frozen=True)
class Cite:
    label: str
    run_id: str
    eta_label: str
    source_hash: str
    version: str


@dataclass(frozen=True)
class Link:
    name: str
    href: str
    size: int


@dataclass(frozen=True)
class Note:
    name: str
    html: Markup


@dataclass(frozen=True)
class RatioRow:
    eta: float
    value: float
    beyond: bool


@dataclass(frozen=True)
class CurvatureView:
    gdotv: float | None
    vhvv: float | None
    eta_star: float | None
    beyond: tuple[float, ...]
    ratio_pred: tuple[RatioRow, ...]


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


@dataclass(frozen=True, eq=False)
class RunView:
    """Everything run.html shows; templates see flags and plain values, never domain objects."""

    run: RunHeader
    summaries: tuple[EtaSummary, ...]
    errors: tuple[EtaUncertainty, ...]  # aligned with ``summaries``
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
    tails: tuple[TailRow, ...]
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


def curvature_view(run: Run, etas: tuple[float, ...]) -> CurvatureView | None:
    curvature = (
        run.sweep.curvature if run.sweep else run.snis.approx.quadratic if run.snis else None
    )
    if curvature is None:
        return None
    eta_star = curvature.eta_star
    if eta_star is None and run.snis is not None:
        eta_star = run.snis.approx.eta_star

    def beyond(eta: float) -> bool:
        return eta_star is not None and eta > eta_star

    return CurvatureView(
        gdotv=curvature.gdotv,
        vhvv=curvature.vhvv,
        eta_star=eta_star,
        beyond=tuple(e for e in etas if beyond(e)),
        ratio_pred=tuple(RatioRow(e, v, beyond(e)) for e, v in curvature.ratio_pred),
    )


_SE_METHODS = {
    DELTA: "delta method over sequences (paired: the same sequences drive truth and approximation)",
    SHARDS: "num_shards · se_shard · η from approx.variance (no per-sequence records)",
    SHARDS_SWEEP: "num_shards · se_gdotv · η from curvature.variance, read like se_shard as "
    "the SE of the mean shard (not verifiable without per-sequence records)",
    UNPAIRED: "√(se_linear² + se_true²), unpaired (no per-sequence records, so the covariance "
    "of truth and approximation is unknown)",
}


def se_note(uncertainty: RunUncertainty, run: Run) -> str:
    """One sentence per SE method the table uses; which quantities each one produced."""
    used: dict[str, set[str]] = {}
    for row in uncertainty.etas:
        for name, method in row.se_method:
            used.setdefault(method, set()).add(name.removeprefix("se_"))
    if not used:
        return "none available for this run."
    norm = "T_i = 1 per sequence" if run.normalization.true_mode != "per_token" else "per token"
    parts = [
        f"{', '.join(sorted(names))}: {_SE_METHODS.get(method, method)}"
        for method, names in sorted(used.items())
    ]
    boot = (
        f" 95 % intervals in summary.json from {uncertainty.bootstrap} paired bootstrap resamples."
        if uncertainty.bootstrap
        else ""
    )
    return f"{'; '.join(parts)} ({norm}).{boot}"


_SE_LINEAR_LABELS = {DELTA: "delta method", SHARDS: SHARDS, SHARDS_SWEEP: SHARDS_SWEEP}


def se_linear_label(uncertainty: RunUncertainty) -> str:
    """How the table's SE of ΔH_linear was computed (never "paired": it is one quantity's)."""
    methods = sorted({m for u in uncertainty.etas if (m := u.method("se_linear")) is not None})
    return " / ".join(_SE_LINEAR_LABELS.get(m, m) for m in methods) or "none"


def sections_for(view_parts: Mapping[str, bool]) -> tuple[Section, ...]:
    titles = (
        ("findings", "Findings"),
        ("facts", "Key facts"),
        ("eta-table", "ΔH vs η"),
        ("per-sequence", "Per-sequence"),
        ("snis", "SNIS weights"),
        ("curvature", "Curvature"),
        ("clip", "Clip sensitivity"),
        ("fd", "Finite difference"),
        ("outliers", "Outliers"),
        ("tails", "Tails"),
        ("cv", "Control variates"),
        ("fields", "Fields"),
        ("unrecognised", "Fields not read"),
        ("artifacts", "Artifacts"),
        ("notes", "Notes"),
        ("config", "Configuration"),
    )
    return tuple(Section(i, t) for i, t in titles if view_parts.get(i, True))


@dataclass(frozen=True)
class SkippedFile:
    name: str
    reason: str


def _files(
    run: Run, settings: RunSettings
) -> tuple[list[Note], list[Link], list[Link], list[tuple[str, bytes]]]:
    """Notes rendered, images and artifacts placed next to the page, from what loading read."""
    ref = run.ref
    notes = [
        Note(PurePosixPath(f.path).name, render_markdown(f.content.decode("utf-8")))
        for f in run.inputs.notes
    ]
    copies: list[tuple[str, bytes]] = []
    images: list[Link] = []
    artifacts: list[Link] = []
    base = PurePosixPath(ref.directory) if ref.directory != "." else PurePosixPath()
    for file, is_image in (
        *((f, True) for f in run.inputs.images),
        *((f, False) for f in run.inputs.artifacts),
    ):
        rel, content = file.path, file.content
        inner = PurePosixPath(rel).relative_to(base) if base.parts else PurePosixPath(rel)
        suffix = PurePosixPath(rel).suffix.lower()
        if settings.inline_files:
            kind = IMAGE_TYPES.get(suffix, "text/plain" if suffix == ".csv" else "application/json")
            href = f"data:{kind};base64,{base64.b64encode(content).decode()}"
        else:
            href = "files/" + "/".join(paths.slug_part(p) for p in inner.parts)
            copies.append((f"{paths.run_dir(ref.id)}/{href}", content))
        link = Link(inner.as_posix(), href, len(content))
        (images if is_image else artifacts).append(link)
    return notes, images, artifacts, copies


def _aligned(analysis: RunAnalysis) -> tuple[EtaUncertainty | None, ...]:
    rows = analysis.uncertainty.etas
    return (
        tuple(rows) if len(rows) == len(analysis.summaries) else (None,) * len(analysis.summaries)
    )


def run_view(
    analysis: RunAnalysis, settings: RunSettings, context: RunContext = NO_CONTEXT
) -> tuple[RunView, ChartSet, list[tuple[str, bytes]]]:
    run = analysis.run
    etas = tuple(c.eta for c in analysis.contributions)
    chart_set, figure_files = run_charts(analysis, settings.max_points).export(
        settings.figures,
        settings.figure_theme,
        paths.run_dir(run.ref.id),
        paths.run_page(run.ref.id),
    )
    outliers, outlier_columns = outlier_rows(analysis)
    tails = tail_rows(analysis)
    source_hash = run.inputs.source_sha256
    notes, images, artifacts, copies = _files(run, settings)
    copies += figure_files
    curvature = curvature_view(run, tuple(s.eta for s in analysis.summaries))
    has_contributions = bool(analysis.contributions)
    reason = (
        "the run has no per-sequence approximation records (plan.json capture_per_sequence is "
        f"{'false' if run.capture_per_sequence is False else 'absent'})"
        if run.snis is not None and run.snis.approx.per_sequence is None
        else "the SNIS arrays are missing or do not line up (see the findings)"
    )
    parts = {
        "eta-table": bool(analysis.summaries),
        "per-sequence": run.schema is Schema.SNIS,
        "snis": bool(chart_set.charts.get("snis")),
        "curvature": curvature is not None,
        "outliers": bool(outliers),
        "tails": bool(tails),
        "cv": run.cv is not None,
        "fields": bool(run.generic),
        "artifacts": bool(images or artifacts or run.inputs.skipped),
        "notes": bool(notes),
    }
    supplement = supplement_view(analysis)
    parts |= section_parts(supplement)
    cite = Cite(f"{run.ref.id}", run.ref.id, "all", source_hash, __version__)
    view = RunView(
        run=run_header(run),
        summaries=analysis.summaries,
        errors=analysis.uncertainty.etas,
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
        sections=sections_for(parts),
        charts=chart_set.charts,
        page_data=json_for_script({"datasets": chart_set.datasets}),
        etas=etas,
        initial_eta=etas[-1] if etas else None,
        has_contributions=has_contributions,
        per_sequence_reason=reason,
        curvature=curvature,
        outliers=outliers,
        outliers_per_eta=OUTLIERS_PER_ETA,
        outlier_columns=outlier_columns,
        tails=tails,
        notes=tuple(notes),
        images=tuple(images),
        artifacts=tuple(artifacts),
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
    return view, chart_set, copies


# --- the record ------------------------------------------------------------------------------


def run_record(
    analysis: RunAnalysis,
    input_hash: str,
    source_hash: str,
    labels: tuple[tuple[str, str], ...] = (),
) -> RunRecord:
    """What every later stage needs of this run (its ``summary.json`` is derived from it)."""
    run = analysis.run
    norm = run.normalization
    cv = run.cv
    return RunRecord(
        id=run.ref.id,
        source=run.ref.source,
        inputs=run.ref.inputs,
        status="ok",
        input_hash=input_hash,
        tool_version=__version__,
        findings=analysis.findings,
        schema=run.schema.value,
        source_sha256=source_hash,
        normalization=NormalizationRecord(
            true=norm.true_mode,
            approx=norm.approx_mode,
            source=norm.source,
            formula=formula_for(norm) if run.schema is Schema.SNIS else None,
        ),
        batch_size=analysis.points.batch_size,
        etas=analysis.summaries,
        se_shard=analysis.points.se_shard,
        true_se=analysis.points.true_se,
        tails=tuple(analysis.tails),
        cv=None if cv is None else CvRecord(cv.var_after_cv_joint, cv.features),
        has_contributions=bool(analysis.contributions),
        parameters=run.parameters,
        skipped_inputs=run.inputs.skipped,
        uncertainty=analysis.uncertainty,
        fields_sha256=run.fields.sha256 if run.fields is not None else None,
        fields=run.fields.paths if run.fields is not None else (),
        parameter_digests=run.parameter_digests,
        labels=labels,
        supplement=analysis.supplement,
    )


def failure_record(
    failure: LoadFailure, findings: tuple[Finding, ...], input_hash: str
) -> RunRecord:
    error = ErrorRecord(failure.reason, failure.file, failure.line, failure.column, failure.hint)
    return RunRecord(
        id=failure.ref.id,
        source=failure.ref.source,
        inputs=failure.ref.inputs,
        status="error",
        input_hash=input_hash,
        tool_version=__version__,
        findings=findings,
        error=error,
    )


# --- rendering -------------------------------------------------------------------------------


def run_page_meta(ref: RunRef, has_charts: bool, readable: bool = True) -> PageMeta:
    title = f"Run {ref.id}" if readable else f"Unreadable run {ref.id}"
    kind = "run" if readable else "error"
    crumbs = paths.run_crumbs(ref.id, ref.directory)
    return PageMeta(paths.run_page(ref.id), title, kind, crumbs, has_charts)


def error_page(failure: LoadFailure, site: SiteContext, input_hash: str) -> PageOutput:
    """The page of a run that could not be read: what failed, where, and how to fix it."""
    findings = failure_findings(failure)
    view = ErrorView(
        failure.ref.id,
        failure.reason,
        failure.file,
        failure.line,
        failure.column,
        failure.hint,
        findings,
    )
    page = run_page_meta(failure.ref, has_charts=False, readable=False)
    html = render_page("error.html", site, page, view=view, checks=check_explanations())
    record = failure_record(failure, findings, input_hash)
    files = (
        (page.path, html),
        (paths.run_summary(failure.ref.id), serialize.dumps(serialize.summary_json(record))),
    )
    return PageOutput(files, record)


def run_page(
    analysis: RunAnalysis,
    site: SiteContext,
    input_hash: str,
    settings: RunSettings,
    context: RunContext = NO_CONTEXT,
) -> PageOutput:
    """The run's page, its data twins and private arrays, and its record (no file is read:
    loading handed over everything the page shows)."""
    run = analysis.run
    source_hash = run.inputs.source_sha256
    view, chart_set, copies = run_view(analysis, settings, context)
    page = run_page_meta(run.ref, chart_set.has_charts)
    html, content = render_page_and_content(
        "run.html", site, page, view=view, checks=check_explanations()
    )
    record = run_record(analysis, input_hash, source_hash, context.labels.labels)
    files: list[tuple[str, bytes]] = [
        (page.path, html),
        (paths.run_fragment(run.ref.id), stored_page(page, content)),
        (paths.run_summary(run.ref.id), serialize.dumps(serialize.summary_json(record))),
    ]
    if analysis.contributions:
        csv = serialize.contributions_csv(analysis.contributions)
        files.append((paths.run_contributions(run.ref.id), csv))
    sample = sequence_sample(run, analysis.contributions, analysis.summaries)
    if sample is not None:
        files.append((paths.run_sample(run.ref.id), serialize.sample_npy(sample)))
    files += copies
    return PageOutput(tuple(files), record)
