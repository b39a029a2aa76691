"""A call made in a forked copy of the build's process, beside the build's own next step.

The copy has all the process has (its imports, the analyses, the records), so nothing is sent
to it; only the call's result comes back, pickled through a pipe. A process running other
Python threads is never forked: a lock one of them held would stay held in the copy (Python
3.12+ warns). The copy dies with the build, ignores Ctrl-C as the workers do (the build alone
reports it), never collects its garbage (it only renders and ends) and leaves through
``os._exit``, so none of the build's clean-ups run twice.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable
from typing import Generic, NoReturn, TypeVar

R = TypeVar("R")


class ForkLost(Exception):
    """The copy ended without sending its result (killed, or out of memory)."""


def can_fork() -> bool:
    """Whether this process may fork a copy now: Linux, and no other Python thread running."""
    return sys.platform == "linux" and threading.active_count() == 1


class Forked(Generic[R]):
    """``call()`` running in a forked copy of this process; ``result()`` waits for it."""

    def __init__(self, call: Callable[[], R]) -> None:
        read, write = os.pipe()
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError:  # no process to spare: the caller does the work itself
            os.close(read)
            os.close(write)
            raise
        if pid == 0:
            os.close(read)
            _serve(call, write, parent)
        os.close(write)
        self._pid: int | None = pid
        self._read = read

    def result(self) -> R:
        """The call's result; ``ForkLost`` when the copy ended without one."""
        try:
            with os.fdopen(self._read, "rb") as pipe:
                data = pipe.read()
        finally:
            status = self._reap()
        if not data or status != 0:
            raise ForkLost(f"the forked copy ended with status {status}")
        result: R = pickle.loads(data)
        return result

    def cancel(self) -> None:
        """End the copy (the build stopped before it wanted the result)."""
        if self._pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(self._read)
        self._reap()

    def _reap(self) -> int:
        pid, self._pid = self._pid, None
        if pid is None:
            return -1
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)


def _serve(call: Callable[[], object], write: int, parent: int) -> NoReturn:
    """The copy's life: the call, its result written to the pipe, then the end."""
    code = 1
    try:
        from reportgen.lifetime import die_with_parent

        die_with_parent(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        gc.disable()
        data = pickle.dumps(call(), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write, "wb") as pipe:
            pipe.write(data)
        code = 0
    finally:
        os._exit(code)
