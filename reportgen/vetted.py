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
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

Identity = tuple[int, int, int]  # st_dev, st_ino, file type (S_IFMT)
_RECORD = struct.Struct("<QQI")  # one identity: a tree of 100,000 runs keeps ~1 million
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def identity(info: os.stat_result) -> Identity:
    return info.st_dev, info.st_ino, stat.S_IFMT(info.st_mode)


def parent_of(rel: str) -> str:
    """The directory part of a root-relative POSIX path ("." at the root)."""
    head, _, _ = rel.rpartition("/")
    return head or "."


def vetted_paths(inputs: Iterable[str]) -> tuple[str, ...]:
    """The paths whose identities a run keeps: its inputs, then their directories (sorted)."""
    files = tuple(inputs)
    return (*files, *sorted({parent_of(p) for p in files}))


_NONE_LINKED: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)  # no dict of its own once pickled to a worker
class Vetted:
    """What discovery saw of a run's files and directories, packed (the paths are the run's
    ``vetted_paths``, in order): 20 bytes a path instead of a dict of tuples per run.

    ``linked`` numbers the paths discovery reached through a symbolic link it chose to follow
    (``--follow-symlinks``): only those are opened through a link.
    """

    packed: bytes = b""
    linked: frozenset[int] = frozenset()

    @classmethod
    def of(cls, paths: tuple[str, ...], seen: Mapping[str, Identity], linked: set[str]) -> Vetted:
        missing = (0, 0, 0)  # never an identity: a path discovery did not see is refused
        packed = b"".join(_RECORD.pack(*seen.get(p, missing)) for p in paths)
        numbers = frozenset(i for i, p in enumerate(paths) if p in linked)
        return cls(packed, numbers or _NONE_LINKED)  # one empty set for the runs with no link

    def files(self, paths: tuple[str, ...]) -> VettedFiles | None:
        """The identities by path (``None``: nothing was recorded, as for a hand-made ref)."""
        if not self.packed:
            return None
        found = dict(zip(paths, _RECORD.iter_unpack(self.packed), strict=True))
        return VettedFiles(found, frozenset(paths[i] for i in self.linked))


@dataclass(frozen=True)
class VettedFiles:
    """The identities of one run's files, by path, for the reads of one load."""

    by_path: Mapping[str, Identity]
    linked: frozenset[str]


class Replaced(OSError):
    """The path no longer leads to the file discovery listed (raised instead of reading it)."""


def open_vetted(root: Path, rel: str, vetted: VettedFiles | None) -> int:
    """A read-only descriptor of ``root/rel``, or ``Replaced``/``OSError`` if it is not the
    file discovery vetted (``None``: no record, so no link is followed at all)."""
    parent = parent_of(rel)
    name = rel.rsplit("/", 1)[-1]
    if vetted is None:
        directory = _open_unlinked_directory(root, parent)
    else:  # a linked directory discovery followed is opened through its link, then checked
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


def read_listed(root: Path, rel: str, max_bytes: int) -> tuple[bytes | None, str | None]:
    """``root/rel`` whole if it is a regular file of at most ``max_bytes``, reached with no
    link on the way (``open_vetted`` without a record); else ``None`` and why, in the
    loader's words. The size is checked on the open descriptor before a byte is read."""
    try:
        fd = open_vetted(root, rel, None)
    except OSError as exc:
        return None, _not_read(exc)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "not a regular file"
        if info.st_size > max_bytes:
            return None, _too_large(info.st_size, max_bytes)
        data = bytearray()
        while len(data) <= max_bytes:  # at most max_bytes + 1: a growing file stops there
            block = os.read(fd, min(1 << 20, max_bytes + 1 - len(data)))
            if not block:
                break
            data += block
        if len(data) > max_bytes:
            return None, _too_large(len(data), max_bytes)
        return bytes(data), None
    except OSError as exc:
        return None, _not_read(exc)
    finally:
        os.close(fd)


def _too_large(size: int, max_bytes: int) -> str:
    return f"file is {size:,} bytes, above the limit of {max_bytes:,} bytes"


def _not_read(exc: OSError) -> str:
    if isinstance(exc, Replaced):
        return f"not read: {exc.strerror}"
    return f"cannot read file: {exc.strerror or exc}"


def _open_unlinked_directory(root: Path, parent: str) -> int:
    """``root/parent`` reached one directory at a time, none of them a link or ``..``."""
    directory = os.open(root, _DIR_FLAGS)
    try:
        for part in () if parent == "." else parent.split("/"):
            if part in ("", ".", ".."):
                raise Replaced(errno.EACCES, f"{parent!r} is not a path inside the tree")
            try:
                inner = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=directory)
            except OSError as exc:  # a link gives ELOOP or ENOTDIR (O_DIRECTORY is checked first)
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(part, directory):
                    raise Replaced(exc.errno, "its directory is a symbolic link") from exc
                raise
            os.close(directory)
            directory = inner
    except BaseException:
        os.close(directory)
        raise
    return directory


def _is_link(name: str, directory: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _check(fd: int, rel: str, vetted: VettedFiles | None, what: str) -> None:
    if vetted is None:
        return
    expected = vetted.by_path.get(rel)
    if expected is None:
        raise Replaced(errno.ENOENT, f"{what} was not listed by discovery")
    if identity(os.fstat(fd)) != expected:
        raise Replaced(errno.ESTALE, f"{what} was replaced after the tree was listed")
