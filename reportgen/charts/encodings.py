"""Axes, tooltips, layers and the finishing touches every chart kind shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson

from reportgen import numfmt
from reportgen.charts.core import ETA_ELEMENT, ETA_PARAM, Norm, Spec, walk
from reportgen.charts.lazy import alt
from reportgen.charts.palette import NEUTRAL

LABEL_PX = 12  # every chart label ≥ 11 px on the page; figure files use 15 px
ETA_FORMAT = ".3~e"
HEIGHT = 280


def finish(chart: Any, title: str, description: str, height: int | alt.Step = HEIGHT) -> Spec:
    """Common top-level properties, serialised without validation (the tests validate)."""
    chart = chart.properties(
        title=title,
        description=description,
        width="container",
        height=height,
        autosize=alt.AutoSizeParams(type="fit-x", contains="padding"),
    ).configure(
        background="transparent",
        legend=alt.LegendConfig(
            symbolOpacity=1,
            labelFontSize=LABEL_PX,
            titleFontSize=LABEL_PX,
            labelLimit=0,  # never truncated: long names wrap into columns instead
            titleLimit=0,
        ),
        # One minus sign (numfmt) in tick labels; fewer ticks, so overlap removal never has to
        # drop one (it used to drop the 0 between −0.0001 and 0.0001).
        axis=alt.AxisConfig(
            labelFontSize=LABEL_PX, titleFontSize=LABEL_PX, labelExpr=numfmt.vega_label_expr()
        ),
        axisQuantitative=alt.AxisConfig(tickCount=5),
        header=alt.HeaderConfig(labelFontSize=LABEL_PX, titleFontSize=LABEL_PX),
        title=alt.TitleConfig(fontSize=LABEL_PX + 1),
    )
    spec: Spec = chart.to_dict(validate=False)
    return add_tooltip_formats(spec)


# --- encodings shared across kinds -----------------------------------------------------------


def named(name: str, *columns: str) -> tuple[alt.NamedData, list[alt.FlattenTransform]]:
    """A named-data reference and the ``flatten`` that turns its columns into rows."""
    return alt.NamedData(name=name), [alt.FlattenTransform(flatten=list(columns))]


def layered(data: alt.NamedData, flatten: list[Any], *layers: Any) -> Any:
    """Layers over one named dataset, flattened once at the layer level."""
    return alt.LayerChart(data=data, transform=flatten, layer=list(layers))


def eta_param() -> Any:
    """The ``eta`` variable bound to the page's one ``<select id="eta-select">``."""
    return alt.param(name=ETA_PARAM, value=None, bind=alt.BindDirect(element=ETA_ELEMENT))


# The select's values are strings, so compare numbers; the tight relative tolerance absorbs a
# decimal round trip (Python repr → JS Number) but not coarser rounding, so the template must
# print option values with full precision (``repr(float(eta))``).
ETA_FILTER = "abs(datum.eta - toNumber(eta)) <= 1e-9 * abs(datum.eta)"


ETA_TICKS = "max(2, floor(width / 60))"  # about one η tick per 60 px: labels never crowd a phone


ETA_PADDING_PX = 12


def eta_x(scale: Literal["log", "linear"] = "log", field: str = "eta") -> alt.X:
    title = "η (learning rate, log scale)" if scale == "log" else "η (learning rate)"
    return alt.X(
        f"{field}:Q",
        title=title,
        # the first and last η are drawn inside the frame, not on it (half their mark hidden)
        scale=alt.Scale(type=scale, nice=False, padding=ETA_PADDING_PX),
        axis=alt.Axis(format=ETA_FORMAT, labelOverlap=True, tickCount=alt.ExprRef(ETA_TICKS)),
    )


# Tooltips print numbers as numfmt does: a tooltip names a text field ``fmt_<kind>_<field>`` that
# ``finish`` computes in the browser, in the layer that shows it, from the plotted value.
TOOLTIP_FORMATS: dict[str, Callable[[str], str]] = {
    "num": numfmt.vega_number_expr,
    "eta": numfmt.vega_eta_expr,
    "z": numfmt.vega_z_expr,
}


def _formatted_tooltip(kind: str, field: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"fmt_{kind}_{field}:N", title=title)


def eta_tooltip() -> alt.Tooltip:
    return _formatted_tooltip("eta", "eta", "η")


def value_tooltip(field: str, title: str) -> alt.Tooltip:
    return _formatted_tooltip("num", field, title)


def z_tooltip(field: str, title: str) -> alt.Tooltip:
    return _formatted_tooltip("z", field, title)


def add_tooltip_formats(spec: Spec) -> Spec:
    """Give every layer the text fields its tooltips name (after its own transforms)."""
    for node in walk(spec):
        tooltip = node.get("encoding", {}).get("tooltip") if "mark" in node else None
        items = tooltip if isinstance(tooltip, list) else [tooltip]
        fields = [t["field"] for t in items if isinstance(t, dict) and "field" in t]
        calculations = [_tooltip_calculation(f) for f in fields if f.startswith("fmt_")]
        if calculations:
            node["transform"] = [*node.get("transform", []), *calculations]
    return spec


def _tooltip_calculation(name: str) -> dict[str, str]:
    _, kind, field = name.split("_", 2)
    value = f"datum[{orjson.dumps(field).decode()}]"
    return {"calculate": TOOLTIP_FORMATS[kind](value), "as": name}


def log_axis() -> Any:
    """Decades on a log axis in one notation (d3's "~g" mixed 0.000001 with 1e−7 on one axis).

    A function, not a module constant: building it imports Altair, which a build whose chart
    specs all come from the cache never does."""
    return alt.Axis(format="~e")


def delta_h_title(norm: Norm, what: str = "ΔH") -> str:
    return f"{what} ({norm})"


def reference_rule(value: float, channel: Literal["x", "y"], title: str) -> alt.Chart:
    """A single dashed rule at a constant, from the inherited data aggregated to one row.

    Aggregating (instead of inline values) keeps the spec free of data and draws one rule, not
    one per row. ``title`` must equal the axis title of the other layers: Vega-Lite merges the
    titles of a shared axis, and ``axis=None`` on one layer would hide the axis of all.
    """
    encoding = (
        {"x": alt.X("ref:Q", title=title)} if channel == "x" else {"y": alt.Y("ref:Q", title=title)}
    )
    rule: alt.Chart = (
        alt.Chart()
        .transform_aggregate(n="count()")
        .transform_calculate(ref=repr(float(value)))
        .mark_rule(color=NEUTRAL, strokeDash=[4, 4])
        .encode(
            tooltip=alt.value(None), description=reference_description(title, value), **encoding
        )
    )
    return rule


def reference_description(title: str, *values: float) -> Any:
    """A guide's accessible label (the SVG's ``aria-label``): a constant drawn for reference,
    which a reader (and the check that a figure plots its CSV's values) tells from data."""
    at = " and ".join(f"{v:g}".replace("-", "−") for v in values)
    return alt.value(f"reference at {title} = {at}")


def derived_description(what: str) -> Any:
    """The accessible label of marks whose values the chart computes from its data (an
    aggregate): ``what`` names them as the caption does."""
    return alt.value(f"derived: {what}")


def bin_tooltip() -> list[alt.Tooltip]:
    return [
        alt.Tooltip("series:N", title="series"),
        value_tooltip("bin_start", "from"),
        value_tooltip("bin_end", "to"),
        value_tooltip("count", "sequences"),
    ]


def histogram_layer(
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
            tooltip=bin_tooltip(),
        )
    )
    return bars


def run_tooltip() -> alt.Tooltip:
    return alt.Tooltip("run:N", title="run")
