"""Chart kinds of the paired verdict: z of linear − true by η, with the ±1 and ±2 SE bands."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from reportgen import numfmt
from reportgen.charts.core import (
    Chart,
    ColumnValues,
    Datasets,
    Spec,
    as_float,
    columnar,
    make_chart,
    with_key,
)
from reportgen.charts.encodings import (
    eta_tooltip,
    eta_x,
    finish,
    log_axis,
    named,
    reference_description,
    value_tooltip,
    z_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    NEUTRAL,
    RunLegend,
    picking,
    run_color,
    run_legend,
    run_opacity,
)
from reportgen.charts.spec_cache import cached_spec

PAIRED_Z = "paired-z"
Z_TITLE = "z = (linear − true) / paired SE"


def paired_z_chart(
    runs: Sequence[str],
    etas: ColumnValues,
    z: ColumnValues,
    diff: ColumnValues,
    se: ColumnValues,
    *,
    population: str,
    key: str,
) -> tuple[Chart, Datasets]:
    """z of linear − true per run and η of one population, against the ±1 and ±2 bands.

    z is scale-free, so every η's error bar is as visible as every other's (raw differences
    shrink with η and their bars vanish on a shared axis).
    """
    n = len(runs)
    data = columnar(
        run=list(runs),
        eta=as_float(etas, n),
        z=as_float(z, n),
        diff=as_float(diff, n),
        se=as_float(se, n),
    )
    title = f"Paired z of linear − true by η ({population})"
    chart = make_chart("paired-z", _paired_z_spec(run_legend(runs)), title=title)
    return with_key(chart, {PAIRED_Z: data}, slug(key))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "all"


def _band(sigmas: float, opacity: float) -> alt.Chart:
    """A horizontal band ±sigmas over the whole width (one row from aggregating the data)."""
    band: alt.Chart = (
        alt.Chart()
        .transform_aggregate(n="count()")
        .transform_calculate(lo=repr(-sigmas), hi=repr(sigmas))
        .mark_rect(color=NEUTRAL, opacity=opacity)
        .encode(
            y=alt.Y("lo:Q", title=Z_TITLE),
            y2="hi:Q",
            tooltip=alt.value(None),
            description=reference_description(Z_TITLE, -sigmas, sigmas),
        )
    )
    return band


@cached_spec
def _paired_z_spec(legend: RunLegend) -> Spec:
    data, flatten = named(PAIRED_Z, "run", "eta", "z", "diff", "se")
    zero = (
        alt.Chart()
        .transform_aggregate(n="count()")
        .transform_calculate(ref="0")
        .mark_rule(color=NEUTRAL, strokeDash=[4, 4])
        .encode(
            y=alt.Y("ref:Q", title=Z_TITLE),
            tooltip=alt.value(None),
            description=reference_description(Z_TITLE, 0),
        )
    )
    encoding = {"x": eta_x(), "y": alt.Y("z:Q", title=Z_TITLE), "color": run_color(legend)}
    lines = alt.Chart().mark_line().encode(opacity=run_opacity(0.5), **encoding)
    points = picking(
        alt.Chart()
        .mark_point(filled=True, size=50)
        .encode(
            opacity=run_opacity(),
            tooltip=[
                alt.Tooltip("run:N", title="run"),
                eta_tooltip(),
                z_tooltip("z", "z"),
                value_tooltip("diff", "linear − true"),
                value_tooltip("se", "paired SE"),
            ],
            **encoding,
        )
    )
    chart = alt.LayerChart(
        data=data,
        transform=[*flatten, alt.FilterTransform(filter="isFinite(datum.z) && datum.eta > 0")],
        layer=[_band(2.0, 0.12), _band(1.0, 0.18), zero, lines, points],
    )
    description = (
        "Difference between the linear approximation and the SNIS truth divided by its paired "
        "standard error, per run (colour) against η on a log axis. The darker band is |z| ≤ 1, "
        "the lighter |z| ≤ 2. A point beyond |z| = 1.96 disagrees; one inside is not shown to "
        "agree (a wide SE hides any difference: see the run's verdict)."
    )
    return finish(chart, "Paired z of linear − true by η", description)


# --- the notebooks' remaining analyses, with their intervals ---------------------------------

PARITY = "parity"
QUAD_HELP = "quad-help"
SQUARE_PX = 360
LOG_FLOOR = 20.0  # on log axes a bar reaching zero is cut at value / LOG_FLOOR (noted)


def log_bar(values: ColumnValues, se: ColumnValues, n: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(lo, hi, cut) of |value| ± se for a log axis; ``cut`` counts bars cut at value/20."""
    v, s = np.abs(as_float(values, n)), as_float(se, n)
    s = np.where(np.isfinite(s), s, 0.0)  # no SE: no bar (the chart's note says so)
    lo, hi = v - s, v + s
    cut = (lo <= 0) & (v > 0)
    lo = np.where(cut, v / LOG_FLOOR, lo)
    return lo, hi, int(cut.sum())


def parity_chart(
    runs: Sequence[str],
    series: Sequence[str],
    true: ColumnValues,
    se_true: ColumnValues,
    approx: ColumnValues,
    se_approx: ColumnValues,
    *,
    population: str,
    key: str,
    etas: ColumnValues | None = None,
) -> tuple[Chart, Datasets]:
    """|approx| against |true| on square log–log axes with y = x, ± one SE bars on both and
    each η labelled once."""
    n = len(runs)
    x_lo, x_hi, cut_x = log_bar(true, se_true, n)
    y_lo, y_hi, cut_y = log_bar(approx, se_approx, n)
    data = columnar(
        run=list(runs),
        series=list(series),
        eta=as_float(etas, n),
        x=np.abs(as_float(true, n)),
        x_lo=x_lo,
        x_hi=x_hi,
        y=np.abs(as_float(approx, n)),
        y_lo=y_lo,
        y_hi=y_hi,
    )
    cut = cut_x + cut_y
    missing = int(
        (~np.isfinite(as_float(se_true, n))).sum() + (~np.isfinite(as_float(se_approx, n))).sum()
    )
    notes = []
    if cut:
        notes.append(f"{cut} bars reach zero: drawn down to 1/{LOG_FLOOR:g} of the value")
    if missing:
        notes.append(f"{missing} values have no standard error (no bar)")
    note = "; ".join(notes) or None
    spec = _parity_spec(run_legend(runs))
    chart = make_chart("parity", spec, note, title=f"|approx| vs |true| ({population})")
    return with_key(chart, {PARITY: data}, slug(key))


def _eta_labels(x: alt.X, y: alt.Y) -> Any:
    """Each η once, beside its rightmost linear point: runs at one η would print it on each
    other. The text size is the theme's (11 px on a page, 15 px in a paper figure)."""
    return (
        alt.Chart()
        .transform_filter("datum.series === 'linear' && isFinite(datum.eta)")
        .transform_window(
            rank="row_number()", groupby=["eta"], sort=[alt.SortField("x", "descending")]
        )
        .transform_filter("datum.rank === 1")
        .transform_calculate(label=numfmt.vega_eta_expr("datum.eta"))
        .mark_text(align="left", dx=7, dy=-7, color=NEUTRAL)
        .encode(x=x, y=y, text="label:N")
    )


@cached_spec
def _parity_spec(legend: RunLegend) -> Spec:
    data, flatten = named(PARITY, "run", "series", "eta", "x", "x_lo", "x_hi", "y", "y_lo", "y_hi")
    log = alt.Scale(type="log")
    x_title, y_title = "|ΔH_true| (log scale)", "|ΔH approx| (log scale)"
    x = alt.X("x:Q", title=x_title, scale=log, axis=log_axis())
    y = alt.Y("y:Q", title=y_title, scale=log, axis=log_axis())
    shape = alt.Shape("series:N", title="approximation", legend=alt.Legend(orient="top"))
    tooltip = [
        alt.Tooltip("run:N", title="run"),
        alt.Tooltip("series:N", title="approximation"),
        value_tooltip("x", "|true|"),
        value_tooltip("y", "|approx|"),
    ]
    runs = {"color": run_color(legend), "opacity": run_opacity()}
    x_bar = alt.Chart().mark_rule().encode(x=alt.X("x_lo:Q", title=x_title, scale=log),
                                           x2="x_hi:Q", y=y, **runs)  # fmt: skip
    y_bar = alt.Chart().mark_rule().encode(y=alt.Y("y_lo:Q", title=y_title, scale=log),
                                           y2="y_hi:Q", x=x, **runs)  # fmt: skip
    # hollow marks: a lin+quad circle under a linear square stays visible
    points = picking(
        alt.Chart()
        .mark_point(filled=False, size=70, strokeWidth=1.8)
        .encode(x=x, y=y, shape=shape, tooltip=[*tooltip, eta_tooltip()], **runs)
    )
    labels = _eta_labels(x, y)
    diagonal = (
        alt.Chart()
        .transform_aggregate(lo="min(x_lo)", hi="max(x_hi)", ylo="min(y_lo)", yhi="max(y_hi)")
        .transform_calculate(a="min(datum.lo, datum.ylo)", b="max(datum.hi, datum.yhi)")
        .transform_fold(["a", "b"], as_=["end", "v"])
        .mark_line(color=NEUTRAL, strokeDash=[4, 4])
        .encode(
            x=alt.X("v:Q", title=x_title, scale=log),
            y=alt.Y("v:Q", title=y_title, scale=log),
            tooltip=alt.value(None),
        )
    )
    chart = alt.LayerChart(
        data=data,
        transform=[*flatten, alt.FilterTransform(filter="datum.x > 0 && datum.y > 0")],
        layer=[diagonal, x_bar, y_bar, points, labels],
    )
    description = (
        "Magnitude of each approximation against the magnitude of ΔH_true per run and η on "
        "square log–log axes, with ± one standard error bars on both (horizontal: se_true, "
        "vertical: se of the approximation), the dashed line y = x (approximation = truth) and "
        "each η labelled once (at its rightmost linear point); hollow marks, so coinciding "
        "points stay visible."
    )
    spec = finish(chart, "|approx| vs |true|", description, height=SQUARE_PX)
    spec["usermeta"] = {"aspect": "square"}  # a figure file keeps it square (export.themed)
    return spec


def quad_help_chart(
    runs: Sequence[str], etas: ColumnValues, z: ColumnValues, *, population: str, key: str
) -> tuple[Chart, Datasets]:
    """z of |linquad − true| − |linear − true| per run and η (negative: the quad term helps)."""
    n = len(runs)
    data = columnar(run=list(runs), eta=as_float(etas, n), z=as_float(z, n))
    title = f"Does the quadratic term help? ({population})"
    chart = make_chart("quad-help", _quad_help_spec(run_legend(runs)), title=title)
    return with_key(chart, {QUAD_HELP: data}, slug(key))


@cached_spec
def _quad_help_spec(legend: RunLegend) -> Spec:
    data, flatten = named(QUAD_HELP, "run", "eta", "z")
    y_title = "z of |linquad − true| − |linear − true|"
    encoding = {"x": eta_x(), "y": alt.Y("z:Q", title=y_title), "color": run_color(legend)}
    points = picking(alt.Chart().mark_point(filled=True, size=50).encode(
        tooltip=[alt.Tooltip("run:N", title="run"), eta_tooltip(), z_tooltip("z", "z")],
        opacity=run_opacity(), **encoding,
    ))  # fmt: skip
    bands = [
        b.encode(y=alt.Y("lo:Q", title=y_title), y2="hi:Q")
        for b in (_band(2.0, 0.12), _band(1.0, 0.18))
    ]
    chart = alt.LayerChart(
        data=data,
        transform=[*flatten, alt.FilterTransform(filter="isFinite(datum.z) && datum.eta > 0")],
        layer=[
            *bands,
            alt.Chart().mark_line().encode(opacity=run_opacity(0.5), **encoding),
            points,
        ],
    )
    description = (
        "Change in absolute error when the quadratic term is added, divided by its paired "
        "standard error, per run against η: below the bands (z < −2) lin+quad is significantly "
        "closer to ΔH_true, inside them the difference is within noise."
    )
    return finish(chart, "Does the quadratic term help?", description)
