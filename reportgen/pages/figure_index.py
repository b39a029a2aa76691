"""The figure index (``--figures``): every exported figure of the site, from the pages'
``figures/figures.json`` manifests."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from reportgen.charts import export
from reportgen.charts.export import Figure

FIGURES_PAGE = "figures.html"


@dataclass(frozen=True)
class FigureRow:
    """One exported figure on the figure index, with links relative to the site root."""

    page: str
    page_title: str
    figure: Figure
    links: tuple[tuple[str, str], ...]  # (format, href)
    csv: str | None


@dataclass(frozen=True)
class FiguresView:
    rows: tuple[FigureRow, ...]
    warnings: int


def figures_view(manifests: Sequence[tuple[str, bytes]]) -> FiguresView:
    """The figure index from every page's ``figures/figures.json`` (path, bytes)."""
    rows = []
    for path, content in sorted(manifests):
        directory = posixpath.dirname(path)
        page, figures = export.read_manifest(content)
        title = posixpath.dirname(page).removeprefix("runs/").removeprefix("groups/") or page
        kind = "group" if page.startswith("groups/") else "run"
        for figure in figures:
            links = tuple(
                (name.rsplit(".", 1)[1].upper(), f"{directory}/{name}") for name in figure.files
            )
            csv = f"{directory}/{figure.csv}" if figure.csv else None
            rows.append(FigureRow(page, f"{kind} {title}", figure, links, csv))
    return FiguresView(tuple(rows), sum(1 for r in rows if r.figure.warning))
