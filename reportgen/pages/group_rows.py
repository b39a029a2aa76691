"""The group page's per run and η tables (ΔH values, paired verdicts, doubling ratios,
quadratic term) as ready HTML rows.

A group of many runs has hundreds of these rows; each would cost several macro calls and a
filter per cell in Jinja. The rows are written here, cell for cell as the table macros of
``_table.html`` write them (``td_eta``, ``td_z``, ``td_se``, ``td_interval``), and the templates
only place them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from reportgen.analysis.verdicts import ratio90
from reportgen.numfmt import (
    DEFAULT,
    format_eta,
    format_number,
    format_percent,
    format_percent_se,
    format_z,
)
from reportgen.pages.judged import NOT_SHOWN, unjudged

if TYPE_CHECKING:
    from reportgen.pages.group import DoublingRow, QuadRow, RunEtaRow, VerdictRow

_NONE = "—"


def run_rows_html(rows: Sequence[RunEtaRow]) -> tuple[Markup, ...]:
    """Each row's ``<tr>``: run, η, ΔH true, linear and lin+quad, and the linear relative error
    ± its SE (or "—" and why it is not shown)."""
    return tuple(_run_row(r) for r in rows)


def _run_row(r: RunEtaRow) -> Markup:
    return Markup(
        f"<tr>{_run_cell(r.href, r.run_id)}{_td_eta(r.eta)}<td>{_num(r.true)}</td>"
        f"<td>{_num(r.linear)}</td><td>{_num(r.linquad)}</td>{_td_rel_err(r)}</tr>"
    )


def _td_rel_err(r: RunEtaRow) -> str:
    if r.rel_err is None:
        return f"<td>{_NONE}</td>"
    if (why := unjudged(r.rel_err, r.rel_err_se, r.resolved)) is not None:
        return _td_unjudged(why)
    se = escape(format_percent_se(r.rel_err_se))
    value = escape(format_percent(r.rel_err))
    return f'<td data-value="{_value(r.rel_err)}">{value} <span class="se">± {se}</span></td>'


def verdict_rows_html(rows: Sequence[VerdictRow], by_population: bool) -> tuple[Markup, ...]:
    """Each row's ``<tr>``: run, population (when the group has several), η, verdict, z,
    linear/true ± SE (the SE only beside a ratio) and the 90 % interval the verdict judged
    (``ratio90``), linear − true ± paired SE, its 95 % interval and ΔH_true ± SE."""
    return tuple(_row(v, by_population) for v in rows)


def _row(v: VerdictRow, by_population: bool) -> Markup:
    a = v.row
    verdict_class = escape((a.verdict or "none").replace(" ", "-"))
    population = f'<td class="small">{escape(v.population)}</td>' if by_population else ""
    html = (
        f'<tr class="verdict-{verdict_class}">{_run_cell(v.href, v.label)}'
        f"{population}{_td_eta(a.eta)}<td>{escape(a.verdict or 'no SE')}</td>"
        f"{_td_z(a.paired_z)}{_td_se(v.ratio, None if v.ratio is None else v.se_ratio)}"
        f"{_td_interval(ratio90(v.ratio, v.se_ratio))}"
        f"{_td_se(a.diff, a.paired_se)}{_td_interval(v.ci95_diff)}"
        f"{_td_se(v.true, v.se_true)}</tr>"
    )
    return Markup(html)


def doubling_rows_html(rows: Sequence[DoublingRow]) -> tuple[Markup, ...]:
    """Each row's ``<tr>``: run, η → 2η, then the ratio ± SE and its interval, or why not."""
    return tuple(_doubling_row(d) for d in rows)


def _doubling_row(d: DoublingRow) -> Markup:
    eta = d.row.eta
    if (why := unjudged(d.row.ratio, d.row.se, d.resolved)) is not None:
        ratio = _td_unjudged(why) + _td_interval(None)
    else:
        ratio = _td_se(d.row.ratio, d.row.se) + _td_interval(d.row.ci95)
    return Markup(
        f'<tr>{_run_cell(d.href, d.label)}<td data-value="{_value(eta)}">'
        f"{format_eta(eta)} → {format_eta(2 * eta)}</td>{ratio}</tr>"
    )


def _td_unjudged(why: str) -> str:
    """A value not shown: "—" and the short reason (a key of ``NOT_SHOWN``), the long one in its
    title."""
    return f'<td title="{escape(NOT_SHOWN[why])}">{_NONE} <span class="muted">({why})</span></td>'


def quad_rows_html(rows: Sequence[QuadRow]) -> tuple[Markup, ...]:
    """Each row's ``<tr>``: run, η, |linear − true| and |linquad − true| ± the paired SEs of the
    differences, gain ± SE and its z."""
    return tuple(
        Markup(
            f"<tr>{_run_cell(q.href, q.label)}{_td_eta(q.row.eta)}"
            f"{_td_se(q.row.abs_linear, q.se_linear)}{_td_se(q.row.abs_linquad, q.se_linquad)}"
            f"{_td_se(q.row.gain, q.row.se)}{_td_z(q.row.z)}</tr>"
        )
        for q in rows
    )


def _run_cell(href: str, label: str) -> str:
    return f'<td><a href="{escape(href)}">{escape(label)}</a></td>'


_NUMBERS = (float, int)  # exact types: a subclass may write itself another way


def _num(value: object) -> str:
    """``format_number`` as HTML: a number's text (digits, signs, "e", "—") has nothing to
    escape; anything else is escaped."""
    text = format_number(value, DEFAULT)
    return text if value is None or type(value) in _NUMBERS else escape(text)


def _value(value: object) -> str:
    """A ``data-value`` attribute's text: a number as ``str`` writes it, anything else escaped."""
    return str(value) if type(value) in _NUMBERS else escape(value)


def _td_eta(eta: float) -> str:
    return f'<td data-value="{_value(eta)}">{format_eta(eta)}</td>'


def _td_z(z: float | None) -> str:
    if z is None:
        return f"<td>{_NONE}</td>"
    return f'<td data-value="{_value(z)}">{format_z(z)}</td>'


def _td_se(value: float | None, se: float | None) -> str:
    attribute = "" if value is None else f' data-value="{_value(value)}"'
    error = "" if se is None else f' <span class="se">± {_num(se)}</span>'
    return f"<td{attribute}>{_num(value)}{error}</td>"


def _td_interval(ci: tuple[float, float] | None) -> str:
    text = f"[{_num(ci[0])}, {_num(ci[1])}]" if ci else _NONE
    return f'<td class="small">{text}</td>'
