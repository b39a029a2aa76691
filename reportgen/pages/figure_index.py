"""The figure index (``--figures``): every exported figure of the site as a card with its
thumbnail, caption, files and data, found by search and by group, population and chart kind."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from reportgen.figures import Figure, FigureList, TableFile

FIGURES_PAGE = "figures.html"
THUMBNAIL_FORMATS = ("svg", "png")  # what a browser shows as an image, best first

# A chart drawn once per population or per batch-size pair carries the number in its id, a
# population's followed by its label ("paired-z-p1-b-e-512", "batch-comparison-b0"); the chart
# kind is the id without them.
_INSTANCE = re.compile(r"-(?P<what>[pb])\d+(?:-[a-z0-9-]+)?$")
_LAST_PARENTHESIS = re.compile(r"\s*\(([^()]*)\)$")
TOP_LEVEL = "(top level)"


@dataclass(frozen=True)
class FigureRow:
    """One exported figure on the figure index, with links relative to the site root."""

    page: str
    page_title: str
    figure: Figure
    links: tuple[tuple[str, str], ...]  # (format, href)
    csv: str | None
    group: str  # the group of the page it comes from (a run's own group)
    kind: str
    population: str  # "" for a chart that is not drawn per population
    thumbnail: str | None  # the SVG or PNG file itself

    @property
    def search_text(self) -> str:
        f = self.figure
        return " ".join((f.id, f.title, f.caption, self.page_title)).lower()


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class TableRow:
    """One table for papers on the figure index (links relative to the site root)."""

    page: str
    page_title: str
    table: TableFile


@dataclass(frozen=True)
class FiguresView:
    rows: tuple[FigureRow, ...]
    warnings: int
    groups: tuple[Choice, ...]
    populations: tuple[Choice, ...]
    kinds: tuple[Choice, ...]
    tables: tuple[TableRow, ...] = ()


def figures_view(lists: Sequence[FigureList]) -> FiguresView:
    """The figure index from every page's figure list."""
    rows = [
        row
        for listed in sorted(lists, key=lambda f: f.manifest)
        for row in _rows(posixpath.dirname(listed.manifest), listed.page, listed.figures)
    ]
    tables = tuple(
        TableRow(listed.page, _page_title(listed.page)[0], table)
        for listed in sorted(lists, key=lambda f: f.manifest)
        for table in listed.tables
    )
    kinds: dict[str, str] = {}
    for row in rows:
        kinds.setdefault(row.kind, _without_population(row))
    return FiguresView(
        rows=tuple(rows),
        warnings=sum(1 for r in rows if r.figure.warning),
        groups=tuple(Choice(g, g) for g in sorted({r.group for r in rows})),
        populations=tuple(Choice(p, p) for p in sorted({r.population for r in rows} - {""})),
        kinds=tuple(Choice(k, f"{label} ({k})") for k, label in sorted(kinds.items())),
        tables=tables,
    )


def _page_title(page: str) -> tuple[str, str]:
    """A page's title on the index ("group a/b", "run a/b/r1") and its group."""
    where = posixpath.dirname(page)
    kind = "group" if page.startswith("groups/") else "run"
    title = where.removeprefix("runs/").removeprefix("groups/") or page
    group = title if kind == "group" else posixpath.dirname(title)
    return f"{kind} {title}", group


def _rows(directory: str, page: str, figures: Sequence[Figure]) -> list[FigureRow]:
    """The figures of one page; ``directory`` holds their files (site-relative)."""
    page_title, group = _page_title(page)
    rows = []
    for figure in figures:
        links = tuple(
            (name.rsplit(".", 1)[1].upper(), f"{directory}/{name}") for name in figure.files
        )
        by_format = {name.rsplit(".", 1)[1].lower(): name for name in figure.files}
        thumbnail = next((by_format[f] for f in THUMBNAIL_FORMATS if f in by_format), None)
        instance = _INSTANCE.search(figure.id)
        population = ""
        if instance is not None and instance["what"] == "p":
            label = _LAST_PARENTHESIS.search(figure.title)
            population = label.group(1) if label else ""
        rows.append(
            FigureRow(
                page=page,
                page_title=page_title,
                figure=figure,
                links=links,
                csv=f"{directory}/{figure.csv}" if figure.csv else None,
                group=group or TOP_LEVEL,
                kind=figure.id[: instance.start()] if instance else figure.id,
                population=population,
                thumbnail=f"{directory}/{thumbnail}" if thumbnail else None,
            )
        )
    return rows


def _without_population(row: FigureRow) -> str:
    """The chart's title without the population it was drawn for: the kind's label."""
    if not row.population:
        return row.figure.title
    return _LAST_PARENTHESIS.sub("", row.figure.title)
