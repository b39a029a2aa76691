"""Chart kinds of the paired verdict: z of linear − true by η, with the ±1 and ±2 SE bands."""

from __future__ import annotations

import re
from collections.abc import Sequence

import altair as alt

from reportgen.charts.core import (
    NEUTRAL,
    Chart,
    ColumnValues,
    Datasets,
    Spec,
    as_float,
    cached_spec,
    columnar,
    eta_tooltip,
    eta_x,
    finish,
    make_chart,
    named,
    run_color,
    value_tooltip,
    with_key,
)

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
    chart = make_chart("paired-z", _paired_z_spec(), title=title)
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
        .encode(y=alt.Y("lo:Q", title=Z_TITLE), y2="hi:Q", tooltip=alt.value(None))
    )
    return band


@cached_spec
def _paired_z_spec() -> Spec:
    data, flatten = named(PAIRED_Z, "run", "eta", "z", "diff", "se")
    zero = (
        alt.Chart()
        .transform_aggregate(n="count()")
        .transform_calculate(ref="0")
        .mark_rule(color=NEUTRAL, strokeDash=[4, 4])
        .encode(y=alt.Y("ref:Q", title=Z_TITLE), tooltip=alt.value(None))
    )
    encoding = {"x": eta_x(), "y": alt.Y("z:Q", title=Z_TITLE), "color": run_color()}
    lines = alt.Chart().mark_line(opacity=0.5).encode(**encoding)
    points = (
        alt.Chart()
        .mark_point(filled=True, size=50)
        .encode(
            tooltip=[
                alt.Tooltip("run:N", title="run"),
                eta_tooltip(),
                alt.Tooltip("z:Q", title="z", format="+.2f"),
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
        "the lighter |z| ≤ 2: a point inside the lighter band agrees within two standard errors."
    )
    return finish(chart, "Paired z of linear − true by η", description)
