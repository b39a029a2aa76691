"""Files written piece by piece as their pieces are made: a large file is never held whole.

A ``SiteWriter`` writes a file given whole or as a tuple of pieces, and hard-links it from the
previous site when the bytes are the same. Here the pieces come from an iterator that makes
each one when it is asked for (a group's ``summary.json``, one run entry at a time): each is
written, and compared with the previous site's file as it goes, and let go; a file that turns
out the same as before is replaced by a link to it, as ``SiteWriter.write`` would have made.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable

from reportgen.write import SiteWriter


def write_streamed(writer: SiteWriter, path: str, pieces: Iterable[bytes]) -> None:
    """Write ``pieces`` at ``path`` (relative to the site root) as they come."""
    target = writer._claim(path)
    old = writer._previous_file(path)
    if _write_comparing(target, pieces, old) and old is not None:
        os.unlink(target)
        try:
            os.link(old, target)
        except OSError:
            shutil.copy2(old, target)
        writer.log.kept.append(path)
    else:
        writer.log.written.append(path)


def _write_comparing(target: str, pieces: Iterable[bytes], old: str | None) -> bool:
    """Write every piece to ``target``; whether the bytes are exactly ``old``'s."""
    with open(target, "wb") as file, open(old or os.devnull, "rb") as before:
        same = old is not None
        for piece in pieces:
            file.write(piece)
            same = same and before.read(len(piece)) == piece
        return same and before.read(1) == b""
