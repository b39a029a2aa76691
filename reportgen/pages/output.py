"""What every page function returns: the files it made and, for a run, its record."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.analysis.record import RunRecord
from reportgen.figures import FigureList
from reportgen.write import Content


@dataclass(frozen=True)
class PageOutput:
    """Site-relative paths and their bytes, in writing order; only the build writes them.

    ``private`` are the build's own files (``.reportgen/``: the run page's content for a later
    stale page, the run's per-sequence sample), which the build keeps digests of; ``figures``
    lists what the page exported, for the figure index.
    """

    files: tuple[tuple[str, Content], ...]
    record: RunRecord | None = None
    private: tuple[tuple[str, bytes], ...] = ()
    figures: FigureList | None = None

    @property
    def ok(self) -> bool:
        return self.record is None or self.record.ok

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.files)

    def content(self, path: str) -> bytes:
        """The bytes of one of ``files`` (joined, if it came in pieces)."""
        content = dict(self.files)[path]
        return content if isinstance(content, bytes) else b"".join(content)
