"""Standard streams the command line cannot count on: closed (``2>&-``), or failing on every
write (``> /dev/full``). Neither may cost a traceback, nor the site.

A closed standard descriptor is pointed at ``/dev/null`` first thing: otherwise the next file
opened would get its number, and whatever writes to "stderr" (a warning, a child process, a
C library) would write into that file. Output that cannot be written raises ``OutputError``
(one line on stderr, if stderr works, and the documented exit code), never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

STANDARD = (0, 1, 2)


class OutputError(OSError):
    """Standard output could not be written (a full disk, a closed descriptor, an I/O error)."""


@contextlib.contextmanager
def standard_streams() -> Iterator[None]:
    """Within the block: usable standard streams, stdout failures raised as ``OutputError``;
    afterwards ``sys.stdout`` is what it was (the descriptors stay valid)."""
    previous = sys.stdout
    ensure_standard_streams()
    try:
        yield
    finally:
        if previous is not None:
            sys.stdout = previous


def flushed(code: int) -> int:
    """``code``, once everything written to stdout has reached it (or ``OutputError``): a
    failure is then reported by the command, not by the interpreter's exit, which would print
    an "Exception ignored" message and exit with 120."""
    sys.stdout.flush()
    return code


def ensure_standard_streams() -> None:
    """Closed descriptors 0, 1, 2 open on ``/dev/null``; ``sys.stdout``/``stderr`` usable, and
    stdout's failures reported as ``OutputError``."""
    for fd in STANDARD:
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdout is None:
        sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    if sys.stderr is None:
        sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
    if not isinstance(sys.stdout, _Checked):
        sys.stdout = _Checked(sys.stdout)


class _Checked:
    """stdout, with write failures (other than a closed pipe) raised as ``OutputError``."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def output_failed(exc: OutputError) -> None:
    """Say once, on stderr, that the output was lost; then make the exit flush harmless."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"reportgen: could not write to standard output: {exc.strerror}\n")
        sys.stderr.flush()
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
