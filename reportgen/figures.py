"""The figures a page exported (``--figures``), as the figure index lists them."""

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
class FigureList:
    """A page's figures and where its ``figures/figures.json`` lies (both site paths): handed
    from the page to the figure index in memory, and kept in the build status for a page that
    is carried over."""

    page: str
    manifest: str
    figures: tuple[Figure, ...]
