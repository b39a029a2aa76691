"""Recognising a Fisher-kernel directory cheaply: the file names, then the kernel's .npy header.

Imports only the standard library, so discovery can call it on every build.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reportgen.kinds.common import ReadFile

NAME = "fisher"
KERNEL = "kernel_update.npy"
SEQUENCES_SUFFIX = "_sequences.json"
NPY_MAGIC = b"\x93NUMPY"
MAX_HEADER = 1 << 16  # numpy writes a few hundred bytes; literal_eval of more is not cheap


def recognise(directory: Path, names: Collection[str], read: ReadFile) -> bool:
    """Whether ``directory`` (whose entry names are ``names``) holds Fisher-kernel diagnostics:
    ``kernel_update.npy`` whose header declares a square matrix of real numbers, beside at
    least one ``*_sequences.json``. Nothing is unpickled: only the header is parsed."""
    if KERNEL not in names or not any(n.endswith(SEQUENCES_SUFFIX) for n in names):
        return False
    try:
        header = npy_header(read(directory / KERNEL))
    except Exception:  # any read or parse failure: not this kind (the tree's inventory lists it)
        return False
    shape = header.get("shape")
    descr = header.get("descr")
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
    major = data[6]
    if major == 1:
        length, start = int.from_bytes(data[8:10], "little"), 10
    else:
        length, start = int.from_bytes(data[8:12], "little"), 12
    if length > MAX_HEADER:
        raise ValueError("the .npy header is implausibly long")
    text = data[start : start + length].decode("latin-1")
    header = ast.literal_eval(text)
    if not isinstance(header, dict):
        raise ValueError("the .npy header is not a dictionary")
    return header
