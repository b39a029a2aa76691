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
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from reportgen.load.fingerprint import LIST_ITEMS
from reportgen.load.models import FieldInventory

ANY_KEY = "*"
MAX_LISTED = 100  # unrecognised paths kept by name; the total is always counted


@dataclass(frozen=True, eq=False)
class KnownFields:
    """A schema generation's documented key paths: ``used`` ones are read, and ``unused`` ones
    are known and deliberately not shown (path → why)."""

    used: tuple[str, ...]
    unused: Mapping[str, str]


def under(prefix: str, names: str) -> tuple[str, ...]:
    """``prefix.name`` for each whitespace-separated name (``prefix`` "" for top-level keys)."""
    return tuple(f"{prefix}.{n}" if prefix else n for n in names.split())


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


def field_inventory(paths: Collection[str], known: KnownFields | None) -> FieldInventory:
    """Of a file's key ``paths`` (``fingerprint.field_paths``), the unrecognised ones (topmost
    only, the first ``MAX_LISTED`` in order, with the total) and the known-unused blocks;
    ``known`` ``None``: every field is shown."""
    if known is None:
        return FieldInventory()
    root = _trie(known)
    looked_up = {path: _lookup(root, _segments(path)) for path in paths}
    unknown = {path for path, (is_known, _) in looked_up.items() if not is_known}
    topmost = sorted(p for p in unknown if (parent := _parent(p)) is None or parent not in unknown)
    carried = sorted((path, reason) for path, (_, reason) in looked_up.items() if reason)
    return FieldInventory(
        unrecognised=tuple(topmost[:MAX_LISTED]),
        unrecognised_total=len(topmost),
        unused=tuple(carried),
    )


__all__ = ["KnownFields", "field_inventory", "under"]
