"""Control variates: per-feature correlation and variance ratio, per run and across runs."""

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
    bar_rows,
    columnar,
    make_chart,
)
from reportgen.charts.encodings import (
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
)
from reportgen.charts.run import Z95
from reportgen.charts.spec_cache import cached_spec

CV = "cv"
CV_GROUP = "cv-group"


# --- 10. control variates --------------------------------------------------------------------


def cv_bars(
    features: Sequence[str],
    corr: ColumnValues,
    var_ratio: ColumnValues,
    *,
    metric: Literal["correlation", "variance-ratio"] = "correlation",
    corr_se: ColumnValues | None = None,
    var_ratio_se: ColumnValues | None = None,
) -> tuple[Chart, Datasets]:
    """Per-feature correlation with g·v, or variance after / before the control variate, each
    with its 95 % interval (± 1.96 SE, cut to the values the quantity can take) where it has
    an SE."""
    n = len(features)
    values = {"corr": as_float(corr, n), "var_ratio": as_float(var_ratio, n)}
    ses = {"corr": as_float(corr_se, n), "var_ratio": as_float(var_ratio_se, n)}
    # ρ lies in [−1, 1] and the optimal single-feature ratio 1 − ρ² in [0, 1] (a cross-fitted
    # one may exceed 1): a Wald interval's part outside says nothing
    ceiling = {"corr": 1.0, "var_ratio": np.fmax(values["var_ratio"], 1.0)}
    floor = {"corr": -1.0, "var_ratio": 0.0}
    bounds = {
        f"{name}_{side}": np.clip(values[name] + sign * Z95 * ses[name], floor[name], ceiling[name])
        for name in values
        for side, sign in (("lo", -1.0), ("hi", 1.0))
    }
    data = columnar(feature=list(features), **values, **bounds)
    return make_chart(f"cv-{metric}", bar_rows(_cv_spec(metric), n)), {CV: data}


@cached_spec
def _cv_spec(metric: Literal["correlation", "variance-ratio"]) -> Spec:
    fields = ("corr", "var_ratio", "corr_lo", "corr_hi", "var_ratio_lo", "var_ratio_hi")
    data, flatten = named(CV, "feature", *fields)
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
    bars = alt.Chart().mark_bar(color=SERIES_COLORS[1]).encode(x=x, y=y, tooltip=tooltip)
    field = "corr" if metric == "correlation" else "var_ratio"
    whiskers = (
        alt.Chart()
        .transform_filter(f"isFinite(datum.{field}_lo) && isFinite(datum.{field}_hi)")
        .mark_rule(color="#222", clip=True)
        .encode(x=alt.X(f"{field}_lo:Q"), x2=f"{field}_hi:Q", y=y)
    )
    chart = layered(data, flatten, bars, whiskers, reference_rule(rule_at, "x", x_title))
    description = (
        f"{title} per regression feature with its 95 % interval (± 1.96 SE, cut where "
        f"{'|ρ| would exceed 1' if metric == 'correlation' else '1 − ρ² would leave [0, 1]'}) "
        f"where it has an SE; "
        f"the dashed rule marks "
        f"{'no correlation' if metric == 'correlation' else 'no variance reduction'}."
    )
    return finish(chart, title, description)


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
    corr_se: ColumnValues | None = None,
    var_ratio_se: ColumnValues | None = None,
    metric: Literal["correlation", "variance-ratio"] = "correlation",
) -> tuple[Chart, Datasets]:
    """Per feature the mean correlation or variance ratio across runs with min–max bars, and
    the mean ± its SE across runs where there is one (two runs or more)."""
    n = len(features)
    values = (corr_mean, corr_min, corr_max, var_ratio_mean, var_ratio_min, var_ratio_max)
    names = ("corr_mean", "corr_min", "corr_max", "var_mean", "var_min", "var_max")
    columns = {name: as_float(v, n) for name, v in zip(names, values, strict=True)}
    for prefix, se in (("corr", corr_se), ("var", var_ratio_se)):
        columns[f"{prefix}_se"] = as_float(se, n)
        columns[f"{prefix}_se_lo"] = columns[f"{prefix}_mean"] - columns[f"{prefix}_se"]
        columns[f"{prefix}_se_hi"] = columns[f"{prefix}_mean"] + columns[f"{prefix}_se"]
    ordered = {name: columns[name] for name in _cv_group_fields()}  # as the spec flattens them
    data = columnar(feature=list(features), **ordered)
    prefix = "corr" if metric == "correlation" else "var"
    with_se = bool(np.isfinite(columns[f"{prefix}_se_lo"]).any())
    spec = bar_rows(_cv_group_spec(metric, with_se), n)
    return make_chart(f"cv-group-{metric}", spec), {CV_GROUP: data}


_CV_GROUP_COLUMNS = ("mean", "min", "max", "se", "se_lo", "se_hi")


def _cv_group_fields() -> list[str]:
    return [f"{p}_{c}" for p in ("corr", "var") for c in _CV_GROUP_COLUMNS]


@cached_spec
def _cv_group_spec(metric: Literal["correlation", "variance-ratio"], with_se: bool = False) -> Spec:
    """``with_se``: some feature's mean has an SE (else no SE layer: it would have no value)."""
    prefix = "corr" if metric == "correlation" else "var"
    data, flatten = named(CV_GROUP, "feature", *_cv_group_fields())
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
        value_tooltip(f"{prefix}_se", "SE of the mean"),
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
    se_bars = (
        alt.Chart()
        .transform_filter(f"isFinite(datum.{prefix}_se_lo)")
        .mark_rule(color=SERIES_COLORS[2], strokeWidth=4)
        .encode(x=alt.X(f"{prefix}_se_lo:Q", title=x_title), x2=f"{prefix}_se_hi:Q", y=y,
                tooltip=tooltip)
    )  # fmt: skip
    layers = (bars, whiskers, *((se_bars,) if with_se else ()))
    chart = layered(data, flatten, *layers, reference_rule(rule_at, "x", x_title))
    description = (
        f"{title}: per regression feature the mean over runs (bar) ± its standard error across "
        "runs (orange rule, two runs or more), and the range from minimum to maximum (grey rule)."
    )
    return finish(chart, title, description)
