"""The group page's verdict rows written in Python equal what the table macros write."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.fits import Agreement
from reportgen.pages.group import VerdictRow
from reportgen.pages.render import environment
from reportgen.pages.verdict_rows import verdict_rows_html

MACRO_ROW = """{% import "_table.html" as t -%}
<tr class="verdict-{{ (v.row.verdict or 'none') | replace(' ', '-') }}">
{#- #}<td><a href="{{ v.href }}">{{ v.label }}</a></td>
{%- if by_population %}<td class="small">{{ v.population }}</td>{% endif %}{{ t.td_eta(v.row.eta) }}
{#- #}<td>{{ v.row.verdict or "no SE" }}</td>{{ t.td_z(v.row.paired_z) }}
{{- t.td_se(v.row.diff, v.row.paired_se) }}{{ t.td_interval(v.ci95_diff) }}
{{- t.td_se(v.true, v.se_true) }}
{#- #}</tr>"""

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
