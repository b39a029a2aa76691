"""Opening the files discovery listed, and only those: a file swapped for a link, or for another
file, after the tree was listed is refused, never read.

Discovery records each input's identity (device, inode and file type) and that of its
directory. An input is opened relative to a descriptor of its directory whose identity was
checked, with ``O_NOFOLLOW`` unless discovery itself followed a link to it, and the open file's
``fstat`` must match what discovery saw: what is read is what was vetted, with no window
between the check and the read.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

Identity = tuple[int, int, int]  # st_dev, st_ino, file type (S_IFMT)
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def identity(info: os.stat_result) -> Identity:
    return info.st_dev, info.st_ino, stat.S_IFMT(info.st_mode)


@dataclass(frozen=True)
class Vetted:
    """What discovery saw of a run's files and their directories, by path from the root.

    ``linked`` names the inputs discovery reached through a symbolic link it chose to follow
    (``--follow-symlinks``): only those are opened through a link.
    """

    entries: tuple[tuple[str, Identity], ...] = ()
    linked: frozenset[str] = frozenset()

    @cached_property
    def by_path(self) -> dict[str, Identity]:
        return dict(self.entries)

    def merged(self, other: Vetted) -> Vetted:
        known = self.by_path | other.by_path
        return Vetted(tuple(sorted(known.items())), self.linked | other.linked)


class Replaced(OSError):
    """The path no longer leads to the file discovery listed (raised instead of reading it)."""


def parent_of(rel: str) -> str:
    """The directory part of a root-relative POSIX path ("." at the root)."""
    head, _, _ = rel.rpartition("/")
    return head or "."


def open_vetted(root: Path, rel: str, vetted: Vetted | None) -> int:
    """A read-only descriptor of ``root/rel``, or ``Replaced``/``OSError`` if it is not the
    file discovery vetted (no record, ``None`` or empty: no link is followed at all)."""
    if vetted is not None and not vetted.entries:
        vetted = None
    parent = parent_of(rel)
    name = rel.rsplit("/", 1)[-1]
    directory = os.open(root if parent == "." else root / parent, _DIR_FLAGS)
    try:
        _check(directory, parent, vetted, "its directory")
        linked = vetted is not None and rel in vetted.linked
        try:
            fd = os.open(name, _READ_FLAGS | (0 if linked else _NOFOLLOW), dir_fd=directory)
        except OSError as exc:
            if exc.errno == errno.ELOOP and not linked:
                raise Replaced(exc.errno, "is a symbolic link, not the file listed") from exc
            raise
    finally:
        os.close(directory)
    try:
        _check(fd, rel, vetted, "it")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check(fd: int, rel: str, vetted: Vetted | None, what: str) -> None:
    if vetted is None:
        return
    expected = vetted.by_path.get(rel)
    if expected is None:
        raise Replaced(errno.ENOENT, f"{what} was not listed by discovery")
    if identity(os.fstat(fd)) != expected:
        raise Replaced(errno.ESTALE, f"{what} was replaced after the tree was listed")
