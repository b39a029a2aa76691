"""The charts of a group page (and the index overview), from its analysis and its runs' points."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from reportgen import charts
from reportgen.analysis.batch import BatchComparison
from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.fits import Agreement
from reportgen.analysis.group import GroupAnalysis
from reportgen.analysis.group_stats import (
    PopulationStats,
    RelativeErrors,
    resolved,
)
from reportgen.analysis.points import RunPoints
from reportgen.analysis.record import RunRecord
from reportgen.analysis.tails import TailGroupRow
from reportgen.analysis.uncertainty import Doubling, EtaUncertainty
from reportgen.charts import Chart, Datasets
from reportgen.charts.agreement import (
    paired_z_chart,
    parity_chart,
    quad_help_chart,
    slug,
)
from reportgen.charts.scaling import doubling_chart, per_lr_chart
from reportgen.pages.judged import unjudged
from reportgen.pages.run_charts import ChartResult, collect

Charts = dict[str, list[ChartResult]]
ErrorsByRun = Mapping[str, Sequence[EtaUncertainty | None]]
Label = Callable[[str], str]


@dataclass(frozen=True)
class GroupRuns:
    """A group's runs with ΔH(η) points as its charts draw them (``label`` names a run inside
    the group; ``per_run`` False: a summarised page draws no per-run series)."""

    points: Mapping[str, RunPoints]  # in the group's order
    errors: ErrorsByRun
    label: Label
    per_run: bool


def short_label(run_id: str, group_id: str) -> str:
    """A run's name inside its group (legends would otherwise truncate long ids)."""
    prefix = group_id + "/"
    return run_id.removeprefix(prefix) if group_id else run_id


def retitled(chart: Chart, title: str) -> Chart:
    return replace(chart, title=title, spec={**chart.spec, "title": title})


def pop_key(pops: Sequence[PopulationStats], i: int) -> str:
    """A figure-name key: the population's index and its title ("p0-b-e-256"), so a file name
    says which population it shows and the figure index still finds the instance (``-p0``)."""
    label = slug(pop_title(pops, pops[i]))[:40].strip("-") or "all"
    return f"p{i}-{label}"


def pop_title(pops: Sequence[PopulationStats], pop: PopulationStats) -> str:
    """What a chart title says of its population: its label when the group has several."""
    return pop.population.short_label if len(pops) > 1 else "all runs"


def group_charts(analysis: GroupAnalysis, runs: GroupRuns) -> Charts:
    """Every chart of a group page, by section (in the page's order)."""
    pops = analysis.populations
    shown = [p for p in runs.points.values()] if runs.per_run else []
    out: Charts = {
        "overlay": overlay_charts(shown, runs.label) + band_charts(pops),
        "fits": fit_charts(analysis, shown, runs.label) if runs.per_run else [],
        "relative": relative_charts(pops, runs.label) if runs.per_run else [],
        "batch": batch_charts(analysis.batch, runs.label),
        "tails": tail_charts(pops),
        "cv": cv_charts(pops),
    }
    if runs.per_run:
        agreements = {r.run_id: r.agreements for r in analysis.runs}
        out["verdict"] = verdict_charts(pops, agreements, runs.label)
        out |= notebook_charts(analysis, runs)
    else:
        out["verdict"] = []
    return out


def _true_rows(points: Sequence[RunPoints], label: Label) -> list[tuple[str, float, float]]:
    return [
        (label(p.run_id), s.eta, s.delta_h_true)
        for p in points
        for s in p.etas
        if s.delta_h_true is not None
    ]


def overlay_charts(points: Sequence[RunPoints], label: Label) -> list[ChartResult]:
    rows = _true_rows(points, label)
    if not rows:
        return []
    runs, etas, true = [r for r, _, _ in rows], [e for _, e, _ in rows], [t for _, _, t in rows]
    out = [charts.group_overlay(runs, etas, true, eta_scale="log")]
    if len(set(etas)) > 2:  # two η: the linear-η chart would only repeat the log one
        out.append(charts.group_overlay(runs, etas, true, eta_scale="linear"))
    return out


def band_charts(pops: Sequence[PopulationStats]) -> list[ChartResult]:
    """Per population: the mean ΔH and its spread across runs per η."""
    out = []
    for i, pop in enumerate(pops):
        stats = pop.per_eta
        if not stats:
            continue
        chart, data = charts.group_band(
            [s.eta for s in stats],
            [s.true_mean for s in stats],
            [s.true_std for s in stats],
            [s.linear_mean for s in stats],
            [s.linquad_mean for s in stats],
        )
        name = pop_title(pops, pop)
        out.append(
            charts.with_key(retitled(chart, f"{chart.title} ({name})"), data, pop_key(pops, i))
        )
    return out


def fit_charts(
    analysis: GroupAnalysis, points: Sequence[RunPoints], label: Label
) -> list[ChartResult]:
    rows = _true_rows(points, label)
    fitted = [(label(r.run_id), r.fit) for r in analysis.runs if r.fit.loglog_slope is not None]
    if not rows or not fitted:
        return []
    chart = charts.fit_chart(
        [r for r, _, _ in rows],
        [e for _, e, _ in rows],
        [t for _, _, t in rows],
        [r for r, _ in fitted],
        [f.loglog_slope for _, f in fitted],
        [f.loglog_intercept for _, f in fitted],
        log_base=math.e,
    )
    return [chart]


def relative_charts(pops: Sequence[PopulationStats], label: Label) -> list[ChartResult]:
    """Per population: (linear − true)/|true| where ΔH_true is resolved from zero."""
    out = []
    for i, pop in enumerate(pops):
        chart = relative_chart(pop.rel_errors, label, pop_title(pops, pop), pop_key(pops, i))
        if chart is not None:
            out.append(chart)
    return out


def relative_chart(rel: RelativeErrors, label: Label, name: str, key: str) -> ChartResult | None:
    rows = [
        (label(r.run_id), eta, r.site_value(j) if r.is_resolved(j) else None, r.se(j))
        for r in rel.runs
        for j, (eta, _) in enumerate(r.values)
    ]
    if not any(row[2] is not None for row in rows):
        return None
    judged = [r.is_resolved(j) for r in rel.runs for j in range(len(r.values))
              if r.site_value(j) is not None]  # fmt: skip
    chart, data = charts.relative_error_chart(*(list(c) for c in zip(*rows, strict=True)))
    notes = []
    if unresolved := judged.count(False):
        notes.append(
            f"{unresolved} run×η left out: ΔH_true not resolved from zero (|ΔH_true| ≤ 2·se_true)"
        )
    if no_se := judged.count(None):
        notes.append(f"{no_se} run×η left out: no se_true to tell ΔH_true from zero")
    note = "; ".join([*([chart.note] if chart.note else []), *notes]) or None
    chart = replace(retitled(chart, f"{chart.title} ({name})"), note=note)
    return charts.with_key(chart, data, key)


def batch_charts(batch: Sequence[BatchComparison], label: Label) -> list[ChartResult]:
    out = []
    for i, comparison in enumerate(batch):
        dist = comparison.reestimated or comparison.raw
        small = [(label(r), v) for r, v in comparison.small_runs]
        out.append(
            charts.batch_comparison_chart(
                dist.hist_edges,
                dist.hist_counts,
                [r for r, _ in small],
                [v for _, v in small],
                _mean([v for _, v in comparison.full_run_values]),
                small_size=comparison.small_size,
                large_size=comparison.large_size,
                eta=comparison.eta,
                key=f"b{i}",
                reestimated=comparison.reestimated is not None,
            )
        )
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    finite = [v for v in values if v is not None]
    return sum(finite) / len(finite) if finite else None


def tail_charts(pops: Sequence[PopulationStats]) -> list[ChartResult]:
    """Per population: linear/true after truncating or clipping the tails, at the runs' largest
    η, as its mean over the runs whose ΔH_true is resolved there ± its SE across them."""
    out = []
    for i, pop in enumerate(pops):
        rows = [t for t in pop.tails if t.resolved_ratio.se_mean is not None]
        if not rows:
            continue
        chart = charts.group_tail_chart(
            [t.mode for t in rows],
            [t.eta for t in rows],
            [t.quantile for t in rows],
            [t.resolved_ratio.mean for t in rows],
            [t.resolved_ratio.se_mean for t in rows],
            population=pop_title(pops, pop),
            key=pop_key(pops, i),
            note=tails_left_out(pop.tails),
        )
        out.append(chart)
    return out


def tails_left_out(rows: Sequence[TailGroupRow]) -> str | None:
    """How many runs with tails the spreads leave out (ΔH_true not resolved, or no se_true)."""
    every = {r for t in rows for r in t.run_ids}
    left = every - {r for t in rows for r in t.resolved_run_ids}
    if not left:
        return None
    return (
        f"{len(left)} of {len(every)} runs left out: ΔH_true not resolved from zero at the η of "
        "their tails (or no se_true to judge by)"
    )


def cv_charts(pops: Sequence[PopulationStats]) -> list[ChartResult]:
    """Per population with control variates: each feature's mean correlation and variance ratio
    across its runs, ± its SE, with their range."""
    out = []
    for i, pop in enumerate(pops):
        features = [f for f in pop.cv if not f.joint]
        if not features:
            continue
        for metric in ("correlation", "variance-ratio"):
            chart, data = charts.cv_group_chart(
                [f.feature for f in features],
                *([getattr(f.corr, s) for f in features] for s in _CV_STATS),
                *([getattr(f.var_ratio, s) for f in features] for s in _CV_STATS),
                corr_se=[f.corr.se_mean for f in features],
                var_ratio_se=[f.var_ratio.se_mean for f in features],
                metric=metric,
            )
            title = f"{chart.title} ({pop_title(pops, pop)})"
            out.append(charts.with_key(retitled(chart, title), data, pop_key(pops, i)))
    return out


_CV_STATS = ("mean", "min", "max")


def index_charts(records: Sequence[RunRecord]) -> tuple[tuple[Chart, ...], Datasets]:
    """The index's whole-tree overlay of ΔH_true against η."""
    rows = _true_rows([r.points for r in records if r.was_read], str)
    if not rows:
        return (), {}
    overlay = charts.group_overlay(
        [r for r, _, _ in rows], [e for _, e, _ in rows], [t for _, _, t in rows], eta_scale="log"
    )
    chart_set = collect({"overlay": [overlay]}, None)
    return tuple(chart_set.all_charts()), chart_set.datasets


def verdict_charts(
    pops: Sequence[PopulationStats],
    agreements: Mapping[str, Sequence[Agreement]],
    label: Label,
) -> list[ChartResult]:
    """One paired-z chart per population (small multiples: never one axis for two experiments)."""
    out = []
    for i, pop in enumerate(pops):
        rows = [
            (r, a)
            for r in pop.population.run_ids
            for a in agreements.get(r, ())
            if a.paired_z is not None
        ]
        if not rows:
            continue
        out.append(
            paired_z_chart(
                [label(r) for r, _ in rows],
                [a.eta for _, a in rows],
                [a.paired_z for _, a in rows],
                [a.diff for _, a in rows],
                [a.paired_se for _, a in rows],
                population=pop_title(pops, pop),
                key=pop_key(pops, i),
            )
        )
    return out


def notebook_charts(analysis: GroupAnalysis, runs: GroupRuns) -> Charts:
    """Per population: parity, ΔH/η, doubling ratios and "does the quad term help"."""
    out: Charts = {"grid": [], "parity": [], "per_lr": [], "doubling": [], "quad": []}
    pops = analysis.populations
    stats = {r.run_id: r for r in analysis.runs}
    for i, pop in enumerate(pops):
        name, key = pop_title(pops, pop), pop_key(pops, i)
        members = [r for r in pop.population.run_ids if r in runs.points]
        rows = [
            (runs.label(r), s, e)
            for r in members
            for s, e in zip(runs.points[r].etas, runs.errors[r], strict=True)
        ]
        out["grid"] += grid_charts(rows, name, key)
        out["parity"] += parity_charts(rows, name, key)
        out["per_lr"] += per_lr_charts(rows, name, key)
        doublings = [(r, d) for r in members for d in stats[r].doublings if d.ratio is not None]
        out["doubling"] += doubling_charts(doublings, runs, name, key)
        quads = [(runs.label(r), q) for r in members for q in stats[r].quads if q.z is not None]
        if quads:
            out["quad"].append(
                quad_help_chart(
                    [r for r, _ in quads],
                    [q.eta for _, q in quads],
                    [q.z for _, q in quads],
                    population=name,
                    key=key,
                )
            )
    return out


PerEta = Sequence[tuple[str, EtaSummary, EtaUncertainty | None]]  # (run label, η row, its SEs)


def grid_charts(rows: PerEta, name: str, key: str) -> list[ChartResult]:
    """The paper's small multiples: truth and approximations with their intervals per run."""
    if not rows:
        return []
    chart, data = charts.approximations_grid(
        [r for r, _, _ in rows],
        [s.eta for _, s, _ in rows],
        (
            [s.delta_h_true for _, s, _ in rows],
            [s.delta_h_linear for _, s, _ in rows],
            [s.delta_h_linquad for _, s, _ in rows],
        ),
        tuple([_se(e, f) for _, _, e in rows] for f in _SE_FIELDS),  # type: ignore[arg-type]
        population=name,
    )
    return [charts.with_key(retitled(chart, f"{chart.title} ({name})"), data, key)]


_SE_FIELDS = ("se_true", "se_linear", "se_linquad")


def parity_charts(rows: PerEta, name: str, key: str) -> list[ChartResult]:
    """Approximation against ΔH_true, both with their SEs, each η labelled."""
    parity = [
        (run, series, s.delta_h_true, _se(e, "se_true"), value, _se(e, se_name), s.eta)
        for run, s, e in rows
        for series, value, se_name in (
            ("linear", s.delta_h_linear, "se_linear"),
            ("lin+quad", s.delta_h_linquad, "se_linquad"),
        )
        if value is not None and s.delta_h_true is not None
    ]
    if not parity:
        return []
    chart = parity_chart(
        [p[0] for p in parity],
        [p[1] for p in parity],
        [p[2] for p in parity],
        [p[3] for p in parity],
        [p[4] for p in parity],
        [p[5] for p in parity],
        population=name,
        key=key,
        etas=[p[6] for p in parity],
    )
    return [chart]


def per_lr_charts(rows: PerEta, name: str, key: str) -> list[ChartResult]:
    """ΔH/η against η: flat where the linear term holds."""
    per_lr = [(r, s, e) for r, s, e in rows if s.eta > 0 and s.delta_h_true is not None]
    if not per_lr:
        return []
    chart = per_lr_chart(
        [r for r, _, _ in per_lr],
        [s.eta for _, s, _ in per_lr],
        [_over(s.delta_h_true, s.eta) for _, s, _ in per_lr],
        [_over(_se(e, "se_true"), s.eta) for _, s, e in per_lr],
        [_over(s.delta_h_linear, s.eta) for _, s, _ in per_lr],
        [_over(_se(e, "se_linear"), s.eta) for _, s, e in per_lr],
        population=name,
        key=key,
    )
    return [chart]


def doubling_charts(
    candidates: Sequence[tuple[str, Doubling]], runs: GroupRuns, name: str, key: str
) -> list[ChartResult]:
    """ΔH_true(2η)/ΔH_true(η) where the table shows it: its denominator resolved from zero and
    the ratio with its SE."""
    why = [
        unjudged(d.ratio, d.se, denominator_resolved(runs.points[r], runs.errors[r], d))
        for r, d in candidates
    ]
    ratios = [
        (runs.label(r), d, _ratio_interval(d))
        for (r, d), reason in zip(candidates, why, strict=True)
        if reason is None
    ]
    if not ratios:
        return []
    chart = doubling_chart(
        [r for r, _, _ in ratios],
        [d.eta for _, d, _ in ratios],
        [d.ratio for _, d, _ in ratios],
        [ci[0] for _, _, ci in ratios],
        [ci[1] for _, _, ci in ratios],
        population=name,
        key=key,
        note=left_out_note(Counter(w for w in why if w is not None)),
    )
    return [chart]


_LEFT_OUT = {
    "not resolved": "ΔH_true(η) not resolved from zero",
    "no se_true": "ΔH_true(η) without a standard error",
    "no SE": "no standard error of the ratio",
}


def left_out_note(reasons: Counter[str]) -> str | None:
    """ "N ratio(s) left out: why" (the count per reason when there are several), or ``None``."""
    if not reasons:
        return None
    if len(reasons) == 1:
        ((why, count),) = reasons.items()
        return f"{count} ratio(s) left out: {_LEFT_OUT[why]}"
    parts = ", ".join(f"{_LEFT_OUT[w]} ({n})" for w, n in sorted(reasons.items()))
    return f"{reasons.total()} ratio(s) left out: {parts}"


def _over(value: float | None, eta: float) -> float | None:
    return value / eta if value is not None and eta != 0 else None


def _se(error: EtaUncertainty | None, name: str) -> float | None:
    value: object = getattr(error, name) if error is not None else None
    return value if isinstance(value, float) else None


def se_true_of(error: EtaUncertainty | None) -> float | None:
    return error.se_true if error is not None else None


def denominator_resolved(
    run: RunPoints, errors: Sequence[EtaUncertainty | None], d: Doubling
) -> bool | None:
    """Whether ΔH_true(η) of a doubling ratio is resolved from zero (else the ratio is noise)."""
    for s, e in zip(run.etas, errors, strict=True):
        if s.eta == d.eta:
            return resolved(s.delta_h_true, _se(e, "se_true"))
    return None


def _ratio_interval(d: Doubling) -> tuple[float | None, float | None]:
    """The bootstrap interval, else ratio ± 1.96·SE (delta method)."""
    if d.ci95 is not None:
        return d.ci95[0], d.ci95[1]
    if d.ratio is None or d.se is None:
        return None, None
    return d.ratio - 1.96 * d.se, d.ratio + 1.96 * d.se
