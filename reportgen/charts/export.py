"""Standalone figure files (SVG, PNG, PDF) of a page's charts through vl-convert (``--figures``).

A chart on a page reads named datasets from the page's JSON block; a figure file must carry its
data itself, as plain JSON: the columnar numpy arrays are serialised once through orjson (NaN →
null), which is also what the page does. Each chart is exported on its own, and a chart that
cannot be exported becomes a warning on that chart, never a failed page.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import os
import queue
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import orjson

from reportgen.charts.core import Chart, Columns, Datasets, Spec, copy_spec
from reportgen.csvcells import csv_line, text_cell
from reportgen.figures import Figure, FigureSource, PreviousFigures
from reportgen.vlchild import Converter
from reportgen.write import digest_of

FORMATS = ("svg", "png", "pdf")
THEMES = ("paper", "site")
FigureTheme = Literal["paper", "site"]
MANIFEST = "figures.json"
# a clip path's definition and a reference to it (text is escaped: it never holds "<clipPath")
_CLIP_ID = re.compile(r'(<clipPath id="|\sclip-path="url\(#)clip(\d+)(?=[")])')
# in every figure's key: changed when the same spec and vl-convert would give other bytes
FIGURE_KEY_FORMAT = 1

# A paper figure is printed at 96 px per inch: 11 pt = 14.67 px, so 15 px labels are ≥ 11 pt.
PAPER_LABEL_PX = 15
PAPER_TITLE_PX = 16
ONE_COLUMN_PX = 336  # 3.5 in
TWO_COLUMN_PX = 672  # 7 in
PAPER_HEIGHT_PX = 200
AXIS_ALLOWANCE_PX = 96  # y-axis labels and title beside the plot: the figure stays in its column
LEGEND_COLUMNS = 3
SITE_WIDTH_PX = 640
PNG_DPI = 300
# vl-convert multiplies pixels by scale · ppi / 72: this gives 300 / 96 pixels per CSS pixel.
PNG_SCALE = 72 / 96
PAPER_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
)


def plain_json(spec: Spec) -> Spec:
    """The spec with numpy arrays turned into JSON lists (vl-convert accepts only JSON)."""
    plain: Spec = orjson.loads(orjson.dumps(spec, option=orjson.OPT_SERIALIZE_NUMPY))
    return plain


def figure_width(spec: Spec) -> int:
    """Two columns for charts with many series or a wide legend, one column otherwise."""
    text = orjson.dumps(spec).decode()
    wide = '"run:N"' in text or '"field":"run"' in text or '"column"' in text
    return TWO_COLUMN_PX if wide else ONE_COLUMN_PX


def themed(spec: Spec, theme: FigureTheme) -> Spec:
    """A copy of a page spec styled for a standalone file: fixed size, no interactive chrome."""
    result = copy_spec(spec)
    _strip_interaction(result)
    facet = isinstance(result.get("spec"), dict)  # small multiples: size the cells
    if theme == "site":
        if not facet:
            result["width"] = SITE_WIDTH_PX
        result["background"] = "white"
        return result
    # "pad": the plot gets a fixed size and axes and legends are added around it, so a long
    # axis title never overflows and a legend never squeezes the plot ("fit" would do both).
    if facet:
        cell = result["spec"]
        cell["width"] = TWO_COLUMN_PX // int(result.get("columns") or 1) - AXIS_ALLOWANCE_PX
        cell["height"] = min(int(cell.get("height") or PAPER_HEIGHT_PX), PAPER_HEIGHT_PX)
    else:
        result["width"] = figure_width(spec) - AXIS_ALLOWANCE_PX
        if not isinstance(result.get("height"), int) or result["height"] > PAPER_HEIGHT_PX:
            result["height"] = PAPER_HEIGHT_PX
        if (result.get("usermeta") or {}).get("aspect") == "square":
            result["height"] = result["width"]
    result["autosize"] = {"type": "pad"}
    _legends_on_top(result)
    result.pop("title", None)  # a paper figure has a caption instead (figures index, CSV)
    result["background"] = "white"
    result["config"] = _paper_config(result.get("config") or {})
    return result


def _paper_config(config: Mapping[str, Any]) -> dict[str, Any]:
    label = {"labelFontSize": PAPER_LABEL_PX, "titleFontSize": PAPER_LABEL_PX, "labelLimit": 0}
    merged = dict(config)
    merged.update(
        font=PAPER_FONT,
        background="white",
        axis={
            **dict(config.get("axis") or {}),
            **label,
            "titleFontWeight": "normal",
            "labelOverlap": True,
        },
        legend={
            **dict(config.get("legend") or {}),
            **label,
            "symbolOpacity": 1,
            "titleLimit": 0,
        },
        header={"labelFontSize": PAPER_LABEL_PX, "titleFontSize": PAPER_LABEL_PX},
        title={"fontSize": PAPER_TITLE_PX},
        text={"fontSize": PAPER_LABEL_PX},
        range={"category": list(OKABE_ITO)},
        view={"stroke": "#444444"},
    )
    return merged


def _legends_on_top(node: Any) -> None:
    """Every legend above the plot in rows of a few entries: the plot keeps the full width."""
    if isinstance(node, dict):
        legend = node.get("legend")
        if isinstance(legend, dict):
            # run paths are long: two per row keep a two-column figure within its width
            columns = 2 if node.get("field") == "run" else LEGEND_COLUMNS
            legend.update(orient="top", direction="horizontal", columns=columns)
            legend.pop("labelLimit", None)
        for value in node.values():
            _legends_on_top(value)
    elif isinstance(node, list):
        for value in node:
            _legends_on_top(value)


def _strip_interaction(node: Any) -> None:
    """Drop hover/selection parameters' bindings and tooltips: a file has no pointer."""
    if isinstance(node, dict):
        params = node.get("params")
        if isinstance(params, list):
            for param in params:
                if isinstance(param, dict):
                    param.pop("bind", None)
        encoding = node.get("encoding")
        if isinstance(encoding, dict):
            encoding.pop("tooltip", None)
        mark = node.get("mark")
        if isinstance(mark, dict):
            mark.pop("tooltip", None)
        for value in node.values():
            _strip_interaction(value)
    elif isinstance(node, list):
        for value in node:
            _strip_interaction(value)


_converter: Converter | None = None  # this process's vl-convert child, started on first use
_spares: list[Converter] = []  # more children, for concurrent pages (used by one thread)
_thread = threading.local()  # the child a thread of export_charts converts with
_spread = (1, -1)  # (children, the process they are for): see spread_over


def spread_over(children: int) -> None:
    """Let this process convert one page's figures on up to ``children`` vl-convert children at
    once: for pages rendered here while no worker process renders others. A worker forked from
    this process keeps one child (its siblings keep the other cores busy)."""
    global _spread
    _spread = (max(1, children), os.getpid())


@contextmanager
def converting_on(children: int) -> Iterator[None]:
    """For one build: ``children`` vl-convert children shared by this process and its
    workers (``vlshared``), and pages rendered here spread over as many at once."""
    from reportgen import vlshared  # here: a build without figures needs no multiprocessing

    spread_over(children)
    with vlshared.shared_children(children):
        yield


def _children_here() -> int:
    children, owner = _spread
    return children if owner == os.getpid() else 1


def render(spec: Spec, fmt: str) -> bytes:
    """One figure file; raises on any failure (the caller makes it a warning)."""
    return convert(svg_of(spec), fmt)


def _child() -> Converter:
    """vl-convert runs in a child process: when its JavaScript runtime aborts (it does under an
    address-space limit), the figure fails, not the process that renders the page."""
    global _converter
    lent: Converter | None = getattr(_thread, "converter", None)
    if lent is not None:
        return lent
    if _converter is None:
        _converter = _new_converter()
    return _converter


def _new_converter() -> Converter:
    converter = Converter()
    atexit.register(converter.close)  # the child ends with us, its pipes closed
    return converter


def _request(op: str, **arguments: Any) -> bytes:
    """vl-convert's answer from the build's shared children where they run, from this
    process's own child otherwise (or once a shared one has stopped)."""
    from reportgen import vlshared

    shared = vlshared.client()
    if shared is not None and not shared.broken:
        try:
            return shared.request(op, **arguments)
        except vlshared.Unavailable:
            pass
    return _child().request(op, **arguments)


def svg_of(spec: Spec) -> str:
    """The chart through Vega once, as SVG: every other format is drawn from it."""
    return numbered_clips(_request("svg", spec=spec).decode())


def numbered_clips(svg: str) -> str:
    """The SVG with its clip paths numbered from 1 in order of appearance: Vega numbers them on
    from the ones it drew before in the same runtime, so a figure's bytes would depend on which
    charts its vl-convert child drew first."""
    numbers: dict[str, str] = {}

    def renumbered(match: re.Match[str]) -> str:
        number = numbers.setdefault(match[2], str(len(numbers) + 1))
        return f"{match[1]}clip{number}"

    return _CLIP_ID.sub(renumbered, svg)


def convert(svg: str, fmt: str) -> bytes:
    """A figure in ``fmt`` drawn from its SVG: Vega runs once per chart, not once per format
    (rasterising the SVG gives the same pixels as rendering the spec to PNG)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}")
    if fmt == "svg":
        return svg.encode()
    if fmt == "png":
        return _request("svg_to_png", svg=svg, scale=PNG_SCALE, ppi=PNG_DPI)
    return _request("svg_to_pdf", svg=svg)


def datasets_csv(datasets: Datasets, names: Sequence[str]) -> bytes | None:
    """The rows a chart reads, as CSV: one column per field, a ``dataset`` column if several."""
    tables = [(name, _rows(datasets[name])) for name in names if name in datasets]
    if not tables:
        return None
    fields: list[str] = []
    for _, (columns, _) in tables:
        fields += [c for c in columns if c not in fields]
    several = len(tables) > 1
    lines = [csv_line(text_cell(f) for f in (["dataset"] if several else []) + fields)]
    for name, (columns, values) in tables:
        count = len(values[0]) if values else 0
        index = {c: i for i, c in enumerate(columns)}
        for row in range(count):
            cells = [_cell(values[index[f]][row]) if f in index else "" for f in fields]
            lines.append(csv_line(([text_cell(name)] if several else []) + cells))
    return ("\n".join(lines) + "\n").encode()


def _rows(data: Columns) -> tuple[list[str], list[list[Any]]]:
    """Columnar ``[{col: values}]`` (possibly several blocks) as columns of equal length."""
    columns: list[str] = []
    for block in data:
        columns += [c for c in block if c not in columns]
    values: list[list[Any]] = [[] for _ in columns]
    for block in data:
        length = max((len(v) for v in block.values()), default=0)
        for i, name in enumerate(columns):
            column = block.get(name)
            values[i] += list(column) if column is not None else [None] * length
    return columns, values


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value)) if np.isfinite(value) else ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    plain = value.item() if isinstance(value, np.generic) else value
    return text_cell(plain) if isinstance(plain, str) else str(plain)


def export_chart(
    chart: Chart,
    spec: Spec,
    datasets: Datasets,
    formats: Sequence[str],
    theme: FigureTheme,
    directory: str,
    previous: PreviousFigures | None = None,
) -> tuple[Figure, list[tuple[str, bytes]]]:
    """A chart's figure files and data CSV (those the previous site holds for the same key
    taken from it); failures become the figure's warning."""
    files: list[tuple[str, bytes]] = []
    sources: list[FigureSource] = []
    problems: list[str] = []
    base = f"{directory}/figures/{chart.id}"
    try:
        standalone = themed(plain_json(spec), theme)
    except Exception as exc:  # a chart that cannot be serialised must not take the page down
        standalone = None
        problems.append(f"{type(exc).__name__}: {exc}")
    if standalone is not None:
        for path, content, key in _rendered(standalone, formats, base, problems, previous):
            files.append((path, content))
            sources.append(FigureSource(path, key, digest_of(content)))
    table = datasets_csv(datasets, chart.datasets)
    if table is not None:
        files.append((f"{base}.csv", table))
    warning = "figure export failed (" + "; ".join(problems) + ")" if problems else None
    caption = chart.description if chart.note is None else f"{chart.description} ({chart.note})"
    figure = Figure(
        chart.id,
        chart.title,
        caption,
        tuple(path.rsplit("/", 1)[1] for path, _ in files if not path.endswith(".csv")),
        f"{chart.id}.csv" if table is not None else None,
        warning,
        tuple(sources),
    )
    return figure, files


ChartExport = tuple[Chart, Spec]


def export_charts(
    charts: Sequence[ChartExport],
    datasets: Datasets,
    formats: Sequence[str],
    theme: FigureTheme,
    directory: str,
    previous: PreviousFigures | None = None,
) -> list[tuple[Figure, list[tuple[str, bytes]]]]:
    """``export_chart`` of every chart, in order: several at once, each on its own vl-convert
    child, where ``spread_over`` allows (the files are the same either way)."""
    width = min(_children_here(), len(charts))

    def one(item: ChartExport) -> tuple[Figure, list[tuple[str, bytes]]]:
        return export_chart(item[0], item[1], datasets, formats, theme, directory, previous)

    if width <= 1:
        return [one(item) for item in charts]

    from reportgen import vlshared

    converters = [_spares.pop() if _spares else _new_converter() for _ in range(width)]
    lendable: queue.SimpleQueue[Converter] = queue.SimpleQueue()
    shared = vlshared.client()
    for converter in converters:
        if shared is None or shared.broken:  # otherwise started only if the shared ones stop
            converter.start()  # here: a child started in a pool thread dies with that thread
        lendable.put(converter)

    def lent(item: ChartExport) -> tuple[Figure, list[tuple[str, bytes]]]:
        converter = lendable.get()
        _thread.converter = converter
        try:
            return one(item)
        finally:
            _thread.converter = None
            lendable.put(converter)

    from concurrent.futures import ThreadPoolExecutor

    # threads only wait on their children's pipes: the conversions run in the children
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="figures") as pool:
        exported = list(pool.map(lent, charts))
    _spares.extend(converters)
    return exported


def _rendered(
    spec: Spec,
    formats: Sequence[str],
    base: str,
    problems: list[str],
    previous: PreviousFigures | None = None,
) -> list[tuple[str, bytes, str]]:
    """Every format's file with its key: taken from the previous site where it holds the file
    for the same key, else drawn from one SVG (a failed conversion costs only its format)."""
    keys = figure_keys(spec, formats)
    files = {}
    for fmt in formats:
        kept = None if previous is None else previous.read(f"{base}.{fmt}", keys[fmt])
        if kept is not None:
            files[fmt] = kept
    todo = [fmt for fmt in formats if fmt not in files]
    if todo:
        files.update(_converted(spec, todo, problems))
    return [(f"{base}.{fmt}", files[fmt], keys[fmt]) for fmt in formats if fmt in files]


def _converted(spec: Spec, formats: Sequence[str], problems: list[str]) -> dict[str, bytes]:
    try:
        svg = svg_of(spec)
    except Exception as exc:  # vl-convert's errors and a stopped child alike
        problems.append(f"{'/'.join(formats)}: {type(exc).__name__}: {str(exc)[:200]}")
        return {}
    files = {}
    for fmt in formats:
        try:
            files[fmt] = convert(svg, fmt)
        except Exception as exc:
            problems.append(f"{fmt}: {type(exc).__name__}: {str(exc)[:200]}")
    return files


def figure_keys(spec: Spec, formats: Sequence[str]) -> dict[str, str]:
    """Each format's sha256 of everything its file's bytes depend on: the standalone spec, the
    format, how it is converted and vl-convert's version (not the system's fonts: ``--force``)."""
    body = hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)).digest()
    keys = {}
    for fmt in formats:
        how = {"png": [PNG_SCALE, PNG_DPI]}.get(fmt)
        head = orjson.dumps([FIGURE_KEY_FORMAT, _vl_convert_version(), fmt, how])
        keys[fmt] = hashlib.sha256(head + b"\0" + body).hexdigest()
    return keys


@functools.cache
def _vl_convert_version() -> str:
    # from its metadata: the conversions run in child processes, this one needs no vl_convert;
    # imported here, as only a build with figures asks
    from importlib import metadata

    return metadata.version("vl-convert-python")


def manifest_bytes(page: str, figures: Sequence[Figure]) -> bytes:
    """``figures/figures.json``: the page's figures, read back by the site's figure index."""
    data = {"page": page, "figures": [f.to_json() for f in figures]}
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
