"""Decoders of typed records, each written out as Python source for its type.

``decoder(kind)`` checks a plain JSON value (what ``orjson.loads`` gives) against ``kind`` and
builds it: a dataclass's decoder is one function with every field's check inlined (numbers,
strings, ``Optional``, ``Literal``, fixed tuples), lists of scalars and of scalar pairs are
checked by their items' types at once, in C, and a nested dataclass is one call. Anything of
another type is a ``RecordError`` naming where it was and what was expected.

Equal values that repeat across records are held once: every decoded string goes through one
bounded table (cleared when full), a ``Literal`` gives its own constant, and a field marked
``field(metadata={SHARED: True})`` keeps one object per distinct value (bounded).
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
from collections.abc import Callable
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import orjson

from reportgen import class_code

Decoder = Callable[[Any], Any]
# a field's metadata key: its values repeat across records, and each distinct value decoded is
# held once (``field(metadata={SHARED: True})``)
SHARED = "reportgen.shared"
# how many distinct strings are held for sharing before the table starts again
STRINGS_HELD = 8192
SHARED_HELD = 4096


class RecordError(ValueError):
    """A cached record that does not have the shape of the current format."""


_strings: dict[str, str] = {}
_tuples: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # with_shared_strings's
_EXPECTED = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}
# item types that JSON holds exactly as Python does: a list of them (or of pairs of them) is
# checked by the set of its items' types; a float list holding a whole number goes item by item
_BULK = frozenset({str, int, bool, float})


def decoder(kind: Any) -> Decoder:
    """A function that checks a plain JSON value against ``kind`` and builds it (the value as
    ``orjson.loads`` gives it: a field marked ``SHARED`` is found again by its JSON text)."""
    return _decoder(kind)


@functools.cache
def _decoder(kind: Any) -> Decoder:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType) and len(_options(kind)) > 1:
        return _union(get_args(kind))
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _Source(kind.__name__).dataclass_function(kind)
    return _Source(_name(kind)).value_function(kind)


@functools.cache
def filling_decoder(kind: type, names: tuple[str, ...]) -> Callable[..., Any]:
    """A decoder of the dataclass ``kind`` taking, after the JSON value, the values of its
    fields ``names`` (in that order): the JSON's own values of those fields are checked as
    ``decoder`` checks them, and left for the values given (which are not checked)."""
    unknown = set(names) - {f.name for f in dataclasses.fields(kind)}
    if unknown:
        raise TypeError(f"{kind.__name__} has no fields {sorted(unknown)}")
    return _Source(kind.__name__).dataclass_function(kind, names)


def with_shared_strings(value: Any) -> Any:
    """``value`` with the strings in it (in tuples, however deep) those decoding holds for
    sharing: equal, and one object for each text; each tuple in it is held once too (bounded),
    so values that differ in a few items share the rest."""
    if len(_strings) > STRINGS_HELD:
        _strings.clear()
    if len(_tuples) > STRINGS_HELD:
        _tuples.clear()
    return _shared_strings(value)


def _shared_strings(value: Any) -> Any:
    if type(value) is str:
        return _strings.setdefault(value, value)
    if type(value) is tuple:
        shared = tuple(map(_shared_strings, value))
        return _tuples.setdefault(shared, shared)
    return value


def _fail(expected: str, value: object, where: str) -> RecordError:
    return RecordError(f"{where}: expected {expected}, got {type(value).__name__} {value!r:.60}")


def _fields_fail(kind: str, names: frozenset[str], value: object) -> RecordError:
    if type(value) is not dict:
        return _fail(f"{kind} fields", value, kind)
    missing, unknown = sorted(names - value.keys()), sorted(map(str, value.keys() - names))
    return RecordError(f"{kind}: fields missing {missing}, unknown {unknown}")


def _as_float(value: object, where: str) -> float:
    if type(value) is int:  # orjson writes a whole float as 1.0, but a number is a number
        return float(value)
    raise _fail("a number", value, where)


def _shared(decode: Decoder) -> Decoder:
    """``decode``, giving one object for each JSON value that comes again (held by its JSON
    text, bounded): such a value was checked and decoded when it came first."""
    held: dict[bytes, Any] = {}

    def decode_shared(value: object) -> Any:
        try:
            key = orjson.dumps(value)
        except TypeError:  # not a JSON value: decoding refuses it
            return decode(value)
        found = held.get(key)
        if found is None:
            if len(held) >= SHARED_HELD:
                held.clear()
            found = held[key] = decode(value)
        return found

    return decode_shared


def _options(kind: Any) -> list[Any]:
    return [o for o in get_args(kind) if o is not type(None)]


def _name(kind: Any) -> str:
    return getattr(kind, "__name__", None) or str(kind)


def _union(options: tuple[Any, ...]) -> Decoder:
    decoders = [_decoder(o) for o in options]
    expected = " or ".join(map(str, options))

    def decode_union(value: object) -> object:
        for option in decoders:
            try:
                return option(value)
            except RecordError:
                continue
        raise _fail(expected, value, "a union")

    return decode_union


def _twin(kind: type, names: list[str]) -> type | None:
    """A plain class of the same slots as ``kind`` (a frozen dataclass of slots, straight from
    ``object``), or ``None``: its instance is filled by plain assignments, then made a ``kind``
    by assigning its class, which CPython allows only between classes of one layout."""
    slots = vars(kind).get("__slots__")
    if kind.__bases__ != (object,) or not isinstance(slots, tuple) or set(names) - set(slots):
        return None
    twin = type(f"{kind.__name__}Twin", (), {"__slots__": slots, "__module__": __name__})
    probe: Any = object.__new__(twin)
    try:
        probe.__class__ = kind
    except TypeError:
        return None
    return twin


class _Source:
    """One decoder function's source text, and the objects its names refer to."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.function = "decode_" + "".join(c if c.isalnum() else "_" for c in where)
        self.lines: list[str] = []
        self.scope: dict[str, Any] = {
            "fail": _fail,
            "as_float": _as_float,
            "keep": _strings.setdefault,
            "strings": _strings,
            "held": STRINGS_HELD,
            "RecordError": RecordError,
        }
        self.count = 0
        self.keeps = False

    def const(self, value: Any) -> str:
        """A name in the function's scope for ``value``."""
        name = f"c{len(self.scope)}"
        self.scope[name] = value
        return name

    def temp(self) -> str:
        self.count += 1
        return f"v{self.count}"

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def compiled(self, body: list[str], given: int = 0) -> Decoder:
        arguments = "".join(f", g{i}" for i in range(given))
        head = [f"def {self.function}(value{arguments}):"]
        if self.keeps:
            head += ["    if len(strings) > held:", "        strings.clear()"]
        # made of type and field names only; compiled once per install
        class_code.exec_source("\n".join(head + body) + "\n", self.scope)
        decode = self.scope[self.function]
        assert callable(decode)
        return decode  # type: ignore[no-any-return]

    def value_function(self, kind: Any) -> Decoder:
        self.check(kind, "value", 1, self.where)
        self.emit(1, "return value")
        return self.compiled(self.lines)

    def dataclass_function(self, kind: type, given: tuple[str, ...] = ()) -> Decoder:
        hints = get_type_hints(kind)
        fields = dataclasses.fields(kind)
        names = [f.name for f in fields]
        values = [self.temp() for _ in fields]
        fail = self.const(functools.partial(_fields_fail, kind.__name__, frozenset(names)))
        get = self.const(operator.itemgetter(*names)) if names else ""
        self.emit(1, f"if type(value) is not dict or len(value) != {len(names)}:")
        self.emit(2, f"raise {fail}(value)")
        if names:  # each field's value, by one lookup of them all
            self.emit(1, "try:")
            self.emit(2, f"{', '.join(values)}{',' if len(names) > 1 else ''} = {get}(value)")
            self.emit(1, "except KeyError:")
            self.emit(2, f"raise {fail}(value) from None")
        for f, value in zip(fields, values, strict=True):
            where = f"{kind.__name__}.{f.name}"
            if f.metadata.get(SHARED):
                shared = _shared(_Source(where).value_function(hints[f.name]))
                self.emit(1, f"{value} = {self.const(shared)}({value})")
            else:
                self.check(hints[f.name], value, 1, where)
            if f.name in given:  # checked as any field's value, then left for the one given
                self.emit(1, f"{value} = g{given.index(f.name)}")
        self.build(kind, fields, values)
        return self.compiled(self.lines, len(given))

    def build(
        self, kind: type, fields: tuple[dataclasses.Field[Any], ...], values: list[str]
    ) -> None:
        """The instance made of the checked values, as a frozen ``__init__`` that only assigns
        its arguments makes it (or by calling the class, when ``__init__`` does more)."""
        if not all(f.init for f in fields) or hasattr(kind, "__post_init__"):
            named = ", ".join(f"{f.name}={v}" for f, v in zip(fields, values, strict=True))
            self.emit(1, f"return {self.const(kind)}({named})")
            return
        twin = _twin(kind, [f.name for f in fields])
        if twin is not None:
            self.emit(1, f"instance = {self.const(object.__new__)}({self.const(twin)})")
            for f, value in zip(fields, values, strict=True):
                self.emit(1, f"instance.{f.name} = {value}")
            self.emit(1, f"instance.__class__ = {self.const(kind)}")
        else:
            self.emit(1, f"instance = {self.const(object.__new__)}({self.const(kind)})")
            for f, value in zip(fields, values, strict=True):
                self.emit(1, f"{self.const(object.__setattr__)}(instance, {f.name!r}, {value})")
        self.emit(1, "return instance")

    def check(self, kind: Any, var: str, depth: int, where: str) -> None:
        """Statements that check the JSON value in ``var`` against ``kind`` and leave the
        decoded value in ``var``."""
        origin = get_origin(kind)
        if kind in _EXPECTED:
            self.scalar(kind, var, depth, where)
        elif kind is None or kind is type(None):
            self.emit(depth, f"if {var} is not None:")
            self.emit(depth + 1, f"raise fail('null', {var}, {where!r})")
        elif origin in (Union, types.UnionType) and len(_options(kind)) == 1:
            self.optional(_options(kind)[0], var, depth, where)
        elif origin is Literal:
            self.literal(get_args(kind), var, depth, where)
        elif origin is tuple and get_args(kind)[1:] == (Ellipsis,):
            self.variadic(get_args(kind)[0], var, depth, where)
        elif origin is tuple:
            self.fixed(get_args(kind), var, depth, where)
        elif origin in (Union, types.UnionType) or dataclasses.is_dataclass(kind):
            self.emit(depth, f"{var} = {self.const(_decoder(kind))}({var})")
        else:
            raise TypeError(f"no record decoder for {kind!r}")

    def scalar(self, kind: type, var: str, depth: int, where: str, none: bool = False) -> None:
        """``kind`` one of the JSON scalars (``none``: or ``null``), its common case first."""
        name = kind.__name__
        if kind is str:
            self.keeps = True
            self.emit(depth, f"if type({var}) is str:")
            self.emit(depth + 1, f"{var} = keep({var}, {var})")
            self.emit(depth, f"elif {var} is not None:" if none else "else:")
        else:
            self.emit(depth, f"if type({var}) is not {name}{f' and {var} is not None' * none}:")
        if kind is float:
            self.emit(depth + 1, f"{var} = as_float({var}, {where!r})")
        else:
            self.emit(depth + 1, f"raise fail({_EXPECTED[kind]!r}, {var}, {where!r})")

    def optional(self, kind: Any, var: str, depth: int, where: str) -> None:
        if kind in _EXPECTED:
            self.scalar(kind, var, depth, where, none=True)
        else:
            self.emit(depth, f"if {var} is not None:")
            self.check(kind, var, depth + 1, where)

    def literal(self, allowed: tuple[Any, ...], var: str, depth: int, where: str) -> None:
        # the allowed constant itself is kept, so that every record holds one shared object
        canonical = self.const({(type(v), v): v for v in allowed})
        self.emit(depth, "try:")
        self.emit(depth + 1, f"{var} = {canonical}[type({var}), {var}]")
        self.emit(depth, "except (KeyError, TypeError):")  # TypeError: a list or a dict
        self.emit(depth + 1, f"raise fail({f'one of {allowed}'!r}, {var}, {where!r}) from None")

    def fixed(self, items: tuple[Any, ...], var: str, depth: int, where: str) -> None:
        expected = "a pair" if len(items) == 2 else f"a list of {len(items)}"
        self.emit(depth, f"if type({var}) is not list or len({var}) != {len(items)}:")
        self.emit(depth + 1, f"raise fail({expected!r}, {var}, {where!r})")
        parts = [self.temp() for _ in items]
        self.emit(depth, f"{', '.join(parts)}, = {var}")
        for i, (item, part) in enumerate(zip(items, parts, strict=True)):
            self.check(item, part, depth, f"{where}[{i}]")
        self.emit(depth, f"{var} = ({', '.join(parts)},)")

    def variadic(self, item: Any, var: str, depth: int, where: str) -> None:
        """A list of exact scalars, or of pairs of them, checked by the set of the types of its
        items (of both halves of its pairs) at once; anything else, or any item of another
        type, goes item by item (and fails as it would)."""
        pair = get_args(item) if get_origin(item) is tuple else ()
        each = self.const(_decoder(item))
        self.emit(depth, f"if type({var}) is not list:")
        self.emit(depth + 1, f"raise fail('a list', {var}, {where!r})")
        if item in _BULK:
            self.emit(depth, f"if {self.const(frozenset({item}))}.issuperset(map(type, {var})):")
            kept = f"map(keep, {var}, {var})" if item is str else var
            self.keeps |= item is str
            self.emit(depth + 1, f"{var} = tuple({kept})")
        elif len(pair) == 2 and _BULK.issuperset(pair):
            first, second = (self.const(frozenset({half})) for half in pair)
            halves = self.const(operator.itemgetter(0)), self.const(operator.itemgetter(1))
            self.emit(depth, f"if not {var}:")
            self.emit(depth + 1, f"{var} = ()")
            self.emit(depth, f"elif ({self.const(frozenset({list}))}.issuperset(map(type, {var}))")
            self.emit(depth + 1, f"and {self.const(frozenset({2}))}.issuperset(map(len, {var}))")
            self.emit(depth + 1, f"and {first}.issuperset(map(type, map({halves[0]}, {var})))")
            self.emit(depth + 1, f"and {second}.issuperset(map(type, map({halves[1]}, {var})))):")
            self.pairs(pair, var, depth + 1, halves)
        else:
            self.emit(depth, f"{var} = tuple(map({each}, {var}))")
            return
        self.emit(depth, "else:")
        self.emit(depth + 1, f"{var} = tuple(map({each}, {var}))")

    def pairs(self, pair: tuple[Any, ...], var: str, depth: int, halves: tuple[str, str]) -> None:
        """A checked list of scalar pairs as a tuple of tuples (their strings kept)."""
        if str not in pair:
            self.emit(depth, f"{var} = tuple(map(tuple, {var}))")
            return
        self.keeps = True
        columns = []
        for half, getter in zip(pair, halves, strict=True):
            column = self.temp()
            self.emit(depth, f"{column} = list(map({getter}, {var}))")
            columns.append(f"map(keep, {column}, {column})" if half is str else column)
        self.emit(depth, f"{var} = tuple(zip({', '.join(columns)}))")
