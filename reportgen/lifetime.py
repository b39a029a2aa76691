"""Processes that die with their parent: a killed build leaves nothing running."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """On Linux, have the kernel kill this process when its parent ends (however it ends).

    Call first thing in a child process. If the parent ended before the kernel was asked,
    this process ends now.
    """
    parent = os.getppid()
    if sys.platform == "linux":
        import ctypes
        import ctypes.util

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
