"""Resampling weight matrices (bootstrap counts, subsets), drawn per (seed, n, …) and shared.

A run's resamples depend only on the seed, its number of sequences and the resampling's own
sizes, never on its name or on which other runs the build holds, so runs with the same n share
one matrix. Matrices up to ``CACHE_CELLS`` cells are kept (least recently used first out, as
small integers); larger ones are drawn again from the same stream on every pass. Either way a
pass hands out the same float64 blocks of the same shape, so the sums are the same to the last
bit. The batch comparison draws for several runs in threads: one lock guards the cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from reportgen.analysis.resample import (
    WeightSampler,
    block_rows,
    bootstrap_weights,
    subset_weights,
    weight_blocks,
)
from reportgen.analysis.stats import derived_rng
from reportgen.load.models import FloatArray

# cells kept per process over all matrices (uint16 counts: 32 MiB); a bigger matrix is redrawn
CACHE_CELLS = 1 << 24

CountArray = npt.NDArray[np.unsignedinteger]


class SharedWeights(Protocol):
    """A ``draws`` × ``n`` weight matrix that follows from its (hashable) key alone."""

    @property
    def n(self) -> int: ...

    @property
    def draws(self) -> int: ...

    def rng(self) -> np.random.Generator: ...

    def sampler(self) -> WeightSampler: ...


@dataclass(frozen=True)
class BootstrapCounts:
    """The ``draws`` × ``n`` multinomial counts of the bootstrap with ``seed``."""

    seed: int
    n: int
    draws: int

    def rng(self) -> np.random.Generator:
        return derived_rng(self.seed, "bootstrap", f"n={self.n}")

    def sampler(self) -> WeightSampler:
        return bootstrap_weights(self.n)

    def blocks(self) -> Iterator[FloatArray]:
        """The counts as float64 blocks of ``block_rows`` rows (one buffer, refilled)."""
        return shared_blocks(self)


@dataclass(frozen=True)
class SubsetChoices:
    """``draws`` rows of 0/1 weights, each choosing ``size`` of ``n`` sequences, with ``seed``."""

    seed: int
    n: int
    size: int
    draws: int

    def rng(self) -> np.random.Generator:
        return derived_rng(self.seed, "subsets", f"n={self.n}", f"size={self.size}")

    def sampler(self) -> WeightSampler:
        return subset_weights(self.n, self.size)

    def blocks(self) -> Iterator[FloatArray]:
        """The choices as float64 blocks of ``block_rows`` rows (one buffer, refilled)."""
        return shared_blocks(self)


def shared_blocks(weights: SharedWeights) -> Iterator[FloatArray]:
    """The matrix as float64 blocks of ``block_rows`` rows: kept if small, else drawn again."""
    n, draws = weights.n, weights.draws
    if n * draws > CACHE_CELLS:
        yield from weight_blocks(weights.sampler(), n, draws, weights.rng())
        return
    stored = _stored(weights)
    block = block_rows(n, draws)
    buffer = np.empty((block, n), dtype=np.float64)
    for start in range(0, draws, block):
        rows = min(block, draws - start)
        np.copyto(buffer[:rows], stored[start : start + rows])
        yield buffer[:rows]


_cache: OrderedDict[SharedWeights, CountArray] = OrderedDict()
_lock = threading.Lock()


def _stored(weights: SharedWeights) -> CountArray:
    with _lock:  # a second thread asking for the same matrix waits for the first's draw
        found = _cache.pop(weights, None)
        if found is None:
            found = _drawn(weights)
        _cache[weights] = found
        while sum(a.size for a in _cache.values()) > CACHE_CELLS:
            _cache.popitem(last=False)
        return found


def _drawn(weights: SharedWeights) -> CountArray:
    n, draws = weights.n, weights.draws
    dtype = np.uint16 if n < 1 << 16 else np.uint32  # a count is at most n
    found: CountArray = np.empty((draws, n), dtype=dtype)
    start = 0
    for block in weight_blocks(weights.sampler(), n, draws, weights.rng()):
        found[start : start + block.shape[0]] = block
        start += block.shape[0]
    return found


def cached() -> tuple[SharedWeights, ...]:
    """The matrices this process holds, oldest first."""
    return tuple(_cache)
