"""Removing a build's own directory trees (leftovers of killed builds, a replaced site that
cannot be kept as the spare, a spare whose site is gone).

Removing a directory waits on the file system's journal more than on the CPU, so a site of
thousands of directories is removed as several subtrees at once, in threads; a few threads, as
more of them mostly contend for the kernel's locks.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REMOVERS = 4  # threads removing subtrees at once (beyond a few, they contend in the kernel)
MAX_DEPTH = 4  # levels listed to find subtrees


def remove_tree(path: Path) -> None:
    """Remove the directory ``path`` and everything under it (never following a symbolic link);
    what cannot be removed is left."""
    if not path.is_dir() or path.is_symlink():
        return
    subtrees = _subtrees(str(path), REMOVERS * 4)
    if len(subtrees) > 1:
        from concurrent.futures import ThreadPoolExecutor  # here: a no-op build removes nothing

        with ThreadPoolExecutor(min(REMOVERS, len(subtrees))) as pool:
            list(pool.map(_remove_quietly, subtrees))
    _remove_quietly(str(path))


def _remove_quietly(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _subtrees(root: str, wanted: int) -> list[str]:
    """Disjoint directories under ``root`` (no symbolic links), listed level by level until
    there are ``wanted`` of them or ``MAX_DEPTH`` levels; ``[root]`` when it has none."""
    level = [root]
    for _ in range(MAX_DEPTH):
        below = [entry for directory in level for entry in _directories(directory)]
        if not below:
            break
        level = below
        if len(level) >= wanted:
            break
    return level


def _directories(path: str) -> list[str]:
    try:
        with os.scandir(path) as entries:
            return [e.path for e in entries if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
