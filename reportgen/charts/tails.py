"""Tail sensitivity: approximation / truth against the kept weight quantile."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reportgen.charts.agreement import slug
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
    ETA_FILTER,
    eta_param,
    eta_tooltip,
    finish,
    layered,
    named,
    reference_rule,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import RUN_COLORS, SERIES, series_color
from reportgen.charts.spec_cache import cached_spec

TAIL_RATIO = "tail-ratio"
GROUP_TAIL = "group-tail"


# --- shared by the run and group tail charts -------------------------------------------------

METHOD = "tail handling"
METHODS = ("truncated", "clipped")  # as the group's tail rows name them (analysis.tails.MODES)


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
    """Approximation / true against the kept weight quantile, at the selected η: point
    estimates with no SE (a ratio the run page does not show is ``None``, and not drawn).

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
        "η; 1: the estimate equals the truth. Point estimates of a sensitivity analysis, without "
        "standard errors (not judged), drawn only where ΔH_true is resolved from zero at that η "
        "(truncation below q = 1 only where the run has per-sequence base entropies: the run "
        "page's table says why)."
    )
    return finish(chart, "Tail sensitivity at the selected η (point estimates, no SE)", description)


# --- 17. tail ratio across a population's runs ---------------------------------------------


def group_tail_chart(
    methods: Sequence[str],
    etas: ColumnValues,
    quantiles: ColumnValues,
    mean: ColumnValues,
    se: ColumnValues,
    *,
    population: str,
    key: str,
    note: str | None = None,
) -> tuple[Chart, Datasets]:
    """Mean linear/true over the runs whose ΔH_true is resolved, against the kept quantile, with
    ± one standard error across those runs; one line per method (and η)."""
    n = len(methods)
    centre, error = as_float(mean, n), as_float(se, n)
    data = columnar(
        method=list(methods),
        eta=as_float(etas, n),
        quantile=as_float(quantiles, n),
        ratio=centre,
        se=error,
        lo=centre - error,
        hi=centre + error,
    )
    title = f"Tail sensitivity across runs ({population})"
    chart = make_chart("group-tail-chart", _group_tail_spec(), note, title=title)
    return with_key(chart, {GROUP_TAIL: data}, slug(key))


@cached_spec
def _group_tail_spec() -> Spec:
    data, flatten = named(GROUP_TAIL, "method", "eta", "quantile", "ratio", "se", "lo", "hi")
    y_title = "mean linear / true"
    common = {
        "x": quantile_x(),
        # the two methods' bars side by side, not on top of each other
        "xOffset": alt.XOffset("method:N", sort=list(METHODS)),
        "color": alt.Color(
            "method:N", title=METHOD, scale=alt.Scale(domain=list(METHODS), range=RUN_COLORS[:2])
        ),
        "detail": alt.Detail("eta:Q"),
    }
    y = alt.Y("ratio:Q", title=y_title, scale=alt.Scale(zero=False))
    dash = alt.StrokeDash(
        "method:N", title=METHOD, scale=alt.Scale(domain=list(METHODS), range=[[1, 0], [6, 3]])
    )
    lines = alt.Chart().mark_line().encode(y=y, strokeDash=dash, **common)
    bars = alt.Chart().mark_rule().encode(y=alt.Y("lo:Q", title=y_title), y2="hi:Q", **common)
    points = (
        alt.Chart()
        .mark_point(filled=True, size=50)
        .encode(
            y=alt.Y("ratio:Q", title=y_title),
            tooltip=[
                alt.Tooltip("method:N", title=METHOD),
                eta_tooltip(),
                value_tooltip("quantile", "kept quantile"),
                value_tooltip("ratio", y_title),
                value_tooltip("se", "± SE across runs"),
            ],
            **common,
        )
    )
    chart = layered(data, flatten, reference_rule(1, "y", y_title), lines, bars, points)
    description = (
        "Mean over the runs whose ΔH_true is resolved from zero of the ratio of the linear "
        "approximation to the SNIS truth, when the sequences with the largest |linear| "
        "contributions are truncated or clipped at a kept quantile, with ± one standard error "
        "across those runs; 1: the approximation equals the truth."
    )
    return finish(chart, "Tail sensitivity across runs", description)
