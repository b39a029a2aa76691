"""Lists of scalars and of scalar pairs are decoded in bulk: exactly as item by item, and every
value of another shape still refused."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reportgen.codec import RecordError, decoder

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4), max_leaves=12)
KINDS: list[Any] = [
    tuple[str, ...],
    tuple[int, ...],
    tuple[bool, ...],
    tuple[tuple[str, str], ...],
    tuple[tuple[str, int], ...],
    tuple[float, ...],
    tuple[tuple[float, float], ...],
    tuple[tuple[str, str | None], ...],
]


def _item_by_item(kind: Any) -> Any:
    """The decoder without the bulk path: one decoder call per item."""
    each = decoder(kind.__args__[0])

    def decode(value: object) -> tuple[Any, ...]:
        if type(value) is not list:
            raise RecordError("a list")
        return tuple(map(each, value))

    return decode


def _outcome(decode: Any, value: object) -> object:
    try:
        return ("ok", decode(value))
    except RecordError:
        return ("refused",)


@pytest.mark.parametrize("kind", KINDS, ids=str)
@given(value=JSON)
def test_bulk_decoding_agrees_with_item_by_item(kind: Any, value: object) -> None:
    bulk = decoder(kind)
    assert _outcome(bulk, value) == _outcome(_item_by_item(kind), value)


def test_pairs_of_the_wrong_shape_are_refused() -> None:
    decode = decoder(tuple[tuple[str, str], ...])
    assert decode([["a", "b"], ["c", "d"]]) == (("a", "b"), ("c", "d"))
    for bad in ([["a", "b", "c"]], [["a", 1]], [("a", "b")], [["a"]], "ab", [[True, "b"]]):
        with pytest.raises(RecordError):
            decode(bad)


def test_scalars_of_another_type_are_refused() -> None:
    with pytest.raises(RecordError):
        decoder(tuple[str, ...])(["a", 1])
    with pytest.raises(RecordError):
        decoder(tuple[int, ...])([1, True])  # a boolean is not an integer here
    assert decoder(tuple[int, ...])([1, 2]) == (1, 2)
    assert decoder(tuple[float, ...])([1, 2.5]) == (1.0, 2.5)  # a whole number is a number
