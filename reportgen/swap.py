"""The staged site swapped in, and the replaced site kept beside OUT as the next build's staging
directory (``.OUT.spare``).

Staging a site afresh makes every directory and links every unchanged file; removing the
replaced site unlinks them all again. Kept instead, the replaced site is what the next build
stages into: a file there that *is* the live site's file (the same inode: the hard link an
earlier build made) is what carrying it over would make, so it stays; any other file at a path
the new site writes is unlinked first (never written through: it may share its inode with a
live file), and every file the new site does not claim is removed before the swap. Nothing in
the spare is ever read, and anything in it that is neither a file nor a directory (a symbolic
link, a FIFO) is removed before the build writes there.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from reportgen.removal import remove_tree
from reportgen.siblings import sibling_name, sibling_prefix

RENAME_EXCHANGE = 2


def swap_in(staging: Path, out: Path) -> Path:
    """Put ``staging`` at ``out`` atomically; where the replaced site now is (nothing there
    when ``out`` was not a directory)."""
    if not out.is_dir():
        os.rename(staging, out)
        return staging
    if _exchange(staging, out):
        return staging
    backup = out.parent / sibling_name(out.name, "old", os.getpid())
    os.rename(out, backup)  # a build killed before the next rename: see recover_interrupted
    os.rename(staging, out)
    return backup


def spare_directory(out: Path) -> Path:
    """Where the site replaced by ``out``'s last build waits for the next build."""
    return out.parent / sibling_prefix(out.name, "spare").removesuffix("-")


class Spare:
    """A staging directory adopted from the spare: its entries, until claimed or pruned."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.files: set[str] = set()  # site paths of the spare's files not yet claimed
        self.directories: set[str] = set()
        self._list()

    def _list(self) -> None:
        pending = [""]
        while pending:
            directory = pending.pop()
            with os.scandir(os.path.join(self.root, directory)) as entries:
                for entry in entries:
                    key = f"{directory}/{entry.name}" if directory else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        self.directories.add(key)
                        pending.append(key)
                    elif entry.is_file(follow_symlinks=False):
                        self.files.add(key)
                    else:
                        os.unlink(entry.path)

    def holds(self, key: str, previous: os.stat_result) -> bool:
        """Whether the spare's file at ``key`` is the live site's file itself (``previous`` is
        its ``stat``; then it stays); whatever else is there is removed."""
        if key in self.files:
            with contextlib.suppress(OSError):
                if _identity(os.lstat(os.path.join(self.root, key))) == _identity(previous):
                    self.files.discard(key)
                    return True
        self.free(key)
        return False

    def free(self, key: str) -> None:
        """Nothing of the spare's at ``key``."""
        if key in self.files:
            self._drop_file(key)
        elif key in self.directories:
            self.directories.discard(key)
            remove_tree(Path(self.root, key))

    def make_room(self, key: str) -> None:
        """No file of the spare's where ``key`` needs a directory."""
        parent = key.rpartition("/")[0]
        while parent:
            if parent in self.files:
                self._drop_file(parent)
            parent = parent.rpartition("/")[0]

    def _drop_file(self, key: str) -> None:
        self.files.discard(key)
        _unlink(os.path.join(self.root, key))

    def prune(self) -> None:
        """Remove every file no one claimed, then every directory left empty."""
        for key in self.files:
            _unlink(os.path.join(self.root, key))
        self.files.clear()
        for key in sorted(self.directories, key=lambda k: k.count("/"), reverse=True):
            with contextlib.suppress(OSError):  # not empty: the new site has files below it
                os.rmdir(os.path.join(self.root, key))
        self.directories.clear()


def adopt_spare(out: Path, staging: Path) -> Spare | None:
    """The spare renamed to ``staging`` and listed, if this user's spare is there to take."""
    spare = spare_directory(out)
    try:
        found = os.lstat(spare)
    except OSError:
        return None
    if not _ours(found):
        return None
    try:
        os.rename(spare, staging)  # atomic: of two builds at once, one takes it
    except OSError:
        return None
    try:
        return Spare(staging)
    except OSError:
        remove_tree(staging)
        return None


def set_aside(replaced: Path, out: Path) -> None:
    """Keep the replaced site as the next build's spare, or remove it if a spare is there."""
    try:
        os.rename(replaced, spare_directory(out))
    except OSError:
        remove_tree(replaced)


def remove_spare(out: Path) -> None:
    """Remove a spare no build can use (OUT is gone), if it is this user's directory."""
    spare = spare_directory(out)
    with contextlib.suppress(OSError):
        if _ours(os.lstat(spare)):
            remove_tree(spare)


def _ours(found: os.stat_result) -> bool:
    """A directory of this user's (on a system with POSIX users; any directory elsewhere)."""
    owner = getattr(os, "geteuid", None)
    return stat.S_ISDIR(found.st_mode) and (owner is None or found.st_uid == owner())


def _identity(found: os.stat_result) -> tuple[int, int]:
    return found.st_dev, found.st_ino


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # its directory is gone
        os.unlink(path)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories with Linux renameat2(RENAME_EXCHANGE) where available."""
    import ctypes  # here: a no-op build publishes nothing
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), RENAME_EXCHANGE)
    if result == 0:
        return True
    if ctypes.get_errno() in (errno.ENOSYS, errno.EINVAL, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), "renameat2 failed", str(b))
