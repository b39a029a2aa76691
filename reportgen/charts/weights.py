"""Chart kinds of the SNIS weights: their distribution, the ESS and the log-weight range."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

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
from reportgen.charts.data import (
    HISTOGRAM_COLUMNS,
    MaybeArray,
    concat_columns,
    histogram_rows,
)
from reportgen.charts.encodings import (
    ETA_FILTER,
    eta_param,
    eta_tooltip,
    eta_x,
    finish,
    histogram_layer,
    layered,
    named,
    reference_rule,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.palette import (
    NEUTRAL,
)
from reportgen.charts.spec_cache import cached_spec

WEIGHT_DISTRIBUTIONS = "weight-distributions"
ESS = "ess"
LOGWEIGHT_RANGE = "logweight-range"
WEIGHT_LABELS = {"weights": "N·w", "log-weights": "log w"}


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
        bars = histogram_layer(x_title, NEUTRAL, y_scale="symlog")
    else:
        x_title, title = "log-weight (before normalisation)", "SNIS log-weights"
        bars = histogram_layer(x_title, NEUTRAL)
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
