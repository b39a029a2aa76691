"""The names a build gives its own directories and files beside the output (staging, backup,
temporary): ``.NAME.KIND-PID``, kept within the file-name limit."""

from __future__ import annotations

import hashlib
import os

NAME_MAX = 255  # bytes in one file name (Linux, macOS, Windows)
PID_DIGITS = 10  # room for any process id in a sibling's name


def sibling_name(name: str, kind: str, pid: int) -> str:
    """``.NAME.KIND-PID``, the name of a build's own file beside ``NAME``; a name too long to
    take the additions is shortened to its start and a hash (names stay within NAME_MAX)."""
    return f"{sibling_prefix(name, kind)}{pid}"


def sibling_prefix(name: str, kind: str) -> str:
    """The part of a sibling's name before its process id."""
    prefix = f".{name}.{kind}-"
    if len(os.fsencode(prefix)) + PID_DIGITS <= NAME_MAX:
        return prefix
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    start = os.fsencode(name)[:64].decode("utf-8", "ignore")
    return f".{start}~{digest}.{kind}-"
