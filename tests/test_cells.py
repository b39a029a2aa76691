"""Cells formatted a column at a time print as the per-value formatter and filters do."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup, escape

from reportgen.charts.core import spec_dicts, walk
from reportgen.numfmt import NumberFormat, column_format, format_column, format_number
from reportgen.pages.cells import eta_cell_rows, number_cells, safe_column, text_cells
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


def test_eta_rows_carry_the_eta_as_the_template_wrote_it() -> None:
    etas = [1e-05, 3.2e-06, math.inf]
    (first, second, third) = eta_cell_rows(etas, text_cells(["a<b", "c", "d"]))
    assert (first.eta, first.eta_text, first.cells) == ("1e-05", "1e\u22125", ("a&lt;b",))
    assert (second.eta, second.eta_text) == ("3.2e-06", "3.2e\u22126")
    assert (third.eta, third.eta_text) == ("inf", "—")
    # the run page writes these rows with autoescape off: every field must be escaped already
    for row in (first, second, third):
        assert all(isinstance(v, Markup) for v in (row.eta, row.eta_text, *row.cells))


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
