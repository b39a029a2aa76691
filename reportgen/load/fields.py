"""Parsing results JSON tolerantly, and typed access to its untyped values."""

from __future__ import annotations

import builtins
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import orjson

from reportgen.load.inputs import LoadError
from reportgen.load.models import FloatArray

GENERIC_MAX_DEPTH = 12
GENERIC_MAX_FIELDS = 400
PER_SEQUENCE_COLUMNS = ("sum_logp", "mean_logp", "var_logp", "max_logp", "min_logp")
FIELD_HINT = "A field has a type or value no schema generation allows; see the results guide."
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_PARTIAL_TOKEN = re.compile(r"[-+.0-9eE]*|t(r(u)?)?|f(a(l(s)?)?)?|n(u(l)?)?|N(a)?|I[nfity]{0,6}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


NamedFloats = tuple[tuple[str, float], ...]


# --- reading files ---------------------------------------------------------------------------


def parse_json(data: bytes) -> Any:
    """Parse JSON, accepting the ``NaN``/``Infinity`` tokens Python's json module writes."""
    # The fast path validates UTF-8 itself; decoding to str is only needed for the fallback.
    # orjson (from 3.9.15, the floor) stops at depth 1024 with a JSONDecodeError, never a crash.
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass  # orjson rejects NaN/Infinity and lone surrogates; the standard library does not
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"not valid UTF-8 (byte {exc.start})", hint="The file is binary or corrupted."
        ) from exc
    if not text.strip():
        raise LoadError("file is empty", hint="The run may still be writing, or it died.")
    try:
        parsed = json.loads(text)
        # A lone surrogate (``"\\ud800"``) cannot be written as UTF-8 later: replace it now.
        return _without_surrogates(parsed) if _SURROGATE_ESCAPE.search(text) else parsed
    except RecursionError as exc:
        raise LoadError("JSON is nested too deeply to read", hint="The file is not a run.") from exc
    except json.JSONDecodeError as exc:
        # the file ends at the error, or inside the number or literal the error points at
        truncated = _PARTIAL_TOKEN.fullmatch(text[exc.pos :].rstrip()) is not None
        hint = (
            "The file looks truncated: was the run still writing?"
            if truncated
            else "Fix the JSON syntax at that position."
        )
        raise LoadError(
            f"invalid JSON: {exc.msg}", line=exc.lineno, column=exc.colno, hint=hint
        ) from exc


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


# --- typed access to untyped JSON ------------------------------------------------------------


class Fields:
    """Read typed values out of a JSON object, naming the field path in every error.

    Its methods are named after the types they return, so later annotations say ``builtins.``.
    """

    def __init__(self, data: Mapping[str, Any], path: str = "") -> None:
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def sub(self, key: str) -> Fields | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise LoadError(f"{self.where(key)}: expected an object, got {type_name(value)}")
        return Fields(value, self.where(key))

    def items(self, key: str) -> Iterator[Fields]:
        value = self.data.get(key)
        if value is None:
            return
        if not isinstance(value, list):
            raise LoadError(f"{self.where(key)}: expected a list, got {type_name(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise LoadError(
                    f"{self.where(key)}[{i}]: expected an object, got {type_name(item)}"
                )
            yield Fields(item, f"{self.where(key)}[{i}]")

    def objects(self, key: str) -> list[Mapping[str, Any]]:
        """A list of objects as it is: ``items`` without a ``Fields`` per item (long lists)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not set(map(type, value)) <= {dict}:
            return [item.data for item in self.items(key)]  # names the bad item, if any
        return value

    def float(self, key: str) -> float | None:
        return to_float(self.data.get(key), self.where(key))

    def int(self, key: str) -> int | None:
        """A count; ``None`` when it is not finite or beyond 64 bits (no JSON writer takes it)."""
        value = self.float(key)
        if value is None or not math.isfinite(value) or abs(value) >= 2.0**63:
            return None
        return int(value)

    def str(self, key: builtins.str) -> builtins.str | None:
        value = self.data.get(key)
        return None if value is None or isinstance(value, (dict, list)) else str(value)

    def bool(self, key: builtins.str) -> builtins.bool | None:
        value = self.data.get(key)
        return value if isinstance(value, bool) else None

    def array(self, key: builtins.str) -> FloatArray | None:
        return to_array(self.data.get(key), self.where(key))

    def float_map(self, key: builtins.str) -> NamedFloats:
        sub = self.sub(key)
        if sub is None:
            return ()
        return tuple((name, v) for name in sorted(sub.data) if (v := sub.float(name)) is not None)


def type_name(value: object) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}  # fmt: skip
    return kinds.get(type(value), type(value).__name__)


def to_float(value: object, where: str) -> float | None:
    """A number, also from a numeric string; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, (bool, dict, list)):
        raise LoadError(f"{where}: expected a number, got {type_name(value)}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError) as exc:
        raise LoadError(f"{where}: expected a number, got {str(value)[:40]!r}") from exc


def to_array(value: object, where: str) -> FloatArray | None:
    """A list of numbers as float64; ``null`` items become NaN, numeric strings are parsed."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise LoadError(f"{where}: expected a list of numbers, got {type_name(value)}")
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        # one item at a time: names the bad item (booleans included: to_float refuses them)
        array = np.asarray([_item(v, where, i) for i, v in enumerate(value)], dtype=np.float64)
    if array.ndim != 1:
        raise LoadError(f"{where}: expected a flat list of numbers")
    # numpy takes true/false as 1.0/0.0: look for booleans only where such a value appears
    if np.any((array == 0.0) | (array == 1.0)) and bool in set(map(type, value)):
        index = next(i for i, v in enumerate(value) if isinstance(v, bool))
        raise LoadError(f"{where}[{index}]: expected a number, got a boolean")
    return array


def _item(value: object, where: str, index: int) -> float:
    return cell(value, f"{where}[{index}]")


def cell(value: object, where: str) -> float:
    """One number of a column; ``null`` is NaN."""
    number = to_float(value, where)
    return math.nan if number is None else number
