"""Bootstrap count matrices, drawn per (seed, n, resamples) and shared within a process.

A run's resamples depend only on the seed, its number of sequences and the number of resamples,
never on its name or on which other runs the build holds, so runs with the same n share one
matrix. Matrices up to ``CACHE_CELLS`` cells are kept (least recently used first out, as small
integers); larger ones are drawn again from the same stream on every pass. Either way a pass
hands out the same float64 blocks of the same shape, so the sums are the same to the last bit.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from reportgen.analysis.resample import block_rows, bootstrap_weights, weight_blocks
from reportgen.analysis.stats import derived_rng
from reportgen.load.models import FloatArray

# cells kept per process over all matrices (uint16 counts: 32 MiB); a bigger matrix is redrawn
CACHE_CELLS = 1 << 24

CountArray = npt.NDArray[np.unsignedinteger]


@dataclass(frozen=True)
class BootstrapCounts:
    """The ``draws`` × ``n`` multinomial counts of the bootstrap with ``seed``."""

    seed: int
    n: int
    draws: int

    def rng(self) -> np.random.Generator:
        return derived_rng(self.seed, "bootstrap", f"n={self.n}")

    def blocks(self) -> Iterator[FloatArray]:
        """The counts as float64 blocks of ``block_rows`` rows (one buffer, refilled)."""
        if self.n * self.draws > CACHE_CELLS:
            yield from weight_blocks(bootstrap_weights(self.n), self.n, self.draws, self.rng())
            return
        stored = _stored(self)
        block = block_rows(self.n, self.draws)
        buffer = np.empty((block, self.n), dtype=np.float64)
        for start in range(0, self.draws, block):
            rows = min(block, self.draws - start)
            np.copyto(buffer[:rows], stored[start : start + rows])
            yield buffer[:rows]


_cache: OrderedDict[BootstrapCounts, CountArray] = OrderedDict()


def _stored(counts: BootstrapCounts) -> CountArray:
    found = _cache.pop(counts, None)
    if found is None:
        dtype = np.uint16 if counts.n < 1 << 16 else np.uint32  # a count is at most n
        found = np.empty((counts.draws, counts.n), dtype=dtype)
        sampler = bootstrap_weights(counts.n)
        start = 0
        for block in weight_blocks(sampler, counts.n, counts.draws, counts.rng()):
            found[start : start + block.shape[0]] = block
            start += block.shape[0]
    _cache[counts] = found
    while sum(a.size for a in _cache.values()) > CACHE_CELLS:
        _cache.popitem(last=False)
    return found


def cached() -> tuple[BootstrapCounts, ...]:
    """The matrices this process holds, oldest first."""
    return tuple(_cache)
