"""The group page's long-table rows written in Python equal what the table macros write."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.doublings import Doubling
from reportgen.analysis.fits import Agreement
from reportgen.analysis.group_stats import QuadHelp
from reportgen.pages.group import DoublingRow, QuadRow, RunEtaRow, VerdictRow
from reportgen.pages.group_rows import (
    doubling_rows_html,
    quad_rows_html,
    run_rows_html,
    verdict_rows_html,
)
from reportgen.pages.render import environment

MACRO_ROW = """{% import "_table.html" as t -%}
<tr class="verdict-{{ (v.row.verdict or 'none') | replace(' ', '-') }}">
{#- #}<td><a href="{{ v.href }}">{{ v.label }}</a></td>
{%- if by_population %}<td class="small">{{ v.population }}</td>{% endif %}{{ t.td_eta(v.row.eta) }}
{#- #}<td>{{ v.row.verdict or "no SE" }}</td>{{ t.td_z(v.row.paired_z) }}
{{- t.td_se(v.row.diff, v.row.paired_se) }}{{ t.td_interval(v.ci95_diff) }}
{{- t.td_se(v.true, v.se_true) }}
{#- #}</tr>"""

DOUBLING_ROW = """{% import "_table.html" as t -%}
<tr><td><a href="{{ d.href }}">{{ d.label }}</a></td>
{#- #}<td data-value="{{ d.row.eta }}">{{ d.row.eta | eta }} → {{ (2 * d.row.eta) | eta }}</td>
{%- if d.resolved is false %}<td><span class="muted">not resolved</span></td>
{#- #}<td class="small">ΔH_true(η) within 2 SE of zero</td>
{%- else %}{{ t.td_se(d.row.ratio, d.row.se) }}{{ t.td_interval(d.row.ci95) }}{% endif %}</tr>"""

QUAD_ROW = """{% import "_table.html" as t -%}
<tr><td><a href="{{ q.href }}">{{ q.label }}</a></td>{{ t.td_eta(q.row.eta) }}
{#- #}<td>{{ q.row.abs_linear | num }}</td><td>{{ q.row.abs_linquad | num }}</td>
{{- t.td_se(q.row.gain, q.row.se) }}{{ t.td_z(q.row.z) }}</tr>"""

RUN_ROW = """{% import "_table.html" as t -%}
<tr><td><a href="{{ r.href }}">{{ r.run_id }}</a></td>{{ t.td_eta(r.eta) }}
      {#- #}<td>{{ r.true | num }}</td><td>{{ r.linear | num }}</td><td>{{ r.linquad | num }}</td>
      {#- #}<td>{% if r.resolved is false %}<span class="muted">not resolved</span>
      {%- else %}{{ r.rel_err | pct }}
      {%- if r.resolved is none and r.rel_err is not none %} <span class="muted">(no se_true)</span>
      {%- endif %}{%- endif %}</td></tr>"""

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
        interval,
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(row=verdict_rows(), by_population=st.booleans())
def test_a_verdict_row_is_what_the_table_macros_write(row: VerdictRow, by_population: bool) -> None:
    expected = environment().from_string(MACRO_ROW).render(v=row, by_population=by_population)
    assert verdict_rows_html([row], by_population) == (expected,)


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
    expected = environment().from_string(DOUBLING_ROW).render(d=row)
    assert doubling_rows_html([row]) == (expected,)


@settings(max_examples=200, deadline=None)
@given(quad=st.builds(QuadHelp, etas, maybe, maybe, maybe, maybe), label=texts, href=texts)
def test_a_quad_row_is_what_the_table_macros_write(quad: QuadHelp, label: str, href: str) -> None:
    row = QuadRow("run", label, href, quad)
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
    )
)
def test_a_run_row_is_what_the_table_macros_write(row: RunEtaRow) -> None:
    expected = environment().from_string(RUN_ROW).render(r=row)
    assert run_rows_html([row]) == (expected,)
