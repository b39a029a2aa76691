"""The written-out decoders decode exactly what a plain recursive decoder of the type hints
decodes (the same values, of the same types), refuse exactly what it refuses, and hold values
that repeat across records once."""

from __future__ import annotations

import dataclasses
import pickle
import types
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reportgen.analysis.group_stats import AgreementTally
from reportgen.analysis.merge import RunStats
from reportgen.analysis.record import RunRecord
from reportgen.codec import SHARED, RecordError, decoder, encode
from reportgen.decoders import filling_decoder

# --- the reference: one plain function per form of type, item by item ------------------------


def reference(kind: Any, value: Any) -> Any:
    """``value`` (plain JSON) checked against ``kind`` and built, the obvious way."""
    origin, args = get_origin(kind), get_args(kind)
    if kind in (str, int, bool):
        if type(value) is not kind:
            raise RecordError(kind.__name__)
        return value
    if kind is float:
        if type(value) not in (float, int):
            raise RecordError("float")
        return float(value)
    if kind is type(None) or kind is None:
        if value is not None:
            raise RecordError("null")
        return None
    if origin in (Union, types.UnionType):
        for option in args:
            try:
                return reference(option, value)
            except RecordError:
                continue
        raise RecordError("union")
    if origin is Literal:
        for allowed in args:
            if type(value) is type(allowed) and value == allowed:
                return allowed
        raise RecordError("literal")
    if origin is tuple:
        if type(value) is not list:
            raise RecordError("list")
        if args[1:] == (Ellipsis,):
            return tuple(reference(args[0], item) for item in value)
        if len(value) != len(args):
            raise RecordError("length")
        return tuple(reference(a, item) for a, item in zip(args, value, strict=True))
    hints = get_type_hints(kind)
    if type(value) is not dict or value.keys() != hints.keys():
        raise RecordError("fields")
    return kind(**{name: reference(hint, value[name]) for name, hint in hints.items()})


def outcome(decode: Any, value: object) -> tuple[str, str]:
    """What decoding ``value`` gives, types included (``repr`` tells 1 from 1.0, -0.0 from 0.0)."""
    try:
        return ("ok", repr(decode(value)))
    except RecordError:
        return ("refused", "")


# --- values of a type, and JSON values of any shape -------------------------------------------


def values_of(kind: Any) -> st.SearchStrategy[Any]:
    """Values of ``kind`` as the build makes them (finite numbers; few items per tuple)."""
    origin, args = get_origin(kind), get_args(kind)
    scalars: dict[Any, st.SearchStrategy[Any]] = {
        str: st.sampled_from(["", "ok", "se_true", "η"]) | st.text(max_size=4),
        int: st.integers(-(2**63), 2**63 - 1),
        bool: st.booleans(),
        float: st.floats(allow_nan=False, allow_infinity=False),
        type(None): st.none(),
    }
    if kind in scalars:
        return scalars[kind]
    if origin in (Union, types.UnionType):
        return st.one_of([values_of(a) for a in args])
    if origin is Literal:
        return st.sampled_from(args)
    if origin is tuple and args[1:] == (Ellipsis,):
        return st.lists(values_of(args[0]), max_size=2).map(tuple)
    if origin is tuple:
        return st.tuples(*map(values_of, args))
    hints = get_type_hints(kind)
    return st.builds(kind, **{name: values_of(hint) for name, hint in hints.items()})


SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(), st.text(max_size=2))
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=2)
    ),
    max_leaves=6,
)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value: the value itself, each list item and each dict value."""
    found = [at]
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found += _paths(item, (*at, key))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


@dataclass(frozen=True)
class Plain:
    """Without slots, and with a union of two types."""

    name: str
    amount: int | str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Checked:
    """Its own ``__post_init__``: decoding calls the class."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if self.low != self.low:  # JSON holds no NaN: only a value made here has one
            raise RecordError("not a number")


@dataclass(frozen=True, slots=True)
class Labelled:
    label: Literal["agrees", "disagrees", 3]
    pairs: tuple[tuple[str, str], ...] = field(default=(), metadata={SHARED: True})
    interval: tuple[float, float] | None = None
    nested: tuple[Checked, ...] = ()
    plain: Plain | None = None


# the run record and a group's row: large, so slow to draw
KINDS: list[Any] = [
    pytest.param(RunRecord, marks=pytest.mark.slow, id="RunRecord"),
    pytest.param(RunStats, marks=pytest.mark.slow, id="RunStats"),
    AgreementTally,
    Labelled,
    Plain,
]


# --- decoded exactly as the reference ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: getattr(k, "__name__", ""))
@settings(max_examples=60)
@given(data=st.data())
def test_encoded_records_decode_to_themselves_as_the_reference_decodes_them(
    kind: Any, data: st.DataObject
) -> None:
    record = data.draw(values_of(kind))
    value = orjson.loads(encode(record))
    decoded = decoder(kind)(value)
    assert decoded == record and type(decoded) is kind
    assert repr(decoded) == repr(record) == repr(reference(kind, value))


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: getattr(k, "__name__", ""))
@settings(max_examples=150)
@given(data=st.data(), new=JSON)
def test_a_value_changed_anywhere_is_refused_or_decoded_as_the_reference_does(
    kind: Any, data: st.DataObject, new: Any
) -> None:
    value = orjson.loads(encode(data.draw(values_of(kind))))
    path = data.draw(st.sampled_from(_paths(value)))
    changed = _replaced(value, path, new)
    assert outcome(decoder(kind), changed) == outcome(lambda v: reference(kind, v), changed)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (str, 1),
        (str, None),
        (int, 1.0),
        (int, True),  # a boolean is not an integer
        (int, "1"),
        (bool, 0),
        (float, True),
        (float, "1.0"),
        (float, None),
        (float | None, [1.0]),
        (str | None, 3),
        (int | None, False),
        (type(None), 0),
        (Literal["ok", "error"], "OK"),
        (Literal["ok", "error"], ["ok"]),  # unhashable
        (Literal[1, 2], True),
        (tuple[float, float], [1.0]),
        (tuple[float, float], [1.0, 2.0, 3.0]),
        (tuple[float, float], [1.0, "2"]),
        (tuple[float, float], (1.0, 2.0)),  # only a JSON list is a tuple
        (tuple[float, float] | None, {"a": 1}),
        (tuple[str, ...], "ab"),
        (tuple[str, ...], ["a", None]),
        (tuple[float, ...], [1.0, True]),
        (tuple[tuple[str, str], ...], [["a", "b"], ["c"]]),
        (tuple[tuple[str, str], ...], [["a", "b"], "cd"]),
        (tuple[tuple[str, str], ...], [["a", 1]]),
        (tuple[tuple[float, float], ...], [[1.0, None]]),
        (tuple[Checked, ...], [{"low": 1.0}]),
        (tuple[Checked, ...], {"low": 1.0, "high": 2.0}),
        (Checked, {"low": 1.0, "high": 2.0, "extra": 1}),
        (Checked, {"low": 1.0, "width": 2.0}),
        (Checked, [1.0, 2.0]),
        (Checked, {"low": float("nan"), "high": 2.0}),  # its own check
        (Plain, {"name": "a", "amount": 1.5, "note": None}),
        (
            Labelled,
            {"label": "agrees", "pairs": [["a"]], "interval": None, "nested": [], "plain": None},
        ),
    ],
    ids=repr,
)
def test_every_value_of_another_type_is_refused(kind: Any, value: object) -> None:
    with pytest.raises(RecordError):
        reference(kind, value)
    with pytest.raises(RecordError):
        decoder(kind)(value)


def test_a_refusal_says_where_and_what_was_expected() -> None:
    good = orjson.loads(encode(Labelled("agrees", nested=(Checked(1.0, 2.0),))))
    bad = {**good, "nested": [{"low": "x", "high": 2.0}]}
    with pytest.raises(RecordError, match=r"Checked\.low: expected a number, got str 'x'"):
        decoder(Labelled)(bad)
    with pytest.raises(
        RecordError, match=r"Labelled: fields missing \['plain'\], unknown \['more'\]"
    ):
        decoder(Labelled)({**{k: v for k, v in good.items() if k != "plain"}, "more": 1})
    with pytest.raises(RecordError, match=r"Labelled\.interval\[1\]: expected a number"):
        decoder(Labelled)({**good, "interval": [1.0, None]})


# --- the objects decoded ----------------------------------------------------------------------


def test_decoded_records_are_ordinary_frozen_instances() -> None:
    record = Labelled("agrees", (("a", "b"),), (1.0, 2.0), (Checked(0.0, 1.0),), Plain("p", 3))
    decoded = decoder(Labelled)(orjson.loads(encode(record)))
    assert type(decoded) is Labelled and type(decoded.nested[0]) is Checked
    assert decoded == record and hash(decoded) == hash(record)
    assert pickle.loads(pickle.dumps(decoded)) == record
    assert dataclasses.replace(decoded, label="disagrees").label == "disagrees"
    with pytest.raises(dataclasses.FrozenInstanceError):
        decoded.label = "disagrees"  # type: ignore[misc]


def test_values_that_repeat_across_records_are_held_once() -> None:
    record = Labelled(3, (("se_true", "delta-method"),), plain=Plain("shared name", "x"))
    first, second = (decoder(Labelled)(orjson.loads(encode(record))) for _ in range(2))
    assert first is not second and first == second
    assert first.pairs is second.pairs  # a field marked SHARED: one object per value
    assert first.plain is not None and second.plain is not None
    assert first.plain.name is second.plain.name  # strings: one object per value
    assert first.label is second.label == 3


def test_a_filling_decoder_checks_the_fields_it_replaces_and_takes_the_values_given() -> None:
    value = orjson.loads(encode(Labelled("agrees")))
    given = (Plain("given", 1),)
    decoded = filling_decoder(Labelled, ("plain",))(value, *given)
    assert decoded == Labelled("agrees", plain=given[0]) and decoded.plain is given[0]
    with pytest.raises(RecordError):
        filling_decoder(Labelled, ("plain",))({**value, "plain": "not a Plain"}, *given)
    with pytest.raises(TypeError):
        filling_decoder(Labelled, ("nothing",))
