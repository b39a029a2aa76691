"""Seeded resampling: weight matrices (bootstrap counts, subsets) times columns, in chunks.

Shared by the paired bootstrap of the error bars and the batch-size comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import numpy.typing as npt

from reportgen.analysis.order_stats import quantiles
from reportgen.load.models import FloatArray

# Weights (rows × sequences) are drawn in cache-sized pieces of 2¹⁷ cells (counting a 16 MiB
# piece is ~5× slower) into a buffer of 2²⁰ cells (8 MiB) that goes to BLAS in one product: many
# small products are slow when OpenBLAS threads compete with the build's worker processes.
PIECE_CELLS = 1 << 17
MAX_WEIGHT_CELLS = 1 << 20
CI_LEVEL = 0.95

Interval = tuple[float, float]
# (generator, out) fills ``out``, a (rows, n) block of the weight buffer; one call per piece
WeightSampler = Callable[[np.random.Generator, FloatArray], None]

# --- resampling primitive --------------------------------------------------------------------


def bootstrap_weights(n: int) -> WeightSampler:
    """Multinomial counts: each row is how often each of n sequences is drawn (n with replacement).

    Drawn as an integer index matrix and counted with one ``bincount`` per piece.
    """

    def fill(rng: np.random.Generator, out: FloatArray) -> None:
        rows = out.shape[0]
        index = rng.integers(0, n, size=(rows, n))
        index += (np.arange(rows) * n)[:, None]  # in place: a piece of 2¹⁷ cells is cache-sized
        np.copyto(out, np.bincount(index.ravel(), minlength=rows * n).reshape(rows, n))

    return fill


def subset_weights(n: int, size: int) -> WeightSampler:
    """0/1 rows choosing ``size`` of n sequences without replacement (the smallest random keys)."""

    def fill(rng: np.random.Generator, out: FloatArray) -> None:
        keys = rng.random((out.shape[0], n))
        chosen = smallest_keys(keys, size)
        # more than size only if keys tie at the cut (p ≈ n/2⁵³): then the exact path
        if np.count_nonzero(chosen) != keys.shape[0] * size:
            chosen = np.zeros(keys.shape, dtype=np.bool_)
            picked = np.argpartition(keys, size - 1, axis=1)[:, :size]
            np.put_along_axis(chosen, picked, True, axis=1)
        np.copyto(out, chosen)

    return fill


def smallest_keys(keys: FloatArray, size: int) -> npt.NDArray[np.bool_]:
    """Per row of ``keys`` (floats in [0, 1)), the keys at most the row's size-th smallest.

    The cut is found on the keys' upper 32 bits, which order non-negative doubles as their values
    do and which numpy partitions faster than doubles; a row where other keys share the cut's
    upper bits is cut again on its full keys, so every row is the one ``np.partition`` picks.
    """
    keys = np.ascontiguousarray(keys, dtype=np.float64)  # viewed as its bits below
    upper = (keys.view(np.uint64) >> np.uint64(32)).astype(np.uint32)
    cut = np.partition(upper, size - 1, axis=1)[:, size - 1 : size]
    chosen: npt.NDArray[np.bool_] = upper <= cut
    tied = np.flatnonzero(np.count_nonzero(upper == cut, axis=1) > 1)
    if tied.size:
        rows = keys[tied]
        chosen[tied] = rows <= np.partition(rows, size - 1, axis=1)[:, size - 1 : size]
    return chosen


def block_rows(n: int, draws: int, max_cells: int = MAX_WEIGHT_CELLS) -> int:
    """Rows of weights per product: the product's shape, and so its last bits, follow from it."""
    return max(1, min(draws, max_cells // max(n, 1)))


def weight_blocks(
    sampler: WeightSampler,
    n: int,
    draws: int,
    rng: np.random.Generator,
    max_cells: int = MAX_WEIGHT_CELLS,
) -> Iterator[FloatArray]:
    """``draws`` rows of weights, one block of ``block_rows`` rows at a time, in one buffer that
    is refilled for the next block (a consumer uses each block before asking for the next).

    numpy's generators fill consecutive pieces from one stream, so the samplers here give the
    same rows whatever ``max_cells`` is.
    """
    block = block_rows(n, draws, max_cells)
    piece = max(1, min(block, PIECE_CELLS // max(n, 1)))
    weights = np.empty((block, n), dtype=np.float64)
    for start in range(0, draws, block):  # chunks of resamples, not sequences
        rows = min(block, draws - start)
        for offset in range(0, rows, piece):
            sampler(rng, weights[offset : min(offset + piece, rows)])
        yield weights[:rows]


def weighted_sums(columns: FloatArray, blocks: Iterable[FloatArray], draws: int) -> FloatArray:
    """``weights @ columns`` (``columns`` is (n, k)) for the rows of ``blocks``: (draws, k)."""
    sums = np.empty((draws, columns.shape[1]), dtype=np.float64)
    start = 0
    for weights in blocks:
        rows = weights.shape[0]
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: inf sums, no interval
            sums[start : start + rows] = weights @ columns
        start += rows
    return sums


def resampled_sums(
    columns: FloatArray,
    sampler: WeightSampler,
    draws: int,
    rng: np.random.Generator,
    max_cells: int = MAX_WEIGHT_CELLS,
) -> FloatArray:
    """``weights @ columns`` for ``draws`` rows of resampling weights, built chunk by chunk.

    ``columns`` is (n, k); the result is (draws, k). Only one chunk of weights is held at a time.
    The rows do not depend on ``max_cells``; only the last bits of the sums (BLAS summation order)
    depend on the block shape, so the default is kept fixed for deterministic bytes.
    """
    n = columns.shape[0]
    return weighted_sums(columns, weight_blocks(sampler, n, draws, rng, max_cells), draws)


def percentile_interval(draws: FloatArray, level: float = CI_LEVEL) -> list[Interval | None]:
    """Per column of ``draws`` (rows: resamples): the percentile interval, or ``None``."""
    tail = 50.0 * (1.0 - level)
    if draws.shape[0] < 2:
        return [None] * draws.shape[1]
    with np.errstate(all="ignore"):
        bounds = quantiles(draws, np.true_divide([tail, 100.0 - tail], 100))
    return [
        (float(lo), float(hi)) if math.isfinite(lo) and math.isfinite(hi) else None
        for lo, hi in bounds.T.tolist()
    ]
