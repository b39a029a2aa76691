"""Worker processes that yield their results in job order, with a bounded window in flight."""

from __future__ import annotations

import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

# Jobs submitted to the pool ahead of the one being written, per worker: enough to keep every
# worker busy, few enough that memory does not grow with the tree.
WINDOW_PER_WORKER = 2
PR_SET_PDEATHSIG = 1
J = TypeVar("J")
R = TypeVar("R")


def in_pool(
    work: Callable[[J], R],
    jobs: Iterable[J],
    workers: int,
    figures: bool,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """``work(job)`` for every job in worker processes, yielded in job order, with at most
    ``WINDOW_PER_WORKER × workers`` jobs in flight.

    ``ProcessPoolExecutor.map`` would submit every job at once and buffer finished outputs
    (pages, arrays) until their turn, so memory would grow with the tree; a sliding window of
    futures consumed in order bounds it and keeps the output independent of scheduling.
    """
    import multiprocessing  # here, with the pool: a no-op build starts no workers
    from concurrent.futures import Future, ProcessPoolExecutor

    context = multiprocessing.get_context(_start_method(figures))
    if context.get_start_method() == "fork":
        _warm_before_fork()
    pending = iter(jobs)
    window: deque[Future[R]] = deque()
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=initializer or worker_init,
        initargs=initargs,
    )
    try:
        for first in pending:
            window.append(pool.submit(work, first))
            if len(window) >= WINDOW_PER_WORKER * workers:
                break
        while window:
            output = window.popleft().result()
            following = next(pending, None)
            if following is not None:
                window.append(pool.submit(work, following))
            yield output
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_method(figures: bool) -> str:
    """Fork (workers inherit the imported code), except where a forked worker would hang.

    vl-convert's JavaScript runtime does not survive a fork: once this process has run it (the
    Vega bundle of a first build, figures of an earlier in-process build), a forked worker
    that exports a figure waits for ever. Workers that export start from a fresh server.
    """
    if os.name != "posix":
        return "spawn"
    return "forkserver" if figures else "fork"


def _warm_before_fork() -> None:
    """Import the page code and compile the templates once, so forked workers inherit both."""
    from reportgen.pages import group, run  # noqa: F401  (Altair and the analysis stack)
    from reportgen.pages.render import environment

    env = environment()
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)


def worker_init() -> None:
    """Die with the build: a killed build must not leave workers rendering for nobody.

    Ctrl-C reaches the whole process group; only the main process reacts (one line, staging
    removed), so workers ignore it instead of each printing a traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform != "linux":
        return
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
