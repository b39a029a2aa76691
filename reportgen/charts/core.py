"""The Chart record, columnar datasets and the spec plumbing every chart kind shares."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson

from reportgen import numfmt
from reportgen.charts.lazy import alt

Spec = dict[str, Any]
Columns = list[dict[str, Any]]
Datasets = dict[str, Columns]
Norm = Literal["per token", "per sequence"]
ColumnValues = np.ndarray | Sequence[Any]

ETA_PARAM = "eta"
ETA_ELEMENT = "#eta-select"

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

LABEL_PX = 12  # every chart label ≥ 11 px on the page (issue 11); figure files use 15 px
ETA_FORMAT = ".3~e"
HEIGHT = 280

_CACHED_BUILDERS: dict[str, Any] = {}


@dataclass(frozen=True)
class Chart:
    """One chart of a page: a data-free Vega-Lite spec plus the datasets it reads."""

    id: str
    title: str
    description: str
    spec: dict[str, Any]
    datasets: tuple[str, ...]
    note: str | None = None
    warning: str | None = None  # e.g. a figure file that could not be exported


# --- datasets ---------------------------------------------------------------------------------


def columnar(**columns: ColumnValues) -> Columns:
    """A dataset as ``[{column: values}]``; specs turn it back into rows with ``flatten``."""
    lengths = {name: len(values) for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns must have equal lengths, got {lengths}")
    return [{name: _column(values) for name, values in columns.items()}]


def _column(values: ColumnValues) -> Any:
    """Keep numeric arrays as numpy (orjson writes them natively, NaN → null); else a list."""
    if not isinstance(values, np.ndarray):
        return list(values)
    if values.ndim != 1:
        raise ValueError(f"columns must be one-dimensional, got shape {values.shape}")
    kind, size = values.dtype.kind, values.dtype.itemsize
    if kind in "iub" or (kind == "f" and size in (4, 8)):
        # orjson refuses strided arrays, and float16/longdouble are not supported.
        return np.ascontiguousarray(values)
    if kind == "f":
        return np.ascontiguousarray(values, dtype=np.float64)
    return values.tolist()


def page_data_json(datasets: Datasets) -> bytes:
    """The page's ``{"datasets": …}`` block as deterministic JSON bytes."""
    options = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS
    return orjson.dumps({"datasets": datasets}, option=options)


def merge_datasets(*parts: Datasets) -> Datasets:
    """Union of the datasets of several charts; a name may repeat only for shared data."""
    merged: Datasets = {}
    for part in parts:
        for name, data in part.items():
            if name in merged and merged[name] is not data and not _same(merged[name], data):
                raise ValueError(f"dataset {name!r} is defined twice with different data")
            merged[name] = data
    return merged


def _same(a: Columns, b: Columns) -> bool:
    # Kinds sharing a dataset wrap the very same arrays: compare identities before bytes.
    shared = len(a) == len(b) == 1 and a[0].keys() == b[0].keys()
    if shared and all(a[0][k] is b[0][k] for k in a[0]):
        return True
    return page_data_json({"x": a}) == page_data_json({"x": b})


# --- spec plumbing ---------------------------------------------------------------------------


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def dataset_names(spec: Spec) -> list[str]:
    """Names of the named datasets a spec reads, in order of first use."""
    names: list[str] = []
    for node in _walk(spec):
        data = node.get("data")
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and name not in names:
            names.append(name)
    return names


def with_initial_eta(spec: Spec, eta: float) -> Spec:
    """A copy of ``spec`` whose ``eta`` parameter starts at ``eta``.

    In the browser the bound ``<select>`` wins (Vega reads its value on embed); the initial value
    matters for offline rendering and for pages without the select.
    """
    result = copy_spec(spec)
    found = False
    for node in _walk(result):
        for param in node.get("params", []) if isinstance(node.get("params"), list) else []:
            if isinstance(param, dict) and param.get("name") == ETA_PARAM:
                param["value"] = float(eta)
                found = True
    if not found:
        raise ValueError("spec has no 'eta' parameter")
    return result


def with_key(chart: Chart, datasets: Datasets, key: str) -> tuple[Chart, Datasets]:
    """Namespace a chart and its datasets with ``key`` so a kind can repeat on one page."""
    renames = {name: f"{name}-{key}" for name in chart.datasets}
    spec = copy_spec(chart.spec)
    for node in _walk(spec):
        data = node.get("data")
        if isinstance(data, dict) and data.get("name") in renames:
            data["name"] = renames[data["name"]]
    renamed = replace(
        chart,
        id=f"{chart.id}-{key}",
        spec=spec,
        datasets=tuple(renames[name] for name in chart.datasets),
    )
    return renamed, {renames.get(name, name): data for name, data in datasets.items()}


def cached_spec(build: Callable[..., Spec]) -> Callable[..., Spec]:
    """Build a spec once per argument tuple; every call gets its own deep copy.

    Altair takes tens of milliseconds per spec, and every worker process would pay that again:
    specs are also kept on disk per install (like the Vega bundle), keyed by the code that
    builds them, so a build's workers start with every spec an earlier build made.
    """
    cached = functools.cache(functools.partial(_stored_spec, build))
    _CACHED_BUILDERS[build.__name__] = cached

    @functools.wraps(build)
    def fresh(*args: Any) -> Spec:
        return copy_spec(cached(*args))

    return fresh


def copy_spec(spec: Spec) -> Spec:
    """A deep copy of a JSON spec (a JSON round trip: ~10× faster than ``copy.deepcopy``)."""
    copied: Spec = orjson.loads(orjson.dumps(spec))
    return copied


@functools.cache
def _code_fingerprint() -> str:
    """Everything a spec builder's output can depend on: this package's code and Altair's."""
    # Altair's version from its metadata: importing Altair (~0.3 s) just for a key would cost
    # every build what the cache saves
    digest = hashlib.sha256(f"altair {importlib.metadata.version('altair')}".encode())
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _stored_spec(build: Callable[..., Spec], *args: Any) -> Spec:
    """``build(*args)`` from the per-install spec cache, or built and stored there."""
    from reportgen.pages.assets import cache_dir

    try:
        key = orjson.dumps([_code_fingerprint(), build.__module__, build.__qualname__, args])
    except TypeError:  # arguments without a JSON form: build, do not store
        return build(*args)
    path = cache_dir() / "specs" / f"{hashlib.sha256(key).hexdigest()}.json"
    try:
        stored: Spec = orjson.loads(path.read_bytes())
        return stored
    except (OSError, ValueError):
        pass
    spec = build(*args)
    try:  # written beside and renamed: concurrent workers never read half a spec
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(orjson.dumps(spec))
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache only costs rebuilding the spec next time
    return spec


def spec_cache_info() -> dict[str, Any]:
    """``functools`` cache statistics per spec builder (for tests and build logs)."""
    return {name: builder.cache_info() for name, builder in _CACHED_BUILDERS.items()}


def make_chart(
    chart_id: str, spec: Spec, note: str | None = None, title: str | None = None
) -> Chart:
    """Wrap a (fresh) spec; ``title`` overrides the cached title for per-instance charts."""
    if title is not None:
        spec["title"] = title
    return Chart(
        id=chart_id,
        title=str(spec["title"]),
        description=str(spec["description"]),
        spec=spec,
        datasets=tuple(dataset_names(spec)),
        note=note,
    )


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


def bar_rows(spec: Spec, rows: int, step: int = 24) -> Spec:
    """Size a one-bar-per-row chart: a step height would make Vega-Lite drop ``fit-x`` (warning)."""
    spec["height"] = step * max(rows, 1)
    return spec


def downsample_note(shown: int, total: int, suffix: str = "") -> str | None:
    return None if shown >= total else f"showing {shown:,} of {total:,} points{suffix}"


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


def eta_x(scale: Literal["log", "linear"] = "log", field: str = "eta") -> alt.X:
    title = "η (learning rate, log scale)" if scale == "log" else "η (learning rate)"
    return alt.X(
        f"{field}:Q",
        title=title,
        scale=alt.Scale(type=scale, nice=False),
        axis=alt.Axis(format=ETA_FORMAT, labelOverlap=True),
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
    for node in _walk(spec):
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


def log_axis() -> Any:
    """Decades on a log axis in one notation (d3's "~g" mixed 0.000001 with 1e−7 on one axis).

    A function, not a module constant: building it imports Altair, which a build whose chart
    specs all come from the cache never does."""
    return alt.Axis(format="~e")


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
        .encode(tooltip=alt.value(None), **encoding)
    )
    return rule


OUTLIER_IQR = 3.0  # Tukey's "far out" fence


def clamp_outliers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float] | None]:
    """Values beyond Tukey's far-out fences (quartiles ∓ 3 IQR, widened to include 0) drawn at
    the fence, so one point cannot flatten the rest; returns (shown, clamped, fences or None)."""
    finite = values[np.isfinite(values)]
    if finite.size < 4:
        return values, np.zeros(values.shape, dtype=bool), None
    q1, q3 = np.quantile(finite, [0.25, 0.75])
    spread = max(q3 - q1, 1e-12 * max(abs(q1), abs(q3), 1.0))
    lo, hi = min(q1 - OUTLIER_IQR * spread, 0.0), max(q3 + OUTLIER_IQR * spread, 0.0)
    clamped = np.isfinite(values) & ((values < lo) | (values > hi))
    if not clamped.any():
        return values, clamped, None
    return np.clip(values, lo, hi), clamped, (float(lo), float(hi))


def clamp_note(clamped: np.ndarray, fences: tuple[float, float] | None, what: str) -> str | None:
    if fences is None:
        return None
    count = int(clamped.sum())
    lo, hi = (numfmt.format_number(f) for f in fences)
    return (
        f"{count} of the {what} outside [{lo}, {hi}] drawn at the edge as open triangles "
        "(exact values in the tooltip and the table)"
    )


def as_float(values: ColumnValues | None, n: int) -> np.ndarray:
    """A float64 column, or NaN (→ null) when the series is missing."""
    if values is None:
        return np.full(n, np.nan)
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"expected {n} values, got shape {array.shape}")
    return array


# --- shared by the run and group tail charts -------------------------------------------------

METHOD = "tail handling"


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
