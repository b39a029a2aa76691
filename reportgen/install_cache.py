"""The per-install cache: slow, deterministic artefacts (the Vega bundle, compiled templates,
chart specs, the code fingerprint), each trusted only if it carries a valid seal.

An entry is written with an HMAC-SHA256 of its name and bytes under a key that never leaves
this user's state directory (``platformdirs.user_state_dir``, mode 0600), not the cache
directory. A cache that is shared, or restored from a CI cache that other branches wrote, or
simply replaced file by file, therefore never gets its content published or executed: an
entry whose seal does not verify is a miss, and is made again.

Where the cache lives: ``$REPORTGEN_CACHE_DIR``, else the platform's cache directory
(``platformdirs``: ``$XDG_CACHE_HOME/reportgen`` or ``~/.cache/reportgen`` on Linux). A
relative ``XDG_*`` value is ignored (the XDG specification says so): nothing is written under
the working directory. Without a home directory (an arbitrary uid in a container) and no
absolute ``XDG_*`` or ``REPORTGEN_CACHE_DIR`` to use instead, the cache is off: everything is
made afresh, and one note says so.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from functools import cache
from pathlib import Path

log = logging.getLogger("reportgen")

APP = "reportgen"
KEY_NAME = "cache.key"
KEY_BYTES = 32
SEALED = "sealed"  # entries of this format; earlier versions' files beside it are never read
_MAGIC = b"reportgen-sealed-1\n"
_SEAL_BYTES = 32


class InstallCache:
    """Sealed entries under ``directory`` (``None``: the cache is off)."""

    def __init__(self, directory: Path | None, key: bytes | None) -> None:
        self.directory = directory if key is not None else None
        self._key = key

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def _seal(self, name: str, content: bytes) -> bytes:
        assert self._key is not None
        return hmac.new(self._key, name.encode() + b"\0" + content, hashlib.sha256).digest()

    def seal(self, name: str, content: bytes) -> str | None:
        """The HMAC of ``name`` and ``content`` under this user's key, in hex (``None`` when the
        cache is off): what proves, later, that this install made ``content``."""
        return None if self._key is None else self._seal(name, content).hex()

    def get(self, name: str) -> bytes | None:
        """The entry's bytes if its seal verifies; ``None`` for a miss of any kind."""
        if self.directory is None:
            return None
        try:
            data = (self.directory / name).read_bytes()
        except OSError:
            return None
        head = len(_MAGIC) + _SEAL_BYTES
        if not data.startswith(_MAGIC) or len(data) < head:
            return None
        seal, content = data[len(_MAGIC) : head], data[head:]
        return content if hmac.compare_digest(seal, self._seal(name, content)) else None

    def put(self, name: str, content: bytes) -> None:
        """Store an entry (written beside and renamed: a reader never sees half of it); a
        read-only cache only costs making it again next time."""
        if self.directory is None:
            return
        path = self.directory / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(_MAGIC + self._seal(name, content) + content)
            tmp.replace(path)
        except OSError:
            pass


def _absolute(value: str | None) -> Path | None:
    if value and os.path.isabs(value):
        return Path(value)
    return None


def _home() -> Path | None:
    home = os.path.expanduser("~")
    return Path(home) if os.path.isabs(home) else None


def cache_location() -> Path | None:
    """Where the cache lives, or ``None`` when there is no safe place for it."""
    configured = os.environ.get("REPORTGEN_CACHE_DIR")
    if configured:
        return Path(configured).absolute()
    return _platform_dir("XDG_CACHE_HOME", ".cache", "user_cache_dir")


def state_location() -> Path | None:
    """Where the key lives (never inside the cache), or ``None``."""
    return _platform_dir("XDG_STATE_HOME", ".local/state", "user_state_dir")


def _platform_dir(variable: str, unix_default: str, kind: str) -> Path | None:
    """``platformdirs``' directory for reportgen; a relative ``XDG_*`` value is ignored (as
    the XDG specification asks) and a relative result (``~`` that does not expand: no home
    directory) is never used."""
    import platformdirs

    home = os.path.expanduser("~")
    raw = os.environ.get(variable, "").strip()
    if raw and not os.path.isabs(raw) and os.name == "posix":
        found = Path(home, unix_default, APP)
    else:
        try:
            found = Path(getattr(platformdirs, kind)(APP, appauthor=False))
        except RuntimeError:  # recent platformdirs: no home directory to resolve ``~`` against
            return None
    return found if found.is_absolute() else None


def _note_legacy(directory: Path) -> None:
    """Say once that the cache of earlier versions (unsealed, never read) can be removed."""
    legacy = Path(os.path.expanduser("~"), ".cache", APP)
    marker = directory / ".legacy-noted"
    if not legacy.is_absolute() or legacy == directory or not legacy.is_dir():
        return
    if marker.exists():
        return
    log.info(
        "reportgen: note: the per-install cache is now %s; %s (from an earlier version) is "
        "no longer read and can be removed",
        directory,
        legacy,
    )
    with contextlib.suppress(OSError):
        directory.mkdir(parents=True, exist_ok=True)
        marker.touch()


def _existing_key(state: Path) -> bytes | None:
    """This user's sealing key if it has been made (and is whole)."""
    try:
        key = (state / KEY_NAME).read_bytes()
    except OSError:
        return None
    return key if len(key) == KEY_BYTES else None


def _key(state: Path) -> bytes | None:
    """This user's sealing key, made on first use (readable by this user only)."""
    if (key := _existing_key(state)) is not None:
        return key
    path = state / KEY_NAME
    damaged = path.exists()
    try:
        state.mkdir(parents=True, exist_ok=True)
        tmp = state / f".{KEY_NAME}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
        if damaged or not _link_once(tmp, path):
            tmp.replace(path)
        tmp.unlink(missing_ok=True)
        key = path.read_bytes()
    except OSError:
        return None
    return key if len(key) == KEY_BYTES else None


def _link_once(source: Path, target: Path) -> bool:
    """Link ``target`` to ``source`` unless it exists (the first of concurrent first uses makes
    the key, the others read it); False where the file system has no hard links."""
    try:
        os.link(source, target)
    except FileExistsError:
        return True
    except OSError:
        return False
    return True


LOCATION_VARIABLES = ("REPORTGEN_CACHE_DIR", "XDG_CACHE_HOME", "XDG_STATE_HOME", "HOME")


def install_cache() -> InstallCache:
    """The cache where the environment puts it (looked up once per distinct environment)."""
    return _install_cache(tuple(os.environ.get(name) for name in LOCATION_VARIABLES))


@cache
def _install_cache(environment: tuple[str | None, ...]) -> InstallCache:
    """The cache for one set of location variables (a note, once, when there is none)."""
    directory, state = cache_location(), state_location()
    key = _key(state) if state is not None and directory is not None else None
    if key is None or directory is None:
        log.info(
            "reportgen: note: no place for the per-install cache (no home directory, or "
            "none writable); everything is made afresh. Set REPORTGEN_CACHE_DIR and "
            "XDG_STATE_HOME to absolute paths to keep one."
        )
        return InstallCache(None, None)
    if not os.environ.get("REPORTGEN_CACHE_DIR"):
        _note_legacy(directory)
    return InstallCache(directory / SEALED, key)


def existing_install_cache() -> InstallCache:
    """The cache only if its key exists already (no key is made, no note is said): for reads
    made before a command has decided to write anything (``--help`` writes nothing)."""
    directory, state = cache_location(), state_location()
    if directory is None or state is None:
        return InstallCache(None, None)
    return InstallCache(directory / SEALED, _existing_key(state))
