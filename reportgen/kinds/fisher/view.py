"""The Fisher-kernel page: a pure function from the analysis to ``PageOutput`` (page and twin)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reportgen.charts import Chart, Datasets, merge_datasets
from reportgen.findings import Finding, severity_counts
from reportgen.kinds import charts as kind_charts
from reportgen.kinds import heatmap
from reportgen.kinds.fisher.analysis import FisherAnalysis
from reportgen.kinds.fisher.diagnostics import CHECKS, checks
from reportgen.kinds.fisher.recognise import KIND
from reportgen.kinds.fisher.relations import MAGNITUDE_GAP
from reportgen.kinds.fisher.rows import (
    FisherView,
    Section,
    facts,
    outlier_rows,
    pair_rows,
    quantity_legend,
    spectrum_note,
)
from reportgen.kinds.fisher.twin import summary_json
from reportgen.kinds.fisher.verdict import COSINE_MARGIN, contrast_judgement, fisher_verdict
from reportgen.kinds.study_page import default_page_dir, page_meta, rendered_page
from reportgen.pages.guide import explanations
from reportgen.pages.output import PageOutput
from reportgen.pages.render import SiteContext, json_for_script

TEMPLATE = "kind_fisher.html"
HEATMAP_MAX_SIDE = 128
ChartResult = tuple[Chart, Datasets]


def page(
    analysis: FisherAnalysis,
    site: SiteContext,
    page_dir: str | None = None,
    findings: Sequence[Finding] | None = None,
    *,
    max_heatmap_side: int = HEATMAP_MAX_SIDE,
) -> PageOutput:
    """The page and its twin ``summary.json`` under ``page_dir`` (default ``studies/…``);
    reads no file. ``findings`` default to the kind's checks (the build may pass its own)."""
    directory = page_dir or default_page_dir(KIND, analysis.run.directory)
    found = tuple(checks(analysis) if findings is None else findings)
    view = fisher_view(analysis, found, max_heatmap_side)
    title = f"Fisher kernel {analysis.run.directory}"
    meta = page_meta(directory, title, "study", has_charts=any(view.charts.values()))
    twin = summary_json(analysis, found)
    return rendered_page(
        TEMPLATE, site, meta, directory, twin, view=view, checks=explanations(CHECKS)
    )


def _chart_results(analysis: FisherAnalysis, max_heatmap_side: int) -> dict[str, list[ChartResult]]:
    return {
        "spectrum": _spectrum_chart(analysis),
        "heatmaps": _heatmaps(analysis, max_heatmap_side),
        "shares": _share_chart(analysis),
    }


def figure_charts(analysis: FisherAnalysis) -> tuple[tuple[Chart, ...], Datasets]:
    """Every chart the page draws, with the data they read (``--figures`` exports them)."""
    results = [
        item for items in _chart_results(analysis, HEATMAP_MAX_SIDE).values() for item in items
    ]
    return tuple(c for c, _ in results), merge_datasets(*(d for _, d in results))


def fisher_view(
    analysis: FisherAnalysis, findings: tuple[Finding, ...], max_heatmap_side: int
) -> FisherView:
    results = _chart_results(analysis, max_heatmap_side)
    chart_map = {name: tuple(c for c, _ in items) for name, items in results.items()}
    datasets = merge_datasets(*(d for items in results.values() for _, d in items))
    notes = [c.note for c in chart_map["heatmaps"] if c.note]
    sections = [
        Section("summary", "In short"),
        Section("findings", "Findings"),
        Section("facts", "Key facts"),
        Section("spectrum", "Spectrum"),
        Section("heatmaps", "Heatmaps"),
        Section("prompts", "Prompts"),
        Section("identity", "Influence identity"),
        Section("pairs", "Top pairs"),
        Section("correlations", "Correlations"),
        Section("inputs", "Files"),
    ]
    return FisherView(
        directory=analysis.run.directory,
        verdict=fisher_verdict(analysis),
        findings=findings,
        counts=severity_counts(findings),
        sections=tuple(sections),
        facts=facts(analysis),
        prompt_source=analysis.prompt_source,
        shares=analysis.shares,
        contrast=analysis.contrast,
        identities=analysis.identities,
        correlations=analysis.correlations,
        quantities=quantity_legend(analysis),
        surprisal=analysis.surprisal,
        pairs=pair_rows(analysis),
        outliers=outlier_rows(analysis),
        disagreements=analysis.disagreements,
        charts=chart_map,
        heatmap_note=notes[0] if notes else "",
        page_data=json_for_script({"datasets": datasets}),
        cosine_margin=COSINE_MARGIN,
        contrast_verdict="" if analysis.contrast is None else contrast_judgement(analysis.contrast),
        spectrum_note=spectrum_note(analysis.spectrum),
        magnitude_gap=MAGNITUDE_GAP,
        inputs=analysis.run.inputs,
        not_read=analysis.run.not_read,
    )


def _spectrum_chart(analysis: FisherAnalysis) -> list[ChartResult]:
    s = analysis.spectrum
    if not np.isfinite(s.shares).any():
        return []
    # eigenvalues within the rounding bound are noise: left out (NaN is not drawn), not plotted
    resolved = np.arange(s.shares.size) < s.resolved
    shares = np.where(resolved, s.shares, np.nan)
    return [
        kind_charts.spectrum(
            "fisher-spectrum", shares,
            title="Spectrum (λₖ / Σλ)",
            description="Each eigenvalue's share of the sum of eigenvalues, largest first, on "
            "a log axis, down to the rounding bound n·ε·λ_max; a multiple of the identity is a "
            "flat line at 1/n, a rank-one kernel a single point.",
        )
    ]  # fmt: skip


def _heatmaps(analysis: FisherAnalysis, max_side: int) -> list[ChartResult]:
    kernel = analysis.run.update.kernel
    assert kernel is not None
    order = np.array(analysis.order, dtype=np.intp)
    ids = [s.id for s in analysis.run.update.sequences] or [f"#{i}" for i in range(analysis.n)]
    cosine = heatmap.block_means(analysis.cosine[np.ix_(order, order)], max_side)
    magnitude = heatmap.block_means(np.abs(kernel[np.ix_(order, order)]), max_side)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_magnitude = np.where(magnitude.values > 0, np.log10(magnitude.values), np.nan)
    labels = (
        [ids[i] for i in order.tolist()]
        if cosine.factor == 1
        else [f"block {k} (sequences {k * cosine.factor}…)" for k in range(cosine.values.shape[0])]
    )
    by_prompt = "sequences ordered by prompt"
    return [
        heatmap.heatmap(
            "fisher-cosine", cosine.values, labels, labels,
            title="Cosines K_ab / √(K_aa·K_bb)",
            description=f"The kernel scaled to cosines between the sequences' gradients "
            f"({by_prompt}): 1 on the diagonal; the identity would be white elsewhere.",
            value_title="cosine", scheme="blueorange", domain=(-1.0, 1.0), mid=0.0,
            note=cosine.note,
        ),
        heatmap.heatmap(
            "fisher-magnitude", log_magnitude, labels, labels,
            title="log₁₀ |K_ab|",
            description=f"The kernel's magnitudes on a log scale ({by_prompt}); zero entries "
            "are left blank.",
            value_title="log₁₀ |K|", scheme="viridis", note=magnitude.note,
        ),
    ]  # fmt: skip


def _share_chart(analysis: FisherAnalysis) -> list[ChartResult]:
    if not analysis.shares:
        return []
    return [
        kind_charts.bars(
            "fisher-shares",
            [f"prompt {s.prompt}" for s in analysis.shares],
            [s.share for s in analysis.shares],
            [s.uniform for s in analysis.shares],
            title="Prompt shares of Σ|K|",
            description="The fraction of Σ|K| in the union of each prompt's rows and columns "
            "(bars) and what equal entries would give (ticks); shares sum to more than 1 "
            "because an entry between two prompts counts for both.",
            x_title="share of Σ|K|", mark_title="if all |K_ab| were equal",
        )
    ]  # fmt: skip
