"""The cyclic garbage collector, set for reportgen's work.

A build parses results files into hundreds of thousands of containers and holds records,
statuses and paths for its whole life, yet makes few reference cycles: almost everything is
freed by reference counting. With Python's default thresholds the collector walks those live
objects again and again: a young collection every 700 new containers (a chart spec or a
run's rows are bursts of a few thousand), a full one every tenth middle one. The worker
server's imports (the page code, numpy, Jinja) would be walked in every worker too.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_EVERY = 5_000  # new containers per young collection (Python's default: 700)
FULL_EVERY = 100  # middle collections per full one (Python's default: 10)


def thresholds(current: tuple[int, int, int]) -> tuple[int, int, int]:
    """``current`` with young and full collections at most as frequent as above."""
    young, middle, oldest = current
    return max(young, YOUNG_EVERY), middle, max(oldest, FULL_EVERY)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect at most as often as ``thresholds`` says while the block runs; the process's own
    thresholds after it (a notebook's are its own)."""
    before = gc.get_threshold()
    gc.set_threshold(*thresholds(before))
    try:
        yield
    finally:
        gc.set_threshold(*before)


def settle_before_forking() -> None:
    """In the worker server, its imports done: what it holds now is never collected again, so
    the workers forked from it neither walk nor copy those objects; they and it collect at
    ``thresholds``."""
    gc.freeze()
    gc.set_threshold(*thresholds(gc.get_threshold()))


def leave_to_exit() -> None:
    """In a process about to end: what it holds is never collected again, so the interpreter's
    last collections walk nothing; the exit frees it all at once."""
    gc.freeze()


_owned: list[bool] = []  # set by ``own_process``: this process is the command line's


def own_process() -> None:
    """Mark this process as reportgen's own (the command line's): ``importing`` may freeze
    what it holds, which a library caller's process (a notebook's objects) must never see."""
    _owned[:] = [True]


@contextmanager
def importing() -> Iterator[None]:
    """No collection while the block imports modules: what imports make stays alive, and the
    collector would walk it again and again. In the command line's own process it is then
    frozen, never walked again (with what the build holds by then: the tree and its plan)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if _owned:
            gc.freeze()
        if enabled:
            gc.enable()
