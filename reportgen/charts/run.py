"""Chart kinds of the run page: ΔH against η and the per-sequence contributions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

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
    HISTOGRAM_COLUMNS,
    PER_SEQ,
    PER_SEQ_COLUMNS,
    MaybeArray,
    PerSeqTable,
    concat_columns,
    histogram_rows,
    shared_ranges,
)
from reportgen.charts.encodings import (
    ETA_FILTER,
    bin_tooltip,
    delta_h_title,
    eta_param,
    eta_tooltip,
    eta_x,
    finish,
    histogram_layer,
    layered,
    log_axis,
    named,
    reference_rule,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    NEUTRAL,
    SERIES,
    SERIES_COLORS,
    series_encodings,
)
from reportgen.charts.spec_cache import cached_spec

ETA_CURVE = "eta-curve"
CONTRIBUTION_HISTOGRAMS = "contribution-histograms"
ERROR_HISTOGRAM = "error-histogram"

LINEAR_COLOR = SERIES_COLORS[1]
LINQUAD_COLOR = SERIES_COLORS[2]


def _present(columns: dict[str, np.ndarray], keys: Sequence[str]) -> tuple[str, ...]:
    """Series (in the fixed order) whose column has at least one finite value."""
    return tuple(s for s, k in zip(SERIES, keys, strict=True) if np.isfinite(columns[k]).any())


def _per_eta(values: Sequence[MaybeArray] | None, n: int) -> list[MaybeArray]:
    return [None] * n if values is None else list(values)


# --- 1. ΔH vs η ------------------------------------------------------------------------------


Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def eta_curve(
    etas: ColumnValues,
    true: ColumnValues | None,
    linear: ColumnValues | None = None,
    linquad: ColumnValues | None = None,
    *,
    se: tuple[ColumnValues | None, ColumnValues | None, ColumnValues | None] = (None, None, None),
    norm: Norm = "per token",
    y_scale: Literal["linear", "log"] = "linear",
) -> tuple[Chart, Datasets]:
    """ΔH_true, linear and lin+quad against η, each with its 95 % interval (±1.96·SE, ``se``
    in the same order) where it has an SE; a missing series is left out of the legend.

    ``y_scale="log"`` plots |ΔH| on a log axis, so the small-η end (where the linear regime is
    judged) is not flattened by the large-η values; the tooltip keeps the signed value. An
    interval that contains 0 has no place on that axis: the chart's note counts them.
    """
    n = len(etas)
    values = {"true": as_float(true, n), "linear": as_float(linear, n)}
    values["linquad"] = as_float(linquad, n)
    columns: dict[str, np.ndarray] = {"eta": as_float(etas, n), **values}
    for key, errors in zip(values, se, strict=True):
        columns[f"se_{key}"] = as_float(errors, n)
    halves = {key: Z95 * columns[f"se_{key}"] for key in values}
    for key in values:
        columns[f"ci95_low_{key}"] = values[key] - halves[key]
    for key in values:
        columns[f"ci95_high_{key}"] = values[key] + halves[key]
    present = _present(columns, ("true", "linear", "linquad"))
    log = y_scale == "log"
    spec = _eta_curve_spec(norm, present, y_scale, _has_intervals(columns, log))
    note = _zero_crossing_note(columns) if log else None
    return make_chart("eta-curve-log" if log else "eta-curve", spec, note=note), {
        ETA_CURVE: columnar(**columns)
    }


def _has_intervals(columns: dict[str, np.ndarray], log: bool) -> bool:
    """Whether any interval can be drawn (an empty layer makes Vega warn of an empty domain)."""
    for key in ("true", "linear", "linquad"):
        low, high = columns[f"ci95_low_{key}"], columns[f"ci95_high_{key}"]
        drawable = np.isfinite(low) & np.isfinite(high) & (columns["eta"] > 0)
        if log:
            drawable &= low * high > 0
        if drawable.any():
            return True
    return False


def _zero_crossing_note(columns: dict[str, np.ndarray]) -> str | None:
    """How many intervals the log axis cannot draw (they include 0, so |ΔH| may be 0)."""
    crossing = sum(
        int(np.sum((columns[f"ci95_low_{key}"] <= 0) & (columns[f"ci95_high_{key}"] >= 0)))
        for key in ("true", "linear", "linquad")
    )
    if crossing == 0:
        return None
    several = crossing != 1
    return (
        f"{crossing} 95 % interval{'s' if several else ''} {'include' if several else 'includes'} "
        "0 and cannot be drawn on the log axis: see the linear-axis chart"
    )


def _interval_transforms(base: Any, log: bool) -> Any:
    """Per folded row, its series' 95 % interval (``lo``–``hi``), as |ΔH| on a log axis."""
    low = "datum['ci95_low_' + datum.key]"
    high = "datum['ci95_high_' + datum.key]"
    if not log:
        return base.transform_calculate(lo=low, hi=high).transform_filter(
            "isFinite(datum.lo) && isFinite(datum.hi)"
        )
    return base.transform_calculate(
        lo=f"min(abs({low}), abs({high}))", hi=f"max(abs({low}), abs({high}))"
    ).transform_filter(f"isFinite(datum.lo) && isFinite(datum.hi) && {low} * {high} > 0")


def _interval_bars(intervals: Any, y: alt.Y, color: Any) -> Any:
    """95 % intervals as vertical bars: the truth's wide and pale behind, the approximations'
    thin in front and a few pixels either side of their η, so no bar hides another."""
    tooltip = [eta_tooltip(), value_tooltip("series", "series"), value_tooltip("value", "ΔH")]
    tooltip += [value_tooltip("lo", "95 % low"), value_tooltip("hi", "95 % high")]
    is_true = "datum.key === 'true'"
    dodge = "datum.key === 'linear' ? -3 : datum.key === 'linquad' ? 3 : 0"
    return intervals.mark_rule(xOffset=alt.ExprRef(dodge)).encode(
        x=eta_x(),
        y=y,
        y2="hi:Q",
        color=color,
        strokeWidth=alt.condition(is_true, alt.value(7), alt.value(1.5)),
        opacity=alt.condition(is_true, alt.value(0.3), alt.value(0.9)),
        tooltip=tooltip,
    )


@cached_spec
def _eta_curve_spec(
    norm: Norm,
    present: tuple[str, ...],
    y_scale: Literal["linear", "log"] = "linear",
    intervals: bool = True,
) -> Spec:
    data, flatten = named(ETA_CURVE, "eta", *_ETA_CURVE_COLUMNS)
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
    def y_of(field: str) -> alt.Y:
        if log:
            return alt.Y(f"{field}:Q", title=y_title, scale=alt.Scale(type="log"), axis=log_axis())
        return alt.Y(f"{field}:Q", title=y_title)

    y = y_of("shown")
    bars = _interval_bars(_interval_transforms(base, log), y_of("lo"), channels["color"])
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
            value_tooltip("se_true", "SE true"),
            value_tooltip("linear", "ΔH linear"),
            value_tooltip("se_linear", "SE linear"),
            value_tooltip("linquad", "ΔH lin+quad"),
            value_tooltip("se_linquad", "SE lin+quad"),
        ],
    )
    shown = (bars, line, points) if intervals else (line, points)
    layers = shown if log else (reference_rule(0, "y", y_title), *shown)
    chart = layered(data, flatten, *layers)
    description = (
        f"Entropy change ΔH ({norm}) against the learning rate η on a log axis: the SNIS "
        "ground truth (true) and its linear and linear-plus-quadratic approximations, each "
        "with a vertical bar for its 95 % interval (±1.96 SE, the SE and its method as the "
        "run page's uncertainty table gives them; no bar where a series has no SE)"
        + (", as |ΔH| on a log axis (the tooltip gives the signed value)." if log else ".")
    )
    return finish(chart, _eta_curve_title(log), description)


def _eta_curve_title(log: bool) -> str:
    return "|ΔH| vs η on log–log axes" if log else "ΔH vs η: true and approximations"


_ETA_CURVE_COLUMNS = tuple(
    f"{prefix}{key}"
    for prefix in ("", "se_", "ci95_low_", "ci95_high_")
    for key in ("true", "linear", "linquad")
)


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
        .encode(shape=channels["shape"], tooltip=bin_tooltip(), **encoding)
    )
    chart = (
        layered(data, flatten, steps, points).transform_filter(ETA_FILTER).add_params(eta_param())
    )
    description = (
        "Histograms of per-sequence contributions to ΔH at the selected η for the true value "
        "(the guide's decomposition, which carries each sequence's share of the base entropy) "
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


CENTRED_NOTE = (
    " True contributions in the centred decomposition, w_i·h_new_i/(w·T) − h_base_i/ΣT: each "
    "sequence's own base entropy subtracted (they still sum to ΔH_true); the guide's "
    "contributions, which carry each sequence's share of the mean base entropy, are in the "
    "histograms above."
)


def true_vs_linear(
    table: PerSeqTable, *, norm: Norm = "per token", centred: bool = False
) -> tuple[Chart, Datasets]:
    """True contribution against the linear one per sequence, with the y = x line."""
    chart = make_chart("true-vs-linear", _true_vs_linear_spec(norm, centred), note=table.note)
    return chart, {PER_SEQ: columnar(**table.columns)}


@cached_spec
def _true_vs_linear_spec(norm: Norm, centred: bool = False) -> Spec:
    data, flatten = named(PER_SEQ, *PER_SEQ_COLUMNS)
    x_title = delta_h_title(norm, "linear contribution")
    y_title = delta_h_title(norm, "centred true contribution" if centred else "true contribution")
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
        + (CENTRED_NOTE if centred else "")
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
    centred: bool = False,
) -> tuple[Chart, Datasets]:
    """Histogram of true − linear per sequence at the selected η."""
    rows = histogram_rows(etas, "true − linear", errors, bins)
    return make_chart("error-histogram", _error_histogram_spec(norm, centred)), {
        ERROR_HISTOGRAM: columnar(**rows)
    }


@cached_spec
def _error_histogram_spec(norm: Norm, centred: bool = False) -> Spec:
    data, flatten = named(ERROR_HISTOGRAM, *HISTOGRAM_COLUMNS)
    what = "centred true − linear contribution" if centred else "true − linear contribution"
    x_title = delta_h_title(norm, what)
    bars = histogram_layer(x_title, NEUTRAL)
    chart = (
        layered(data, flatten, bars, reference_rule(0, "x", x_title))
        .transform_filter(ETA_FILTER)
        .add_params(eta_param())
    )
    description = (
        "Histogram over sequences of the error of the linear approximation (true minus linear "
        "contribution) at the selected η; the dashed rule marks zero error."
        + (CENTRED_NOTE if centred else "")
    )
    return finish(chart, "Linear-approximation error per sequence", description)
