"""The jackknife study's page: a view built from the analysis, rendered by kind_jackknife.html."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

from reportgen.charts.core import Chart, Datasets
from reportgen.findings import Finding, severity_counts
from reportgen.kinds.jackknife.analysis import (
    SEQUENCE_SOURCE,
    Homogeneity,
    JackknifeAnalysis,
    PointStats,
)
from reportgen.kinds.jackknife.charts import charts
from reportgen.kinds.jackknife.diagnostics import (
    CHECKS,
    HETEROGENEITY_P,
    at_b,
    checks,
    chi2_test,
    slope_text,
    withheld_reason,
)
from reportgen.kinds.jackknife.recognise import KIND
from reportgen.kinds.jackknife.twin import summary_json
from reportgen.kinds.study_checks import format_p
from reportgen.kinds.study_page import (
    InputRow,
    Section,
    default_page_dir,
    explanations,
    input_rows,
    page_meta,
    rendered_page,
)
from reportgen.numfmt import format_with_se
from reportgen.pages.output import PageOutput
from reportgen.pages.render import SiteContext, json_for_script
from reportgen.pages.verdict import Verdict

TEMPLATE = "kind_jackknife.html"


@dataclass(frozen=True)
class PointRow:
    setting: str
    split: str | None
    temperature: float | None
    checkpoint: str | None
    source: str
    batch: int
    generations: int | None
    seed: int | None
    estimate: float
    se: float | None
    lo: float | None
    hi: float | None
    variance: float | None
    prompts: int
    prompt_sd: float | None
    prompt_se: float | None
    tested: bool


@dataclass(frozen=True)
class SettingRow:
    label: str
    points: int
    batches: str
    mean: float | None  # None when withheld
    mean_se: float | None
    withheld: str | None  # why no weighted mean is given
    chi2: float | None
    df: int
    p: str
    residual_chi2: float | None  # about the fitted line: the slope's SE is scaled by it
    residual_df: int
    slope: float | None
    slope_se: float | None


@dataclass(frozen=True)
class TailRow:
    setting: str
    batch: int
    source: str
    median: float | None
    q99: float | None
    maximum: float | None


@dataclass(frozen=True, eq=False)
class JackknifeView:
    title: str
    directory: str
    verdict: Verdict
    findings: tuple[Finding, ...]
    counts: Mapping[str, int]
    explanations: Mapping[str, Markup]
    sections: tuple[Section, ...]
    charts: Mapping[str, Chart]
    page_data: Markup
    points: tuple[PointRow, ...]
    settings: tuple[SettingRow, ...]
    tails: tuple[TailRow, ...]
    sequence_tails_apart: str  # the B whose per-sequence tails are in the table only
    margin: float  # relative, of the agreement across B
    log_scale: bool
    inputs: tuple[InputRow, ...]
    skipped: tuple[tuple[str, str], ...]
    unrecognised: tuple[str, ...]
    summaries: tuple[tuple[str, str], ...]


def verdict(analysis: JackknifeAnalysis) -> Verdict:
    """The headline: does the estimate depend on B, judged within one setting only?"""
    details = [
        "± values are standard errors: std_dev_estimate = √variance_estimate is the jackknife "
        "SE of the estimate, not the spread of entropies (plots labelled “± std” showed ± 1 SE); "
        "intervals are 95 % (estimate ± 1.96 SE)."
    ]
    main = analysis.populations[analysis.main] if analysis.main is not None else None
    details += [_apart(analysis, h) for h in analysis.populations if h is not main]
    if main is None or not main.tested:
        return Verdict(
            "No setting has two points with standard errors, so whether the estimate depends "
            "on B cannot be tested here (inconclusive).",
            tuple(details),
        )
    if main.slope_per_doubling is not None:
        details.insert(0, f"Weighted trend in {main.label}: {slope_text(main)}.")
    if (reason := withheld_reason(main)) is not None:
        details.append(f"No weighted mean across B is given: {reason}.")
    return Verdict(_across_b(analysis, main), tuple(details), judged=True)


def _across_b(analysis: JackknifeAnalysis, main: Homogeneity) -> str:
    """Differ (χ² rejects), agree within the margin (every B's 90 % interval of its difference
    from the weighted mean inside ±margin of it), or neither: inconclusive."""
    first, last = analysis.points[main.points[0]], analysis.points[main.points[-1]]
    test = chi2_test(main)
    if main.differs:
        return (
            f"The estimate changes with B far beyond its standard errors: from {at_b(first)} "
            f"to {at_b(last)} ({test}); these are not one quantity measured with more or fewer "
            "prompts."
        )
    span = f"The estimates from B = {first.point.batch:,} to {last.point.batch:,}"
    margin = f"±{main.margin * 100:g} %"
    bound = f"±{(main.spread_bound or 0.0) * 100:.1f} %"
    if main.equivalent:
        return (
            f"{span} agree within {margin} of their weighted mean "
            f"{format_with_se(main.weighted_mean, main.weighted_mean_se)}: every B’s 90 % "
            f"interval of its difference from it lies within {bound} of it ({test})."
        )
    reach = (
        f": the widest 90 % interval of a B’s difference from it reaches "
        f"±{main.spread_bound * 100:.0f} % of it"
        if main.spread_bound is not None
        else ""
    )
    return (
        f"{span} are not shown to differ ({test}; a difference needs p < "
        f"{HETEROGENEITY_P:g}), but agreement within {margin} of their weighted "
        f"mean is not shown either{reach}. Inconclusive."
    )


def _p(test: Homogeneity) -> str:
    return format_p(test.p_value, test.log10_p_value)


def _apart(analysis: JackknifeAnalysis, test: Homogeneity) -> str:
    batches = ", ".join(f"{analysis.points[i].point.batch:,}" for i in test.points)
    return f"B = {batches} ({test.label}) is another setting: shown apart, not in the test."


def figure_charts(analysis: JackknifeAnalysis) -> tuple[tuple[Chart, ...], Datasets]:
    """Every chart the page draws, with the data they read (``--figures`` exports them)."""
    chart_list, datasets = charts(analysis)
    return tuple(chart_list), datasets


def view(analysis: JackknifeAnalysis, findings: tuple[Finding, ...]) -> JackknifeView:
    chart_list, datasets = charts(analysis)
    study = analysis.study
    by_id = {c.id: c for c in chart_list}
    sections = (
        Section("findings", "Findings"),
        Section("estimates", "Estimate vs B"),
        *((Section("prompts", "Per-prompt means"),) if "jackknife-prompts" in by_id else ()),
        *((Section("tails", "Tails"),) if "jackknife-tails" in by_id else ()),
        Section("inputs", "Files"),
    )
    return JackknifeView(
        title=f"Jackknife vs batch size: {study.directory}",
        directory=study.directory,
        verdict=verdict(analysis),
        findings=findings,
        counts=severity_counts(findings),
        explanations=explanations(CHECKS),
        sections=sections,
        charts=by_id,
        page_data=json_for_script({"datasets": datasets}),
        points=tuple(_point_row(analysis, i) for i in range(len(analysis.points))),
        settings=tuple(_setting_row(analysis, h) for h in analysis.populations),
        tails=tuple(row for s in analysis.points for row in _tail_rows(analysis, s)),
        sequence_tails_apart=", ".join(
            f"{s.point.batch:,}"
            for s in analysis.points
            if s.tail is not None and s.tail.source == SEQUENCE_SOURCE
        ),
        margin=analysis.margin,
        log_scale=analysis.log_scale,
        inputs=input_rows(study.inputs, study.not_read),
        skipped=tuple((s.path, s.reason) for s in study.skipped),
        unrecognised=study.unrecognised,
        summaries=study.summaries,
    )


def _tail_rows(analysis: JackknifeAnalysis, stats: PointStats) -> tuple[TailRow, ...]:
    """The per-prompt means' tail, then the per-sequence one where the file has it."""
    label = analysis.populations[stats.population].label
    tails = dict.fromkeys(t for t in (stats.prompt_tail, stats.tail) if t is not None)
    return tuple(
        TailRow(label, stats.point.batch, t.source, t.median, t.q99, t.maximum) for t in tails
    )


def _point_row(analysis: JackknifeAnalysis, index: int) -> PointRow:
    stats = analysis.points[index]
    point = stats.point
    lo, hi = stats.ci95 if stats.ci95 is not None else (None, None)
    return PointRow(
        setting=analysis.populations[stats.population].label,
        split=point.setting.split,
        temperature=point.setting.temperature,
        checkpoint=point.setting.short_checkpoint,
        source=point.source if point.line == 1 else f"{point.source}:{point.line}",
        batch=point.batch,
        generations=point.generations,
        seed=point.seed,
        estimate=point.estimate,
        se=point.se,
        lo=lo,
        hi=hi,
        variance=point.variance,
        prompts=stats.prompt_count,
        prompt_sd=stats.prompt_sd,
        prompt_se=stats.prompt_se,
        tested=stats.tested,
    )


def _setting_row(analysis: JackknifeAnalysis, test: Homogeneity) -> SettingRow:
    withheld = withheld_reason(test)
    return SettingRow(
        label=test.label,
        points=len(test.points),
        batches=", ".join(f"{analysis.points[i].point.batch:,}" for i in test.points),
        mean=test.weighted_mean if withheld is None else None,
        mean_se=test.weighted_mean_se if withheld is None else None,
        withheld=withheld,
        chi2=test.chi2,
        df=test.df,
        p=_p(test) if test.tested else "not tested (one point)",
        residual_chi2=test.residual_chi2,
        residual_df=test.residual_df,
        slope=test.slope_per_doubling,
        slope_se=test.slope_se,
    )


def page(analysis: JackknifeAnalysis, site: SiteContext, page_dir: str | None = None) -> PageOutput:
    """The study's page and ``summary.json`` under ``page_dir`` (default ``studies/…``)."""
    directory = page_dir or default_page_dir(KIND, analysis.study.directory)
    findings = checks(analysis)
    page_view = view(analysis, findings)
    meta = page_meta(directory, page_view.title, "study", has_charts=True)
    twin = summary_json(analysis, findings)
    return rendered_page(TEMPLATE, site, meta, directory, twin, view=page_view)
