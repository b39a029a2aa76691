"""Which fields of a results file reportgen reads, knows but does not show, or does not know.

Each schema generation's loader declares its known key paths (``KnownFields``): a path is
dotted keys, a list of objects adds ``[]`` to its key (``true.entries[]``), a key that is a
number is ``#`` (``ratio_pred.#``), ``*`` stands for any one key and a trailing ``**`` for
anything below. A file's paths that match nothing are *unrecognised*: the topmost such path is
named (a new block, not each of its leaves), so a new block shows on the page the night it
appears.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reportgen.load.models import FieldInventory

LIST_ITEMS = "[]"
NUMBER_KEY = "#"
ANY_KEY = "*"
ANY_BELOW = "**"
MAX_LISTED = 100  # unrecognised paths kept by name; the total is always counted
MAX_DEPTH = 64
_LEAF_TYPES = frozenset({float, int, str, bool, type(None)})


@dataclass(frozen=True)
class KnownFields:
    """A schema generation's documented key paths: ``used`` ones are read, and ``unused`` ones
    are known and deliberately not shown (path → why)."""

    used: tuple[str, ...]
    unused: Mapping[str, str]


def under(prefix: str, names: str) -> tuple[str, ...]:
    """``prefix.name`` for each whitespace-separated name (``prefix`` "" for top-level keys)."""
    return tuple(f"{prefix}.{n}" if prefix else n for n in names.split())


def _key(key: object) -> str:
    text = str(key)
    try:
        float(text)
    except ValueError:
        return text.replace(".", "\\.")  # a dot inside a key is not a level
    return NUMBER_KEY


def _segments(path: str) -> list[str]:
    """``a.b[].c`` → ``["a", "b[]", "c"]`` (escaped dots stay inside their key)."""
    parts: list[str] = []
    current = ""
    escaped = False
    for char in path:
        if char == "." and not escaped:
            parts.append(current)
            current = ""
        else:
            current += char
        escaped = char == "\\" and not escaped
    parts.append(current)
    return parts


def key_paths(data: Mapping[str, Any]) -> set[str]:
    """Every key path of ``data``; the items of a list share ``<list>[]``.

    A mapping whose path and keys were seen before adds no path (the per-sequence records of a
    long run cost one look-up each), but its children are visited.
    """
    paths: set[str] = set()
    layouts: dict[tuple[str, tuple[Any, ...]], tuple[str, ...]] = {}
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        prefix, value, depth = stack.pop()
        if isinstance(value, Mapping):
            signature = (prefix, tuple(value))
            names = layouts.get(signature)
            if names is None:
                names = tuple(f"{prefix}.{_key(k)}" if prefix else _key(k) for k in value)
                layouts[signature] = names
                paths.update(names)
            if depth < MAX_DEPTH:
                stack.extend(
                    (path, child, depth + 1)
                    for path, child in zip(names, value.values(), strict=True)
                    if isinstance(child, dict | list)
                )
        elif isinstance(value, list) and not set(map(type, value)) <= _LEAF_TYPES:
            path = prefix + LIST_ITEMS
            stack.extend((path, item, depth + 1) for item in value if isinstance(item, dict | list))
    return paths


def _matches(pattern: list[str], path: list[str]) -> bool:
    """Whether ``path`` is ``pattern`` or one of its prefixes (a known block's parents are
    known too)."""
    for i, segment in enumerate(path):
        if i >= len(pattern):
            return False
        expected = pattern[i]
        if expected == ANY_BELOW:
            return True
        if expected == ANY_KEY:
            continue
        if expected.endswith(LIST_ITEMS) and expected[:-2] == ANY_KEY:
            if not segment.endswith(LIST_ITEMS):
                return False
            continue
        if expected != segment and expected != segment + LIST_ITEMS:  # the list's own key
            return False
    return True


def _known(path: list[str], patterns: Iterable[list[str]]) -> bool:
    return any(_matches(p, path) for p in patterns)


def _parent(path: str) -> str | None:
    """The key one level up (``a.b[].c`` → ``a.b``), ``None`` at the top."""
    segments = _segments(path)
    return ".".join(segments[:-1]).removesuffix(LIST_ITEMS) if len(segments) > 1 else None


def field_inventory(data: Mapping[str, Any], known: KnownFields | None) -> FieldInventory:
    """The file's unrecognised paths (topmost only, the first ``MAX_LISTED`` in order, with the
    total) and the known-unused blocks it carries; ``known`` ``None``: every field is shown."""
    if known is None:
        return FieldInventory()
    paths = {p: _segments(p) for p in key_paths(data)}
    blocks = {name: [*_segments(name), ANY_BELOW] for name in known.unused}
    used = [_segments(p) for p in known.used]
    patterns = [*used, *blocks.values()]
    unknown = {p for p, segments in paths.items() if not _known(segments, patterns)}
    topmost = sorted(p for p in unknown if (parent := _parent(p)) is None or parent not in unknown)
    carried = sorted(
        (path, known.unused[name])
        for name, block in blocks.items()
        for path, segments in paths.items()
        if len(segments) == len(block) - 1
        and _matches(block, segments)
        and not any(len(u) == len(segments) and _matches(u, segments) for u in used)
    )
    return FieldInventory(
        unrecognised=tuple(topmost[:MAX_LISTED]),
        unrecognised_total=len(topmost),
        unused=tuple(carried),
    )


__all__ = ["KnownFields", "field_inventory", "key_paths", "under"]
