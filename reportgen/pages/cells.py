"""Long tables' cells formatted a column at a time, for templates that only place them.

A column's text is made in one pass (``numfmt.format_column``) and HTML-escaped with one scan
of the whole column: a column with no character that needs escaping is marked safe as it is,
any other is escaped value by value. Templates then write the cells without a filter per cell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from markupsafe import Markup, escape

from reportgen.numfmt import DEFAULT, NumberFormat, column_format, format_column, format_eta

_NEEDS_ESCAPE = re.compile(r"[&<>\"']")


def safe_column(texts: Sequence[str]) -> list[Markup]:
    """``texts`` as HTML: escaped where one holds a character that needs it."""
    if any(_NEEDS_ESCAPE.search(text) for text in texts):
        return [escape(text) for text in texts]
    # nothing to escape: the text is already HTML (str.__new__ skips Markup's own checks)
    return [str.__new__(Markup, text) for text in texts]


def number_cells(values: Sequence[object], fmt: NumberFormat | None = DEFAULT) -> list[Markup]:
    """``format_number`` of each value; ``fmt=None``: one notation for the column."""
    chosen = column_format(values) if fmt is None else fmt
    return safe_column(format_column(values, chosen))


def text_cells(values: Iterable[object]) -> list[Markup]:
    """``str`` of each value, as ``{{ value }}`` writes it."""
    return safe_column([str(value) for value in values])


def eta_cells(values: Iterable[float | None]) -> list[Markup]:
    """η as ``format_eta`` writes it."""
    return safe_column([format_eta(value) for value in values])


# what follows each row in the run page's long tables: the template's line break and indent
ROW_BREAK = "\n    "


def eta_rows_html(etas: Sequence[float], *columns: Sequence[Markup]) -> Markup:
    """Rows of a long table at one η each, ready to place in its ``<tbody>``: ``data-eta`` and
    the η cell (sortable by its value) from ``etas``, then one ``<td>`` per column, every row
    followed by ``ROW_BREAK`` (as the run page's row loops wrote them)."""
    cells = zip(*columns, strict=True) if columns else [()] * len(etas)
    html = "".join(
        f'<tr data-eta="{eta}"><td data-value="{eta}">{text}</td>'
        f"{''.join(f'<td>{cell}</td>' for cell in row)}</tr>{ROW_BREAK}"
        for eta, text, row in zip(text_cells(etas), eta_cells(etas), cells, strict=True)
    )
    return str.__new__(Markup, html)  # every part is escaped already
