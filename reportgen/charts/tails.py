"""Tail sensitivity: approximation / truth against the kept weight quantile."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reportgen.charts.core import (
    Chart,
    ColumnValues,
    Datasets,
    Spec,
    as_float,
    columnar,
    make_chart,
)
from reportgen.charts.encodings import (
    ETA_FILTER,
    eta_param,
    finish,
    layered,
    named,
    reference_rule,
    run_tooltip,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    SERIES,
    RunLegend,
    picking,
    run_color,
    run_legend,
    run_opacity,
    series_color,
)
from reportgen.charts.spec_cache import cached_spec

TAIL_RATIO = "tail-ratio"
GROUP_TAIL = "group-tail"


# --- shared by the run and group tail charts -------------------------------------------------

METHOD = "tail handling"


def method_dash() -> alt.StrokeDash:
    """Dash by tail-handling method, with line symbols in the legend."""
    return alt.StrokeDash(
        "method:N", title=METHOD, legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=2)
    )


def quantile_x() -> alt.X:
    return alt.X(
        "quantile:O",
        title="kept quantile of |linear contribution|",
        sort="descending",
        axis=alt.Axis(labelAngle=0),
    )


# --- 9. tail sensitivity ---------------------------------------------------------------------


def tail_ratio(
    etas: ColumnValues,
    methods: Sequence[str],
    quantiles: ColumnValues,
    ratio_linear: ColumnValues,
    ratio_linquad: ColumnValues | None = None,
) -> tuple[Chart, Datasets]:
    """Approximation / true against the kept weight quantile, at the selected η.

    One row per (η, method, quantile). Following the page's η selector keeps one η on screen,
    so colour stays free for the approximation (same colours as everywhere) and dash for method.
    """
    n = len(etas)
    ratios = {"linear": as_float(ratio_linear, n), "lin+quad": as_float(ratio_linquad, n)}
    present = tuple(s for s in SERIES[1:] if np.isfinite(ratios[s]).any())
    data = columnar(
        eta=np.tile(as_float(etas, n), len(present)),
        method=list(methods) * len(present),
        quantile=np.tile(as_float(quantiles, n), len(present)),
        series=[s for s in present for _ in range(n)],
        ratio=np.concatenate([ratios[s] for s in present]) if present else np.zeros(0),
    )
    return make_chart("tail-ratio", _tail_ratio_spec(present)), {TAIL_RATIO: data}


@cached_spec
def _tail_ratio_spec(present: tuple[str, ...]) -> Spec:
    data, flatten = named(TAIL_RATIO, "eta", "method", "quantile", "series", "ratio")
    y_title = "approximation / true"
    encoding = {
        "x": quantile_x(),
        "y": alt.Y("ratio:Q", title=y_title, scale=alt.Scale(zero=False)),
        "color": series_color(present or SERIES[1:], title="ratio to true"),
        "detail": alt.Detail("method:N"),
    }
    lines = alt.Chart().mark_line().encode(strokeDash=method_dash(), **encoding)
    points = (
        alt.Chart()
        .mark_point(filled=True, size=50)
        .encode(
            tooltip=[
                alt.Tooltip("method:N", title=METHOD),
                value_tooltip("quantile", "kept quantile"),
                alt.Tooltip("series:N", title="approximation"),
                value_tooltip("ratio", "ratio to true"),
            ],
            **encoding,
        )
    )
    chart = (
        layered(data, flatten, reference_rule(1, "y", y_title), lines, points)
        .transform_filter(ETA_FILTER)
        .add_params(eta_param())
    )
    description = (
        "Ratio of the linear and lin+quad estimates to the SNIS truth when the sequences with the "
        "largest |linear| contributions are truncated or clipped at a quantile, at the selected "
        "η; 1: the estimate equals the truth."
    )
    return finish(chart, "Tail sensitivity at the selected η", description)


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
                run_tooltip(),
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
        "method; 1: the approximation equals the truth."
    )
    return finish(chart, "Tail sensitivity per run", description)
