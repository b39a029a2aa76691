"""Tables too long for one page: the first page as HTML, every row as compact JSON for
reportgen.js, which pages, searches and sorts them (no ``fetch``: the data is in the page).

The JSON names its columns, so the script reads ``row.id``, never ``r[0]``:
``{"columns": ["id", "schema", …], "lookup": {"schema": ["snis", …]}, "rows": [["a", 0, …]],
"page_size": 100}``. A lookup column holds indexes into its list of values (a list of indexes
for a list-valued column): repeated strings such as schemas or check ids are written once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from markupsafe import Markup

from reportgen.pages import paging
from reportgen.pages.render import json_for_script

Row = TypeVar("Row")


@dataclass(frozen=True)
class CompactTable:
    """How a table's rows are written as JSON: the column names, in row order, and which
    columns are written as indexes into their own list of values."""

    columns: tuple[str, ...]
    lookup: tuple[str, ...] = ()

    def encode(self, rows: Iterable[Sequence[object]], **extra: object) -> dict[str, object]:
        """``{"columns", "lookup", "rows", **extra}``; each row has one value per column."""
        indexes: dict[str, dict[object, int]] = {name: {} for name in self.lookup}
        positions = [(self.columns.index(name), indexes[name]) for name in self.lookup]
        out = []
        for row in rows:
            values = list(row)
            for position, index in positions:
                value = values[position]
                if isinstance(value, list | tuple):
                    values[position] = [index.setdefault(v, len(index)) for v in value]
                else:
                    values[position] = index.setdefault(value, len(index))
            out.append(values)
        lookup = {name: list(index) for name, index in indexes.items()}
        return {"columns": list(self.columns), "lookup": lookup, "rows": out, **extra}


@dataclass(frozen=True)
class RowsScript:
    """Every row of a table as a script file: ``path`` (site-relative, beside its page) and the
    bytes, which put the JSON at ``window.reportgenRows[key]``."""

    path: str
    content: bytes


@dataclass(frozen=True, eq=False)
class PagedRows(Generic[Row]):
    """The rows a template renders as HTML (all of them, or the first page) and, when paged,
    every row as JSON for reportgen.js: in the page (``data``) or beside it (``script``)."""

    rows: tuple[Row, ...]
    total: int
    data: Markup | None
    script: RowsScript | None = None
    page_size: int = paging.PAGE_SIZE

    @property
    def paged(self) -> bool:
        return self.data is not None or self.script is not None


def paged(
    rows: Sequence[Row],
    encoded: Iterable[Sequence[object]],
    table: CompactTable,
    script: tuple[str, str],
    **extra: object,
) -> PagedRows[Row]:
    """``rows`` as a template shows them: every row as HTML, or (more than
    ``paging.PAGED_ABOVE``) the first page as HTML and ``encoded`` (one JSON row per row, made
    only then) as the table's data, with ``extra`` keys beside its rows; more than
    ``paging.SEPARATE_ABOVE`` rows go to the script file ``script`` = (path, key) instead."""
    if len(rows) <= paging.PAGED_ABOVE:
        return PagedRows(tuple(rows), len(rows), None)
    size = paging.PAGE_SIZE
    data = json_for_script(table.encode(encoded, page_size=size, **extra))
    first = tuple(rows[:size])
    if len(rows) <= paging.SEPARATE_ABOVE:
        return PagedRows(first, len(rows), data, page_size=size)
    path, key = script
    rows_global = "(window.reportgenRows = window.reportgenRows || {})"
    content = f"{rows_global}[{json_for_script(key)}] = {data};\n"
    return PagedRows(first, len(rows), None, RowsScript(path, content.encode()), size)
