"""Which charts a run page shows, with the data each one reads."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reportgen import charts
from reportgen.analysis import RunAnalysis
from reportgen.charts import Chart, Datasets, Norm, export
from reportgen.charts.export import FigureTheme
from reportgen.charts.integrands import integrand_histograms
from reportgen.figures import Figure, FigureList, PreviousFigures
from reportgen.load.models import Run
from reportgen.numfmt import format_eta
from reportgen.pages.run_sections import tail_rows
from reportgen.pages.run_supplement import clip_charts, cv_rows

ChartResult = tuple[Chart, Datasets]

log = logging.getLogger("reportgen")


@dataclass(frozen=True, eq=False)
class ChartSet:
    """A page's charts by section, and the merged datasets they read."""

    charts: Mapping[str, tuple[Chart, ...]] = field(default_factory=dict)
    datasets: Datasets = field(default_factory=dict)
    initial_eta: float | None = None

    @property
    def has_charts(self) -> bool:
        return any(self.charts.values())

    def all_charts(self) -> list[Chart]:
        return [c for section in self.charts.values() for c in section]

    def standalone_spec(self, chart: Chart) -> dict[str, Any]:
        """The chart with its data attached, as one Vega-Lite spec (figures, single files)."""
        spec = (
            _with_eta(chart, self.initial_eta).spec
            if self.initial_eta is not None
            else dict(chart.spec)
        )
        spec["datasets"] = {
            name: self.datasets[name] for name in chart.datasets if name in self.datasets
        }
        _unbind_eta(spec)
        return spec

    def export(
        self,
        formats: Sequence[str],
        theme: FigureTheme,
        directory: str,
        page: str,
        previous: PreviousFigures | None = None,
    ) -> tuple[ChartSet, list[tuple[str, bytes]], FigureList | None]:
        """Figure files of every chart (``--figures``; ``previous``: the page's last ones, taken
        where unchanged), the set with export warnings, and the page's figure list.

        A chart that cannot be exported keeps its place on the page with a warning saying why.
        """
        if not formats:
            return self, [], None
        files: list[tuple[str, bytes]] = []
        figures: list[Figure] = []
        warned: dict[str, str] = {}
        exported = export.export_charts(
            [(self._eta_named(c), self.standalone_spec(c)) for c in self.all_charts()],
            self.datasets,
            formats,
            theme,
            directory,
            previous,
        )
        for figure, chart_files in exported:
            figures.append(figure)
            files += chart_files
            if figure.warning is not None:
                warned[figure.id] = figure.warning
        manifest = f"{directory}/figures/{export.MANIFEST}"
        files.append((manifest, export.manifest_bytes(page, figures)))
        listed = FigureList(page, manifest, tuple(figures))
        if not warned:
            return self, files, listed
        by_section = {
            section: tuple(replace(c, warning=warned[c.id]) if c.id in warned else c for c in items)
            for section, items in self.charts.items()
        }
        return replace(self, charts=by_section), files, listed

    def _eta_named(self, chart: Chart) -> Chart:
        """A chart that follows the η menu says in its figure's title and caption which η the
        file shows (a file has no menu)."""
        if self.initial_eta is None or _with_eta(chart, self.initial_eta) is chart:
            return chart
        at = f"η = {format_eta(self.initial_eta)}"
        note = f"{chart.note}; at {at}" if chart.note else f"at {at}"
        title = chart.title.replace("the selected η", at)
        return replace(chart, title=title if title != chart.title else f"{title} ({at})", note=note)


def _unbind_eta(node: Any) -> None:
    """Outside a page there is no η menu: keep the parameter, drop its external binding."""
    if isinstance(node, dict):
        for param in node.get("params", ()) if isinstance(node.get("params"), list) else ():
            if isinstance(param, dict) and param.get("name") == charts.ETA_PARAM:
                param.pop("bind", None)
        for value in node.values():
            _unbind_eta(value)
    elif isinstance(node, list):
        for value in node:
            _unbind_eta(value)


def collect(results: Mapping[str, Sequence[ChartResult]], initial_eta: float | None) -> ChartSet:
    by_section: dict[str, tuple[Chart, ...]] = {}
    datasets: list[Datasets] = []
    for section, items in results.items():
        placed = []
        for chart, data in items:
            if initial_eta is not None:
                chart = _with_eta(chart, initial_eta)
            placed.append(chart)
            datasets.append(data)
        if placed:
            by_section[section] = tuple(placed)
    return ChartSet(by_section, charts.merge_datasets(*datasets), initial_eta)


def _with_eta(chart: Chart, eta: float) -> Chart:
    """The chart starting at η = ``eta`` when it follows the η menu; unchanged otherwise."""
    try:
        spec = charts.with_initial_eta(chart.spec, eta)
    except ValueError:
        return chart
    return Chart(chart.id, chart.title, chart.description, spec, chart.datasets, chart.note)


def norm_of(run: Run) -> Norm:
    return "per token" if run.normalization.true_mode == "per_token" else "per sequence"


def run_charts(analysis: RunAnalysis, max_points: int) -> ChartSet:
    builders: dict[str, Callable[[RunAnalysis, int], list[ChartResult]]] = {
        "eta": _eta_charts,
        "per-sequence": _per_sequence_charts,
        "snis": _snis_charts,
        "tails": _tail_charts,
        "cv": _cv_charts,
        "clip": clip_charts,
    }
    results = {
        section: _optional_charts(section, build, analysis, max_points)
        for section, build in builders.items()
    }
    etas = [c.eta for c in analysis.contributions]
    return collect(results, etas[-1] if etas else None)


def _optional_charts(
    section: str,
    build: Callable[[RunAnalysis, int], list[ChartResult]],
    analysis: RunAnalysis,
    max_points: int,
) -> list[ChartResult]:
    """A section's charts; one that cannot be drawn (say, values near the float limit that no
    histogram can bin) is left out with a warning, and the page and its tables still render."""
    try:
        return build(analysis, max_points)
    except (ValueError, OverflowError, FloatingPointError) as exc:
        log.warning(
            "run %s: %s charts left out: %s: %s", analysis.run.ref.id, section,
            type(exc).__name__, exc,
        )  # fmt: skip
        return []


def _eta_charts(analysis: RunAnalysis, max_points: int) -> list[ChartResult]:
    rows = analysis.summaries
    if not rows:
        return []
    columns = (
        [r.eta for r in rows],
        [r.delta_h_true for r in rows],
        [r.delta_h_linear for r in rows],
        [r.delta_h_linquad for r in rows],
    )
    found = [analysis.uncertainty.at(r.eta) for r in rows]
    se = (
        [u.se_true if u is not None else None for u in found],
        [u.se_linear if u is not None else None for u in found],
        [u.se_linquad if u is not None else None for u in found],
    )
    norm = norm_of(analysis.run)
    return [
        charts.eta_curve(*columns, se=se, norm=norm),
        charts.eta_curve(*columns, se=se, norm=norm, y_scale="log"),
    ]


def _per_sequence_charts(analysis: RunAnalysis, max_points: int) -> list[ChartResult]:
    contributions = analysis.contributions
    if not contributions:
        return []
    norm = norm_of(analysis.run)
    etas = [c.eta for c in contributions]
    # the centred decomposition where every η has h_base: the spread is the change, not the
    # sequences' differing base entropies (the histograms keep the guide's contributions)
    centred = all(c.centred is not None for c in contributions)
    true = [c.centred if c.centred is not None and centred else c.true_contrib
            for c in contributions]  # fmt: skip
    table = charts.per_seq_table(
        etas,
        true,
        [c.linear for c in contributions],
        [c.quad for c in contributions],
        [c.token_count for c in contributions],
        max_points=max_points,
    )
    results = [
        charts.contribution_histograms(
            etas,
            [c.true_contrib for c in contributions],
            [c.linear for c in contributions],
            [c.linquad for c in contributions],
            norm=norm,
        )
    ]
    if any(c.linear is not None for c in contributions):
        results.append(_noted(charts.true_vs_linear(table, norm=norm, centred=centred), table.note))
        errors = [t - c.linear if c.linear is not None else None
                  for t, c in zip(true, contributions, strict=True)]  # fmt: skip
        results.append(charts.error_histogram(etas, errors, norm=norm, centred=centred))
    if any(c.quad is not None for c in contributions):
        results.append(_noted(charts.quad_vs_linear(table, norm=norm), table.note))
    return results


def _noted(result: ChartResult, note: str | None) -> ChartResult:
    chart, data = result
    if note is None:
        return result
    return Chart(chart.id, chart.title, chart.description, chart.spec, chart.datasets, note), data


def _snis_charts(analysis: RunAnalysis, max_points: int) -> list[ChartResult]:
    snis = analysis.run.snis
    if snis is None or not snis.entries:
        return []
    entries = snis.entries
    etas = [e.eta for e in entries]
    results = []
    if any(e.normalized_weights is not None for e in entries):
        weights = [e.normalized_weights for e in entries]
        log_weights = [e.log_weights for e in entries]
        results.append(charts.weight_distributions(etas, weights, log_weights, quantity="weights"))
        if any(lw is not None for lw in log_weights):
            results.append(
                charts.weight_distributions(etas, weights, log_weights, quantity="log-weights")
            )
    if any(e.h_new is not None for e in entries):  # the notebooks' integrand histograms
        sums = ([e.h_base for e in entries], [e.h_new for e in entries])
        results.append(integrand_histograms(etas, sums, which="sums"))
    if any(e.delta_h_seq is not None for e in entries):
        deltas = ([e.delta_h_seq for e in entries],)
        results.append(integrand_histograms(etas, deltas, which="delta"))
    fractions = [s.ess_fraction for s in analysis.summaries]
    if any(f is not None for f in fractions):
        results.append(charts.ess_curve([s.eta for s in analysis.summaries], fractions))
    if any(e.logweight_min is not None for e in entries):
        results.append(
            charts.logweight_range(
                etas,
                [e.logweight_min for e in entries],
                [e.logweight_median for e in entries],
                [e.logweight_max for e in entries],
            )
        )
    return results


def _tail_charts(analysis: RunAnalysis, max_points: int) -> list[ChartResult]:
    """The ratios of the tail table (``run_sections.tail_why``), drawn at the page's selected η:
    only when every η shows one (at an η that shows none the chart would be empty, and the
    table says why)."""
    rows = tail_rows(analysis)
    if not rows:
        return []
    shown = {r.eta for r in rows if r.shown_ratio is not None or r.shown_linquad_ratio is not None}
    if shown != {r.eta for r in rows}:
        return []
    chart = charts.tail_ratio(
        [r.eta for r in rows],
        [r.method for r in rows],
        [r.quantile for r in rows],
        [r.shown_ratio for r in rows],
        [r.shown_linquad_ratio for r in rows],
    )
    return [chart]


def _cv_charts(analysis: RunAnalysis, max_points: int) -> list[ChartResult]:
    cv = analysis.run.cv
    if cv is None or not cv.features:
        return []
    names = [f.name for f in cv.features]
    corr = [f.corr for f in cv.features]
    ratio = [f.var_after_cv for f in cv.features]
    rows = cv_rows(cv.features, analysis.supplement.cv)  # the SEs the feature table shows
    ses = {"corr_se": [r.corr_se for r in rows], "var_ratio_se": [r.var_ratio.se for r in rows]}
    return [
        charts.cv_bars(names, corr, ratio, metric="correlation", **ses),
        charts.cv_bars(names, corr, ratio, metric="variance-ratio", **ses),
    ]
