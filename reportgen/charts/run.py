"""Chart kinds of the run page; per-sequence kinds follow the page's η selector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from reportgen.charts.core import (
    ETA_FILTER,
    METHOD,
    NEUTRAL,
    SERIES,
    SERIES_COLORS,
    Chart,
    ColumnValues,
    Datasets,
    Norm,
    Spec,
    as_float,
    bar_rows,
    cached_spec,
    columnar,
    delta_h_title,
    eta_param,
    eta_tooltip,
    eta_x,
    finish,
    layered,
    log_axis,
    make_chart,
    method_dash,
    named,
    quantile_x,
    reference_rule,
    series_color,
    series_encodings,
    value_tooltip,
)
from reportgen.charts.data import (
    HISTOGRAM_COLUMNS,
    PER_SEQ,
    PER_SEQ_COLUMNS,
    MaybeArray,
    PerSeqTable,
    concat_columns,
    histogram_rows,
    shared_ranges,
)
from reportgen.charts.lazy import alt

ETA_CURVE = "eta-curve"
CONTRIBUTION_HISTOGRAMS = "contribution-histograms"
ERROR_HISTOGRAM = "error-histogram"
WEIGHT_DISTRIBUTIONS = "weight-distributions"
ESS = "ess"
LOGWEIGHT_RANGE = "logweight-range"
TAIL_RATIO = "tail-ratio"
CV = "cv"

LINEAR_COLOR = SERIES_COLORS[1]
LINQUAD_COLOR = SERIES_COLORS[2]
WEIGHT_LABELS = {"weights": "N·w", "log-weights": "log w"}


def _present(columns: dict[str, np.ndarray], keys: Sequence[str]) -> tuple[str, ...]:
    """Series (in the fixed order) whose column has at least one finite value."""
    return tuple(s for s, k in zip(SERIES, keys, strict=True) if np.isfinite(columns[k]).any())


def _per_eta(values: Sequence[MaybeArray] | None, n: int) -> list[MaybeArray]:
    return [None] * n if values is None else list(values)


# --- 1. ΔH vs η ------------------------------------------------------------------------------


def eta_curve(
    etas: ColumnValues,
    true: ColumnValues | None,
    linear: ColumnValues | None = None,
    linquad: ColumnValues | None = None,
    *,
    norm: Norm = "per token",
    y_scale: Literal["linear", "log"] = "linear",
) -> tuple[Chart, Datasets]:
    """ΔH_true, linear and lin+quad against η; a missing series is left out of the legend.

    ``y_scale="log"`` plots |ΔH| on a log axis, so the small-η end (where the linear regime is
    judged) is not flattened by the large-η values; the tooltip keeps the signed value.
    """
    n = len(etas)
    columns = {
        "eta": as_float(etas, n),
        "true": as_float(true, n),
        "linear": as_float(linear, n),
        "linquad": as_float(linquad, n),
    }
    present = _present(columns, ("true", "linear", "linquad"))
    name = "eta-curve" if y_scale == "linear" else "eta-curve-log"
    spec = _eta_curve_spec(norm, present, y_scale)
    return make_chart(name, spec), {ETA_CURVE: columnar(**columns)}


@cached_spec
def _eta_curve_spec(
    norm: Norm, present: tuple[str, ...], y_scale: Literal["linear", "log"] = "linear"
) -> Spec:
    data, flatten = named(ETA_CURVE, "eta", "true", "linear", "linquad")
    channels = series_encodings(present or SERIES)
    log = y_scale == "log"
    base = (
        alt.Chart()
        .transform_fold(["true", "linear", "linquad"], as_=["key", "value"])
        .transform_calculate(
            series="datum.key === 'linquad' ? 'lin+quad' : datum.key",
            shown="abs(datum.value)" if log else "datum.value",
        )
        .transform_filter(
            "isValid(datum.value) && isFinite(datum.value) && datum.eta > 0"
            + (" && datum.value !== 0" if log else "")
        )
    )
    y_title = f"|{delta_h_title(norm)}| (log scale)" if log else delta_h_title(norm)
    # decades in one notation (1e−7 … 1e−2), not "0.000001" beside "1e-7"
    y = (
        alt.Y("shown:Q", title=y_title, scale=alt.Scale(type="log"), axis=log_axis())
        if log
        else alt.Y("shown:Q", title=y_title)
    )
    line = base.mark_line().encode(
        x=eta_x(), y=y, color=channels["color"], strokeDash=channels["strokeDash"]
    )
    points = base.mark_point(filled=True, size=50).encode(
        x=eta_x(),
        y=y,
        color=channels["color"],
        shape=channels["shape"],
        tooltip=[
            eta_tooltip(),
            value_tooltip("true", "ΔH true"),
            value_tooltip("linear", "ΔH linear"),
            value_tooltip("linquad", "ΔH lin+quad"),
        ],
    )
    layers = (line, points) if log else (reference_rule(0, "y", y_title), line, points)
    chart = layered(data, flatten, *layers)
    description = (
        f"Entropy change ΔH ({norm}) against the learning rate η on a log axis: the SNIS "
        "ground truth (true) and its linear and linear-plus-quadratic approximations"
        + (", as |ΔH| on a log axis (the tooltip gives the signed value)." if log else ".")
    )
    title = "|ΔH| vs η on log–log axes" if log else "ΔH vs η: true and approximations"
    return finish(chart, title, description)


# --- 2. contribution histograms --------------------------------------------------------------


def contribution_histograms(
    etas: Sequence[float],
    true: Sequence[MaybeArray],
    linear: Sequence[MaybeArray] | None = None,
    linquad: Sequence[MaybeArray] | None = None,
    *,
    bins: int = 40,
    norm: Norm = "per token",
) -> tuple[Chart, Datasets]:
    """Per-sequence contributions at the selected η, binned on one range per η."""
    n = len(etas)
    arrays = (list(true), _per_eta(linear, n), _per_eta(linquad, n))
    ranges = shared_ranges(*arrays)
    parts = [
        histogram_rows(etas, name, values, bins, ranges)
        for name, values in zip(SERIES, arrays, strict=True)
    ]
    present = tuple(s for s, part in zip(SERIES, parts, strict=True) if part["series"])
    rows = concat_columns(*parts)
    spec = _contribution_histograms_spec(norm, present)
    return make_chart("contribution-histograms", spec), {CONTRIBUTION_HISTOGRAMS: columnar(**rows)}


def _bin_tooltip() -> list[alt.Tooltip]:
    return [
        alt.Tooltip("series:N", title="series"),
        value_tooltip("bin_start", "from"),
        value_tooltip("bin_end", "to"),
        value_tooltip("count", "sequences"),
    ]


def _histogram_layer(
    x_title: str, color: str, y_scale: Literal["linear", "symlog"] = "linear"
) -> alt.Chart:
    """Pre-binned bars of one series (bin_start → bin_end, count)."""
    bars: alt.Chart = (
        alt.Chart()
        .mark_bar(color=color, opacity=0.8, binSpacing=0)
        .encode(
            x=alt.X("bin_start:Q", title=x_title, bin="binned"),
            x2=alt.X2("bin_end:Q"),
            y=alt.Y(
                "count:Q",
                # a symlog axis says so: its ticks are not evenly spaced
                title="sequences (symlog scale)" if y_scale == "symlog" else "sequences",
                scale=alt.Scale(type=y_scale),
            ),
            tooltip=_bin_tooltip(),
        )
    )
    return bars


@cached_spec
def _contribution_histograms_spec(norm: Norm, present: tuple[str, ...]) -> Spec:
    data, flatten = named(CONTRIBUTION_HISTOGRAMS, *HISTOGRAM_COLUMNS)
    channels = series_encodings(present or SERIES)
    # Step outlines instead of translucent bars: three overlapping fills mix into mud.
    encoding = {
        "x": alt.X("mid:Q", title=delta_h_title(norm, "per-sequence contribution to ΔH")),
        "y": alt.Y("count:Q", title="sequences"),
        "color": channels["color"],
    }
    steps = (
        alt.Chart()
        .mark_line(interpolate="step")
        .encode(strokeDash=channels["strokeDash"], **encoding)
    )
    points = (
        alt.Chart()
        .mark_point(filled=True, size=14)
        .encode(shape=channels["shape"], tooltip=_bin_tooltip(), **encoding)
    )
    chart = (
        layered(data, flatten, steps, points)
        .transform_filter(ETA_FILTER)
        .transform_calculate(mid="(datum.bin_start + datum.bin_end) / 2")
        .add_params(eta_param())
    )
    description = (
        "Histograms of per-sequence contributions to ΔH at the selected η for the true value "
        "and the linear and lin+quad approximations, drawn as step outlines over shared bins."
    )
    return finish(chart, "Per-sequence contributions at the selected η", description)


# --- 3 & 5. per-sequence scatters ------------------------------------------------------------


def _per_seq_tooltip() -> list[alt.Tooltip]:
    return [
        value_tooltip("index", "sequence"),
        value_tooltip("true", "true"),
        value_tooltip("linear", "linear"),
        value_tooltip("quad", "quad"),
        value_tooltip("linquad", "lin+quad"),
        value_tooltip("token_count", "tokens"),
    ]


def true_vs_linear(table: PerSeqTable, *, norm: Norm = "per token") -> tuple[Chart, Datasets]:
    """True contribution against the linear one per sequence, with the y = x line."""
    chart = make_chart("true-vs-linear", _true_vs_linear_spec(norm), note=table.note)
    return chart, {PER_SEQ: columnar(**table.columns)}


@cached_spec
def _true_vs_linear_spec(norm: Norm) -> Spec:
    data, flatten = named(PER_SEQ, *PER_SEQ_COLUMNS)
    x_title = delta_h_title(norm, "linear contribution")
    y_title = delta_h_title(norm, "true contribution")
    points = (
        alt.Chart()
        .mark_circle(size=18, opacity=0.6, color=NEUTRAL)
        .encode(
            x=alt.X("linear:Q", title=x_title),
            y=alt.Y("true:Q", title=y_title),
            tooltip=_per_seq_tooltip(),
        )
    )
    # y = x over the joint range of both axes, computed from the filtered rows.
    diagonal = (
        alt.Chart()
        .transform_aggregate(a="min(true)", b="min(linear)", c="max(true)", d="max(linear)")
        .transform_calculate(lo="min(datum.a, datum.b)", hi="max(datum.c, datum.d)")
        .mark_rule(color=LINEAR_COLOR, strokeDash=[6, 3])
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
        .transform_filter("isFinite(datum['true']) && isFinite(datum.linear)")
        .add_params(eta_param())
    )
    description = (
        "Scatter of each sequence's true contribution (y) against its linear approximation (x) "
        "at the selected η; points on the dashed y = x line are predicted exactly."
    )
    return finish(chart, "True vs linear contribution per sequence", description)


def quad_vs_linear(table: PerSeqTable, *, norm: Norm = "per token") -> tuple[Chart, Datasets]:
    """Quadratic term against linear term per sequence at the selected η."""
    chart = make_chart("quad-vs-linear", _quad_vs_linear_spec(norm), note=table.note)
    return chart, {PER_SEQ: columnar(**table.columns)}


@cached_spec
def _quad_vs_linear_spec(norm: Norm) -> Spec:
    data, flatten = named(PER_SEQ, *PER_SEQ_COLUMNS)
    y_title = delta_h_title(norm, "quadratic term ½η²·vHv")
    points = (
        alt.Chart()
        .mark_circle(size=18, opacity=0.6, color=LINQUAD_COLOR)
        .encode(
            x=alt.X("linear:Q", title=delta_h_title(norm, "linear term η·g·v")),
            y=alt.Y("quad:Q", title=y_title),
            tooltip=_per_seq_tooltip(),
        )
    )
    chart = (
        layered(data, flatten, reference_rule(0, "y", y_title), points)
        .transform_filter(ETA_FILTER)
        .transform_filter("isFinite(datum.quad) && isFinite(datum.linear)")
        .add_params(eta_param())
    )
    description = (
        "Scatter of each sequence's quadratic correction (y) against its linear term (x) at the "
        "selected η; a quadratic term comparable to the linear one means curvature matters."
    )
    return finish(chart, "Quadratic vs linear term per sequence", description)


# --- 4. error histogram ----------------------------------------------------------------------


def error_histogram(
    etas: Sequence[float],
    errors: Sequence[MaybeArray],
    *,
    bins: int = 40,
    norm: Norm = "per token",
) -> tuple[Chart, Datasets]:
    """Histogram of true − linear per sequence at the selected η."""
    rows = histogram_rows(etas, "true − linear", errors, bins)
    return make_chart("error-histogram", _error_histogram_spec(norm)), {
        ERROR_HISTOGRAM: columnar(**rows)
    }


@cached_spec
def _error_histogram_spec(norm: Norm) -> Spec:
    data, flatten = named(ERROR_HISTOGRAM, *HISTOGRAM_COLUMNS)
    x_title = delta_h_title(norm, "true − linear contribution")
    bars = _histogram_layer(x_title, NEUTRAL)
    chart = (
        layered(data, flatten, bars, reference_rule(0, "x", x_title))
        .transform_filter(ETA_FILTER)
        .add_params(eta_param())
    )
    description = (
        "Histogram over sequences of the error of the linear approximation (true minus linear "
        "contribution) at the selected η; the dashed rule marks zero error."
    )
    return finish(chart, "Linear-approximation error per sequence", description)


# --- 6. SNIS weight distributions ------------------------------------------------------------


def weight_distributions(
    etas: Sequence[float],
    normalized_weights: Sequence[MaybeArray],
    log_weights: Sequence[MaybeArray],
    *,
    quantity: Literal["weights", "log-weights"] = "weights",
    bins: int = 40,
) -> tuple[Chart, Datasets]:
    """Distribution of N·w (1 = uniform weight) or of the raw log-weights, per η.

    Both quantities live in one dataset so the two charts of a page share it.
    """
    scaled = [
        None if w is None else np.asarray(w, dtype=np.float64) * len(w) for w in normalized_weights
    ]
    rows = concat_columns(
        histogram_rows(etas, WEIGHT_LABELS["weights"], scaled, bins),
        histogram_rows(etas, WEIGHT_LABELS["log-weights"], log_weights, bins),
    )
    chart_id = "weight-distribution" if quantity == "weights" else "log-weight-distribution"
    return make_chart(chart_id, _weights_spec(quantity)), {WEIGHT_DISTRIBUTIONS: columnar(**rows)}


@cached_spec
def _weights_spec(quantity: Literal["weights", "log-weights"]) -> Spec:
    data, flatten = named(WEIGHT_DISTRIBUTIONS, *HISTOGRAM_COLUMNS)
    if quantity == "weights":
        x_title, title = "normalised SNIS weight × N (1 = uniform)", "SNIS weights"
        # Weight tails hold a handful of sequences; symlog keeps those bins visible.
        bars = _histogram_layer(x_title, NEUTRAL, y_scale="symlog")
    else:
        x_title, title = "log-weight (before normalisation)", "SNIS log-weights"
        bars = _histogram_layer(x_title, NEUTRAL)
    label = WEIGHT_LABELS[quantity]
    chart = (
        layered(data, flatten, bars)
        .transform_filter(ETA_FILTER)
        .transform_filter(alt.datum.series == label)
        .add_params(eta_param())
    )
    description = (
        f"Histogram of the {title} over sequences at the selected η. Concentrated weight means "
        "few sequences dominate the SNIS estimate of ΔH_true."
    )
    return finish(chart, f"{title} at the selected η", description)


# --- 7 & 8. ESS and log-weight range ---------------------------------------------------------


def ess_curve(etas: ColumnValues, ess_fraction: ColumnValues) -> tuple[Chart, Datasets]:
    """Effective sample size as a fraction of N, per η, with the 0.5 rule of thumb."""
    n = len(etas)
    data = columnar(eta=as_float(etas, n), ess_fraction=as_float(ess_fraction, n))
    return make_chart("ess-curve", _ess_spec()), {ESS: data}


@cached_spec
def _ess_spec() -> Spec:
    data, flatten = named(ESS, "eta", "ess_fraction")
    y = alt.Y("ess_fraction:Q", title="ESS / N", scale=alt.Scale(domain=[0, 1]))
    line = alt.Chart().mark_line(color=NEUTRAL).encode(x=eta_x(), y=y)
    points = (
        alt.Chart()
        .mark_point(filled=True, size=50, color=NEUTRAL)
        .encode(
            x=eta_x(),
            y=y,
            tooltip=[eta_tooltip(), value_tooltip("ess_fraction", "ESS / N")],
        )
    )
    chart = layered(
        data, flatten, reference_rule(0.5, "y", "ESS / N"), line, points
    ).transform_filter("datum.eta > 0 && isFinite(datum.ess_fraction)")
    description = (
        "Effective sample size of the SNIS weights divided by the number of sequences, against "
        "η on a log axis; below the dashed 0.5 line the ground truth rests on few sequences."
    )
    return finish(chart, "Effective sample size vs η", description)


def logweight_range(
    etas: ColumnValues, lw_min: ColumnValues, lw_median: ColumnValues, lw_max: ColumnValues
) -> tuple[Chart, Datasets]:
    """Log-weight min–max range and median per η."""
    n = len(etas)
    data = columnar(
        eta=as_float(etas, n),
        min=as_float(lw_min, n),
        median=as_float(lw_median, n),
        max=as_float(lw_max, n),
    )
    return make_chart("logweight-range", _logweight_spec()), {LOGWEIGHT_RANGE: data}


@cached_spec
def _logweight_spec() -> Spec:
    data, flatten = named(LOGWEIGHT_RANGE, "eta", "min", "median", "max")
    tooltip = [
        eta_tooltip(),
        value_tooltip("min", "min"),
        value_tooltip("median", "median"),
        value_tooltip("max", "max"),
    ]
    y_title = "log-weight"
    rule = (
        alt.Chart()
        .mark_rule(color=NEUTRAL, strokeWidth=2)
        .encode(x=eta_x(), y=alt.Y("min:Q", title=y_title), y2="max:Q", tooltip=tooltip)
    )
    median = (
        alt.Chart()
        .mark_point(filled=True, size=60, color=NEUTRAL)
        .encode(x=eta_x(), y=alt.Y("median:Q", title=y_title), tooltip=tooltip)
    )
    chart = layered(data, flatten, rule, median).transform_filter("datum.eta > 0")
    description = (
        "Range of the SNIS log-weights per η (rule from minimum to maximum, point at the "
        "median); a widening range means the weights degenerate."
    )
    return finish(chart, "Log-weight range vs η", description)


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
        "η; 1 is agreement."
    )
    return finish(chart, "Tail sensitivity at the selected η", description)


# --- 10. control variates --------------------------------------------------------------------


def cv_bars(
    features: Sequence[str],
    corr: ColumnValues,
    var_ratio: ColumnValues,
    *,
    metric: Literal["correlation", "variance-ratio"] = "correlation",
) -> tuple[Chart, Datasets]:
    """Per-feature correlation with g·v, or variance after / before the control variate."""
    n = len(features)
    data = columnar(
        feature=list(features), corr=as_float(corr, n), var_ratio=as_float(var_ratio, n)
    )
    return make_chart(f"cv-{metric}", bar_rows(_cv_spec(metric), n)), {CV: data}


@cached_spec
def _cv_spec(metric: Literal["correlation", "variance-ratio"]) -> Spec:
    data, flatten = named(CV, "feature", "corr", "var_ratio")
    y = alt.Y("feature:N", title="feature", sort=None)
    tooltip = [
        alt.Tooltip("feature:N", title="feature"),
        value_tooltip("corr", "correlation with g·v"),
        value_tooltip("var_ratio", "variance ratio"),
    ]
    if metric == "correlation":
        x_title = "correlation with g·v"
        x = alt.X("corr:Q", title=x_title, scale=alt.Scale(domain=[-1, 1]))
        rule_at, title = 0.0, "Control variates: correlation with g·v"
    else:
        x_title = "variance after CV / before (1 = no gain)"
        x = alt.X("var_ratio:Q", title=x_title)
        rule_at, title = 1.0, "Control variates: variance ratio"
    bars = alt.Chart().mark_bar(color=LINEAR_COLOR).encode(x=x, y=y, tooltip=tooltip)
    chart = layered(data, flatten, bars, reference_rule(rule_at, "x", x_title))
    description = (
        f"{title} per regression feature; the dashed rule marks "
        f"{'no correlation' if metric == 'correlation' else 'no variance reduction'}."
    )
    return finish(chart, title, description)


__all__ = [
    "contribution_histograms",
    "cv_bars",
    "error_histogram",
    "ess_curve",
    "eta_curve",
    "logweight_range",
    "method_dash",
    "quad_vs_linear",
    "quantile_x",
    "tail_ratio",
    "true_vs_linear",
    "weight_distributions",
]
