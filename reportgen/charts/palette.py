"""Colours of the series and the runs, and the legend-bound run selection."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reportgen.charts.lazy import alt

# Series order and colours are fixed on every chart; each colour has ≥ 3:1 contrast (WCAG 1.4.11
# for graphics) against both the light (#ffffff) and dark (#121212) page background.
SERIES = ("true", "linear", "lin+quad")
SERIES_COLORS = ("#767676", "#2f7ed8", "#d55e00")
RUN_COLORS = (
    "#4e79a7",
    "#d55e00",
    "#59a14f",
    "#b07aa1",
    "#e15759",
    "#9c755f",
    "#0e9aa7",
    "#cc79a7",
    "#b8860b",
    "#8e7cc3",
)
NEUTRAL = SERIES_COLORS[0]
MAX_SERIES = len(RUN_COLORS)  # up to this many runs the hand-picked colours; beyond, generated
RUN_PICK = "run_pick"  # the legend-bound selection that highlights runs
FADED = 0.12  # opacity of the runs not picked
AXIS_PX = 90  # the y axis and padding beside a plot
WRAP_CHARS = 32  # longer run labels take two lines in a legend
LABEL_CHAR_PX = 7.5  # width of one legend label character at LABEL_PX (DejaVu Sans, generous)


def series_color(series: Sequence[str] = SERIES, title: str | None = None) -> alt.Color:
    """Colour by ``series`` with the fixed true / linear / lin+quad colours."""
    colors = [SERIES_COLORS[SERIES.index(s)] for s in series]
    return alt.Color(
        "series:N",
        title=title,
        scale=alt.Scale(domain=list(series), range=colors),
        legend=alt.Legend(orient="top"),
    )


# Dashes and shapes repeat the colour coding so series stay apart in greyscale and for readers
# who cannot tell the colours apart.
SERIES_DASHES = ([1, 0], [6, 3], [2, 2])
SERIES_SHAPES = ("circle", "square", "triangle-up")


def series_encodings(series: Sequence[str] = SERIES) -> dict[str, Any]:
    """Colour, dash and shape channels for the series present (legends merge into one)."""
    positions = [SERIES.index(s) for s in series]
    return {
        "color": series_color(series),
        "strokeDash": alt.StrokeDash(
            "series:N",
            scale=alt.Scale(domain=list(series), range=[SERIES_DASHES[i] for i in positions]),
            legend=alt.Legend(orient="top", title=None),
        ),
        "shape": alt.Shape(
            "series:N",
            scale=alt.Scale(domain=list(series), range=[SERIES_SHAPES[i] for i in positions]),
            legend=alt.Legend(orient="top", title=None),
        ),
    }


@dataclass(frozen=True)
class RunLegend:
    """The shape of a chart's run legend, an argument of its cached spec (never its data):
    how many colours it needs and how wide its longest label is, both rounded up."""

    colors: int = MAX_SERIES
    label_px: int = 160


def run_legend(labels: Sequence[str]) -> RunLegend:
    """The legend for these run labels: one colour per distinct run, never a repeat."""
    distinct = set(labels)
    count = len(distinct)
    colors = MAX_SERIES if count <= MAX_SERIES else 1 << (count - 1).bit_length()
    widest = max((len(label) for label in distinct), default=0) * LABEL_CHAR_PX
    return RunLegend(colors, int(-(-widest // 40) * 40))  # few distinct specs to cache


@functools.cache
def run_palette(count: int) -> tuple[str, ...]:
    """``count`` distinct run colours: the hand-picked ten, then generated ones.

    Generated colours step round the hue circle by the golden angle and through OKLab
    lightness 0.52…0.64 by the plastic-number sequence, so every prefix is spread evenly and
    keeps ≥ 3:1 contrast against both the light and the dark page; chroma is reduced where a
    colour would leave the sRGB gamut, and a colour already given is skipped.
    """
    palette = list(RUN_COLORS[:count])
    extra = count - len(palette)
    candidates = 2 * extra
    while extra > 0:
        codes = _generated_colors(candidates)
        fresh = [c for c in dict.fromkeys(codes) if c not in RUN_COLORS]
        if len(fresh) >= extra:
            return (*palette, *fresh[:extra])
        candidates *= 2
    return tuple(palette)


def _generated_colors(count: int) -> list[str]:
    i = np.arange(count)
    hue = np.deg2rad(20.0 + 137.50776405 * i)
    lightness = 0.52 + 0.12 * ((0.5 + i * 0.7548776662) % 1.0)
    rgb = np.zeros((count, 3))
    todo = np.ones(count, dtype=bool)
    for chroma in np.linspace(0.16, 0.0, 17):  # the most saturated colour that fits
        candidate = _oklab_to_srgb(lightness, chroma * np.cos(hue), chroma * np.sin(hue))
        fits = todo & np.all((candidate >= 0) & (candidate <= 1), axis=1)
        rgb[fits], todo = candidate[fits], todo & ~fits
    codes = np.rint(rgb * 255).astype(np.int64)
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in codes]


def _oklab_to_srgb(lightness: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Gamma-encoded sRGB in [0, 1] where in gamut (Ottosson's OKLab matrices)."""
    lab = np.stack([lightness, a, b], axis=1)
    lms = lab @ np.array(
        [[1, 1, 1],
         [0.3963377774, -0.1055613458, -0.0894841775],
         [0.2158037573, -0.0638541728, -1.2914855480]]
    )  # fmt: skip
    linear = (lms**3) @ np.array(
        [[4.0767416621, -1.2684380046, -0.0041960863],
         [-3.3077115913, 2.6097574011, -0.7034186147],
         [0.2309699292, -0.3413193965, 1.7076147010]]
    )  # fmt: skip
    clipped = np.clip(linear, 0, None)
    encoded = np.where(clipped <= 0.0031308, 12.92 * clipped, 1.055 * clipped ** (1 / 2.4) - 0.055)
    return np.where(linear < -1e-9, -1.0, encoded)


def run_color(
    legend: RunLegend, field: str = "run", width: str = "containerSize()[0]"
) -> alt.Color:
    """One distinct colour per run; the legend below the plot in as many columns as fit.

    Every entry is listed (no "…N entries") and never truncated: a label longer than
    ``WRAP_CHARS`` breaks after its last "/" into the directory and the run's name, so it fits
    a phone's width (a rule on the label alone: Vega sizes the view before a width is known).
    """
    column_px = min(legend.label_px, int(WRAP_CHARS * LABEL_CHAR_PX)) + 30
    label = "datum.label"
    cut = f"lastindexof({label}, '/')"
    wrap = (
        f"length({label}) > {WRAP_CHARS} && {cut} > 0 "
        f"? [slice({label}, 0, {cut} + 1), slice({label}, {cut} + 1)] : {label}"
    )
    return alt.Color(
        f"{field}:N",
        title="run",
        scale=alt.Scale(range=list(run_palette(legend.colors))),
        legend=alt.Legend(
            orient="bottom",
            direction="vertical",
            symbolLimit=0,
            labelLimit=0,
            # from the container, which Vega knows before its first layout: a count that
            # followed ``width`` would change the legend after the view has been sized
            columns=alt.ExprRef(f"max(1, floor(({width} - {AXIS_PX}) / {column_px}))"),
            labelExpr=wrap,
        ),
    )


def run_pick() -> Any:
    """Click a run's legend entry (or one of its marks) to highlight it; shift-click for more."""
    return alt.selection_point(name=RUN_PICK, fields=["run"], bind="legend")


def run_opacity(opacity: float = 1.0, faded: float = FADED) -> Any:
    """Full ``opacity`` for the picked runs (all runs while none is picked), faded for the rest.

    A condition on the parameter by name (``{"param": …}``), not ``alt.condition("run_pick")``:
    a string is taken as an expression, and the selection object it names is always truthy.
    """
    return {"condition": {"param": RUN_PICK, "value": opacity}, "value": faded}


def picking(chart: Any) -> Any:
    """``chart`` (one layer) as the one that defines the run selection.

    The layer is named: Altair would otherwise name it from a process-wide counter, and the
    spec's bytes would depend on what the process built before.
    """
    return chart.add_params(run_pick()).properties(name="runs")
