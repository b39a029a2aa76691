"""Chart kinds the experiment kinds share: a parity scatter against y = x, curves and series
over η, horizontal bars, a spectrum, and a scatter against a feature chosen in a menu (the
heatmap is in heatmap.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reportgen.charts.core import (
    Chart,
    ColumnValues,
    Datasets,
    Spec,
    bar_rows,
    columnar,
    make_chart,
    with_initial_eta,
)
from reportgen.charts.encodings import (
    ETA_FILTER,
    eta_param,
    eta_tooltip,
    eta_x,
    finish,
    layered,
    named,
    reference_rule,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    NEUTRAL,
    SERIES_COLORS,
    run_palette,
)
from reportgen.charts.spec_cache import cached_spec

ChartResult = tuple[Chart, Datasets]
ACCENT = SERIES_COLORS[1]


# --- a parity scatter at the selected η --------------------------------------------------------


def eta_parity(
    chart_id: str,
    etas: ColumnValues,
    x: ColumnValues,
    y: ColumnValues,
    labels: Sequence[str],
    *,
    title: str,
    description: str,
    x_title: str,
    y_title: str,
    initial_eta: float | None = None,
) -> ChartResult:
    """Points (x, y) of the η chosen in the page's η menu, with the dashed y = x line; the
    chart starts at ``initial_eta`` (what it shows offline, before the menu sets it)."""
    data = columnar(
        eta=np.asarray(etas, dtype=np.float64),
        x=np.asarray(x, dtype=np.float64),
        y=np.asarray(y, dtype=np.float64),
        label=list(labels),
    )
    spec = _parity_spec(chart_id, title, description, x_title, y_title)
    if initial_eta is not None:
        spec = with_initial_eta(spec, initial_eta)
    return make_chart(chart_id, spec), {chart_id: data}


@cached_spec
def _parity_spec(name: str, title: str, description: str, x_title: str, y_title: str) -> Spec:
    data, flatten = named(name, "eta", "x", "y", "label")
    points = (
        alt.Chart()
        .mark_circle(size=60, opacity=0.8, color=NEUTRAL)
        .encode(
            x=alt.X("x:Q", title=x_title),
            y=alt.Y("y:Q", title=y_title),
            tooltip=[
                alt.Tooltip("label:N", title="direction"),
                eta_tooltip(),
                value_tooltip("x", x_title),
                value_tooltip("y", y_title),
            ],
        )
    )
    diagonal = (
        alt.Chart()
        .transform_aggregate(a="min(x)", b="min(y)", c="max(x)", d="max(y)")
        .transform_calculate(lo="min(datum.a, datum.b)", hi="max(datum.c, datum.d)")
        .mark_rule(color=ACCENT, strokeDash=[6, 3])
        .encode(
            x=alt.X("lo:Q", title=x_title),
            y=alt.Y("lo:Q", title=y_title),
            x2="hi:Q",
            y2="hi:Q",
            tooltip=alt.value("y = x"),
        )
    )
    chart = (
        layered(data, flatten, diagonal, points)
        .transform_filter(ETA_FILTER)
        .transform_filter("isFinite(datum.x) && isFinite(datum.y)")
        .add_params(eta_param())
    )
    return finish(chart, title, description)


# --- curves over η -----------------------------------------------------------------------------


def eta_curves(
    chart_id: str,
    etas: ColumnValues,
    items: Sequence[str],
    values: ColumnValues,
    fitted: ColumnValues,
    *,
    title: str,
    description: str,
    y_title: str,
    item_title: str,
    note: str | None = None,
) -> ChartResult:
    """Measured values (points and solid lines) and a fitted value (dashed) over η, one colour
    per item (a direction, a series)."""
    count = len(set(items))
    data = columnar(
        eta=np.asarray(etas, dtype=np.float64),
        item=list(items),
        value=np.asarray(values, dtype=np.float64),
        fitted=np.asarray(fitted, dtype=np.float64),
    )
    spec = _curves_spec(chart_id, title, description, y_title, item_title, _colors(count))
    return make_chart(chart_id, spec, note=note), {chart_id: data}


def _colors(count: int) -> int:
    return 10 if count <= 10 else 1 << (count - 1).bit_length()


@cached_spec
def _curves_spec(
    name: str, title: str, description: str, y_title: str, item_title: str, colors: int
) -> Spec:
    data, flatten = named(name, "eta", "item", "value", "fitted")
    color = alt.Color(
        "item:N",
        title=item_title,
        scale=alt.Scale(range=list(run_palette(colors))),
        legend=alt.Legend(orient="bottom", columns=4, symbolLimit=0, labelLimit=0),
    )
    x = eta_x("linear")
    y = alt.Y("value:Q", title=y_title)
    tooltip = [
        alt.Tooltip("item:N", title=item_title),
        eta_tooltip(),
        value_tooltip("value", "measured"),
        value_tooltip("fitted", "fitted"),
    ]
    base = alt.Chart().transform_filter("isFinite(datum.value)")
    line = base.mark_line().encode(x=x, y=y, color=color)
    points = base.mark_point(filled=True, size=45).encode(x=x, y=y, color=color, tooltip=tooltip)
    fit = (
        alt.Chart()
        .transform_filter("isFinite(datum.fitted)")
        .mark_line(strokeDash=[4, 3], opacity=0.7)
        .encode(x=x, y=alt.Y("fitted:Q", title=y_title), color=color)
    )
    chart = layered(data, flatten, reference_rule(0, "y", y_title), fit, line, points)
    return finish(chart, title, description)


def eta_series(
    chart_id: str,
    etas: ColumnValues,
    series: Sequence[str],
    values: ColumnValues,
    errors: ColumnValues,
    *,
    title: str,
    description: str,
    y_title: str,
    order: Sequence[str] = (),
) -> ChartResult:
    """A few named series over a log η axis; ``errors`` (± 2 SE, NaN: none) as error bars.

    Colours follow ``order`` (the legend's order; default: first appearance); rows are drawn
    in data order, so the series listed last in the data is drawn on top.
    """
    names = tuple(dict.fromkeys([*order, *series]))
    data = columnar(
        eta=np.asarray(etas, dtype=np.float64),
        series=list(series),
        value=np.asarray(values, dtype=np.float64),
        error=np.asarray(errors, dtype=np.float64),
    )
    spec = _series_spec(chart_id, title, description, y_title, names)
    return make_chart(chart_id, spec), {chart_id: data}


@cached_spec
def _series_spec(
    name: str, title: str, description: str, y_title: str, names: tuple[str, ...]
) -> Spec:
    data, flatten = named(name, "eta", "series", "value", "error")
    palette = (NEUTRAL, ACCENT, SERIES_COLORS[2], "#59a14f", "#b07aa1")
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=list(names), range=list(palette[: len(names)])),
        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=0),
    )
    x = eta_x("log")
    y = alt.Y("value:Q", title=y_title)
    base = alt.Chart().transform_filter("isFinite(datum.value)")
    line = base.mark_line().encode(x=x, y=y, color=color)
    points = base.mark_point(filled=True, size=50).encode(
        x=x,
        y=y,
        color=color,
        shape=alt.Shape("series:N", legend=None),
        tooltip=[
            alt.Tooltip("series:N", title="series"),
            eta_tooltip(),
            value_tooltip("value", y_title),
            value_tooltip("error", "± 2 SE"),
        ],
    )
    bars = (
        alt.Chart()
        .transform_filter("isFinite(datum.value) && isFinite(datum.error)")
        .transform_calculate(lo="datum.value - datum.error", hi="datum.value + datum.error")
        .mark_rule(strokeWidth=2)
        .encode(x=x, y=alt.Y("lo:Q", title=y_title), y2="hi:Q", color=color)
    )
    chart = layered(data, flatten, reference_rule(0, "y", y_title), line, bars, points)
    return finish(chart, title, description)


# --- bars, spectra and feature scatters ---------------------------------------------------------


def bars(
    chart_id: str,
    labels: Sequence[str],
    values: ColumnValues,
    marks: ColumnValues,
    *,
    title: str,
    description: str,
    x_title: str,
    mark_title: str,
) -> ChartResult:
    """One horizontal bar per label, with a tick per bar at ``marks`` (a reference value)."""
    n = len(labels)
    data = columnar(
        label=list(labels),
        value=np.asarray(values, dtype=np.float64),
        mark=np.asarray(marks, dtype=np.float64),
    )
    spec = bar_rows(_bars_spec(chart_id, title, description, x_title, mark_title), n)
    return make_chart(chart_id, spec), {chart_id: data}


@cached_spec
def _bars_spec(name: str, title: str, description: str, x_title: str, mark_title: str) -> Spec:
    data, flatten = named(name, "label", "value", "mark")
    y = alt.Y("label:N", title=None, sort=None)
    tooltip = [
        alt.Tooltip("label:N", title="prompt"),
        value_tooltip("value", x_title),
        value_tooltip("mark", mark_title),
    ]
    bar = (
        alt.Chart()
        .mark_bar(color=ACCENT)
        .encode(x=alt.X("value:Q", title=x_title), y=y, tooltip=tooltip)
    )
    tick = (
        alt.Chart()
        .transform_filter("isFinite(datum.mark)")
        .mark_tick(color=SERIES_COLORS[2], thickness=3)
        .encode(x=alt.X("mark:Q", title=x_title), y=y, tooltip=tooltip)
    )
    return finish(layered(data, flatten, bar, tick), title, description)


def spectrum(chart_id: str, shares: ColumnValues, *, title: str, description: str) -> ChartResult:
    """λₖ / Σλ against k on a log axis (only positive shares are drawn)."""
    values = np.asarray(shares, dtype=np.float64)
    data = columnar(k=np.arange(1, values.size + 1, dtype=np.int64), share=values)
    return make_chart(chart_id, _spectrum_spec(chart_id, title, description)), {chart_id: data}


@cached_spec
def _spectrum_spec(name: str, title: str, description: str) -> Spec:
    data, flatten = named(name, "k", "share")
    y = alt.Y(
        "share:Q",
        title="λₖ / Σλ (log scale)",
        scale=alt.Scale(type="log"),
        axis=alt.Axis(format="~e"),
    )
    x = alt.X("k:Q", title="k (eigenvalues, largest first)", axis=alt.Axis(tickMinStep=1))
    base = alt.Chart().transform_filter("isFinite(datum.share) && datum.share > 0")
    line = base.mark_line(color=ACCENT).encode(x=x, y=y)
    points = base.mark_point(filled=True, size=35, color=ACCENT).encode(
        x=x, y=y, tooltip=[value_tooltip("k", "k"), value_tooltip("share", "λₖ / Σλ")]
    )
    return finish(layered(data, flatten, line, points), title, description)


def feature_scatter(
    chart_id: str,
    features: Sequence[str],
    x: ColumnValues,
    y: ColumnValues,
    labels: Sequence[str],
    *,
    title: str,
    description: str,
    y_title: str,
) -> ChartResult:
    """y against one feature at a time, chosen in a menu inside the chart."""
    data = columnar(
        feature=list(features),
        x=np.asarray(x, dtype=np.float64),
        y=np.asarray(y, dtype=np.float64),
        label=list(labels),
    )
    names = tuple(dict.fromkeys(features))
    spec = _feature_spec(chart_id, description, y_title, names)
    return make_chart(chart_id, spec, title=title), {chart_id: data}


@cached_spec
def _feature_spec(name: str, description: str, y_title: str, names: tuple[str, ...]) -> Spec:
    data, flatten = named(name, "feature", "x", "y", "label")
    pick = alt.param(
        name="feature",
        value=names[0],
        bind=alt.binding_select(options=list(names), name="feature "),
    )
    points = (
        alt.Chart()
        .mark_circle(size=60, opacity=0.8, color=NEUTRAL)
        .encode(
            x=alt.X("x:Q", title="feature value", scale=alt.Scale(zero=False)),
            y=alt.Y("y:Q", title=y_title),
            tooltip=[
                alt.Tooltip("label:N", title="direction"),
                alt.Tooltip("feature:N"),
                value_tooltip("x", "feature value"),
                value_tooltip("y", y_title),
            ],
        )
    )
    chart = (
        layered(data, flatten, points)
        .transform_filter("datum.feature === feature && isFinite(datum.x) && isFinite(datum.y)")
        .add_params(pick)
    )
    return finish(chart, "Feature scatter", description)
