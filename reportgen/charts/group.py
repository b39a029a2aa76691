"""Chart kinds of the group page: one mark or line per run, and spreads across runs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import numpy as np

from reportgen import numfmt
from reportgen.charts.core import (
    AXIS_PX,
    LABEL_PX,
    MAX_SERIES,
    METHOD,
    NEUTRAL,
    SERIES,
    SERIES_COLORS,
    Chart,
    Columns,
    ColumnValues,
    Datasets,
    Norm,
    RunLegend,
    Spec,
    add_tooltip_formats,
    as_float,
    bar_rows,
    cached_spec,
    clamp_note,
    clamp_outliers,
    columnar,
    delta_h_title,
    eta_tooltip,
    eta_x,
    finish,
    layered,
    log_axis,
    make_chart,
    method_dash,
    named,
    picking,
    quantile_x,
    reference_rule,
    run_color,
    run_legend,
    run_opacity,
    series_encodings,
    value_tooltip,
    with_key,
)
from reportgen.charts.data import whole_numbers
from reportgen.charts.lazy import alt

GROUP_OVERLAY = "group-overlay"
GROUP_BAND = "group-band"
FIT_POINTS = "fit-points"
FIT_LINES = "fit-lines"
RELATIVE_ERROR = "relative-error"
BATCH_HIST = "batch-comparison-hist"
BATCH_MARKS = "batch-comparison-marks"
GROUP_TAIL = "group-tail"
CV_GROUP = "cv-group"

BATCH_KINDS = ("smaller run", "full run")


def _run_tooltip() -> alt.Tooltip:
    return alt.Tooltip("run:N", title="run")


# --- 11. overlay -----------------------------------------------------------------------------


def group_overlay(
    runs: Sequence[str],
    etas: ColumnValues,
    true: ColumnValues,
    *,
    eta_scale: Literal["log", "linear"] = "log",
    norm: Norm = "per token",
) -> tuple[Chart, Datasets]:
    """ΔH_true against η, one line per run; both η-scale variants share one dataset."""
    n = len(runs)
    series = len(set(runs))
    if series > MAX_SERIES:
        # Too many lines for one legend (colours would repeat): small multiples, one panel per
        # parent directory, each with its own colour scale and legend.
        panels = [r.rpartition("/")[0] or "(top level)" for r in runs]
        data = columnar(run=list(runs), eta=as_float(etas, n), true=as_float(true, n), panel=panels)
        note = f"{series} runs: one panel per directory, colours per panel"
        per_panel = [_panel_legend([r for r, q in zip(runs, panels, strict=True) if q == panel])
                     for panel in set(panels)]  # fmt: skip
        legend = RunLegend(max(p.colors for p in per_panel), max(p.label_px for p in per_panel))
        spec = _overlay_facet_spec(eta_scale, norm, legend)
        return make_chart(f"group-overlay-{eta_scale}", spec, note), {GROUP_OVERLAY: data}
    data = columnar(run=list(runs), eta=as_float(etas, n), true=as_float(true, n))
    spec = _overlay_spec(eta_scale, norm, run_legend(runs))
    return make_chart(f"group-overlay-{eta_scale}", spec), {GROUP_OVERLAY: data}


def _panel_legend(runs: Sequence[str]) -> RunLegend:
    return run_legend([r.rpartition("/")[2] for r in runs])


FACET_CELL_PX = 280


@cached_spec
def _overlay_facet_spec(eta_scale: Literal["log", "linear"], norm: Norm, legend: RunLegend) -> Spec:
    encoding = {
        "x": eta_x(eta_scale),
        "y": alt.Y("true:Q", title=delta_h_title(norm, "ΔH_true")),
        # each panel its own scale: distinct colours within a panel, legends of short names
        "color": run_color(legend, field="run_label", width=str(FACET_CELL_PX + AXIS_PX)),
    }
    line = alt.Chart().mark_line().encode(**encoding)
    points = (
        alt.Chart()
        .mark_point(filled=True, size=30)
        .encode(
            tooltip=[_run_tooltip(), eta_tooltip(), value_tooltip("true", "ΔH true")], **encoding
        )
    )
    valid = "isFinite(datum['true'])" + (" && datum.eta > 0" if eta_scale == "log" else "")
    layer = alt.LayerChart(layer=[line, points]).properties(width=FACET_CELL_PX, height=200)
    chart = (
        alt.FacetChart(
            data=alt.NamedData(name=GROUP_OVERLAY),
            spec=layer,
            facet=alt.Facet("panel:N", title=None, header=alt.Header(labelLimit=0)),
            columns=2,
        )
        .transform_flatten(["run", "eta", "true", "panel"])
        .transform_filter(valid)
        .transform_calculate(run_label="slice(datum.run, length(datum.panel) + 1)")
        .resolve_scale(color="independent", y="independent")
    )
    axis = "log" if eta_scale == "log" else "linear"
    description = (
        f"Ground-truth entropy change ΔH_true ({norm}) against η on a {axis} axis, one panel per "
        "directory of runs, one coloured line per run within a panel."
    )
    spec: Spec = (
        chart.properties(title=f"ΔH_true vs η per run ({axis} η)", description=description)
        .configure(
            background="transparent",
            legend=alt.LegendConfig(
                symbolOpacity=1, labelFontSize=LABEL_PX, titleFontSize=LABEL_PX
            ),
            axis=alt.AxisConfig(
                labelFontSize=LABEL_PX, titleFontSize=LABEL_PX, labelExpr=numfmt.vega_label_expr()
            ),
            header=alt.HeaderConfig(labelFontSize=LABEL_PX),
        )
        .to_dict(validate=False)
    )
    return add_tooltip_formats(spec)


@cached_spec
def _overlay_spec(eta_scale: Literal["log", "linear"], norm: Norm, legend: RunLegend) -> Spec:
    data, flatten = named(GROUP_OVERLAY, "run", "eta", "true")
    encoding = {
        "x": eta_x(eta_scale),
        "y": alt.Y("true:Q", title=delta_h_title(norm, "ΔH_true")),
        "color": run_color(legend),
        "opacity": run_opacity(),
    }
    line = alt.Chart().mark_line().encode(**encoding)
    points = picking(
        alt.Chart()
        .mark_point(filled=True, size=40)
        .encode(
            tooltip=[_run_tooltip(), eta_tooltip(), value_tooltip("true", "ΔH true")], **encoding
        )
    )
    valid = "isFinite(datum['true'])" + (" && datum.eta > 0" if eta_scale == "log" else "")
    chart = layered(data, flatten, line, points).transform_filter(valid)
    axis = "log" if eta_scale == "log" else "linear"
    description = (
        f"Ground-truth entropy change ΔH_true ({norm}) against η on a {axis} axis, one coloured "
        "line per run of the group."
    )
    return finish(chart, f"ΔH_true vs η per run ({axis} η)", description)


# --- 12. mean ± std band ---------------------------------------------------------------------


def group_band(
    etas: ColumnValues,
    mean_true: ColumnValues,
    std_true: ColumnValues,
    mean_linear: ColumnValues | None = None,
    mean_linquad: ColumnValues | None = None,
    *,
    norm: Norm = "per token",
) -> tuple[Chart, Datasets]:
    """Mean ± std of ΔH_true across runs per η, with the mean approximations as lines."""
    n = len(etas)
    columns = {
        "eta": as_float(etas, n),
        "mean_true": as_float(mean_true, n),
        "std_true": as_float(std_true, n),
        "mean_linear": as_float(mean_linear, n),
        "mean_linquad": as_float(mean_linquad, n),
    }
    keys = ("mean_true", "mean_linear", "mean_linquad")
    present = tuple(s for s, k in zip(SERIES, keys, strict=True) if np.isfinite(columns[k]).any())
    spread = bool(np.isfinite(columns["std_true"]).any())  # one run: no std, no band layer
    chart = make_chart("group-band", _band_spec(norm, present, spread))
    return chart, {GROUP_BAND: columnar(**columns)}


@cached_spec
def _band_spec(norm: Norm, present: tuple[str, ...], spread: bool = True) -> Spec:
    data, flatten = named(GROUP_BAND, "eta", "mean_true", "std_true", "mean_linear", "mean_linquad")
    y_title = delta_h_title(norm, "mean ΔH")
    tooltip = [
        eta_tooltip(),
        value_tooltip("mean_true", "mean true"),
        value_tooltip("std_true", "std true"),
        value_tooltip("mean_linear", "mean linear"),
        value_tooltip("mean_linquad", "mean lin+quad"),
    ]
    band = (
        alt.Chart()
        .transform_filter("isFinite(datum.mean_true) && isFinite(datum.std_true)")
        .transform_calculate(
            lo="datum.mean_true - datum.std_true", hi="datum.mean_true + datum.std_true"
        )
        .mark_area(color=SERIES_COLORS[0], opacity=0.25)
        .encode(x=eta_x(), y=alt.Y("lo:Q", title=y_title), y2="hi:Q", tooltip=tooltip)
    )
    channels = series_encodings(present or SERIES)
    means = (
        alt.Chart()
        .transform_fold(["mean_true", "mean_linear", "mean_linquad"], as_=["key", "value"])
        .transform_calculate(
            series="{mean_true: 'true', mean_linear: 'linear', mean_linquad: 'lin+quad'}[datum.key]"
        )
        .transform_filter("isFinite(datum.value)")
    )
    y = alt.Y("value:Q", title=y_title)
    lines = means.mark_line().encode(
        x=eta_x(), y=y, color=channels["color"], strokeDash=channels["strokeDash"]
    )
    points = means.mark_point(filled=True, size=40).encode(
        x=eta_x(), y=y, color=channels["color"], shape=channels["shape"], tooltip=tooltip
    )
    layers = (band, lines, points) if spread else (lines, points)
    chart = layered(data, flatten, *layers).transform_filter("datum.eta > 0")
    description = (
        f"Mean ground-truth ΔH ({norm}) across the group's runs per η with a shaded band of "
        "± one standard deviation, and the mean linear and lin+quad approximations as lines."
        + ("" if spread else " One run: no spread to shade.")
    )
    return finish(chart, "ΔH vs η across runs: mean ± std", description)


# --- 13. power-law fits ----------------------------------------------------------------------


def fit_chart(
    runs: Sequence[str],
    etas: ColumnValues,
    true: ColumnValues,
    fit_runs: Sequence[str],
    slopes: ColumnValues,
    intercepts: ColumnValues,
    *,
    log_base: float = 10.0,
    samples: int = 50,
    norm: Norm = "per token",
) -> tuple[Chart, Datasets]:
    """|ΔH_true| against η on log–log axes with each run's fit log|ΔH| = a + b·log η.

    The fitted line is sampled at ``samples`` log-spaced η over the run's own data range.
    """
    n = len(runs)
    run_list, eta_arr, true_arr = list(runs), as_float(etas, n), as_float(true, n)
    points = columnar(run=run_list, eta=eta_arr, true=true_arr, abs_true=np.abs(true_arr))
    lines = _fit_lines(run_list, eta_arr, fit_runs, slopes, intercepts, log_base, samples)
    spec = _fit_spec(norm, run_legend(run_list))
    return make_chart("fit-chart", spec), {FIT_POINTS: points, FIT_LINES: lines}


def _fit_lines(
    runs: list[str],
    etas: np.ndarray,
    fit_runs: Sequence[str],
    slopes: ColumnValues,
    intercepts: ColumnValues,
    log_base: float,
    samples: int,
) -> Columns:
    m = len(fit_runs)
    slope_arr, intercept_arr = as_float(slopes, m), as_float(intercepts, m)
    names: list[str] = []
    parts: list[tuple[np.ndarray, np.ndarray, float, float]] = []
    run_arr = np.asarray(runs, dtype=object)
    for run, slope, intercept in zip(fit_runs, slope_arr, intercept_arr, strict=True):
        own = etas[(run_arr == run) & np.isfinite(etas) & (etas > 0)]
        if own.size == 0 or not (np.isfinite(slope) and np.isfinite(intercept)):
            continue
        grid = np.geomspace(own.min(), own.max(), samples if own.max() > own.min() else 1)
        fitted = log_base ** (intercept + slope * np.log(grid) / np.log(log_base))
        names.extend([run] * grid.size)
        parts.append((grid, fitted, float(slope), float(intercept)))

    def column(i: int) -> np.ndarray:
        return (
            np.concatenate([np.broadcast_to(p[i], p[0].shape) for p in parts])
            if parts
            else np.zeros(0)
        )

    return columnar(
        run=names, eta=column(0), fitted=column(1), slope=column(2), intercept=column(3)
    )


@cached_spec
def _fit_spec(norm: Norm, legend: RunLegend) -> Spec:
    y_title = delta_h_title(norm, "|ΔH_true|") + ", log scale"
    y_scale = alt.Scale(type="log")
    points_data, points_flatten = named(FIT_POINTS, "run", "eta", "true", "abs_true")
    points = picking(
        alt.Chart(points_data, transform=points_flatten)
        .transform_filter("datum.abs_true > 0 && datum.eta > 0")
        .mark_point(filled=True, size=45)
        .encode(
            x=eta_x(),
            y=alt.Y("abs_true:Q", title=y_title, scale=y_scale, axis=log_axis()),
            color=run_color(legend),
            opacity=run_opacity(),
            tooltip=[_run_tooltip(), eta_tooltip(), value_tooltip("true", "ΔH true")],
        )
    )
    lines_data, lines_flatten = named(FIT_LINES, "run", "eta", "fitted", "slope", "intercept")
    lines = (
        alt.Chart(lines_data, transform=lines_flatten)
        .mark_line(strokeDash=[6, 3])
        .encode(
            x=eta_x(),
            y=alt.Y("fitted:Q", title=y_title, scale=y_scale),
            color=run_color(legend),
            opacity=run_opacity(),
            detail="run:N",
            tooltip=[
                _run_tooltip(),
                value_tooltip("slope", "slope"),
                value_tooltip("intercept", "intercept"),
            ],
        )
    )
    description = (
        f"Magnitude of ΔH_true ({norm}) against η on log–log axes per run (points) with the "
        "run's fitted power law (dashed line); the slope is the exponent of η."
    )
    return finish(alt.layer(lines, points), "Power-law fit of |ΔH_true| vs η", description)


# --- 15. relative error ----------------------------------------------------------------------


def relative_error_chart(
    runs: Sequence[str], etas: ColumnValues, rel_err: ColumnValues
) -> tuple[Chart, Datasets]:
    """1 − linear/true per run and η, with the across-run spread per η."""
    n = len(runs)
    raw = as_float(rel_err, n)
    shown, clamped, fences = clamp_outliers(raw)
    data = columnar(
        run=list(runs), eta=as_float(etas, n), rel_err=raw, shown=shown, clamped=clamped
    )
    note = clamp_note(clamped, fences, "relative errors")
    spec = _relative_error_spec(run_legend(runs))
    chart = make_chart("relative-error-chart", spec, note=note)
    return chart, {RELATIVE_ERROR: data}


@cached_spec
def _relative_error_spec(legend: RunLegend) -> Spec:
    data, flatten = named(RELATIVE_ERROR, "run", "eta", "rel_err", "shown", "clamped")
    y_title = "1 − linear / true"
    points = picking(
        alt.Chart()
        .mark_point(size=50)
        .encode(
            x=eta_x(),
            y=alt.Y("shown:Q", title=y_title),
            color=run_color(legend),
            opacity=run_opacity(0.9),
            # a clamped point is an open triangle at the edge: never mistaken for its value
            shape=alt.Shape(
                "clamped:N",
                scale=alt.Scale(domain=[False, True], range=["circle", "triangle"]),
                legend=None,
            ),
            fill=alt.condition("datum.clamped", alt.value("transparent"), run_color(legend)),
            tooltip=[_run_tooltip(), eta_tooltip(), value_tooltip("rel_err", y_title)],
        )
    )
    spread = alt.Chart().transform_aggregate(
        lo="min(shown)", hi="max(shown)", mean="median(rel_err)", runs="count()", groupby=["eta"]
    )
    spread_tooltip = [
        eta_tooltip(),
        value_tooltip("lo", "min (shown)"),
        value_tooltip("mean", "median"),
        value_tooltip("hi", "max (shown)"),
        value_tooltip("runs", "runs"),
    ]
    rule = spread.mark_rule(color=NEUTRAL, strokeWidth=2).encode(
        x=eta_x(), y=alt.Y("lo:Q", title=y_title), y2="hi:Q", tooltip=spread_tooltip
    )
    tick = spread.mark_tick(color=NEUTRAL, orient="horizontal", thickness=2, size=18).encode(
        x=eta_x(), y=alt.Y("mean:Q", title=y_title), tooltip=spread_tooltip
    )
    chart = layered(
        data, flatten, reference_rule(0, "y", y_title), rule, tick, points
    ).transform_filter("isFinite(datum.rel_err) && datum.eta > 0")
    description = (
        "Relative error 1 − linear/true per run (coloured points) against η on a log axis, with "
        "the across-run range (grey rule, minimum to maximum) and median (grey tick) per η."
    )
    return finish(chart, "Relative error of the linear approximation", description)


# --- 16. batch-size comparison ---------------------------------------------------------------


def batch_comparison_chart(
    edges: ColumnValues,
    counts: ColumnValues,
    small_runs: Sequence[str],
    small_values: ColumnValues,
    full_value: float | None,
    *,
    small_size: int,
    large_size: int,
    eta: float,
    key: str | None = None,
) -> tuple[Chart, Datasets]:
    """Histogram of err_rel over B=small subsamples of the large runs, with actual values.

    Several comparisons fit on one page: the chart id and dataset names carry ``key``
    (default: derived from the sizes and η).
    """
    edge_arr = as_float(edges, len(edges))
    hist = columnar(
        bin_start=edge_arr[:-1],
        bin_end=edge_arr[1:],
        count=whole_numbers(as_float(counts, len(edges) - 1)),
    )
    m = len(small_runs)
    marks = columnar(
        kind=[BATCH_KINDS[0]] * m + ([BATCH_KINDS[1]] if full_value is not None else []),
        run=list(small_runs) + ([f"B = {large_size}"] if full_value is not None else []),
        value=np.append(as_float(small_values, m), [] if full_value is None else [full_value]),
    )
    title = f"err_rel of B = {small_size} subsamples of B = {large_size} runs at η = {eta:.3g}"
    chart = make_chart("batch-comparison", _batch_spec(), title=title)
    datasets = {BATCH_HIST: hist, BATCH_MARKS: marks}
    return with_key(chart, datasets, key or _slug(f"b{small_size}-b{large_size}-eta{eta:.3g}"))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


@cached_spec
def _batch_spec() -> Spec:
    x_title = "err_rel (relative error of the linear estimate)"
    hist_data, hist_flatten = named(BATCH_HIST, "bin_start", "bin_end", "count")
    bars = (
        alt.Chart(hist_data, transform=hist_flatten)
        .mark_bar(color=NEUTRAL, opacity=0.6, binSpacing=0)
        .encode(
            x=alt.X("bin_start:Q", title=x_title, bin="binned"),
            x2="bin_end:Q",
            y=alt.Y("count:Q", title="subsamples"),
            tooltip=[
                value_tooltip("bin_start", "from"),
                value_tooltip("bin_end", "to"),
                value_tooltip("count", "subsamples"),
            ],
        )
    )
    marks_data, marks_flatten = named(BATCH_MARKS, "kind", "run", "value")
    kinds = list(BATCH_KINDS)
    rules = (
        alt.Chart(marks_data, transform=marks_flatten)
        .mark_rule(strokeWidth=2)
        .encode(
            x=alt.X("value:Q", title=x_title),
            color=alt.Color(
                "kind:N",
                title=None,
                scale=alt.Scale(domain=kinds, range=[SERIES_COLORS[1], SERIES_COLORS[2]]),
                legend=alt.Legend(orient="top"),
            ),
            strokeDash=alt.StrokeDash(
                "kind:N", title=None, scale=alt.Scale(domain=kinds, range=[[1, 0], [6, 3]])
            ),
            tooltip=[
                alt.Tooltip("kind:N", title="kind"),
                _run_tooltip(),
                value_tooltip("value", "err_rel"),
            ],
        )
    )
    description = (
        "Histogram of the relative error err_rel over random subsamples of the large-batch runs "
        "at the smaller batch size, with rules at the smaller runs' actual err_rel (solid) and "
        "the full large-batch run's value (dashed)."
    )
    return finish(alt.layer(bars, rules), "err_rel of subsamples vs actual runs", description)


# --- 17. tail ratio per run ------------------------------------------------------------------


def group_tail_chart(
    runs: Sequence[str], methods: Sequence[str], quantiles: ColumnValues, ratios: ColumnValues
) -> tuple[Chart, Datasets]:
    """linear / true against the kept weight quantile, one line per run and method."""
    n = len(runs)
    data = columnar(
        run=list(runs),
        method=list(methods),
        quantile=as_float(quantiles, n),
        ratio=as_float(ratios, n),
    )
    spec = _group_tail_spec(run_legend(runs))
    return make_chart("group-tail-chart", spec), {GROUP_TAIL: data}


@cached_spec
def _group_tail_spec(legend: RunLegend) -> Spec:
    data, flatten = named(GROUP_TAIL, "run", "method", "quantile", "ratio")
    y_title = "linear / true"
    encoding = {
        "x": quantile_x(),
        "y": alt.Y("ratio:Q", title=y_title, scale=alt.Scale(zero=False)),
        "color": run_color(legend),
        "opacity": run_opacity(),
        "detail": alt.Detail("method:N"),
    }
    lines = alt.Chart().mark_line().encode(strokeDash=method_dash(), **encoding)
    points = picking(
        alt.Chart()
        .mark_point(filled=True, size=40)
        .encode(
            tooltip=[
                _run_tooltip(),
                alt.Tooltip("method:N", title=METHOD),
                value_tooltip("quantile", "kept quantile"),
                value_tooltip("ratio", y_title),
            ],
            **encoding,
        )
    )
    chart = layered(data, flatten, reference_rule(1, "y", y_title), lines, points)
    description = (
        "Ratio of the linear approximation to the SNIS truth when the sequences with the largest "
        "|linear| contributions are truncated or clipped at a kept quantile, one line per run and "
        "method; 1 is agreement."
    )
    return finish(chart, "Tail sensitivity per run", description)


# --- 18. control variates across runs --------------------------------------------------------


def cv_group_chart(
    features: Sequence[str],
    corr_mean: ColumnValues,
    corr_min: ColumnValues,
    corr_max: ColumnValues,
    var_ratio_mean: ColumnValues,
    var_ratio_min: ColumnValues,
    var_ratio_max: ColumnValues,
    *,
    metric: Literal["correlation", "variance-ratio"] = "correlation",
) -> tuple[Chart, Datasets]:
    """Per feature mean correlation or variance ratio with min–max bars across runs."""
    n = len(features)
    values = (corr_mean, corr_min, corr_max, var_ratio_mean, var_ratio_min, var_ratio_max)
    names = ("corr_mean", "corr_min", "corr_max", "var_mean", "var_min", "var_max")
    columns = {name: as_float(v, n) for name, v in zip(names, values, strict=True)}
    data = columnar(feature=list(features), **columns)
    return make_chart(f"cv-group-{metric}", bar_rows(_cv_group_spec(metric), n)), {CV_GROUP: data}


@cached_spec
def _cv_group_spec(metric: Literal["correlation", "variance-ratio"]) -> Spec:
    prefix = "corr" if metric == "correlation" else "var"
    data, flatten = named(
        CV_GROUP, "feature", "corr_mean", "corr_min", "corr_max", "var_mean", "var_min", "var_max"
    )
    if metric == "correlation":
        x_title, rule_at, title = "correlation with g·v", 0.0, "Control variates across runs"
        scale = alt.Scale(domain=[-1, 1])
    else:
        x_title, rule_at = "variance after CV / before (1 = no gain)", 1.0
        title, scale = "Control-variate variance ratio across runs", alt.Scale()
    y = alt.Y("feature:N", title="feature", sort=None)
    tooltip = [
        alt.Tooltip("feature:N", title="feature"),
        value_tooltip(f"{prefix}_mean", "mean"),
        value_tooltip(f"{prefix}_min", "min"),
        value_tooltip(f"{prefix}_max", "max"),
    ]
    x = alt.X(f"{prefix}_mean:Q", title=x_title, scale=scale)
    bars = alt.Chart().mark_bar(color=SERIES_COLORS[1]).encode(x=x, y=y, tooltip=tooltip)
    whiskers = (
        alt.Chart()
        .mark_rule(color=NEUTRAL, strokeWidth=2)
        .encode(
            x=alt.X(f"{prefix}_min:Q", title=x_title), x2=f"{prefix}_max:Q", y=y, tooltip=tooltip
        )
    )
    chart = layered(data, flatten, bars, whiskers, reference_rule(rule_at, "x", x_title))
    description = (
        f"{title}: per regression feature the mean over runs (bar) and the range from minimum "
        "to maximum (grey rule)."
    )
    return finish(chart, title, description)
