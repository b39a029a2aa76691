"""A batch manifest (``index.json`` beside a batch) checked against the tree's paths.

Pure: the manifest's parsed JSON and the tree's paths in, a frozen result with findings out.
Paths written on another machine are mapped to tree paths by their longest matching suffix of
path components, preferring paths under the manifest's own directory.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reportgen.kinds.batch_manifest.checks import manifest_findings
from reportgen.kinds.batch_manifest.model import (
    ListedPath,
    ManifestCheck,
    ManifestEntry,
    Match,
    Shape,
)

RUN_FIELDS = ("path", "run_dir")  # where a row names its run directory
FILE_FIELDS = ("cv_csv", "cv_summary", "plots")  # further files a row names
MAX_DEPTH = 32  # nesting followed when looking for zeros
MIN_ELSEWHERE = 2  # trailing components a match outside the manifest's directory needs


@dataclass(frozen=True)
class TreeIndex:
    """Every file and directory of the tree, by its last component."""

    entries: frozenset[str]
    by_name: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, paths: Iterable[str]) -> TreeIndex:
        entries: set[str] = set()
        for path in paths:
            parts = path.strip("/").split("/")
            entries.update("/".join(parts[:k]) for k in range(1, len(parts) + 1))
        by_name: dict[str, list[str]] = {}
        for entry in sorted(entries):
            by_name.setdefault(entry.rsplit("/", 1)[-1], []).append(entry)
        return cls(frozenset(entries), {k: tuple(v) for k, v in by_name.items()})


def check_manifest(
    path: str, data: Any, tree_paths: Iterable[str], run_dirs: Sequence[str] = ()
) -> ManifestCheck:
    """Check one manifest: runs present, paths mapped, zeros named, runs not listed."""
    directory = posixpath.dirname(path)
    rows = data if isinstance(data, list) else None
    if rows is None or not rows or not all(isinstance(r, Mapping) for r in rows):
        problem = "not a list of objects, one per run"
        return _result(path, "unknown", (), (), problem)
    index = TreeIndex.of(tree_paths)
    entries = tuple(_entry(i, row, directory, index) for i, row in enumerate(rows))
    listed = {e.run_path.tree_path for e in entries if e.run_path and e.run_path.tree_path}
    unlisted = tuple(
        sorted(d for d in run_dirs if posixpath.dirname(d) == directory and d not in listed)
    )
    shape = _shape(rows)
    unknown = "rows name neither path nor run_dir" if shape == "unknown" else None
    return _result(path, shape, entries, unlisted, unknown)


def _result(
    path: str,
    shape: Shape,
    entries: tuple[ManifestEntry, ...],
    unlisted: tuple[str, ...],
    problem: str | None,
) -> ManifestCheck:
    partial = ManifestCheck(path, shape, entries, unlisted, problem, ())
    return ManifestCheck(path, shape, entries, unlisted, problem, manifest_findings(partial))


def _shape(rows: Sequence[Mapping[str, Any]]) -> Shape:
    """Which of the two known layouts the rows follow (or only that they name runs)."""
    keys: set[str] = set().union(*(set(r) for r in rows))
    if "run_dir" in keys and keys & set(FILE_FIELDS):
        return "cv"
    if "path" in keys and keys & {"timing", "variance", "approx"}:
        return "timing"
    return "runs" if keys & set(RUN_FIELDS) else "unknown"


def _entry(index: int, row: Mapping[str, Any], directory: str, tree: TreeIndex) -> ManifestEntry:
    run_field = next((f for f in RUN_FIELDS if isinstance(row.get(f), str)), None)
    run_path = map_path(run_field, row[run_field], directory, tree) if run_field else None
    files: list[ListedPath] = []
    for field in FILE_FIELDS:
        value = row.get(field)
        values = value if isinstance(value, list) else [value]
        for i, item in enumerate(values):
            if isinstance(item, str) and item:
                name = f"{field}[{i}]" if isinstance(value, list) else field
                files.append(map_path(name, item, directory, tree))
    run = row.get("run")
    return ManifestEntry(
        index=index,
        run=str(run) if run is not None else None,
        run_path=run_path,
        files=tuple(files),
        placeholder_zeros=tuple(zeros(row)),
    )


def map_path(field: str, listed: str, directory: str, tree: TreeIndex) -> ListedPath:
    """The tree path a listed path names: as written, beside the manifest, or by suffix."""
    clean = listed.replace("\\", "/").rstrip("/")
    if not clean.startswith("/"):
        written: tuple[tuple[str, Match], ...] = (
            (clean, "exact"),
            (_join(directory, clean), "relative"),
        )
        for candidate, match in written:
            if candidate in tree.entries:
                return ListedPath(field, listed, candidate, match, len(candidate.split("/")), ())
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if not parts:
        return ListedPath(field, listed, None, "missing", 0, ())
    found, best = _best_suffix(parts, directory, tree)
    if len(found) == 1:
        return ListedPath(field, listed, found[0], "suffix", best, ())
    if found:
        return ListedPath(field, listed, None, "ambiguous", best, tuple(found))
    return ListedPath(field, listed, None, "missing", 0, ())


def _best_suffix(parts: list[str], directory: str, tree: TreeIndex) -> tuple[list[str], int]:
    """Tree paths sharing the most trailing components with ``parts``, and how many.

    A path under the manifest's directory must match with all of its part below that
    directory (a run's name; a run's file with its folders); elsewhere two components are
    needed, or every ``run_01`` of the tree would claim a batch's run_01. Ties go to paths
    under the manifest's directory.
    """
    root = directory in ("", ".")

    def below(candidate: str) -> int | None:
        """Components of ``candidate`` below the manifest's directory (None: not under it)."""
        if root:
            return candidate.count("/") + 1
        prefix = f"{directory}/"
        return candidate[len(prefix) :].count("/") + 1 if candidate.startswith(prefix) else None

    scored: list[tuple[int, str, bool]] = []
    for candidate in tree.by_name.get(parts[-1], ()):
        score = _common_suffix(parts, candidate.split("/"))
        depth = below(candidate)
        if score >= (MIN_ELSEWHERE if depth is None else depth):
            scored.append((score, candidate, depth is not None))
    best = max((score for score, _, _ in scored), default=0)
    found = [(c, near) for score, c, near in scored if score == best]
    return [c for c, near in found if near] or [c for c, _ in found], best


def _join(directory: str, relative: str) -> str:
    return posixpath.normpath(posixpath.join(directory, relative)) if directory else relative


def _common_suffix(a: Sequence[str], b: Sequence[str]) -> int:
    count = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        count += 1
    return count


def zeros(row: Mapping[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
    """Key paths of numbers that are exactly 0 (booleans aside), objects followed 32 deep."""
    found: list[str] = []
    for key, value in row.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if depth < MAX_DEPTH:
                found += zeros(value, f"{path}.", depth + 1)
        elif isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
            found.append(path)
    return found
