"""The convergence study's page: a view per temperature, rendered by kind_rb_convergence.html."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

from reportgen.charts.core import Chart, Datasets
from reportgen.findings import Finding, severity_counts
from reportgen.kinds.rb_convergence.analysis import ConvergenceAnalysis, RowAnalysis, RunAnalysis
from reportgen.kinds.rb_convergence.charts import run_charts
from reportgen.kinds.rb_convergence.diagnostics import CHECKS, DERIVATION, Z_OFF, checks, count
from reportgen.kinds.rb_convergence.model import ESTIMATOR_NAMES
from reportgen.kinds.rb_convergence.recognise import KIND
from reportgen.kinds.rb_convergence.twin import summary_json
from reportgen.kinds.study_page import (
    InputRow,
    Section,
    default_page_dir,
    explanations,
    input_rows,
    page_meta,
    rendered_page,
)
from reportgen.numfmt import NumberFormat, format_number, format_with_se
from reportgen.pages.output import PageOutput
from reportgen.pages.render import SiteContext, json_for_script
from reportgen.pages.verdict import Verdict

TEMPLATE = "kind_rb_convergence.html"


@dataclass(frozen=True)
class SeRow:
    estimator: str
    n: int
    fraction: float
    m: int | None
    observed: float | None
    observed_se: float | None
    clt: float
    fpc: float
    ratio: float | None
    ratio_se: float | None
    correction: float
    z: float | None
    fpc_ratio: float | None  # observed / (σ/√n·√(1 − n/N))
    fpc_ratio_se: float | None
    within: str  # its 90 % interval inside 1 ± the margin: yes, no or —
    file_expected: float | None
    file_expected_is: str


@dataclass(frozen=True)
class NeededRow:
    estimator: str
    cv: float
    fresh: str
    fresh_se: str
    pool: str
    grid: str


@dataclass(frozen=True, eq=False)
class TemperatureView:
    label: str
    source: str
    population: int
    charts: tuple[Chart, ...]
    se_rows: tuple[SeRow, ...]
    vr_rows: tuple[tuple[int, float | None, float | None, float | None], ...]
    var_reduction: float
    var_reduction_se: float
    pooled: float | None
    pooled_se: float | None
    pooled_minus_pool: float | None
    pooled_minus_pool_se: float | None
    mean_difference: float
    mean_difference_se: float | None
    needed: tuple[NeededRow, ...]
    exp_info: tuple[tuple[str, str], ...]


@dataclass(frozen=True, eq=False)
class ConvergenceView:
    title: str
    directory: str
    verdict: Verdict
    findings: tuple[Finding, ...]
    counts: Mapping[str, int]
    explanations: Mapping[str, Markup]
    sections: tuple[Section, ...]
    temperatures: tuple[TemperatureView, ...]
    derivation: str
    margin: float  # relative, of an observed SE's agreement with σ/√n·√(1 − n/N)
    z_off: float  # |z| beyond which an observed SE differs from it
    page_data: Markup
    inputs: tuple[InputRow, ...]
    skipped: tuple[tuple[str, str], ...]
    unrecognised: tuple[str, ...]
    summaries: tuple[tuple[str, str], ...] = ()


def verdict(analysis: ConvergenceAnalysis) -> Verdict:
    """The variance reduction per temperature, the SE model that fits, the samples needed."""
    reductions = ", ".join(
        f"{format_with_se(r.var_reduction * 100, r.var_reduction_se * 100)} % at {r.run.label}"
        for r in analysis.runs
    )
    worst = _worst_z(analysis)
    headline = f"Rao-Blackwellisation reduces the variance by {reductions}{_fits(analysis)}."
    details = [_needed_sentence(r) for r in analysis.runs]
    if any(r.file_expected_is == "clt" for r in analysis.runs):
        details.append(
            "The notebook expected σ/√n; subsamples were drawn without replacement from the "
            "pool, so the expected SE is σ/√n·√(1 − n/N) (0.707 × at n = N/2): the curves "
            "bending below σ/√n are the pool's doing, not the estimators'."
        )
    return Verdict(headline, tuple(details), judged=worst is not None)


def _worst_z(analysis: ConvergenceAnalysis) -> float | None:
    """The largest |z| of an observed SE against σ/√n·√(1 − n/N), over every row."""
    zs = [
        abs(p.z_fpc)
        for run in analysis.runs
        for row in run.rows
        for p in (row.basic, row.rb)
        if p.z_fpc is not None
    ]
    return max(zs, default=None)


def _fits(analysis: ConvergenceAnalysis) -> str:
    """Agreement with σ/√n·√(1 − n/N) only where shown within the margin (90 % intervals of
    observed/expected inside 1 ± margin); a difference only beyond |z| > Z_OFF."""
    worst = _worst_z(analysis)
    if worst is None:
        return ""
    model = "σ/√n·√(1 − n/N)"
    if worst > Z_OFF:
        return (
            f"; the observed SEs differ from {model} at some n (|z| > {Z_OFF:g}; see the findings)"
        )
    margin = analysis.margin
    within = [
        p.fpc_within for run in analysis.runs for row in run.rows for p in (row.basic, row.rb)
    ]
    band = f"[{format_number(1 - margin)}, {format_number(1 + margin)}]"
    if all(within):
        return (
            f"; the observed SEs agree with {model} within ±{margin * 100:g} % at every n: each "
            f"90 % interval of observed/expected lies inside {band}"
        )
    return (
        f"; the observed SEs are not shown to differ from {model} "
        f"(|z| ≤ {format_number(worst, NumberFormat(digits=2))}; a difference needs "
        f"|z| > {Z_OFF:g}); agreement within ±{margin * 100:g} % (the 90 % interval of "
        f"observed/expected inside {band}) is shown for {sum(w is True for w in within)} of "
        f"the {len(within)} observed SEs and inconclusive for the rest"
    )


def _needed_sentence(run: RunAnalysis) -> str:
    basic, rb = run.needed
    grid = (
        f"; the tried sizes said {basic.grid:,} and {rb.grid:,}"
        if basic.grid is not None and rb.grid is not None
        else ""
    )
    return (
        f"{run.run.label}: ±1 % needs {count(basic.pool)} basic vs {count(rb.pool)} RB samples "
        f"of this pool of {run.population:,} ({count(basic.fresh)} vs {count(rb.fresh)} fresh "
        f"samples){grid}."
    )


FORMULA_NAMES = {"clt": "σ/√n", "fpc": "with √(1 − n/N)", "other": "neither"}


def _se_row(name: str, row: RowAnalysis) -> SeRow:
    p = row.estimator(name)
    return SeRow(
        estimator=ESTIMATOR_NAMES[name],
        n=row.sample_size,
        fraction=row.fraction,
        m=row.n_bootstrap,
        observed=p.observed,
        observed_se=p.observed_se,
        clt=p.clt,
        fpc=p.fpc,
        ratio=p.ratio,
        ratio_se=p.ratio_se,
        correction=math.sqrt(max(1 - row.fraction, 0.0)),
        z=p.z_fpc,
        fpc_ratio=p.fpc_ratio,
        fpc_ratio_se=p.fpc_ratio_se,
        within=format_number(p.fpc_within),
        file_expected=p.file_expected,
        file_expected_is=FORMULA_NAMES.get(p.file_expected_is or "", "—"),
    )


def _temperature(run: RunAnalysis) -> tuple[TemperatureView, Datasets]:
    chart_list, datasets = run_charts(run)
    se_rows = tuple(_se_row(name, row) for name in ("basic", "rb") for row in run.rows)
    needed = tuple(
        NeededRow(
            ESTIMATOR_NAMES[n.estimator],
            n.cv,
            count(n.fresh),
            format_number(n.fresh_se, NumberFormat(digits=2)),
            count(n.pool),
            f"{n.grid:,}" if n.grid is not None else "not reached",
        )
        for n in run.needed
    )
    view = TemperatureView(
        label=run.run.label,
        source=run.run.source if run.run.key is None else f"{run.run.source} [{run.run.key}]",
        population=run.population,
        charts=chart_list,
        se_rows=se_rows,
        vr_rows=tuple(
            (r.sample_size, r.var_reduction, r.var_reduction_se, r.file_var_reduction)
            for r in run.rows
        ),
        var_reduction=run.var_reduction,
        var_reduction_se=run.var_reduction_se,
        pooled=run.pooled_var_reduction,
        pooled_se=run.pooled_var_reduction_se,
        pooled_minus_pool=run.pooled_minus_pool,
        pooled_minus_pool_se=run.pooled_minus_pool_se,
        mean_difference=run.mean_difference,
        mean_difference_se=run.mean_difference_se,
        needed=needed,
        exp_info=run.run.exp_info,
    )
    return view, datasets


def figure_charts(analysis: ConvergenceAnalysis) -> tuple[tuple[Chart, ...], Datasets]:
    """Every chart the page draws, with the data they read (``--figures`` exports them)."""
    found: list[Chart] = []
    datasets: Datasets = {}
    for run in analysis.runs:
        chart_list, data = run_charts(run)
        found += chart_list
        datasets |= data
    return tuple(found), datasets


def view(analysis: ConvergenceAnalysis, findings: tuple[Finding, ...]) -> ConvergenceView:
    temperatures = [_temperature(run) for run in analysis.runs]
    datasets: Datasets = {}
    for _, data in temperatures:
        datasets |= data
    study = analysis.study
    return ConvergenceView(
        title=f"Rao-Blackwell convergence: {study.directory}",
        directory=study.directory,
        verdict=verdict(analysis),
        findings=findings,
        counts=severity_counts(findings),
        explanations=explanations(CHECKS),
        sections=(
            Section("findings", "Findings"),
            Section("convergence", "SE vs n"),
            Section("variance", "Variance reduction"),
            Section("needed", "Samples for ±1 %"),
            Section("inputs", "Files"),
        ),
        temperatures=tuple(t for t, _ in temperatures),
        derivation=DERIVATION,
        margin=analysis.margin,
        z_off=Z_OFF,
        page_data=json_for_script({"datasets": datasets}),
        inputs=input_rows(study.inputs, study.not_read),
        skipped=tuple((s.path, s.reason) for s in study.skipped),
        unrecognised=study.unrecognised,
    )


def page(
    analysis: ConvergenceAnalysis, site: SiteContext, page_dir: str | None = None
) -> PageOutput:
    """The study's page and ``summary.json`` under ``page_dir`` (default ``studies/…``)."""
    directory = page_dir or default_page_dir(KIND, analysis.study.directory)
    findings = checks(analysis)
    page_view = view(analysis, findings)
    meta = page_meta(directory, page_view.title, "study", has_charts=True)
    twin = summary_json(analysis, findings)
    return rendered_page(TEMPLATE, site, meta, directory, twin, view=page_view)
