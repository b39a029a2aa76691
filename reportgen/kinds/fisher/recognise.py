"""Which files are Fisher-kernel directories: ``kernel_update.npy`` whose .npy header declares a
square matrix of numbers; the study is the whole directory. Standard library only: only the
header is parsed, as a literal, and nothing is unpickled."""

from __future__ import annotations

import ast
from collections.abc import Collection, Iterable
from typing import Any

from reportgen.kinds.claims import SNIFF_BYTES, Claim, name_matches
from reportgen.kinds.directories import directory_claims

KIND = "fisher"
MARKER = "kernel_update.npy"
PATTERNS = (MARKER,)
NPY_MAGIC = b"\x93NUMPY"
MAX_HEADER = SNIFF_BYTES  # numpy writes a few hundred bytes; literal_eval of more is not cheap


def matches(path: str) -> bool:
    """The cheap name test: a file named ``kernel_update.npy``."""
    return name_matches(path, PATTERNS)


def sniff(head: bytes) -> bool:
    """The cheap content test on the first bytes: a .npy header of a square numeric matrix."""
    try:
        header = npy_header(head[:SNIFF_BYTES])
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False
    shape, descr = header.get("shape"), header.get("descr")
    return (
        isinstance(shape, tuple)
        and len(shape) == 2
        and shape[0] == shape[1]
        and isinstance(descr, str)
        and descr[1:2] in ("f", "i", "u")
    )


def npy_header(data: bytes) -> dict[str, Any]:
    """The header dictionary of a .npy file (format versions 1 to 3), parsed as a literal."""
    if not data.startswith(NPY_MAGIC) or len(data) < 10:
        raise ValueError("not a .npy file")
    size = 2 if data[6] == 1 else 4
    length = int.from_bytes(data[8 : 8 + size], "little")
    if length > MAX_HEADER or 8 + size + length > len(data):
        raise ValueError("the .npy header is longer than the bytes looked at")
    header = ast.literal_eval(data[8 + size : 8 + size + length].decode("latin-1"))
    if not isinstance(header, dict):
        raise ValueError("the .npy header is not a dictionary")
    return header


def claims(paths: Iterable[str], markers: Collection[str] | None = None) -> tuple[Claim, ...]:
    """One study per directory with a ``kernel_update.npy`` (those in ``markers``, the ones
    that passed ``sniff``, when given), claiming every file below it."""
    return directory_claims(KIND, MARKER, paths, markers)
