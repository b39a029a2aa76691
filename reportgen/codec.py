"""Typed records ⇄ JSON: frozen dataclasses encoded by orjson, decoded against their type hints.

A private cache file is data from disk: decoding checks every value against the field's type
(a number where a number belongs, a ``Literal`` among its values, tuples of the right length)
and raises ``RecordError`` for anything else, which the build treats as a cache miss.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import orjson

T = TypeVar("T")
Decoder = Callable[[Any], Any]
# a field's metadata key: its values repeat across records, and each distinct value decoded is
# held once (``field(metadata={SHARED: True})``)
SHARED = "reportgen.shared"


class RecordError(ValueError):
    """A cached record that does not have the shape of the current format."""


def encode(value: object) -> bytes:
    """Canonical JSON of a dataclass tree, keys sorted.

    Dataclasses go through ``fields_of``: orjson's own dataclass path reads each instance's
    ``__dict__``, which makes CPython give every instance a dict of its own for as long as it
    lives (a group's records would hold tens of MB more).
    """
    return orjson.dumps(
        value,
        default=fields_of,
        option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS,
    )


def encode_pieces(value: object, depth: int = 4) -> Iterator[bytes]:
    """``value`` as JSON in pieces that join to one document (sorted keys, as ``encode``): the
    containers of the first ``depth`` levels are laid out here, everything below them by
    orjson, so no buffer holds much more than one piece (orjson's grows to several times its
    output while it writes)."""
    if depth > 0 and (isinstance(value, dict) or _is_record(value)):
        items = sorted((value if isinstance(value, dict) else fields_of(value)).items())
        yield b"{"
        for i, (key, item) in enumerate(items):
            yield (b"," if i else b"") + orjson.dumps(key) + b":"
            yield from encode_pieces(item, depth - 1)
        yield b"}"
    elif depth > 0 and isinstance(value, list | tuple):
        yield b"["
        for i, item in enumerate(value):
            if i:
                yield b","
            yield from encode_pieces(item, depth - 1)
        yield b"]"
    else:
        yield encode(value)


def _is_record(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def fields_of(value: object) -> dict[str, Any]:
    """A dataclass instance's fields by name, in declaration order (one level: nested records
    stay records); a ``TypeError`` for anything else."""
    if not _is_record(value):
        raise TypeError(f"not a record value: {type(value).__name__}")
    kind: Any = type(value)
    names, getter = _getter(kind)
    values = getter(value)
    return dict(zip(names, values if len(names) > 1 else (values,), strict=True))


@functools.cache
def _getter(kind: Any) -> tuple[tuple[str, ...], Callable[[Any], Any]]:
    names = tuple(f.name for f in dataclasses.fields(kind))
    return names, operator.attrgetter(*names)


def decode_versioned(kind: type[T], version: int, data: bytes, *, part: bool = False) -> T:
    """The ``kind`` instance that ``encode({"format": version, "record": …})`` wrote; a
    ``RecordError`` for anything else (another format, a field of the wrong type, not JSON).

    ``part``: ``kind`` names some of the record's fields (the others are not decoded).
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"not JSON: {exc}") from exc
    if not isinstance(value, dict) or value.keys() != {"format", "record"}:
        raise RecordError("not a record")
    if value["format"] != version:
        raise RecordError(f"record format {value['format']!r}, not {version}")
    record = value["record"]
    if part and isinstance(record, dict):
        names = [f.name for f in dataclasses.fields(kind)]  # type: ignore[arg-type]
        if not record.keys() >= set(names):
            raise RecordError(f"not a record holding {kind.__name__}")
        record = {name: record[name] for name in names}
    decoded: T = decoder(kind)(record)
    return decoded


def decoder(kind: Any) -> Decoder:
    """A function that checks a plain JSON value against ``kind`` and builds it."""
    return _decoder(kind)


@functools.cache
def _decoder(kind: Any) -> Decoder:
    if kind in _SCALARS:
        return _SCALARS[kind]
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        return _union(get_args(kind))
    if origin is Literal:
        return _literal(get_args(kind))
    if origin is tuple:
        return _tuple(get_args(kind))
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _dataclass(kind)
    raise TypeError(f"no record decoder for {kind!r}")


def _fail(expected: str, value: object) -> RecordError:
    return RecordError(f"expected {expected}, got {type(value).__name__} {value!r:.60}")


def _float(value: object) -> float:
    if type(value) is float:
        return value
    if type(value) is int:  # orjson writes a whole float as 1.0, but a number is a number
        return float(value)
    raise _fail("a number", value)


def _int(value: object) -> int:
    if type(value) is int:
        return value
    raise _fail("an integer", value)


def _str(value: object) -> str:
    if type(value) is str:
        return value
    raise _fail("a string", value)


def _bool(value: object) -> bool:
    if type(value) is bool:
        return value
    raise _fail("true or false", value)


def _none(value: object) -> None:
    if value is not None:
        raise _fail("null", value)


def _optional_float(value: object) -> float | None:
    if value is None or type(value) is float:
        return value
    return _float(value)


_SCALARS: dict[Any, Decoder] = {
    float: _float,
    int: _int,
    str: _str,
    bool: _bool,
    type(None): _none,
    None: _none,
}


def _union(options: tuple[Any, ...]) -> Decoder:
    rest = [o for o in options if o is not type(None)]
    if len(rest) == 1 and len(options) == 2:  # ``X | None``: the common case, made fast
        inner = _decoder(rest[0])
        if inner is _float:
            return _optional_float
        return lambda value: None if value is None else inner(value)
    decoders = [_decoder(o) for o in options]

    def decode_union(value: object) -> object:
        for option in decoders:
            try:
                return option(value)
            except RecordError:
                continue
        raise _fail(" or ".join(map(str, options)), value)

    return decode_union


def _literal(allowed: tuple[Any, ...]) -> Decoder:
    # the allowed constant itself is returned, so that every record holds one shared object
    canonical = {(type(v), v): v for v in allowed}

    def decode_literal(value: object) -> object:
        try:
            return canonical[type(value), value]
        except (KeyError, TypeError):  # TypeError: unhashable (a list or a dict)
            raise _fail(f"one of {allowed}", value) from None

    return decode_literal


def _tuple(items: tuple[Any, ...]) -> Decoder:
    if len(items) == 2 and items[1] is Ellipsis:
        each = _decoder(items[0])

        def decode_variadic(value: object) -> tuple[Any, ...]:
            if type(value) is not list:
                raise _fail("a list", value)
            return tuple(map(each, value))

        return _checked_in_bulk(items[0], decode_variadic)
    if len(items) == 2:  # pairs are most of a record's tuples: made fast
        first, second = _decoder(items[0]), _decoder(items[1])

        def decode_pair(value: object) -> tuple[Any, Any]:
            if type(value) is not list or len(value) != 2:
                raise _fail("a pair", value)
            return first(value[0]), second(value[1])

        return decode_pair
    decoders = [_decoder(item) for item in items]

    def decode_fixed(value: object) -> tuple[Any, ...]:
        if type(value) is not list or len(value) != len(decoders):
            raise _fail(f"a list of {len(decoders)}", value)
        return tuple(d(v) for d, v in zip(decoders, value, strict=True))

    return decode_fixed


# Item types whose values JSON holds exactly as Python's (no conversion): a list of them is
# checked by the set of its items' types, in C, instead of one decoder call per item.
_EXACT = frozenset({str, int, bool})


def _checked_in_bulk(item: Any, each_item: Decoder) -> Decoder:
    """``each_item`` (a variadic tuple's decoder), for a list of exact scalars or of pairs of
    them (most of a record's items: key paths, parameter pairs) first tried as a whole: the
    types of all items (or of both halves of all pairs) at once; anything else, or any item of
    another type, goes item by item (and fails as it would)."""
    if item in _EXACT:
        allowed = frozenset({item})

        def decode_scalars(value: object) -> Any:
            if type(value) is list and allowed.issuperset(map(type, value)):
                return tuple(value)
            return each_item(value)

        return decode_scalars
    pair = get_args(item) if get_origin(item) is tuple else ()
    if len(pair) != 2 or not _EXACT.issuperset(pair):
        return each_item
    first, second = frozenset({pair[0]}), frozenset({pair[1]})

    def decode_pairs(value: object) -> Any:
        if (
            type(value) is list
            and _LIST.issuperset(map(type, value))
            and _TWO.issuperset(map(len, value))
            and first.issuperset(map(type, map(_FIRST, value)))
            and second.issuperset(map(type, map(_SECOND, value)))
        ):
            return tuple(map(tuple, value))
        return each_item(value)

    return decode_pairs


_LIST, _TWO = frozenset({list}), frozenset({2})
_FIRST, _SECOND = operator.itemgetter(0), operator.itemgetter(1)


def _shared_decoder(decode: Decoder) -> Decoder:
    """``decode``, its equal values returned as one object (bounded)."""
    shared = functools.lru_cache(maxsize=4096)(lambda value: value)
    return lambda value: shared(decode(value))


def _dataclass(kind: type) -> Decoder:
    """A decoder written out for ``kind`` (as ``dataclasses`` writes ``__init__``): one dict
    lookup, one decoder call and one assignment per field, no loop."""
    hints = get_type_hints(kind)
    fields = dataclasses.fields(kind)
    decoders = {
        f"d{i}": _shared_decoder(_decoder(hints[f.name]))
        if f.metadata.get(SHARED)
        else _decoder(hints[f.name])
        for i, f in enumerate(fields)
    }
    # every field is an argument of __init__, which only assigns them: the fields are assigned
    # as a frozen __init__ does (object.__setattr__), without the call's keyword arguments
    plain = all(f.init for f in fields) and not hasattr(kind, "__post_init__")
    if plain:
        assign = "".join(
            f"    setattr(instance, {f.name!r}, d{i}(value[{f.name!r}]))\n"
            for i, f in enumerate(fields)
        )
        build = f"    instance = new(kind)\n{assign}    return instance\n"
    else:
        values = ", ".join(f"{f.name}=d{i}(value[{f.name!r}])" for i, f in enumerate(fields))
        build = f"    return kind({values})\n"
    source = (
        "def decode_dataclass(value):\n"
        "    if type(value) is not dict or value.keys() != names:\n"
        "        raise fail(value)\n"
        f"{build}"
    )
    scope = {
        "kind": kind,
        "new": object.__new__,
        "setattr": object.__setattr__,
        "names": frozenset(f.name for f in fields),
        "fail": functools.partial(_fail, f"{kind.__name__} fields"),
        **decoders,
    }
    exec(source, scope)  # the source is made of the dataclass's own field names
    decode = scope["decode_dataclass"]
    assert callable(decode)
    return decode
