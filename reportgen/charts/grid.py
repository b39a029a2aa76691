"""The paper's small multiples: ΔH_true with its interval, linear and lin+quad against η, one
panel per run of a population, on shared axes (the users' ``readme_figures`` grid)."""

from __future__ import annotations

from collections.abc import Sequence

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
from reportgen.charts.encodings import (
    ETA_FORMAT,
    ETA_PADDING_PX,
    LABEL_PX,
    add_tooltip_formats,
    delta_h_title,
    eta_tooltip,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import SERIES, series_encodings
from reportgen.charts.run import Z95
from reportgen.charts.spec_cache import cached_spec

APPROXIMATIONS_GRID = "approximations-grid"
GRID_COLUMNS = 2
CELL_PX = 120
CELL_HEIGHT_PX = 130
TITLE_LIMIT_PX = 2 * CELL_PX + 80  # with the padding, within a 390 px phone's 329 px figure
_KEYS = ("true", "linear", "linquad")
_COLUMNS = ("run", "eta", *(f"{p}{k}" for p in ("", "ci95_low_", "ci95_high_") for k in _KEYS))


def approximations_grid(
    runs: Sequence[str],
    etas: ColumnValues,
    values: tuple[ColumnValues | None, ColumnValues | None, ColumnValues | None],
    ses: tuple[ColumnValues | None, ColumnValues | None, ColumnValues | None],
    *,
    population: str,
    norm: Norm = "per token",
) -> tuple[Chart, Datasets]:
    """One panel per run (rows of ``runs``/``etas``; ``values`` and ``ses`` are true, linear,
    lin+quad), each series with its 95 % interval (±1.96·SE); the caption names the
    population and the η range."""
    n = len(runs)
    columns: dict[str, object] = {"run": list(runs), "eta": as_float(etas, n)}
    centres = {k: as_float(v, n) for k, v in zip(_KEYS, values, strict=True)}
    halves = {k: Z95 * as_float(s, n) for k, s in zip(_KEYS, ses, strict=True)}
    columns |= centres
    columns |= {f"ci95_low_{k}": centres[k] - halves[k] for k in _KEYS}
    columns |= {f"ci95_high_{k}": centres[k] + halves[k] for k in _KEYS}
    present = tuple(s for s, k in zip(SERIES, _KEYS, strict=True) if np.isfinite(centres[k]).any())
    lows = np.stack([centres[k] - halves[k] for k in _KEYS])
    intervals = bool((np.isfinite(lows) & (as_float(etas, n) > 0)).any())
    spec = _grid_spec(norm, present, intervals)
    eta = as_float(etas, n)
    shown = eta[np.isfinite(eta) & (eta > 0)]
    low, high = (
        (numfmt.format_number(float(f(shown))) for f in (np.min, np.max))
        if shown.size
        else ("", "")
    )
    span = f"η {low} to {high}" if shown.size else "no η > 0"
    note = f"population {population}; {len(set(runs))} runs; {span}"
    return make_chart(APPROXIMATIONS_GRID, spec, note=note), {
        APPROXIMATIONS_GRID: columnar(**columns)  # type: ignore[arg-type]
    }


@cached_spec
def _grid_spec(norm: Norm, present: tuple[str, ...], intervals: bool = True) -> Spec:
    channels = series_encodings(present or SERIES)
    y_title = delta_h_title(norm)
    base = (
        alt.Chart()
        .transform_fold(list(_KEYS), as_=["key", "value"])
        .transform_calculate(
            series="datum.key === 'linquad' ? 'lin+quad' : datum.key",
            lo="datum['ci95_low_' + datum.key]",
            hi="datum['ci95_high_' + datum.key]",
        )
        .transform_filter("isFinite(datum.value) && datum.eta > 0")
    )
    x = alt.X(
        "eta:Q",
        title="η (log scale)",
        scale=alt.Scale(type="log", nice=False, padding=ETA_PADDING_PX),
        axis=alt.Axis(format=ETA_FORMAT, labelOverlap="greedy", labelSeparation=8),
    )
    is_true = "datum.key === 'true'"
    bars = (
        base.transform_filter("isFinite(datum.lo) && isFinite(datum.hi)")
        .mark_rule()
        .encode(
            x=x,
            y=alt.Y("lo:Q", title=y_title),
            y2="hi:Q",
            color=channels["color"],
            strokeWidth=alt.condition(is_true, alt.value(6), alt.value(1.5)),
            opacity=alt.condition(is_true, alt.value(0.3), alt.value(0.9)),
        )
    )
    line = base.mark_line().encode(
        x=x, y=alt.Y("value:Q", title=y_title), color=channels["color"],
        strokeDash=channels["strokeDash"],
    )  # fmt: skip
    tooltip = [eta_tooltip(), value_tooltip("value", "ΔH"), value_tooltip("lo", "95 % low")]
    points = base.mark_point(filled=True, size=25).encode(
        x=x, y=alt.Y("value:Q", title=y_title), color=channels["color"],
        shape=channels["shape"], tooltip=[*tooltip, value_tooltip("hi", "95 % high")],
    )  # fmt: skip
    layer = alt.LayerChart(layer=[bars, line, points] if intervals else [line, points]).properties(
        width=CELL_PX, height=CELL_HEIGHT_PX
    )
    chart = alt.FacetChart(
        data=alt.NamedData(name=APPROXIMATIONS_GRID),
        spec=layer,
        facet=alt.Facet("run:N", title=None, header=alt.Header(labelLimit=0)),
        columns=GRID_COLUMNS,
    ).transform_flatten(list(_COLUMNS))
    description = (
        f"Small multiples, one panel per run on shared axes: the ground truth ΔH_true ({norm}, "
        "wide pale bar: its 95 % interval) and the linear and lin+quad approximations (thin "
        "bars: theirs, ±1.96 SE) against η on a log axis."
    )
    return _finish_facet(chart, "ΔH per run", description)


def _finish_facet(chart: alt.FacetChart, title: str, description: str) -> Spec:
    spec: Spec = (
        chart.properties(title=title, description=description)
        .configure(
            background="transparent",
            legend=alt.LegendConfig(
                symbolOpacity=1, labelFontSize=LABEL_PX, titleFontSize=LABEL_PX
            ),
            axis=alt.AxisConfig(
                labelFontSize=LABEL_PX,
                titleFontSize=LABEL_PX,
                labelExpr=numfmt.vega_label_expr(),
            ),
            axisQuantitative=alt.AxisConfig(tickCount=4),
            header=alt.HeaderConfig(labelFontSize=LABEL_PX),
            # a facet grows with its title: a long population label is elided at a phone's
            # width (the caption and the figure index keep it whole)
            title=alt.TitleConfig(fontSize=LABEL_PX + 1, limit=TITLE_LIMIT_PX),
        )
        .to_dict(validate=False)
    )
    return add_tooltip_formats(spec)
