"""The figures and paper tables a page exported (``--figures``), as the figure index lists
them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from reportgen.write import VerifiedFiles


@dataclass(frozen=True)
class FigureSource:
    """One figure file as the build status keeps it: its site path, the sha256 of everything
    its bytes depend on (``export.figure_keys``) and the sha256 of its bytes."""

    path: str
    key: str
    digest: str


@dataclass(frozen=True)
class Figure:
    """One exported chart as the figure index lists it (``sources``: for the status only)."""

    id: str
    title: str
    caption: str
    files: tuple[str, ...]
    csv: str | None
    warning: str | None = None
    sources: tuple[FigureSource, ...] = ()

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


@dataclass(frozen=True)
class PreviousFigures:
    """A page's figure files in the previous site: one is taken instead of converting again
    when its key is tonight's and its bytes are those its build recorded. Picklable."""

    files: VerifiedFiles  # the previous site, the files' digests by site path
    keys: Mapping[str, str]  # their keys, by site path

    def read(self, path: str, key: str) -> bytes | None:
        return self.files.read(path) if self.keys.get(path) == key else None


class Exported(Protocol):
    """A page's status in the previous build: what its page exported."""

    @property
    def figures(self) -> FigureList | None: ...


def figures_before(
    statuses: Mapping[str, Exported], site: Path | None
) -> dict[str, PreviousFigures]:
    """By page id, the figures each page exported in the previous build, to take again where
    unchanged (``site``: the previous site; ``None``: take none)."""
    if site is None:
        return {}
    found = {}
    for page_id, status in statuses.items():
        listed = status.figures
        sources = [s for figure in listed.figures for s in figure.sources] if listed else []
        if sources:
            files = VerifiedFiles(site, {s.path: s.digest for s in sources})
            found[page_id] = PreviousFigures(files, {s.path: s.key for s in sources})
    return found
