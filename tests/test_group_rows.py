"""The group page's long-table rows written in Python equal what the table macros write."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from reportgen.analysis.doublings import Doubling
from reportgen.analysis.fits import Agreement
from reportgen.analysis.group_stats import QuadHelp
from reportgen.analysis.verdicts import Z_90, ratio90
from reportgen.numfmt import DEFAULT, format_number
from reportgen.pages.group import DoublingRow, QuadRow, RunEtaRow, VerdictRow
from reportgen.pages.group_rows import (
    _num,
    _value,
    doubling_rows_html,
    quad_rows_html,
    run_rows_html,
    verdict_rows_html,
)
from reportgen.pages.judged import NOT_SHOWN as REL_ERR_WHY
from reportgen.pages.render import environment

MACRO_ROW = """{% import "_table.html" as t -%}
<tr class="verdict-{{ (v.row.verdict or 'none') | replace(' ', '-') }}">
{#- #}<td><a href="{{ v.href }}">{{ v.label }}</a></td>
{%- if by_population %}<td class="small">{{ v.population }}</td>{% endif %}{{ t.td_eta(v.row.eta) }}
{#- #}<td>{{ v.row.verdict or "no SE" }}</td>{{ t.td_z(v.row.paired_z) }}
{{- t.td_se(v.ratio, none if v.ratio is none else v.se_ratio) }}{{ t.td_interval(ci90) }}
{{- t.td_se(v.row.diff, v.row.paired_se) }}{{ t.td_interval(v.ci95_diff) }}
{{- t.td_se(v.true, v.se_true) }}
{#- #}</tr>"""

DOUBLING_ROW = """{% import "_table.html" as t -%}
<tr><td><a href="{{ d.href }}">{{ d.label }}</a></td>
{#- #}<td data-value="{{ d.row.eta }}">{{ d.row.eta | eta }} → {{ (2 * d.row.eta) | eta }}</td>
{%- set why = none if d.row.ratio is none else "no se_true" if d.resolved is none
      else "not resolved" if d.resolved is false
      else "no SE" if d.row.se is none else none %}
{%- if why %}<td title="{{ reasons[why] }}">— <span class="muted">({{ why }})</span></td>
{{- t.td_interval(none) }}
{%- else %}{{ t.td_se(d.row.ratio, d.row.se) }}{{ t.td_interval(d.row.ci95) }}{% endif %}</tr>"""

QUAD_ROW = """{% import "_table.html" as t -%}
<tr><td><a href="{{ q.href }}">{{ q.label }}</a></td>{{ t.td_eta(q.row.eta) }}
{{- t.td_se(q.row.abs_linear, q.se_linear) }}{{ t.td_se(q.row.abs_linquad, q.se_linquad) }}
{{- t.td_se(q.row.gain, q.row.se) }}{{ t.td_z(q.row.z) }}</tr>"""

RUN_ROW = """{% import "_table.html" as t -%}
<tr><td><a href="{{ r.href }}">{{ r.run_id }}</a></td>{{ t.td_eta(r.eta) }}
      {#- #}<td>{{ r.true | num }}</td><td>{{ r.linear | num }}</td><td>{{ r.linquad | num }}</td>
      {%- set why = none if r.rel_err is none else "not resolved" if r.resolved is false
            else "no se_true" if r.resolved is none
            else "no SE" if r.rel_err_se is none else none %}
      {%- if r.rel_err is none %}<td>—</td>
      {%- elif why %}<td title="{{ reasons[why] }}">— <span class="muted">({{ why }})</span></td>
      {%- else %}<td data-value="{{ r.rel_err }}">{{ r.rel_err | pct }} <span class="se">±
      {{- " " }}{{ r.rel_err_se | pct_se }}</span></td>{% endif %}</tr>"""

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
maybe = st.none() | floats
texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)


@st.composite
def verdict_rows(draw: st.DrawFn) -> VerdictRow:
    agreement = Agreement(
        eta=draw(st.floats(min_value=1e-9, max_value=1.0)),
        diff=draw(maybe),
        se_linear=None,
        se_true=None,
        combined_se=None,
        within_1sigma=None,
        within_2sigma=None,
        paired_se=draw(maybe),
        paired_z=draw(maybe),
        verdict_linear=draw(st.sampled_from([None, "agrees", "disagrees", "inconclusive"])),
    )
    interval = draw(st.none() | st.tuples(floats, floats))
    return VerdictRow(
        draw(texts), draw(texts), draw(texts), draw(texts), agreement, draw(maybe), draw(maybe),
        interval, draw(maybe), draw(maybe),
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(row=verdict_rows(), by_population=st.booleans())
def test_a_verdict_row_is_what_the_table_macros_write(row: VerdictRow, by_population: bool) -> None:
    ci90 = ratio90(row.ratio, row.se_ratio)
    template = environment().from_string(MACRO_ROW)
    expected = template.render(v=row, ci90=ci90, by_population=by_population)
    assert verdict_rows_html([row], by_population) == (expected,)


def _verdict_cells(html: str) -> list[str]:
    return [cell.split(">", 1)[1] for cell in html.removesuffix("</td></tr>").split("</td><td")]


def test_a_verdict_row_shows_the_ratio_and_the_90_interval_it_was_judged_on() -> None:
    agreement = Agreement(
        eta=1e-6, diff=-2e-5, se_linear=None, se_true=None, combined_se=None,
        within_1sigma=None, within_2sigma=None, paired_se=1e-5, paired_z=-2.0,
        verdict_linear="agrees",
    )  # fmt: skip
    row = VerdictRow("r", "r", "h", "p", agreement, -1e-3, 1e-4, None, 0.98, 0.05)
    assert ratio90(0.98, 0.05) == (0.98 - Z_90 * 0.05, 0.98 + Z_90 * 0.05)
    low, high = ratio90(0.98, 0.05) or (0.0, 0.0)
    (html,) = verdict_rows_html([row], by_population=False)
    cells = _verdict_cells(html)
    interval = f"[{format_number(low, DEFAULT)}, {format_number(high, DEFAULT)}]"
    assert interval == "[0.8978, 1.062]"  # 0.98 ± 1.645·0.05
    assert cells[4:6] == ['0.98 <span class="se">± 0.05</span>', interval]
    assert '<td data-value="0.98">0.98 <span class="se">± 0.05</span></td>' in html
    assert html.count("<td") == 9  # run, η, verdict, z, ratio, 90 %, diff, 95 %, true
    for ratio, se in ((None, None), (None, 0.05), (0.98, None)):
        (html,) = verdict_rows_html([replace(row, ratio=ratio, se_ratio=se)], False)
        cells = _verdict_cells(html)
        assert cells[5] == "—" and "[0.8" not in html
        assert cells[4] == ("—" if ratio is None else "0.98")


etas = st.floats(min_value=1e-9, max_value=1.0)
intervals = st.none() | st.tuples(floats, floats)


@settings(max_examples=200, deadline=None)
@given(
    doubling=st.builds(Doubling, etas, maybe, maybe, intervals),
    resolved=st.sampled_from([None, True, False]),
    label=texts,
    href=texts,
)
def test_a_doubling_row_is_what_the_table_macros_write(
    doubling: Doubling, resolved: bool | None, label: str, href: str
) -> None:
    row = DoublingRow("run", label, href, doubling, resolved)
    expected = environment().from_string(DOUBLING_ROW).render(d=row, reasons=REL_ERR_WHY)
    assert doubling_rows_html([row]) == (expected,)


@settings(max_examples=200, deadline=None)
@given(
    quad=st.builds(QuadHelp, etas, maybe, maybe, maybe, maybe),
    label=texts,
    href=texts,
    ses=st.tuples(maybe, maybe),
)
def test_a_quad_row_is_what_the_table_macros_write(
    quad: QuadHelp, label: str, href: str, ses: tuple[float | None, float | None]
) -> None:
    row = QuadRow("run", label, href, quad, *ses)
    expected = environment().from_string(QUAD_ROW).render(q=row)
    assert quad_rows_html([row]) == (expected,)


@settings(max_examples=300, deadline=None)
@given(
    row=st.builds(
        RunEtaRow,
        texts,
        texts,
        etas,
        maybe,
        maybe,
        maybe,
        maybe,
        maybe,
        st.sampled_from([None, True, False]),
        maybe,
    )
)
def test_a_run_row_is_what_the_table_macros_write(row: RunEtaRow) -> None:
    expected = environment().from_string(RUN_ROW).render(r=row, reasons=REL_ERR_WHY)
    assert run_rows_html([row]) == (expected,)


def test_a_relative_error_shows_its_se_or_a_dash_and_why() -> None:
    row = RunEtaRow("r", "h", 1e-6, -1e-3, -8e-4, -8.1e-4, 0.2, se_true=1e-4)
    (shown,) = run_rows_html([replace(row, resolved=True, rel_err_se=0.05)])
    assert '<td data-value="0.2">+20 % <span class="se">± 5 %</span></td>' in shown
    cases = ((False, 0.05, "not resolved"), (None, None, "no se_true"), (True, None, "no SE"))
    for resolved, se, why in cases:
        (html,) = run_rows_html([replace(row, resolved=resolved, rel_err_se=se)])
        assert "20 %" not in html and f'— <span class="muted">({why})</span>' in html
        assert f'title="{REL_ERR_WHY[why]}"' in html


def test_a_doubling_ratio_without_se_is_not_shown() -> None:
    ratio = Doubling(4e-7, 11.7, None, None)
    (html,) = doubling_rows_html([DoublingRow("run_01", "run_01", "h", ratio, True)])
    assert "11.7" not in html and '— <span class="muted">(no SE)</span>' in html
    (html,) = doubling_rows_html([DoublingRow("run_01", "run_01", "h", ratio, None)])
    assert "11.7" not in html and '— <span class="muted">(no se_true)</span>' in html
    judged = replace(ratio, se=0.5, ci95=(10.0, 13.0))
    (html,) = doubling_rows_html([DoublingRow("run_01", "run_01", "h", judged, True)])
    assert '11.7 <span class="se">± 0.5</span>' in html


def test_quad_rows_show_absolute_errors_with_their_paired_se() -> None:
    quad = QuadHelp(1e-6, 2.4e-4, 2.3e-4, -1e-5, 4e-6)
    (html,) = quad_rows_html([QuadRow("r", "r", "h", quad, 3.1e-4, 3.2e-4)])
    assert html.count('<span class="se">±') == 3
    assert '2.4e−4 <span class="se">± 3.1e−4</span>' in html


def test_the_doubling_chart_says_why_ratios_are_left_out() -> None:
    from collections import Counter

    from reportgen.pages.group_charts import left_out_note

    assert left_out_note(Counter()) is None
    one = left_out_note(Counter({"not resolved": 2}))
    assert one == "2 ratio(s) left out: ΔH_true(η) not resolved from zero"
    both = left_out_note(Counter({"not resolved": 1, "no SE": 2}))
    assert both == (
        "3 ratio(s) left out: no standard error of the ratio (2), "
        "ΔH_true(η) not resolved from zero (1)"
    )


CELL_VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.floats(width=32).map(np.float64)
    | st.text(alphabet="<>&\"'a1.−e", max_size=6)
)


@given(CELL_VALUES)
def test_a_cell_left_unescaped_is_one_escaping_would_not_change(value: object) -> None:
    assert _num(value) == str(escape(format_number(value, DEFAULT)))
    assert _value(value) == str(escape(value))
