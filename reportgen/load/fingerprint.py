"""A results file's field fingerprint: the set of key paths it carries, whatever its sizes.

Two files made by one version of the experiment code carry the same fields; a file written
before a fix (without ``denom_corr_scaled`` in its per-sequence extras), without per-sequence
capture, or with an extra block carries other fields, and its numbers may mean something else.
Lengths of arrays and the number of η entries do not count: a list's items contribute the
union of their paths under ``[]``, and keys that are numbers (``ratio_pred``'s η keys) are ``#``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reportgen.load.parameters import nfc

LIST_ITEMS = "[]"
NUMBER_KEY = "#"
MAX_DEPTH = 64  # deeper branches count as leaves (the JSON parser bounds depth anyway)
MAX_KEPT = 2_000  # paths a record keeps to name differences; the digest covers every path
_LEAF_TYPES = frozenset({float, int, str, bool, type(None)})


@dataclass(frozen=True)
class FieldFingerprint:
    """The sorted key paths (the first ``MAX_KEPT``) and a digest of all of them."""

    sha256: str
    paths: tuple[str, ...]
    count: int


def _key(key: object) -> str:
    text = nfc(key)
    try:
        float(text)
    except ValueError:
        return text.replace(".", "\\.")  # a dot inside a key is not a level
    return NUMBER_KEY


def field_paths(data: Mapping[str, Any]) -> set[str]:
    """Every key path of ``data``; items of a list share the path ``<list>[]``.

    Iterative. A mapping whose path and keys were seen before adds no path and costs one
    look-up (the per-sequence records of a 2,048-sequence run), but its children are visited.
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


def field_fingerprint(data: Mapping[str, Any]) -> FieldFingerprint:
    """The fingerprint of a parsed results object."""
    paths = sorted(field_paths(data))
    digest = hashlib.sha256("\n".join(paths).encode("utf-8", "surrogatepass")).hexdigest()
    return FieldFingerprint(digest, tuple(paths[:MAX_KEPT]), len(paths))


def missing_fields(paths: tuple[str, ...], union: frozenset[str]) -> list[str]:
    """The topmost paths of ``union`` absent from ``paths`` (a missing block, not its leaves)."""
    have = set(paths)
    missing = sorted(p for p in union if p not in have)
    top: list[str] = []
    for path in missing:
        if not any(path.startswith(t + ".") or path.startswith(t + LIST_ITEMS) for t in top):
            top.append(path)
    return top
