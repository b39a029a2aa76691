"""Typed records ⇄ JSON: frozen dataclasses encoded by orjson, decoded against their type hints.

A private cache file is data from disk: decoding checks every value against the field's type
(a number where a number belongs, a ``Literal`` among its values, tuples of the right length)
and raises ``RecordError`` for anything else, which the build treats as a cache miss.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import orjson

from reportgen.decoders import SHARED, Decoder, RecordError, decoder

__all__ = [
    "SHARED",
    "Decoder",
    "RecordError",
    "decode_versioned",
    "decoder",
    "encode",
    "encode_pieces",
    "fields_of",
]

T = TypeVar("T")


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
