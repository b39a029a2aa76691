"""Which fields of a results file reportgen reads, knows but does not show, or does not know.

Each schema generation's loader declares its known key paths (``KnownFields``): a path is
dotted keys, a list of objects adds ``[]`` to its key (``true.entries[]``), a key that is a
number is ``#`` (``ratio_pred.#``) and ``*`` stands for any one key; a known-unused entry
covers everything below it. A file's paths that match nothing are *unrecognised*: the topmost
such path is named (a new block, not each of its leaves), so a new block shows on the page the
night it appears.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reportgen.load.models import FieldInventory

LIST_ITEMS = "[]"
NUMBER_KEY = "#"
ANY_KEY = "*"
MAX_LISTED = 100  # unrecognised paths kept by name; the total is always counted
MAX_DEPTH = 64
_LEAF_TYPES = frozenset({float, int, str, bool, type(None)})


@dataclass(frozen=True, eq=False)
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

    Objects that share a path are walked together, a key at a time (the per-sequence records
    of a long run cost a few list comprehensions, not a visit each).
    """
    paths: set[str] = set()
    _walk_objects("", [dict(data)], 0, paths)
    return paths


def _walk_objects(prefix: str, objects: list[dict[str, Any]], depth: int, paths: set[str]) -> None:
    layouts = set(map(tuple, objects))
    keys: dict[Any, None] = {}
    for layout in layouts:
        keys.update(dict.fromkeys(layout))
    if len(layouts) == 1:  # one layout (the usual case): its columns in one transposition
        columns: Iterable[Sequence[Any]] = zip(*map(dict.values, objects), strict=True)
    else:
        columns = ([o[k] for o in objects if k in o] for k in keys)
    for key, column in zip(keys, columns, strict=True):
        path = f"{prefix}.{_key(key)}" if prefix else _key(key)
        paths.add(path)
        if depth < MAX_DEPTH and not set(map(type, column)) <= _LEAF_TYPES:
            _walk_values(path, column, depth + 1, paths)


def _walk_values(path: str, values: Sequence[Any], depth: int, paths: set[str]) -> None:
    """The objects among ``values`` (at ``path``) and the items of its lists (at ``path[]``)."""
    objects = [v for v in values if type(v) is dict]
    if objects:
        _walk_objects(path, objects, depth, paths)
    items = [
        item
        for v in values
        if type(v) is list and not set(map(type, v)) <= _LEAF_TYPES
        for item in v
        if type(item) is dict or type(item) is list
    ]
    if items and depth < MAX_DEPTH:
        _walk_values(path + LIST_ITEMS, items, depth + 1, paths)


@dataclass
class _Node:
    """A trie of known paths: children by segment (``*`` any key, ``*[]`` any list), whether a
    used path ends here, the reason of a known-unused block that starts here."""

    children: dict[str, _Node] = field(default_factory=dict)
    used: bool = False
    block: str | None = None

    def add(self, segments: list[str]) -> _Node:
        node = self
        for segment in segments:
            node = node.children.setdefault(segment, _Node())
        return node

    def reach(self, segment: str) -> list[_Node]:
        """The nodes one segment down; a list's own key also reaches its ``[]`` child."""
        names = (segment, segment + LIST_ITEMS, ANY_KEY)
        found = [self.children[n] for n in names if n in self.children]
        if segment.endswith(LIST_ITEMS) and ANY_KEY + LIST_ITEMS in self.children:
            found.append(self.children[ANY_KEY + LIST_ITEMS])
        return found


@functools.lru_cache(maxsize=16)
def _trie(known: KnownFields) -> _Node:
    root = _Node()
    for path in known.used:
        root.add(_segments(path)).used = True
    for path, reason in known.unused.items():
        root.add(_segments(path)).block = reason
    return root


def _lookup(root: _Node, segments: list[str]) -> tuple[bool, str | None]:
    """Whether the path is known, and the reason when it is a known-unused block itself."""
    frontier = [root]
    for segment in segments:
        if any(n.block is not None for n in frontier):  # below a known-unused block
            return True, None
        frontier = [child for node in frontier for child in node.reach(segment)]
        if not frontier:
            return False, None
    reasons = [n.block for n in frontier if n.block is not None and not n.used]
    return True, reasons[0] if reasons and not any(n.used for n in frontier) else None


def _parent(path: str) -> str | None:
    """The key one level up (``a.b[].c`` → ``a.b``), ``None`` at the top."""
    segments = _segments(path)
    return ".".join(segments[:-1]).removesuffix(LIST_ITEMS) if len(segments) > 1 else None


def field_inventory(data: Mapping[str, Any], known: KnownFields | None) -> FieldInventory:
    """The file's unrecognised paths (topmost only, the first ``MAX_LISTED`` in order, with the
    total) and the known-unused blocks it carries; ``known`` ``None``: every field is shown."""
    if known is None:
        return FieldInventory()
    root = _trie(known)
    looked_up = {path: _lookup(root, _segments(path)) for path in key_paths(data)}
    unknown = {path for path, (is_known, _) in looked_up.items() if not is_known}
    topmost = sorted(p for p in unknown if (parent := _parent(p)) is None or parent not in unknown)
    carried = sorted((path, reason) for path, (_, reason) in looked_up.items() if reason)
    return FieldInventory(
        unrecognised=tuple(topmost[:MAX_LISTED]),
        unrecognised_total=len(topmost),
        unused=tuple(carried),
    )


__all__ = ["KnownFields", "field_inventory", "key_paths", "under"]
