"""Chart specs of the jackknife page: estimates with 95 % intervals, per-prompt boxes, tails."""

from __future__ import annotations

import numpy as np

from reportgen.charts.core import (
    Chart,
    Columns,
    Datasets,
    Spec,
    columnar,
    make_chart,
)
from reportgen.charts.encodings import (
    finish,
    layered,
    named,
    value_tooltip,
)
from reportgen.charts.lazy import alt
from reportgen.charts.spec_cache import cached_spec
from reportgen.kinds.jackknife.analysis import JackknifeAnalysis
from reportgen.kinds.stats import Z95

ESTIMATES = "jk-estimates"
MEANS = "jk-means"
BOXES = "jk-boxes"
OUTLIERS = "jk-outliers"
TAILS = "jk-tails"
ESTIMATE_COLUMNS = ("B", "estimate", "se", "lo", "hi", "setting", "source")
BOX_COLUMNS = ("point", "B", "setting", "low", "q1", "median", "q3", "high", "mean", "n")
TAIL_COLUMNS = ("B", "setting", "statistic", "value")


B_TITLE = "B (prompts, log₂ scale)"
ESTIMATE_TITLE = "mean per-sequence entropy"


def _b_axis(field: str = "B") -> alt.X:
    return alt.X(
        f"{field}:Q", title=B_TITLE, scale=alt.Scale(type="log", base=2, nice=False, padding=16)
    )


def _setting_color(settings: tuple[str, ...] = ()) -> alt.Color:
    scale = alt.Scale(domain=list(settings)) if settings else alt.Undefined
    return alt.Color("setting:N", title="setting", scale=scale, legend=alt.Legend(orient="top"))


def _setting_shape(settings: tuple[str, ...]) -> alt.Shape:
    """Shapes repeat the colours (one legend: same field, title and domain)."""
    return alt.Shape(
        "setting:N",
        title="setting",
        scale=alt.Scale(domain=list(settings)),
        legend=alt.Legend(orient="top"),
    )


def charts(analysis: JackknifeAnalysis) -> tuple[tuple[Chart, ...], Datasets]:
    """Every chart of the page and the datasets they read."""
    labels = [analysis.populations[s.population].label for s in analysis.points]
    points = [s.point for s in analysis.points]
    se = np.array([np.nan if p.se is None else p.se for p in points])
    estimate = np.array([p.estimate for p in points])
    datasets: Datasets = {
        ESTIMATES: columnar(
            B=np.array([p.batch for p in points], dtype=np.float64),
            estimate=estimate,
            se=se,
            lo=estimate - Z95 * se,
            hi=estimate + Z95 * se,
            setting=labels,
            source=[p.source for p in points],
        ),
    }
    means = _means(analysis)
    drawn = means is not None
    if means is not None:
        datasets[MEANS] = means
    settings = tuple(h.label for h in analysis.populations)
    result = [make_chart("jackknife-estimates", _jackknife_estimates_spec(settings, drawn))]
    boxed = [s for s in analysis.points if s.box is not None]
    if boxed:
        datasets |= _boxes(analysis)
        result.append(make_chart("jackknife-prompts", _jackknife_boxes_spec(analysis.log_scale)))
    if any(s.prompt_tail is not None for s in analysis.points):
        datasets[TAILS] = _tails(analysis, labels)
        result.append(make_chart("jackknife-tails", _jackknife_tails_spec(analysis.log_scale)))
    return tuple(result), datasets


def _means(analysis: JackknifeAnalysis) -> Columns | None:
    """Each weighted mean across B, for settings not shown to differ across B (one that
    differs has no one value); None for none: an empty layer has an infinite extent."""
    tested = [h for h in analysis.populations if h.weighted_mean is not None and not h.differs]
    if not tested:
        return None
    batches = [[analysis.points[i].point.batch for i in h.points] for h in tested]
    return columnar(
        setting=[h.label for h in tested],
        mean=np.array([h.weighted_mean for h in tested], dtype=np.float64),
        lo=np.array([min(b) for b in batches], dtype=np.float64),
        hi=np.array([max(b) for b in batches], dtype=np.float64),
    )


@cached_spec
def _jackknife_estimates_spec(settings: tuple[str, ...], with_means: bool) -> Spec:
    data, flatten = named(ESTIMATES, *ESTIMATE_COLUMNS)
    y = alt.Y("estimate:Q", title=ESTIMATE_TITLE, scale=alt.Scale(zero=False))
    tooltip = [
        value_tooltip("B", "B"),
        value_tooltip("estimate", "estimate"),
        value_tooltip("se", "SE (std_dev_estimate)"),
        value_tooltip("lo", "95 % low"),
        value_tooltip("hi", "95 % high"),
        alt.Tooltip("setting:N", title="setting"),
        alt.Tooltip("source:N", title="file"),
    ]
    bars = (
        alt.Chart()
        .mark_rule(strokeWidth=2)
        .encode(
            x=_b_axis(),
            y=alt.Y("lo:Q", title=ESTIMATE_TITLE),
            y2="hi:Q",
            color=_setting_color(settings),
        )
    )
    dots = (
        alt.Chart()
        .mark_point(filled=True, size=60)
        .encode(
            x=_b_axis(),
            y=y,
            color=_setting_color(settings),
            shape=_setting_shape(settings),
            tooltip=tooltip,
        )
    )
    layers = [layered(data, flatten, bars, dots), *([_mean_rule(settings)] if with_means else [])]
    description = (
        "The estimate of mean per-sequence entropy at each batch size B with its 95 % interval "
        "(estimate ± 1.96 SE, the SE being the file's std_dev_estimate); "
        + (
            "dashed: a setting's inverse-variance weighted mean across B, drawn only where its "
            "estimates are not shown to differ across B. "
            if with_means
            else "no weighted mean across B is drawn: the estimates differ across B. "
        )
        + "Settings are coloured apart and never pooled."
    )
    return finish(alt.LayerChart(layer=layers), "Estimate vs B with 95 % intervals", description)


def _mean_rule(settings: tuple[str, ...]) -> alt.Chart:
    """A dashed weighted mean across the B of each setting not shown to differ across B."""
    rule: alt.Chart = (
        alt.Chart(alt.NamedData(name=MEANS))
        .transform_flatten(["setting", "mean", "lo", "hi"])
        .mark_rule(strokeDash=[6, 3])
        .encode(
            x=_b_axis("lo"),
            x2="hi:Q",
            y=alt.Y("mean:Q", title=ESTIMATE_TITLE),
            color=_setting_color(settings),
            tooltip=[alt.Tooltip("setting:N"), value_tooltip("mean", "weighted mean")],
        )
    )
    return rule


def _boxes(analysis: JackknifeAnalysis) -> Datasets:
    rows = [(s, s.box) for s in analysis.points if s.box is not None]
    names = [f"B = {s.point.batch:,} · {analysis.populations[s.population].label}" for s, _ in rows]
    outlier_names = [name for name, (_, b) in zip(names, rows, strict=True) for _ in b.outliers]
    return {
        BOXES: columnar(
            point=names,
            B=np.array([s.point.batch for s, _ in rows], dtype=np.float64),
            setting=[analysis.populations[s.population].label for s, _ in rows],
            **{
                field: np.array([getattr(b, field) for _, b in rows])
                for field in ("low", "q1", "median", "q3", "high", "mean")
            },
            n=np.array([s.prompt_count for s, _ in rows], dtype=np.float64),
        ),
        OUTLIERS: columnar(
            point=outlier_names,
            value=np.concatenate([b.outliers for _, b in rows]) if rows else np.zeros(0),
        ),
    }


@cached_spec
def _jackknife_boxes_spec(log: bool) -> Spec:
    data, flatten = named(BOXES, *BOX_COLUMNS)
    title = "per-prompt mean entropy" + (" (log scale)" if log else "")
    scale = alt.Scale(type="log") if log else alt.Scale(zero=False)
    x = alt.X("point:N", title=None, sort=None, axis=alt.Axis(labelAngle=-90, labelLimit=220))
    tooltip = [
        alt.Tooltip("point:N", title="point"),
        value_tooltip("n", "prompts"),
        value_tooltip("low", "lower whisker"),
        value_tooltip("q1", "q25"),
        value_tooltip("median", "median"),
        value_tooltip("q3", "q75"),
        value_tooltip("high", "upper whisker"),
        value_tooltip("mean", "mean"),
    ]
    whisker = alt.Chart().mark_rule().encode(x=x, y=alt.Y("low:Q", title=title, scale=scale))
    whisker = whisker.encode(y2="high:Q", color=_setting_color())
    body = (
        alt.Chart()
        .mark_bar(size=18, opacity=0.5)
        .encode(x=x, y=alt.Y("q1:Q", title=title, scale=scale), y2="q3:Q")
        .encode(color=_setting_color(), tooltip=tooltip)
    )
    middle = alt.Chart().mark_tick(size=18, thickness=2, color="black").encode(x=x, y="median:Q")
    mean = alt.Chart().mark_point(shape="diamond", filled=True, size=40).encode(x=x, y="mean:Q")
    out_data = alt.NamedData(name=OUTLIERS)
    outliers = (
        alt.Chart(out_data)
        .transform_flatten(["point", "value"])
        .mark_point(size=14, opacity=0.6)
        .encode(
            x=x,
            y=alt.Y("value:Q", title=title, scale=scale),
            tooltip=[value_tooltip("value", "value")],
        )
    )
    chart = alt.LayerChart(
        layer=[
            layered(data, flatten, whisker, body, middle, mean.encode(color=_setting_color())),
            outliers,
        ]
    )
    description = (
        "The per-prompt means behind each estimate: box from the 25th to the 75th percentile "
        "with the median (black tick) and mean (diamond), whiskers to the last values within "
        "1.5 IQR, every value beyond them as a point"
        + (", on a log axis because the values are right-skewed." if log else ".")
    )
    return finish(chart, "Per-prompt means per B", description)


def _tails(analysis: JackknifeAnalysis, labels: list[str]) -> list[dict[str, object]]:
    # per-prompt means only: a file's per-sequence values are single generations, whose tails
    # are another quantity (the table lists them)
    rows = [
        (float(s.point.batch), labels[i], name, value)
        for i, s in enumerate(analysis.points)
        if (t := s.prompt_tail) is not None
        for name, value in (("median", t.median), ("q99", t.q99), ("max", t.maximum))
        if value is not None
    ]
    return columnar(
        B=np.array([r[0] for r in rows]),
        setting=[r[1] for r in rows],
        statistic=[r[2] for r in rows],
        value=np.array([r[3] for r in rows]),
    )


@cached_spec
def _jackknife_tails_spec(log: bool) -> Spec:
    data, flatten = named(TAILS, *TAIL_COLUMNS)
    title = "per-prompt mean entropy" + (" (log scale)" if log else "")
    y = alt.Y("value:Q", title=title, scale=alt.Scale(type="log") if log else alt.Scale(zero=False))
    color = alt.Color(
        "statistic:N",
        title="statistic",
        scale=alt.Scale(domain=["median", "q99", "max"]),
        legend=alt.Legend(orient="top"),
    )
    lines = alt.Chart().mark_line().encode(x=_b_axis(), y=y, color=color, detail="setting:N")
    dots = (
        alt.Chart()
        .mark_point(filled=True, size=50)
        .encode(
            x=_b_axis(),
            y=y,
            color=color,
            shape=alt.Shape("setting:N", title="setting", legend=alt.Legend(orient="top")),
            tooltip=[
                value_tooltip("B", "B"),
                alt.Tooltip("statistic:N"),
                value_tooltip("value", "value"),
                alt.Tooltip("setting:N"),
            ],
        )
    )
    description = (
        "Median, 99th percentile and maximum of the per-prompt means per B. Per-sequence values "
        "(a file's distribution_analysis) are single generations, another quantity: they are "
        "listed in the table, not drawn here."
    )
    title = "Tails of the per-prompt means per B: median, q99, max"
    return finish(layered(data, flatten, lines, dots), title, description)
