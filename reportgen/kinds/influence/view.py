"""The influence page: a pure function from the analysis to ``PageOutput`` (page and twin)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from reportgen.charts import Chart, Datasets, merge_datasets, with_key
from reportgen.findings import Finding, severity_counts
from reportgen.kinds import charts as kind_charts
from reportgen.kinds import heatmap
from reportgen.kinds.influence.analysis import EvaluationAnalysis, InfluenceAnalysis
from reportgen.kinds.influence.diagnostics import CHECKS, checks
from reportgen.kinds.influence.recognise import KIND
from reportgen.kinds.influence.rows import (
    EvaluationView,
    InfluenceView,
    Section,
    direction_rows,
    feature_rows,
    least_linear_first,
    proxy_lines,
    reading,
    rule_row,
)
from reportgen.kinds.influence.twin import summary_json
from reportgen.kinds.influence.verdict import influence_verdict
from reportgen.kinds.study_page import default_page_dir, page_meta, rendered_page
from reportgen.numfmt import format_eta, format_number
from reportgen.pages.guide import explanations
from reportgen.pages.output import PageOutput
from reportgen.pages.render import SiteContext, json_for_script

TEMPLATE = "kind_influence.html"
HEATMAP_MAX_SIDE = 128
MAX_CURVES = 10  # directions drawn in the linearity chart: the least linear ones beyond this
ChartResult = tuple[Chart, Datasets]


def page(
    analysis: InfluenceAnalysis,
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
    view = influence_view(analysis, found, max_heatmap_side)
    title = f"Entropy influence {analysis.run.directory}"
    has_charts = any(c for e in view.evaluations for c in e.charts.values())
    meta = page_meta(directory, title, "study", has_charts=has_charts)
    twin = summary_json(analysis, found)
    return rendered_page(
        TEMPLATE, site, meta, directory, twin, view=view, checks=explanations(CHECKS)
    )


def figure_charts(analysis: InfluenceAnalysis) -> tuple[tuple[Chart, ...], Datasets]:
    """Every chart the page draws, with the data they read (``--figures`` exports them)."""
    many = len(analysis.evaluations) > 1
    found: list[Chart] = []
    data: list[Datasets] = []
    for e in analysis.evaluations:
        chart_map, datasets = _charts(e, f"e{e.evaluation.index}" if many else "", HEATMAP_MAX_SIDE)
        found += [c for section in chart_map.values() for c in section]
        data.append(datasets)
    return tuple(found), merge_datasets(*data)


def influence_view(
    analysis: InfluenceAnalysis, findings: tuple[Finding, ...], max_heatmap_side: int
) -> InfluenceView:
    many = len(analysis.evaluations) > 1
    views: list[EvaluationView] = []
    datasets: list[Datasets] = []
    for e in analysis.evaluations:
        key = f"e{e.evaluation.index}" if many else ""
        chart_map, data = _charts(e, key, max_heatmap_side)
        views.append(_evaluation_view(e, key, many, chart_map))
        datasets.append(data)
    run = analysis.run
    etas = tuple(sorted({eta for e in analysis.evaluations for eta in e.etas}))
    sections = [
        Section("summary", "In short"),
        Section("findings", "Findings"),
        Section("reading", "How the files are read"),
    ]
    for v in views:
        sections += [
            Section(f"sum-rule{v.key}", f"Sum rule{v.title}"),
            Section(f"linearity{v.key}", f"Linearity{v.title}"),
        ]
        if v.proxies:
            sections.append(Section(f"proxies{v.key}", f"Proxies{v.title}"))
        if v.features:
            sections.append(Section(f"features{v.key}", f"Features{v.title}"))
        if v.charts.get("matrix"):
            sections.append(Section(f"matrix{v.key}", f"Delta matrix{v.title}"))
    sections.append(Section("inputs", "Files"))
    return InfluenceView(
        directory=run.directory,
        verdict=influence_verdict(analysis),
        findings=findings,
        counts=severity_counts(findings),
        sections=tuple(sections),
        facts=_facts(analysis),
        evaluations=tuple(views),
        etas=etas,
        initial_eta=etas[-1] if etas else None,
        inputs=run.inputs,
        not_read=run.not_read,
        page_data=json_for_script({"datasets": merge_datasets(*datasets)}),
    )


def _facts(analysis: InfluenceAnalysis) -> tuple[tuple[str, str], ...]:
    run = analysis.run
    plan = run.plan
    facts = [
        ("directions (workspace sequences)", format_number(run.num_directions)),
        ("evaluations", format_number(len(run.evaluations))),
        ("η (plan)", ", ".join(format_eta(e) for e in plan.etas) or "—"),
        ("microbatch size", format_number(plan.microbatch_size)),
        ("workspace", plan.workspace or "—"),
        ("evaluation set", plan.evaluation or "—"),
    ]
    facts += [(f"update_stats.{name}", format_number(value)) for name, value in run.update_stats]
    return tuple(facts)


def _evaluation_view(
    e: EvaluationAnalysis, key: str, many: bool, chart_map: Mapping[str, tuple[Chart, ...]]
) -> EvaluationView:
    diagnostics = tuple(
        (f"{format_eta(row.eta)}: {name}", value)
        for row in e.evaluation.aggregate
        for name, value in row.diagnostics
    )
    return EvaluationView(
        key=f"-{key}" if key else "",
        title=f" (evaluation {e.evaluation.index})" if many else "",
        n=e.n,
        m=e.m,
        etas=e.etas,
        rules=tuple(rule_row(r) for r in e.sum_rules),
        directions=direction_rows(e),
        proxies=proxy_lines(e),
        features=feature_rows(e),
        feature_eta=e.feature_eta,
        reading=reading(e),
        disagreements=e.disagreements,
        diagnostics=(*diagnostics, *e.evaluation.diagnostics),
        charts=chart_map,
        margin=e.margin,
    )


# --- charts ------------------------------------------------------------------------------------


def _charts(
    e: EvaluationAnalysis, key: str, max_side: int
) -> tuple[dict[str, tuple[Chart, ...]], Datasets]:
    builders = {
        "sum-rule": _sum_rule_chart,
        "linearity": _linearity_chart,
        "proxies": _proxy_chart,
        "features": _feature_chart,
    }
    results: dict[str, list[ChartResult]] = {name: build(e) for name, build in builders.items()}
    results["matrix"] = _matrix_chart(e, max_side)
    by_section: dict[str, tuple[Chart, ...]] = {}
    data: list[Datasets] = []
    for section, items in results.items():
        placed = []
        for chart, datasets in items:
            if key:
                chart, datasets = with_key(chart, datasets, key)
            placed.append(chart)
            data.append(datasets)
        by_section[section] = tuple(placed)
    return by_section, merge_datasets(*data)


def _sum_rule_chart(e: EvaluationAnalysis) -> list[ChartResult]:
    etas, series, values, errors = [], [], [], []
    for r in e.sum_rules:
        if r.full is None or r.baseline is None:
            continue
        rows: list[tuple[str, float, float | None]] = []
        if r.adjusted_sum is not None:
            rows.append(
                ("δH_baseline + Σᵢ δHᵢ (arrays)", r.baseline + r.adjusted_sum, r.arrays_residual_se)
            )
        if r.reported_sum is not None:
            rows.append(("δH_baseline + reported sum", r.baseline + r.reported_sum, r.residual_se))
        rows.append(("δH_full", r.full, None))  # last: drawn over the others
        for name, value, se in rows:
            etas.append(r.eta)
            series.append(name)
            values.append(value)
            errors.append(np.nan if se is None else 2 * se)
    if not etas:
        return []
    return [
        kind_charts.eta_series(
            "influence-sum-rule", etas, series, values, errors,
            title="Sum rule per η",
            description="The entropy change of the whole update (δH_full) and the baseline's "
            "plus the directions' sum, from the arrays and as reported, against η; bars are "
            "± 2 standard errors of the residual.",
            y_title="δH", order=("δH_full",),
        )
    ]  # fmt: skip


def _linearity_chart(e: EvaluationAnalysis) -> list[ChartResult]:
    if not e.directions or not e.etas:
        return []
    ordered = least_linear_first(e.directions)
    shown = ordered[:MAX_CURVES]
    note = (
        f"the {MAX_CURVES} least linear of {len(ordered)} directions"
        if len(ordered) > MAX_CURVES
        else None
    )
    etas = np.tile(np.array(e.etas), len(shown))
    items = [d.id for d in shown for _ in e.etas]
    values = np.concatenate([d.values for d in shown])
    fitted = np.concatenate(
        [np.array(e.etas) * (d.fit.slope if d.fit.slope is not None else np.nan) for d in shown]
    )
    return [
        kind_charts.eta_curves(
            "influence-linearity", etas, items, values, fitted,
            title="δHᵢ against η, with fits",
            description="Each direction's baseline-adjusted entropy change δHᵢ at every η "
            "(points) and its least-squares line through the origin (dashed).",
            y_title="δHᵢ", item_title="direction", note=note,
        )
    ]  # fmt: skip


def _proxy_chart(e: EvaluationAnalysis) -> list[ChartResult]:
    if not e.proxies:
        return []
    ids = [d.id for d in e.directions]
    etas = np.concatenate([np.full(p.grad.size, p.eta) for p in e.proxies])
    grad = np.concatenate([p.grad for p in e.proxies])
    adjusted = np.concatenate([p.adjusted for p in e.proxies])
    labels = [ids[i] if i < len(ids) else str(i) for p in e.proxies for i in range(p.grad.size)]
    return [
        kind_charts.eta_parity(
            "influence-proxies", etas, grad, adjusted, labels,
            title="Adjusted vs grad-only δHᵢ",
            description="Each direction's baseline-adjusted effect δH(v_b + vᵢ) − δH(v_b) (y) "
            "against its grad-only effect δH(vᵢ) (x); on the dashed y = x line they agree.",
            x_title="grad-only δH(vᵢ)", y_title="baseline-adjusted δHᵢ",
            initial_eta=e.proxies[-1].eta,
        )
    ]  # fmt: skip


def _feature_chart(e: EvaluationAnalysis) -> list[ChartResult]:
    column = next((k for k, eta in enumerate(e.etas) if eta == e.feature_eta), None)
    if not e.features or column is None:
        return []
    ids = [d.id for d in e.directions]
    y = np.array([d.values[column] for d in e.directions])
    names = [f.name for f in e.features for _ in ids]
    x = np.concatenate([f.values for f in e.features])
    return [
        kind_charts.feature_scatter(
            "influence-features", names, x, np.tile(y, len(e.features)), ids * len(e.features),
            title=f"δHᵢ (η = {format_eta(e.feature_eta)}) vs a feature",
            description="Each direction's baseline-adjusted effect against the feature chosen "
            "in the menu; the rank correlations are in the table.",
            y_title="δHᵢ",
        )
    ]  # fmt: skip


def _matrix_chart(e: EvaluationAnalysis, max_side: int) -> list[ChartResult]:
    matrix = e.evaluation.matrix
    if matrix is None or matrix.values.size == 0:
        return []
    blocks = heatmap.block_means(matrix.values, max_side)
    rows, columns = blocks.values.shape
    ids = list(e.evaluation.sequence_ids) if blocks.factor == 1 else []
    row_labels = [ids[i] if i < len(ids) else f"row {i * blocks.factor}" for i in range(rows)]
    column_labels = [f"evaluation sequence {j * blocks.factor}" for j in range(columns)]
    at = format_eta(matrix.eta_reference)
    return [
        heatmap.heatmap(
            "influence-matrix", blocks.values, row_labels, column_labels,
            title=f"Delta matrix, η_ref = {at}",
            description="Each entry is one direction's entropy change on one evaluation "
            "sequence (rows: directions, columns: evaluation sequences); blue is negative, "
            "orange positive.",
            value_title="δH", scheme="blueorange", mid=0.0, note=blocks.note,
        )
    ]  # fmt: skip
