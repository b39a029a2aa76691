"""Chart kinds of the group page: ΔH per run, its spread across runs, relative errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from reportgen import numfmt
from reportgen.charts.core import (
    Chart,
    ColumnValues,
    Datasets,
    Norm,
    Spec,
    as_float,
    columnar,
    make_chart,
)
from reportgen.charts.data import (
    outlier_fences,
    symlog_constant,
    symlog_note,
)
from reportgen.charts.encodings import (
    LABEL_PX,
    add_tooltip_formats,
    delta_h_title,
    derived_description,
    eta_tooltip,
    eta_x,
    finish,
    layered,
    named,
    reference_rule,
    run_tooltip,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    AXIS_PX,
    MAX_SERIES,
    NEUTRAL,
    SERIES,
    SERIES_COLORS,
    RunLegend,
    picking,
    run_color,
    run_legend,
    run_opacity,
    series_encodings,
)
from reportgen.charts.spec_cache import cached_spec

GROUP_OVERLAY = "group-overlay"
GROUP_BAND = "group-band"
RELATIVE_ERROR = "relative-error"


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
            tooltip=[run_tooltip(), eta_tooltip(), value_tooltip("true", "ΔH true")], **encoding
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
            tooltip=[run_tooltip(), eta_tooltip(), value_tooltip("true", "ΔH true")], **encoding
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
    # the band's edges are data, so the figure's CSV carries every value it plots
    columns["lo_true"] = columns["mean_true"] - columns["std_true"]
    columns["hi_true"] = columns["mean_true"] + columns["std_true"]
    keys = ("mean_true", "mean_linear", "mean_linquad")
    present = tuple(s for s, k in zip(SERIES, keys, strict=True) if np.isfinite(columns[k]).any())
    spread = bool(np.isfinite(columns["std_true"]).any())  # one run: no std, no band layer
    chart = make_chart("group-band", _band_spec(norm, present, spread))
    return chart, {GROUP_BAND: columnar(**columns)}


@cached_spec
def _band_spec(norm: Norm, present: tuple[str, ...], spread: bool = True) -> Spec:
    data, flatten = named(
        GROUP_BAND,
        *("eta", "mean_true", "std_true", "mean_linear", "mean_linquad", "lo_true", "hi_true"),
    )
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
        .transform_filter("isFinite(datum.lo_true) && isFinite(datum.hi_true)")
        .mark_area(color=SERIES_COLORS[0], opacity=0.25)
        .encode(x=eta_x(), y=alt.Y("lo_true:Q", title=y_title), y2="hi_true:Q", tooltip=tooltip)
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


# --- 15. relative error ----------------------------------------------------------------------

Z95 = 1.959963984540054


def relative_error_chart(
    runs: Sequence[str],
    etas: ColumnValues,
    rel_err: ColumnValues,
    se: ColumnValues | None = None,
) -> tuple[Chart, Datasets]:
    """(linear − true)/|true| per run and η with its 95 % interval (±1.96·SE), and the
    across-run spread per η; far-out values put the y axis on a symlog scale, never clamped."""
    n = len(runs)
    raw = as_float(rel_err, n)
    half = Z95 * as_float(se, n)
    outside, fences = outlier_fences(raw)
    constant = symlog_constant(fences) if fences is not None else None
    data = columnar(
        run=list(runs), eta=as_float(etas, n), rel_err=raw, se=half / Z95,
        ci95_low=raw - half, ci95_high=raw + half,
    )  # fmt: skip
    note = symlog_note(outside, constant, "relative errors") if constant is not None else None
    drawable = np.isfinite(raw - half) & np.isfinite(raw + half) & (as_float(etas, n) > 0)
    spec = _relative_error_spec(run_legend(runs), constant, bool(drawable.any()))
    chart = make_chart("relative-error-chart", spec, note=note)
    return chart, {RELATIVE_ERROR: data}


@cached_spec
def _relative_error_spec(
    legend: RunLegend, symlog: float | None = None, intervals: bool = True
) -> Spec:
    data, flatten = named(RELATIVE_ERROR, "run", "eta", "rel_err", "se", "ci95_low", "ci95_high")
    y_title = "(linear − true) / |true|"
    scale = alt.Scale(type="symlog", constant=symlog) if symlog is not None else alt.Undefined
    tooltip = [run_tooltip(), eta_tooltip(), value_tooltip("rel_err", y_title)]
    tooltip += [value_tooltip("se", "SE"), value_tooltip("ci95_low", "95 % low")]
    tooltip += [value_tooltip("ci95_high", "95 % high")]
    points = picking(
        alt.Chart()
        .mark_point(size=50, filled=True)
        .encode(
            x=eta_x(),
            y=alt.Y("rel_err:Q", title=y_title, scale=scale),
            color=run_color(legend),
            opacity=run_opacity(0.9),
            tooltip=tooltip,
        )
    )
    bars = (
        alt.Chart()
        .transform_filter("isFinite(datum.ci95_low) && isFinite(datum.ci95_high)")
        .mark_rule(strokeWidth=1.5, opacity=0.5)
        .encode(
            x=eta_x(), y=alt.Y("ci95_low:Q", title=y_title, scale=scale), y2="ci95_high:Q",
            color=run_color(legend), tooltip=tooltip,
        )
    )  # fmt: skip
    spread = alt.Chart().transform_aggregate(
        lo="min(rel_err)", hi="max(rel_err)", mean="median(rel_err)", runs="count()",
        groupby=["eta"],
    )  # fmt: skip
    spread_tooltip = [eta_tooltip(), value_tooltip("lo", "min"), value_tooltip("mean", "median")]
    spread_tooltip += [value_tooltip("hi", "max"), value_tooltip("runs", "runs")]
    tick = spread.mark_tick(color=NEUTRAL, orient="horizontal", thickness=2, size=18).encode(
        x=eta_x(),
        y=alt.Y("mean:Q", title=y_title, scale=scale),
        tooltip=spread_tooltip,
        description=derived_description("across-run median per η"),
    )
    chart = layered(
        data, flatten, reference_rule(0, "y", y_title), *([bars] if intervals else []), tick, points
    ).transform_filter("isFinite(datum.rel_err) && datum.eta > 0")
    description = (
        "Relative error of the linear approximation, (linear − true)/|true| (positive: linear "
        "above the truth), per run (coloured points, bars: 95 % interval ±1.96 SE, delta "
        "method) against η on a log axis, with the across-run median per η (grey tick)"
        + ("; symmetric-log y axis." if symlog is not None else ".")
    )
    return finish(chart, "Relative error of the linear approximation", description)
