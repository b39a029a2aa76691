"""Chart kinds of how ΔH scales with η: ΔH/η against η, and the doubling ratios."""

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
    ETA_FORMAT,
    eta_tooltip,
    eta_x,
    finish,
    named,
    reference_description,
    value_tooltip,
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

PER_LR = "per-lr"
DOUBLING = "doubling"


def per_lr_chart(
    runs: Sequence[str],
    etas: ColumnValues,
    true_per_lr: ColumnValues,
    se_true_per_lr: ColumnValues,
    gdotv: ColumnValues,
    se_gdotv: ColumnValues,
    *,
    population: str,
    key: str,
) -> tuple[Chart, Datasets]:
    """ΔH_true/η against η per run with ± SE bars, and the run's g·v as a line with its band.

    In the linear regime ΔH/η is flat at g·v; curvature shows as a slope. A run without g·v
    (an η sweep) has neither line nor band: a layer with no value gives Vega an infinite extent.
    """
    n = len(runs)
    t, s, g, sg = (as_float(v, n) for v in (true_per_lr, se_true_per_lr, gdotv, se_gdotv))
    missing = int((~np.isfinite(s)).sum())
    note = f"{missing} values of ΔH_true have no standard error (no bar)" if missing else None
    s = np.where(np.isfinite(s), s, 0.0)
    data = columnar(
        run=list(runs), eta=as_float(etas, n), t=t, t_lo=t - s, t_hi=t + s,
        g=g, g_lo=g - sg, g_hi=g + sg,
    )  # fmt: skip
    line, band = bool(np.isfinite(g).any()), bool(np.isfinite(g - sg).any())
    spec = _per_lr_spec(run_legend(runs), line, band)
    chart = make_chart("per-lr", spec, note, title=f"ΔH/η vs η ({population})")
    return with_key(chart, {PER_LR: data}, slug(key))


def _padded_eta_x() -> alt.X:
    """η on a log axis with the points off the frame."""
    return alt.X(
        "eta:Q",
        title="η (learning rate, log scale)",
        scale=alt.Scale(type="log", nice=False, padding=14),
        axis=alt.Axis(format=ETA_FORMAT, labelOverlap=True),
    )


@cached_spec
def _per_lr_spec(legend: RunLegend, line: bool = True, band: bool = True) -> Spec:
    """``line``/``band``: some run has g·v / its SE (else that layer is left out)."""
    data, flatten = named(PER_LR, "run", "eta", "t", "t_lo", "t_hi", "g", "g_lo", "g_hi")
    y_title = "ΔH / η"
    x, zero = _padded_eta_x(), alt.Scale(zero=False)  # y around the data, not from 0
    color, opacity = run_color(legend), run_opacity()
    y_band = alt.Y("g_lo:Q", title=y_title, scale=zero)
    shaded = (
        alt.Chart()
        .mark_area()
        .encode(x=x, y=y_band, y2="g_hi:Q", color=color, opacity=run_opacity(0.08, 0.02))
    )
    dashed = (
        alt.Chart()
        .mark_line(strokeDash=[6, 3])
        .encode(x=x, y=alt.Y("g:Q", title=y_title, scale=zero), color=color, opacity=opacity)
    )
    bars = alt.Chart().mark_rule().encode(
        x=x, y=alt.Y("t_lo:Q", title=y_title, scale=zero), y2="t_hi:Q", color=color,
        opacity=opacity,
    )  # fmt: skip
    tooltip = [alt.Tooltip("run:N", title="run"), eta_tooltip(), value_tooltip("t", "ΔH_true/η")]
    points = picking(
        alt.Chart()
        .mark_point(filled=True, size=50)
        .encode(
            x=x,
            y=alt.Y("t:Q", title=y_title, scale=zero),
            color=color,
            opacity=opacity,
            tooltip=tooltip + ([value_tooltip("g", "g·v")] if line else []),
        )
    )
    chart = alt.LayerChart(
        data=data,
        transform=[*flatten, alt.FilterTransform(filter="isFinite(datum.t) && datum.eta > 0")],
        layer=[*([shaded] if band else []), *([dashed] if line else []), bars, points],
    )
    gdotv = (
        ", with the run's g·v (dashed line"
        + (", shaded ± one SE)" if band else ")")
        + ": flat points on the line mean the linear regime; a slope shows curvature."
        if line
        else "; no run has g·v, so no line: flat points mean the linear regime."
    )
    description = (
        "ΔH_true divided by η per run (points, ± one standard error) against η on a log axis"
        + gdotv
    )
    return finish(chart, "ΔH/η vs η", description)


def tail_parts(labels: Sequence[str]) -> int:
    """The fewest trailing "/" parts that tell these run labels apart (every part if none do):
    an axis shows each label's tail, never its common beginning cut short."""
    distinct = set(labels)
    longest = max((label.count("/") + 1 for label in distinct), default=1)
    for parts in range(1, longest):
        if len({"/".join(label.split("/")[-parts:]) for label in distinct}) == len(distinct):
            return parts
    return longest


def doubling_chart(
    runs: Sequence[str],
    etas: ColumnValues,
    ratio: ColumnValues,
    lo: ColumnValues,
    hi: ColumnValues,
    *,
    population: str,
    key: str,
    note: str | None = None,
) -> tuple[Chart, Datasets]:
    """ΔH_true(2η)/ΔH_true(η) per run with its 95 % interval; 2 is the linear regime."""
    n = len(runs)
    data = columnar(
        run=list(runs), eta=as_float(etas, n), ratio=as_float(ratio, n),
        lo=as_float(lo, n), hi=as_float(hi, n),
    )  # fmt: skip
    title = f"Doubling ratios ({population})"
    one_eta = len({float(e) for e in as_float(etas, n) if np.isfinite(e)}) <= 1
    parts = tail_parts(runs) if one_eta else 0
    chart = make_chart("doubling", _doubling_spec(run_legend(runs), parts), note, title=title)
    return with_key(chart, {DOUBLING: data}, slug(key))


def _run_x(parts: int) -> alt.X:
    """The runs along x, each labelled by its last ``parts`` parts (``tail_parts``), uncut."""
    tail = f"join(slice(split(datum.label, '/'), -{parts}), '/')"
    return alt.X("run:N", title="run", axis=alt.Axis(labelAngle=-30, labelLimit=0, labelExpr=tail))


@cached_spec
def _doubling_spec(legend: RunLegend, run_parts: int = 0) -> Spec:
    """``run_parts`` > 0: a single η, where every point would sit on one x: the runs go along x
    instead, labelled by that many trailing parts of their names."""
    data, flatten = named(DOUBLING, "run", "eta", "ratio", "lo", "hi")
    y_title = "ΔH_true(2η) / ΔH_true(η)"
    two = (
        alt.Chart()
        .transform_aggregate(n="count()")
        .transform_calculate(ref="2")
        .mark_rule(color=NEUTRAL, strokeDash=[4, 4])
        .encode(
            y=alt.Y("ref:Q", title=y_title),
            tooltip=alt.value(None),
            description=reference_description(y_title, 2),
        )
    )
    x = _run_x(run_parts) if run_parts else eta_x()
    common = {"x": x, "color": run_color(legend), "opacity": run_opacity()}
    bars = alt.Chart().mark_rule().encode(y=alt.Y("lo:Q", title=y_title), y2="hi:Q", **common)
    points = picking(
        alt.Chart()
        .mark_point(filled=True, size=50)
        .encode(
            y=alt.Y("ratio:Q", title=y_title),
            tooltip=[
                alt.Tooltip("run:N", title="run"),
                eta_tooltip(),
                value_tooltip("ratio", "ratio"),
                value_tooltip("lo", "95 % from"),
                value_tooltip("hi", "95 % to"),
            ],
            **common,
        )
    )
    chart = alt.LayerChart(
        data=data,
        transform=[*flatten, alt.FilterTransform(filter="isFinite(datum.ratio) && datum.eta > 0")],
        layer=[two, bars, points],
    )
    description = (
        "Ratio of ΔH_true at 2η to ΔH_true at η per run"
        + (" " if run_parts else " against η, ")
        + "with 95 % intervals; the "
        "dashed line at 2 is the linear regime (a power law η^k gives 2^k)."
        + (" One η (in the tooltip): the runs side by side." if run_parts else "")
    )
    return finish(chart, "Doubling ratios", description)
