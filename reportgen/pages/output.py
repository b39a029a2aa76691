"""What every page function returns: the files it made and, for a run, its record."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.analysis.record import RunRecord
from reportgen.figures import FigureList
from reportgen.write import Content


@dataclass(frozen=True)
class ContentSpan:
    """Where a page's content block lies in its file (UTF-8 byte offsets): the build records it
    with the page's digest (a later stale page cuts the content from the page), or, building one
    page on its own (``--single-file``), cuts the private fragment (``stale.stored_page``) from
    the page's bytes."""

    fragment: str  # the private fragment's path
    page: str  # the page file holding the content
    start: int
    end: int
    has_charts: bool

    def stored(self, page: bytes) -> bytes:
        from markupsafe import Markup

        from reportgen.pages.stale import stored_page

        return stored_page(self.has_charts, Markup(page[self.start : self.end].decode("utf-8")))


@dataclass(frozen=True)
class PageOutput:
    """Site-relative paths and their bytes, in writing order; only the build writes them.

    ``private`` are the build's own files (``.reportgen/``: the run page's content for a later
    stale page, the run's per-sequence sample), which the build keeps digests of (all of them:
    ``private_files``); ``figures`` lists what the page exported, for the figure index.
    """

    files: tuple[tuple[str, Content], ...]
    record: RunRecord | None = None
    private: tuple[tuple[str, bytes], ...] = ()
    figures: FigureList | None = None
    fragment: ContentSpan | None = None  # a private file cut from one of ``files``

    def private_files(self) -> tuple[tuple[str, bytes], ...]:
        """``private``, after the fragment ``fragment`` names (cut from its page) if any."""
        if self.fragment is None:
            return self.private
        cut = (self.fragment.fragment, self.fragment.stored(self.content(self.fragment.page)))
        return (cut, *self.private)

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
