"""How a kind claims files by name and first bytes: standard library only, for no-op builds."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

SNIFF_BYTES = 4096  # what a kind's content check looks at


@dataclass(frozen=True)
class Claim:
    """Files of one kind in one directory: a study is all of them together."""

    kind: str
    directory: str  # tree-relative, "." for the root
    files: tuple[str, ...]  # tree-relative paths, sorted
    # what else of the tree the study depends on (the tree's paths, for a batch manifest
    # checked against it): part of the study's input hash, never read as files
    context: tuple[str, ...] = ()


def name_matches(path: str, patterns: Iterable[str]) -> bool:
    name = path.rsplit("/", 1)[-1]  # not PurePosixPath: called for every file of the tree
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def claims_by_directory(kind: str, paths: Iterable[str]) -> tuple[Claim, ...]:
    """One claim per directory holding any of ``paths``, directories and files sorted."""
    by_directory: dict[str, list[str]] = {}
    for path in paths:
        parent = PurePosixPath(path).parent.as_posix()
        by_directory.setdefault(parent, []).append(path)
    return tuple(
        Claim(kind, directory, tuple(sorted(files)))
        for directory, files in sorted(by_directory.items())
    )
