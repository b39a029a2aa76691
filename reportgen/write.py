"""The only code that touches the output directory: staged writes and an atomic publish."""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, TypeVar

from reportgen.removal import remove_tree
from reportgen.siblings import NAME_MAX as NAME_MAX
from reportgen.siblings import sibling_name as sibling_name
from reportgen.siblings import sibling_prefix
from reportgen.swap import Spare, adopt_spare, remove_spare, set_aside, swap_in

T = TypeVar("T")
MARKER = ".reportgen/status.json"
# Content-addressed intermediate results a later build may reuse (e.g. batch-comparison draws)
MEMO_DIR = ".reportgen/memo"
# how many staging directories the writer remembers making (a site's files come a page's
# directory at a time: one made again after they are forgotten costs one more makedirs)
DIRECTORIES_HELD = 1024
# a page of --single-file starts so (base template), reportgen named in its first few KiB
SINGLE_FILE_PAGE = re.compile(rb"<!DOCTYPE html>\s*<html\b[^>]*\sdata-single-file[\s>=]", re.I)
SINGLE_FILE_GENERATOR = b'<meta name="generator" content="reportgen '
SINGLE_FILE_HEAD_BYTES = 16384

# A file's bytes, or its pieces in order (a large summary is never joined into one buffer)
Content = bytes | tuple[bytes, ...]


class WriteError(Exception):
    """The output directory cannot be written as asked."""


@dataclass
class WriteLog:
    """What a build did to each output path (tests assert exactly which files were rewritten)."""

    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def is_reportgen_site(directory: Path) -> bool:
    return (directory / MARKER).is_file()


def holds_files(directory: Path) -> bool:
    """Whether ``directory`` has any entry (it is not empty)."""
    return any(directory.iterdir())


def is_single_file_page(path: Path) -> bool:
    """Whether ``path`` is a page of ``--single-file`` (as its first bytes say: its ``<html>``
    marked so, reportgen named as its generator)."""
    try:
        with open(path, "rb") as file:
            head = file.read(SINGLE_FILE_HEAD_BYTES)
    except OSError:
        return False
    return SINGLE_FILE_PAGE.match(head) is not None and SINGLE_FILE_GENERATOR in head


def digest_of(content: Content) -> str:
    """sha256 of a file's bytes (given whole or in pieces), as the status keeps it."""
    digest = hashlib.sha256()
    for piece in (content,) if isinstance(content, bytes) else content:
        digest.update(piece)
    return digest.hexdigest()


def is_site_path(path: object) -> bool:
    """Whether ``path`` names a file inside a site (what a status file may name): relative, no
    ``..`` part, not only dots and slashes. String tests only: a status names every file."""
    return (
        isinstance(path, str)
        and path[:1] not in ("/", "")
        and "/../" not in f"/{path}/"
        and path.strip("./") != ""
    )


def normal_site_path(path: str) -> str:
    """``path`` without empty and ``.`` parts (what ``safe_site_path`` would write it as)."""
    return "/".join(part for part in path.split("/") if part not in ("", "."))


def safe_site_path(path: str) -> str:
    """``path`` normalised as a ``PurePosixPath`` (empty and ``.`` parts dropped), checked to stay
    inside the site; string operations, as a large site claims tens of thousands of paths."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if path.startswith("/") or ".." in parts or not parts:
        raise WriteError(f"refusing to write outside the output directory: {path!r}")
    normal = "/".join(parts)
    return path if normal == path else normal  # the caller's string: a site holds one of each


def site_directory(out: Path) -> Path:
    """The directory a site is written to: OUT itself, or where OUT points if it is a symbolic
    link (the link stays, and leads to the new site once it is swapped in)."""
    return Path(os.path.realpath(out)) if out.is_symlink() else out


class SiteWriter:
    """Writes a complete new site into a sibling staging directory, then swaps it in.

    Files whose bytes equal the previous site's are hard-linked from it instead of rewritten, so
    a no-op or small rebuild leaves untouched files untouched (same inode, same mtime). The
    staging directory is the site the last build replaced, when it waits beside OUT (``spare``).
    """

    def __init__(self, out: Path, reuse_memos: bool = True) -> None:
        out = site_directory(out)
        self.out = out
        self._previous = out if out.is_dir() else None
        self.reuse_memos = reuse_memos  # False for --force: recompute even cached intermediates
        self._staging = out.parent / sibling_name(out.name, "staging", os.getpid())
        self.log = WriteLog()
        self.claimed: set[str] = set()  # every path of the new site
        self._made: set[str] = set()  # staging directories known to exist (the latest ones)
        self._spare: Spare | None = None

    def __enter__(self) -> SiteWriter:
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            remove_tree(self._staging)
            if self._previous is None:
                remove_spare(self.out)  # OUT is gone: no build will find its files there
            else:
                self._spare = adopt_spare(self.out, self._staging)
            if self._spare is None:
                self._staging.mkdir()
        except OSError as exc:  # named as given: the staging directory is ours, not the user's
            raise WriteError(f"cannot make {self.out}: {exc.strerror or exc}") from None
        if self._previous is not None:  # the swapped-in site keeps OUT's permissions (a web root)
            os.chmod(self._staging, stat.S_IMODE(self._previous.stat().st_mode))
        return self

    def __exit__(self, *exc_info: object) -> None:
        remove_tree(self._staging)  # after publish() this is already gone

    def _place(self, path: str) -> tuple[str, str]:
        """``path`` claimed, as a site path and its staging path (whose directory exists)."""
        key = safe_site_path(path)
        if key in self.claimed:
            raise WriteError(f"two outputs want the same path: {key}")
        self.claimed.add(key)
        target = os.path.join(self._staging, key)
        parent = os.path.dirname(target)
        if parent not in self._made:
            if self._spare is not None:
                self._spare.make_room(key)
            os.makedirs(parent, exist_ok=True)
            if len(self._made) >= DIRECTORIES_HELD:
                self._made.clear()
            self._made.add(parent)
        return key, target

    def _claim(self, path: str) -> str:
        """The staging path of ``path``, with nothing there to write through."""
        key, target = self._place(path)
        if self._spare is not None:
            self._spare.free(key)
        return target

    def write(self, path: str, content: Content) -> None:
        """Write ``content`` at ``path`` (relative to the site root)."""
        pieces = (content,) if isinstance(content, bytes) else content
        previous = self._previous_stat(path)
        if previous is not None and _same_content(previous[0], pieces):
            self._link_kept(path, *previous)
            return
        with open(self._claim(path), "wb") as file:
            file.writelines(pieces)
        self.log.written.append(path)

    def write_streamed(self, path: str, pieces: Iterable[bytes]) -> None:
        """Write ``pieces`` at ``path`` as they are made (the file is never held whole); bytes
        equal to the previous site's file become a link to it, as ``write`` makes. When making
        a piece raises, nothing stays written or claimed at ``path``."""
        target = self._claim(path)
        old = self._previous_file(path)
        try:
            same = _write_comparing(target, pieces, old)
        except BaseException:
            os.unlink(target)
            self.claimed.discard(safe_site_path(path))
            raise
        if same and old is not None:
            os.unlink(target)
            _link_or_copy(old, target)
            self.log.kept.append(path)
        else:
            self.log.written.append(path)

    def keep(self, path: str) -> bool:
        """Carry a file over from the previous site unchanged; False if it is not there."""
        if self._claimed_memo(path):
            return True
        previous = self._previous_stat(path)
        if previous is None:
            return False
        self._link_kept(path, *previous)
        return True

    def keep_all(self, paths: Iterable[str]) -> bool:
        """Carry every file over from the previous site, or none (then the caller re-renders);
        each previous file is looked up once."""
        found = []
        for path in paths:
            previous = self._previous_stat(path)
            if previous is None:
                return False
            found.append((path, previous))
        for path, (old, stat_result) in found:
            if not self._claimed_memo(path):
                self._link_kept(path, old, stat_result)
        return True

    def _claimed_memo(self, path: str) -> bool:
        """A memo already in the new site (content-addressed: its users want the same bytes)."""
        return path.startswith(MEMO_DIR + "/") and path in self.claimed

    def _link_kept(self, path: str, old: str, found: os.stat_result) -> None:
        key, target = self._place(path)
        if self._spare is None or not self._spare.holds(key, found):
            _link_or_copy(old, target)
        self.log.kept.append(path)

    def previous_has(self, paths: Iterable[str]) -> bool:
        """Whether the previous site holds every one of ``paths``."""
        return self._previous is not None and all(self._previous_file(p) for p in paths)

    def _previous_file(self, path: str) -> str | None:
        """The previous site's file at ``path``, if it has one."""
        previous = self._previous_stat(path)
        return None if previous is None else previous[0]

    def _previous_stat(self, path: str) -> tuple[str, os.stat_result] | None:
        """The previous site's file at ``path`` and its ``stat``, if it has one."""
        if self._previous is None or not is_site_path(path):
            return None
        old = os.path.join(self._previous, path)
        try:
            found = os.stat(old)
        except (OSError, ValueError):  # as ``os.path.isfile``: missing, unreadable, NUL in name
            return None
        return (old, found) if stat.S_ISREG(found.st_mode) else None

    def store_memos(
        self, computed: Mapping[str, bytes], reused: Iterable[str], known: Mapping[str, str]
    ) -> dict[str, str]:
        """Store the memos a ``MemoReader`` served, as ``MEMO_DIR/name``; their paths and sha256.

        A memo is content-addressed (its name is a hash of everything its bytes depend on), so
        one the reader took from the previous site (checked there against ``known``, the
        previous build's digests) is carried over by name, its bytes never sent back from a
        worker; one computed is written (or linked, when the previous site holds its bytes).
        """
        stored = {}
        for name in reused:
            path = memo_path(name)
            if path in known and (path in self.claimed or self.keep(path)):
                stored[path] = known[path]
        for name, content in computed.items():
            path = memo_path(name)
            if path not in self.claimed:
                self.write(path, content)
            stored[path] = digest_of(content)
        return stored

    @property
    def memo_source(self) -> Path | None:
        """The previous site, whose draws memos may be reused (``None``: recompute them)."""
        return self._previous if self.reuse_memos else None

    def write_private(self, path: str, content: Content) -> str:
        """Write one of the build's private files; its sha256, for the status to keep (the file
        is checked against it before any later use)."""
        self.write(path, content)
        return digest_of(content)

    def write_private_streamed(self, path: str, pieces: Iterable[bytes]) -> str:
        """``write_private`` of a file made as it is written (``write_streamed``)."""
        digest = hashlib.sha256()

        def hashed() -> Iterator[bytes]:
            for piece in pieces:
                digest.update(piece)
                yield piece

        self.write_streamed(path, hashed())
        return digest.hexdigest()

    def previous_verified(self, path: str, digest: str) -> bytes | None:
        """The previous site's private file at ``path`` if its bytes hash to ``digest``; a file
        changed since (or missing) is ``None``: a cache miss, never an error."""
        content = self.previous_bytes(path)
        return content if content is not None and digest_of(content) == digest else None

    def previous_verified_lines(
        self, path: str, digest: str, consume: Callable[[Iterator[bytes]], T]
    ) -> T | None:
        """What ``consume`` makes of the previous site's private file at ``path``, line by line
        (no newlines), while its bytes are hashed alongside: ``None`` unless they hash to
        ``digest`` (a cache miss); the file is never held whole."""
        old = self._previous_file(path)
        if old is None:
            return None
        hashed = hashlib.sha256()

        def lines(file: BinaryIO) -> Iterator[bytes]:
            for line in file:
                hashed.update(line)
                yield line[:-1] if line.endswith(b"\n") else line

        try:
            with open(old, "rb") as file:
                result = consume(lines(file))
                for rest in iter(lambda: file.read(1 << 20), b""):  # what ``consume`` left
                    hashed.update(rest)
        except OSError:
            return None
        return result if hashed.hexdigest() == digest else None

    def scratch_file(self) -> IO[bytes]:
        """A file of this build's own, in the staging directory but nameless there: never part
        of the site, gone when it is closed (or the build ends however it ends)."""
        return tempfile.TemporaryFile(dir=self._staging)

    def verified(self, digests: Mapping[str, str]) -> VerifiedFiles:
        """The private files of the new site named in ``digests``, for a later stage of this
        build to read back (checked against their digests)."""
        return VerifiedFiles(self._staging, dict(digests))

    def previous_bytes(self, path: str) -> bytes | None:
        old = self._previous_file(path)
        if old is None:
            return None
        try:
            with open(old, "rb") as file:
                return file.read()
        except OSError:
            return None

    def publish(self) -> None:
        """Swap the staging directory in; a build killed before this leaves the old site intact.
        The replaced site is kept as the next build's spare."""
        if self._spare is not None:
            self._spare.prune()
        self._staging = swap_in(self._staging, self.out)  # where the replaced site now is
        if is_reportgen_site(self._staging):
            set_aside(self._staging, self.out)
        else:  # a foreign directory OUT was (--force), or none
            remove_tree(self._staging)


@dataclass(frozen=True)
class VerifiedFiles:
    """Private files of a site, each readable only as the bytes its digest names: one changed
    on disk reads as missing. Picklable, for group workers."""

    root: Path
    digests: Mapping[str, str]

    def read(self, path: str) -> bytes | None:
        digest = self.digests.get(path)
        if digest is None or not is_site_path(path):
            return None
        try:
            with open(os.path.join(self.root, path), "rb") as file:
                content = file.read()
        except OSError:
            return None
        return content if digest_of(content) == digest else None


def memo_path(name: str) -> str:
    """The site path of the memo called ``name``."""
    return f"{MEMO_DIR}/{safe_site_path(name)}"


def _write_comparing(target: str, pieces: Iterable[bytes], old: str | None) -> bool:
    """Write every piece to ``target``; whether the bytes are exactly ``old``'s."""
    with open(target, "wb") as file, open(old or os.devnull, "rb") as before:
        same = old is not None
        for piece in pieces:
            file.write(piece)
            same = same and before.read(len(piece)) == piece
        return same and before.read(1) == b""


def _same_content(path: str, pieces: tuple[bytes, ...]) -> bool:
    if os.path.getsize(path) != sum(map(len, pieces)):
        return False
    with open(path, "rb") as file:
        old = file.read()
    offset = 0
    for piece in pieces:
        # compared in place (memcmp); a memoryview's comparison goes byte by byte, ~100× slower
        if not old.startswith(piece, offset):
            return False
        offset += len(piece)
    return offset == len(old)


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _sibling_pid(path: Path, out: Path) -> int | None:
    """The PID in a ``.OUT.staging-PID`` / ``.OUT.old-PID`` name, or ``None`` if not one of ours."""
    for kind in ("staging", "old"):
        prefix = sibling_prefix(out.name, kind)
        if path.name.startswith(prefix) and path.name[len(prefix) :].isdigit():
            return int(path.name[len(prefix) :])
    return None


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # our own leftovers: this process starts a new staging dir only after cleanup
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def _dead_siblings(out: Path, kind: str) -> list[Path]:
    """Our staging/backup siblings of ``out`` whose build process is gone."""
    found = []
    for path in sorted(out.parent.glob(f"{glob.escape(sibling_prefix(out.name, kind))}*")):
        pid = _sibling_pid(path, out)
        if pid is not None and path.is_dir() and not path.is_symlink() and not _pid_alive(pid):
            found.append(path)
    return found


def recover_interrupted(out: Path) -> None:
    """Put the previous site back if a build died between the two fallback renames of publish().

    Then remove staging and backup directories left by killed builds (never a live build's:
    the PID in the name must be gone).
    """
    out = site_directory(out)
    if not out.exists() and not out.is_symlink():
        for backup in reversed(_dead_siblings(out, "old")):
            if (backup / MARKER).is_file():
                os.rename(backup, out)
                break
    for leftover in (*_dead_siblings(out, "staging"), *_dead_siblings(out, "old")):
        remove_tree(leftover)
    for tmp in (out / ".reportgen").glob(".*.tmp-*"):  # write_file_atomic's, if it was killed
        pid = tmp.name.rpartition("-")[2]
        if pid.isdigit() and not _pid_alive(int(pid)) and tmp.is_file():
            tmp.unlink(missing_ok=True)


def write_file_atomic(path: Path, content: bytes) -> None:
    """One output file (``--single-file``), written beside and renamed into place (with the
    mode of the file it replaces): a reader sees the old file or the new, never a part."""
    tmp = path.parent / sibling_name(path.name, "tmp", os.getpid())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(content)
        if path.is_file():
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise WriteError(f"cannot write {path}: {exc.strerror or exc}") from None
