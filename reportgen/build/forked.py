"""A call made in a forked copy of the build's process, beside the build's own next step.

The copy has all the process has (its imports, the analyses, the records), so nothing is sent
to it. Its result comes back pickled into an anonymous in-memory file, so the copy never waits
for this process to read it; it closes a pipe once the result is there. A copy's exit is not
waited for when its result is read (tearing down a copy of a large process takes a while), only
reaped by the next call of ``reap_finished``. A process running other Python threads is never
forked: a lock one of them held would stay held in the copy (Python 3.12+ warns). The copy dies
with the build, ignores Ctrl-C as the workers do (the build alone reports it), never collects
its garbage (it only renders and ends) and leaves through ``os._exit``, so none of the build's
clean-ups run twice.
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
        reap_finished(block=False)
        store = os.memfd_create("reportgen-forked", os.MFD_CLOEXEC)
        read, write = os.pipe()
        parent = os.getpid()
        try:
            pid = os.fork()
        except OSError:  # no process to spare: the caller does the work itself
            for fd in (store, read, write):
                os.close(fd)
            raise
        if pid == 0:
            os.close(read)
            _serve(call, store, write, parent)
        os.close(write)
        self._pid: int | None = pid
        self._store, self._done = store, read

    def result(self) -> R:
        """The call's result; ``ForkLost`` when the copy ended without one."""
        try:
            os.read(self._done, 1)  # its end closed: the copy finished writing, or ended
            with os.fdopen(self._store, "rb", closefd=False) as stored:
                stored.seek(0)
                data = stored.read()
            result: R = pickle.loads(data)
        except Exception as exc:  # nothing, or a part: the copy ended before it had written all
            status = self._reap(block=True)
            raise ForkLost(f"the forked copy ended with status {status}") from exc
        finally:
            self._close()
        self._reap(block=False)
        return result

    def cancel(self) -> None:
        """End the copy (the build stopped before it wanted the result)."""
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        self._close()
        self._reap(block=True)

    def _close(self) -> None:
        for fd in (self._store, self._done):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _reap(self, block: bool) -> int:
        pid, self._pid = self._pid, None
        if pid is None:
            return -1
        _unreaped.append(pid)
        return reap_finished(block).get(pid, -1)


_unreaped: list[int] = []  # copies read or cancelled, perhaps still ending


def reap_finished(block: bool) -> dict[int, int]:
    """The exit codes of the copies read or cancelled that have ended, by pid (``block``: all of
    them, waiting for those still ending)."""
    codes = {}
    for pid in list(_unreaped):
        try:
            reaped, status = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere (a host application's handler)
            reaped, status = pid, -1
        if reaped:
            _unreaped.remove(pid)
            codes[pid] = os.waitstatus_to_exitcode(status) if status >= 0 else -1
    return codes


def _serve(call: Callable[[], object], store: int, done: int, parent: int) -> NoReturn:
    """The copy's life: the call, its result written to ``store``, ``done`` closed, the end."""
    code = 1
    try:
        from reportgen.lifetime import die_with_parent

        die_with_parent(parent)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        gc.disable()
        data = pickle.dumps(call(), protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(store, "wb") as stored:
            stored.write(data)
        os.close(done)
        code = 0
    finally:
        os._exit(code)
