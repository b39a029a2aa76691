"""The charts of a group page (and the index overview), from records and group statistics."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from reportgen import charts
from reportgen.analysis.batch import BatchComparison
from reportgen.analysis.fits import Agreement, Fit
from reportgen.analysis.group_stats import (
    CvFeatureStats,
    EtaStats,
    PopulationStats,
    QuadHelp,
    RelativeErrors,
    resolved,
)
from reportgen.analysis.points import RunPoints
from reportgen.analysis.record import RunRecord
from reportgen.analysis.tails import TailSensitivity
from reportgen.analysis.uncertainty import Doubling, EtaUncertainty
from reportgen.charts import Chart, Datasets
from reportgen.charts.agreement import (
    doubling_chart,
    paired_z_chart,
    parity_chart,
    per_lr_chart,
    quad_help_chart,
)
from reportgen.pages.run_charts import ChartResult, collect


@dataclass(frozen=True)
class AgreementRow:
    run_id: str
    href: str
    row: Agreement


# --- charts ----------------------------------------------------------------------------------


def short_label(run_id: str, group_id: str) -> str:
    """A run's name inside its group (legends would otherwise truncate long ids)."""
    prefix = group_id + "/"
    return run_id.removeprefix(prefix) if group_id else run_id


def relabel(points: Sequence[RunPoints], group_id: str) -> list[RunPoints]:
    return [replace(p, run_id=short_label(p.run_id, group_id)) for p in points]


def retitled(chart: Chart, title: str) -> Chart:
    return replace(chart, title=title, spec={**chart.spec, "title": title})


def group_charts(
    view_points: Sequence[RunPoints],
    bands: Sequence[tuple[str, Sequence[EtaStats]]],
    fits: Sequence[tuple[str, Fit]],
    agreements: Sequence[AgreementRow],
    rels: Sequence[tuple[str, RelativeErrors]],
    batch: Sequence[BatchComparison],
    tails: Sequence[tuple[str, TailSensitivity]],
    cv: Sequence[CvFeatureStats],
) -> dict[str, list[ChartResult]]:
    out: dict[str, list[ChartResult]] = {
        k: [] for k in ("overlay", "fits", "relative", "batch", "tails", "cv")
    }
    rows = [(p.run_id, s) for p in view_points for s in p.etas if s.delta_h_true is not None]
    if rows:
        runs = [r for r, _ in rows]
        etas = [s.eta for _, s in rows]
        true = [s.delta_h_true for _, s in rows]
        out["overlay"].append(charts.group_overlay(runs, etas, true, eta_scale="log"))
        out["overlay"].append(charts.group_overlay(runs, etas, true, eta_scale="linear"))
    for i, (name, stats) in enumerate(bands):
        if not stats:
            continue
        chart, data = charts.group_band(
            [s.eta for s in stats],
            [s.true_mean for s in stats],
            [s.true_std for s in stats],
            [s.linear_mean for s in stats],
            [s.linquad_mean for s in stats],
        )
        out["overlay"].append(
            charts.with_key(retitled(chart, f"{chart.title} ({name})"), data, f"p{i}")
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
    for i, (name, rel) in enumerate(rels):
        rel_rows = [
            (r.run_id, eta, v if r.is_resolved(j) else None)
            for r in rel.runs
            for j, (eta, v) in enumerate(r.values)
        ]
        judged = [r.is_resolved(j) for r in rel.runs for j, (_, v) in enumerate(r.values)
                  if v is not None]  # fmt: skip
        if not any(v is not None for _, _, v in rel_rows):
            continue
        chart, data = charts.relative_error_chart(
            [r for r, _, _ in rel_rows], [e for _, e, _ in rel_rows], [v for _, _, v in rel_rows]
        )
        notes = []
        if unresolved := judged.count(False):
            notes.append(
                f"{unresolved} run×η left out: ΔH_true not resolved from zero "
                "(|ΔH_true| ≤ 2·se_true)"
            )
        if no_se := judged.count(None):
            notes.append(f"{no_se} run×η left out: no se_true to tell ΔH_true from zero")
        note = "; ".join(notes) or None
        chart = replace(retitled(chart, f"{chart.title} ({name})"), note=note)
        out["relative"].append(charts.with_key(chart, data, f"p{i}"))
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
    last_eta: dict[str, float] = {}  # once per run: a max per row was quadratic in the group
    for run_id, t in tails:
        last_eta[run_id] = max(last_eta.get(run_id, t.eta), t.eta)
    tail_rows = [
        (run_id, method, row)
        for run_id, t in tails
        for method, items in (("truncate", t.truncated), ("clip", t.clipped))
        for row in items
        if t.eta == last_eta[run_id]
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


def se_true_of(error: EtaUncertainty | None) -> float | None:
    return error.se_true if error is not None else None


def verdict_charts(
    pops: Sequence[PopulationStats],
    agreements: Mapping[str, Sequence[Agreement]],
    label: Callable[[str], str],
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
                key=f"p{i}",
            )
        )
    return out


def run_doublings(record: RunRecord) -> tuple[Doubling, ...]:
    return record.uncertainty.doublings if record.uncertainty is not None else ()


def _over(value: float | None, eta: float) -> float | None:
    return value / eta if value is not None and eta != 0 else None


def notebook_charts(
    pops: Sequence[PopulationStats],
    points: Mapping[str, RunPoints],
    errors: Mapping[str, Sequence[EtaUncertainty | None]],
    quads: Mapping[str, Sequence[QuadHelp]],
    doubles: Mapping[str, Sequence[Doubling]],
    label: Callable[[str], str],
) -> dict[str, list[ChartResult]]:
    """Per population: parity, ΔH/η, doubling ratios and "does the quad term help"."""
    out: dict[str, list[ChartResult]] = {"parity": [], "per_lr": [], "doubling": [], "quad": []}
    for i, pop in enumerate(pops):
        name, key = pop_title(pops, pop), f"p{i}"
        rows = [
            (r, s, e)
            for r in pop.population.run_ids
            if r in points
            for s, e in zip(points[r].etas, errors[r], strict=True)
        ]
        parity = [
            (label(r), series, s.delta_h_true, _se(e, "se_true"), value, _se(e, se_name))
            for r, s, e in rows
            for series, value, se_name in (
                ("linear", s.delta_h_linear, "se_linear"),
                ("lin+quad", s.delta_h_linquad, "se_linquad"),
            )
            if value is not None and s.delta_h_true is not None
        ]
        if parity:
            out["parity"].append(
                parity_chart(
                    [p[0] for p in parity],
                    [p[1] for p in parity],
                    [p[2] for p in parity],
                    [p[3] for p in parity],
                    [p[4] for p in parity],
                    [p[5] for p in parity],
                    population=name,
                    key=key,
                )
            )
        per_lr = [(label(r), s, e) for r, s, e in rows if s.eta > 0 and s.delta_h_true is not None]
        if per_lr:
            out["per_lr"].append(
                per_lr_chart(
                    [r for r, _, _ in per_lr],
                    [s.eta for _, s, _ in per_lr],
                    [_over(s.delta_h_true, s.eta) for _, s, _ in per_lr],
                    [_over(_se(e, "se_true"), s.eta) for _, s, e in per_lr],
                    [_over(s.delta_h_linear, s.eta) for _, s, _ in per_lr],
                    [_over(_se(e, "se_linear"), s.eta) for _, s, e in per_lr],
                    population=name,
                    key=key,
                )
            )
        candidates = [
            (r, d)
            for r in pop.population.run_ids
            for d in doubles.get(r, ())
            if d.ratio is not None
        ]
        ratios = [
            (label(r), d, _ratio_interval(d))
            for r, d in candidates
            if denominator_resolved(points[r], errors[r], d)
        ]
        left_out = len(candidates) - len(ratios)
        if ratios:
            out["doubling"].append(
                doubling_chart(
                    [r for r, _, _ in ratios],
                    [d.eta for _, d, _ in ratios],
                    [d.ratio for _, d, _ in ratios],
                    [ci[0] for _, _, ci in ratios],
                    [ci[1] for _, _, ci in ratios],
                    population=name,
                    key=key,
                    note=f"{left_out} ratio(s) left out: ΔH_true(η) not resolved from zero"
                    if left_out
                    else None,
                )
            )
        quad = [
            (label(r), q.eta, q.z)
            for r in pop.population.run_ids
            for q in quads.get(r, ())
            if q.z is not None
        ]
        if quad:
            out["quad"].append(
                quad_help_chart(
                    [r for r, _, _ in quad],
                    [e for _, e, _ in quad],
                    [z for _, _, z in quad],
                    population=name,
                    key=key,
                )
            )
    return out


def pop_title(pops: Sequence[PopulationStats], pop: PopulationStats) -> str:
    """What a chart title says of its population: its label when the group has several."""
    return pop.population.short_label if len(pops) > 1 else "all runs"


def _se(error: EtaUncertainty | None, name: str) -> float | None:
    value: object = getattr(error, name) if error is not None else None
    return value if isinstance(value, float) else None


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
