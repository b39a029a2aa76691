"""What a kind's loader is given and gives back: a bounded reader, claims, and files not read."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from reportgen.kinds.claims import SNIFF_BYTES, Claim, claims_by_directory, name_matches
from reportgen.load.inputs import DEFAULT_MAX_BYTES, LoadError, read_bytes

__all__ = [
    "SNIFF_BYTES",
    "Claim",
    "FormatError",
    "NotRead",
    "Read",
    "StudyFailure",
    "claims_by_directory",
    "integer",
    "json_objects",
    "name_matches",
    "not_read",
    "number",
    "text",
    "tree_reader",
    "unrecognised",
]


class Read(Protocol):
    """Reads one tree-relative file, at most ``max_bytes`` (checked before reading).

    Raises :class:`~reportgen.load.inputs.LoadError` when the file is too large or unreadable;
    an OS error is its ``__cause__``.
    """

    def __call__(self, path: str, max_bytes: int | None = None) -> bytes: ...


def tree_reader(root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Read:
    """A :class:`Read` over the results tree at ``root`` with the build's size limit."""

    limit = max_bytes

    def read(path: str, max_bytes: int | None = None) -> bytes:
        return read_bytes(root, path, None, limit if max_bytes is None else min(max_bytes, limit))

    return read


@dataclass(frozen=True)
class NotRead:
    """A claimed file that did not contribute, with the reason (and a pickle's refused global)."""

    path: str
    reason: str
    asked_for: str | None = None
    unreadable: bool = False  # an OS error, not a limit or a format problem


def not_read(path: str, error: LoadError) -> NotRead:
    return NotRead(path, error.reason, unreadable=isinstance(error.__cause__, OSError))


@dataclass(frozen=True)
class StudyFailure:
    """A study none of whose files could be used (errors are values)."""

    kind: str
    directory: str
    reason: str
    inputs: tuple[str, ...]  # every claimed file, as for a study that loaded
    not_read: tuple[NotRead, ...]


# --- JSON documents -----------------------------------------------------------------------------


class FormatError(Exception):
    """A file that is not what its kind expects; ``reason`` says where."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def json_objects(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(line, object) of a file holding one JSON object (pretty-printed or not) or JSON Lines."""
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError as whole_error:
        objects = [
            (number, _line_object(number, line))
            for number, line in enumerate(data.splitlines(), start=1)
            if line.strip()
        ]
        if not objects:
            raise FormatError(f"not JSON ({whole_error})") from whole_error
        return objects
    if not isinstance(whole, dict):
        raise FormatError(f"the file holds a JSON {type(whole).__name__}, not an object")
    return [(1, whole)]


def _line_object(number: int, line: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"line {number}: not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise FormatError(f"line {number}: a JSON {type(value).__name__}, not an object")
    return value


def unrecognised(data: Mapping[Any, Any], known: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Key paths of ``data`` that ``known`` does not name (a nested mapping descends)."""
    found: list[str] = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in known:
            found.append(path)
        elif isinstance(known[key], Mapping) and isinstance(value, Mapping):
            found.extend(unrecognised(value, known[key], f"{path}."))
    return found


# --- typed fields -------------------------------------------------------------------------------


def number(value: Any) -> float | None:
    """A finite float, or None for anything else (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def text(value: Any) -> str | None:
    """Strings as they are; other JSON values in their compact JSON form; None stays None."""
    if value is None or isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return repr(value)
