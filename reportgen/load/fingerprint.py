"""A results file's field fingerprint: the set of key paths it carries, whatever its sizes.

Two files made by one version of the experiment code carry the same fields; a file written
before a fix (without ``denom_corr_scaled`` in its per-sequence extras), without per-sequence
capture, or with an extra block carries other fields, and its numbers may mean something else.
Lengths of arrays and the number of η entries do not count: a list's items contribute the
union of their paths under ``[]``, and keys that are numbers (``ratio_pred``'s η keys) are ``#``.
Nor do the names of the files a run wrote (a control-variate file's ``paths`` block: which
scatter plots the runner draws depends on the data).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reportgen.load.parameters import nfc

LIST_ITEMS = "[]"
NUMBER_KEY = "#"
MAX_DEPTH = 64  # deeper branches count as leaves (the JSON parser bounds depth anyway)
MAX_KEPT = 2_000  # paths a record keeps to name differences; the digest covers every path
_LEAF_TYPES = frozenset({float, int, str, bool, type(None)})
OUTPUT_FILES = "paths."  # below it: the names of the files the run wrote


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

    Iterative, and by columns: all values found at one path (a list's items, or one key of
    many records) are visited together, so the per-sequence records of a 2,048-sequence run
    cost a few C-level passes instead of a Python loop over every record.
    """
    paths: set[str] = set()
    stack: list[tuple[str, list[Any], int]] = [("", [data], 0)]
    while stack:
        prefix, values, depth = stack.pop()
        mappings = [v for v in values if isinstance(v, dict)]  # JSON objects are dicts
        if mappings:
            _mapping_columns(prefix, mappings, depth, paths, stack)
        items = [x for v in values if isinstance(v, list) and not _leaves_only(v) for x in v]
        containers = [x for x in items if isinstance(x, dict | list)]
        if containers and depth < MAX_DEPTH:
            stack.append((prefix + LIST_ITEMS, containers, depth + 1))
    return paths


def _leaves_only(values: list[Any]) -> bool:
    return set(map(type, values)) <= _LEAF_TYPES


def _mapping_columns(
    prefix: str,
    mappings: Sequence[Mapping[Any, Any]],
    depth: int,
    paths: set[str],
    stack: list[tuple[str, list[Any], int]],
) -> None:
    """Add the keys of ``mappings`` (all at ``prefix``) and queue their container values."""
    layouts = set(map(tuple, mappings))
    keys = dict.fromkeys(k for layout in layouts for k in layout)  # first-seen order
    uniform = len(layouts) == 1
    for key in keys:
        path = f"{prefix}.{_key(key)}" if prefix else _key(key)
        paths.add(path)
        if depth >= MAX_DEPTH:
            continue
        column = (
            list(map(operator.itemgetter(key), mappings))
            if uniform
            else [m[key] for m in mappings if key in m]
        )
        if not _leaves_only(column):
            stack.append((path, column, depth + 1))


def field_fingerprint(data: Mapping[str, Any]) -> FieldFingerprint:
    """The fingerprint of a parsed results object."""
    return paths_fingerprint(field_paths(data))


def paths_fingerprint(found: Iterable[str]) -> FieldFingerprint:
    """The fingerprint of the key paths ``field_paths`` found, output file names aside."""
    paths = sorted(p for p in found if not p.startswith(OUTPUT_FILES))
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
