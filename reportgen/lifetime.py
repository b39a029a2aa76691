"""Processes that die with their parent: a killed build leaves nothing running."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> None:
    """On Linux, have the kernel kill this process when its parent ends (however it ends).

    Call first thing in a child process. If the parent (``parent``, the pid the parent had
    before it forked this process; by default whichever this process has now) ended before
    the kernel was asked, this process ends now.
    """
    parent = os.getppid() if parent is None else parent
    if sys.platform == "linux":
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            # the process's own symbols, libc's among them (finding libc by name runs ldconfig)
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
