"""CSV cells a spreadsheet opens as data: a text cell that starts like a formula (``=``, ``+``,
``-``, ``@``, a tab or a carriage return) would be evaluated by Excel, LibreOffice or Sheets
(CSV injection: ``=HYPERLINK(…)`` in a run's name), so it is written with a leading apostrophe,
which spreadsheets show as text. Only text cells: a number, negative ones included, stays a
number. ``reportgen.js`` applies the same rule to the CSV it makes in the browser.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTES = frozenset(',"\n\r')


def text_cell(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows and never evaluates."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_line(cells: Iterable[str]) -> str:
    """One CSV row (RFC 4180): a cell holding a comma, a quote or a line break, carriage
    returns included, is quoted, its quotes doubled."""
    return ",".join(
        '"' + cell.replace('"', '""') + '"' if _NEEDS_QUOTES.intersection(cell) else cell
        for cell in cells
    )
