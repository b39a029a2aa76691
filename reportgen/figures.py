"""The figures and paper tables a page exported (``--figures``), as the figure index lists
them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One exported chart as the figure index lists it."""

    id: str
    title: str
    caption: str
    files: tuple[str, ...]
    csv: str | None
    warning: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "caption": self.caption,
            "files": list(self.files),
            "csv": self.csv,
            "warning": self.warning,
        }


@dataclass(frozen=True)
class TableFile:
    """One table for papers written beside a page: its CSV and LaTeX files (site paths)."""

    name: str
    caption: str
    csv: str
    latex: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "caption": self.caption, "csv": self.csv, "latex": self.latex}


@dataclass(frozen=True)
class FigureList:
    """A page's figures and where its ``figures/figures.json`` lies (both site paths): handed
    from the page to the figure index in memory, and kept in the build status for a page that
    is carried over."""

    page: str
    manifest: str
    figures: tuple[Figure, ...]
    tables: tuple[TableFile, ...] = ()
