"""Cells formatted a column at a time print as the per-value formatter and filters do."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup, escape

from reportgen.charts.core import spec_dicts, walk
from reportgen.numfmt import NumberFormat, column_format, format_column, format_number
from reportgen.pages.cells import (
    eta_cells,
    eta_rows_html,
    number_cells,
    safe_column,
    text_cells,
)
from reportgen.pages.render import environment

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e6, max_value=1e6),
    st.integers(-(10**20), 10**20),
    st.none(),
    st.booleans(),
    st.text(max_size=5),
)
FORMATS = st.builds(NumberFormat, st.integers(1, 8), st.sampled_from([None, True, False]))


@given(st.lists(VALUES, max_size=30), FORMATS)
def test_a_column_prints_as_its_values_one_by_one(values: list[object], fmt: NumberFormat) -> None:
    assert format_column(values, fmt) == [format_number(v, fmt) for v in values]


@given(st.lists(VALUES, max_size=30))
def test_number_cells_are_what_the_num_filter_writes(values: list[object]) -> None:
    """``{{ value | num(colfmt) }}`` in a template, cell by cell."""
    cell = "{% for v in values %}<td>{{ v | num(f) }}</td>{% endfor %}"
    template = environment().from_string(cell)
    f = column_format(values)
    expected = template.render(values=values, f=f)
    cells = number_cells(values, None)
    assert all(isinstance(c, Markup) for c in cells)
    assert "".join(f"<td>{c}</td>" for c in cells) == expected


@given(st.lists(st.text(max_size=6), max_size=10))
def test_text_is_escaped_unless_nothing_needs_it(texts: list[str]) -> None:
    cells = safe_column(texts)
    assert [str(c) for c in cells] == [str(escape(t)) for t in texts]
    assert all(isinstance(c, Markup) for c in cells)


# the run page's long tables as they were written row by row and cell by cell in Jinja
ROW_LOOP = """{%- autoescape false %}{% for eta, text, cells in rows %}<tr data-eta="{{ eta }}">
      {#- #}<td data-value="{{ eta }}">{{ text }}</td>
      {%- for cell in cells %}<td>{{ cell }}</td>{% endfor %}</tr>
    {% endfor %}{% endautoescape %}"""
ETAS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.floats(1e-9, 1e-2), st.sampled_from([1e-05])
)
CELL_TEXTS = st.lists(st.text(alphabet="ab<&\"'1. ", max_size=4), min_size=1, max_size=4)


@given(st.data(), st.lists(ETAS, max_size=6), st.integers(0, 4))
def test_rows_written_whole_are_what_the_row_loop_wrote(
    data: st.DataObject, etas: list[float], width: int
) -> None:
    columns = [
        text_cells(data.draw(st.lists(CELL_TEXTS, min_size=len(etas), max_size=len(etas))))
        if k % 2
        else number_cells(data.draw(st.lists(VALUES, min_size=len(etas), max_size=len(etas))))
        for k in range(width)
    ]
    cells = list(zip(*columns, strict=True)) if columns else [()] * len(etas)
    rows = list(zip(text_cells(etas), eta_cells(etas), cells, strict=True))
    expected = environment().from_string(ROW_LOOP).render(rows=rows)
    html = eta_rows_html(etas, *columns)
    assert isinstance(html, Markup)
    assert html == expected


def test_rows_carry_the_eta_as_the_template_wrote_it() -> None:
    html = eta_rows_html([1e-05, 3.2e-06, math.inf], text_cells(["a<b", "c", "d"]))
    assert html == (
        '<tr data-eta="1e-05"><td data-value="1e-05">1e\u22125</td><td>a&lt;b</td></tr>\n    '
        '<tr data-eta="3.2e-06"><td data-value="3.2e-06">3.2e\u22126</td><td>c</td></tr>\n    '
        '<tr data-eta="inf"><td data-value="inf">—</td><td>d</td></tr>\n    '
    )


def test_walk_visits_every_dict_in_document_order() -> None:
    spec = {"a": [{"b": 1, "data": {"name": "x"}}, [{"c": {"d": {}}}]], "e": {"f": []}}
    assert [sorted(d) for d in walk(spec)] == [
        ["a", "e"], ["b", "data"], ["name"], ["c"], ["d"], [], ["f"],
    ]  # fmt: skip


JSON = st.recursive(
    st.none() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(JSON)
def test_spec_dicts_are_the_dicts_walk_yields(spec: object) -> None:
    assert [id(d) for d in spec_dicts(spec)] == [id(d) for d in walk(spec)]
