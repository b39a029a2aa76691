"""Batch-size comparison: subsets of larger runs against runs of a smaller batch size."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.points import RunPoints, SampleSource, SequenceEta
from reportgen.analysis.stats import (
    Json,
    eta_grid,
    num,
    same_eta,
    spread,
    summary_at,
)
from reportgen.models import FloatArray

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
DEFAULT_DRAWS = 1000
DEFAULT_BINS = 30
# draws × sequences per block of subset masks: bounds memory whatever `draws` is, and small
# enough (512 KB of keys) to stay in cache, which makes the blocks several times faster
MAX_DRAW_CELLS = 65_536


@dataclass(frozen=True, eq=False)
class Distribution:
    """Summary of sampled err_rel values: moments, quantiles and a histogram for a chart."""

    n: int
    mean: float | None
    std: float | None
    quantiles: tuple[tuple[float, float | None], ...]
    hist_edges: tuple[float, ...]
    hist_counts: tuple[int, ...]

    def to_json(self) -> Json:
        return {
            "n": self.n,
            "mean": self.mean,
            "std": self.std,
            "quantiles": [{"q": q, "value": v} for q, v in self.quantiles],
            "hist_edges": list(self.hist_edges),
            "hist_counts": list(self.hist_counts),
        }


def distribution(values: FloatArray, bins: int = DEFAULT_BINS) -> Distribution | None:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None
    counts, edges = np.histogram(finite, bins=bins, range=_hist_range(finite))
    quantiles = np.quantile(finite, QUANTILES)
    return Distribution(
        n=int(finite.size),
        mean=num(finite.mean()),
        std=num(finite.std(ddof=1)) if finite.size >= 2 else None,
        quantiles=tuple((q, num(v)) for q, v in zip(QUANTILES, quantiles, strict=True)),
        hist_edges=tuple(float(e) for e in edges),
        hist_counts=tuple(int(c) for c in counts),
    )


def _hist_range(values: FloatArray) -> tuple[float, float]:
    """The data's range, widened when the values agree to rounding (numpy cannot bin that)."""
    low, high = float(values.min()), float(values.max())
    scale = max(abs(low), abs(high))
    if high - low > 1e-9 * scale:
        return low, high
    pad = 1e-6 * scale if scale > 0 else 0.5
    return low - pad, high + pad


@dataclass(frozen=True, eq=False)
class BatchComparison:
    """Subsets of the larger runs' sequences against the smaller runs, at one η.

    ``raw`` is the issue's err_rel = (Σ linear_S − Σ true_S) / ΔH_true(full larger run) over
    random subsets S of ``small_size`` sequences, pooled over the larger runs (``draws`` each).
    Each per-sequence term carries ~1/n_l of the per-token mass, so E[raw] = (n_s/n_l)·full
    value (``expected_raw_mean``); ``rescaled`` multiplies by n_l/n_s, the mass a batch of n_s
    normalised over its own tokens would carry, so its mean is the full-run value. Both keep the
    guide's true_contrib, whose T_i/T·H_base share leaves the spread of base entropy across
    sequences in every subset sum, so their spread is far wider than a real batch's.
    ``reestimated`` (when the run has h_new and h_base) recomputes what a batch of n_s would
    report: ΔH_true_S = Σ_S w·h_new / Σ_S w·u − Σ_S h_base / Σ_S u and the linear sum
    renormalised to the subset's own tokens; err_rel = (lin_S − ΔH_true_S) / ΔH_true(full).
    ``small_runs`` hold (ΔH_linear − ΔH_true) / mean ΔH_true of the larger runs at this η;
    ``full_run_values`` each larger run's (Σ linear − Σ true) / ΔH_true.
    """

    small_size: int
    large_size: int
    eta: float
    draws: int
    raw: Distribution
    rescaled: Distribution
    reestimated: Distribution | None
    small_runs: tuple[tuple[str, float | None], ...]
    full_run_values: tuple[tuple[str, float | None], ...]
    expected_raw_mean: float | None
    large_true_mean: float | None

    @property
    def mean(self) -> float | None:
        return self.raw.mean

    @property
    def std(self) -> float | None:
        return self.raw.std

    @property
    def quantiles(self) -> tuple[tuple[float, float | None], ...]:
        return self.raw.quantiles

    @property
    def hist_edges(self) -> tuple[float, ...]:
        return self.raw.hist_edges

    @property
    def hist_counts(self) -> tuple[int, ...]:
        return self.raw.hist_counts

    def to_json(self) -> Json:
        raw = self.raw.to_json()
        return {
            "small_size": self.small_size,
            "large_size": self.large_size,
            "eta": self.eta,
            "draws": self.draws,
            **{k: raw[k] for k in ("mean", "std", "quantiles", "hist_edges", "hist_counts")},
            "n_values": self.raw.n,
            "expected_raw_mean": self.expected_raw_mean,
            "large_true_mean": self.large_true_mean,
            "rescaled": self.rescaled.to_json(),
            "reestimated": self.reestimated.to_json() if self.reestimated else None,
            "small_runs": [{"id": i, "err_rel": v} for i, v in self.small_runs],
            "full_run_values": [{"id": i, "err_rel": v} for i, v in self.full_run_values],
        }


def derived_rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator seeded from ``seed`` and names; sha256, not ``hash()``, so runs reproduce."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return np.random.default_rng(
        np.random.SeedSequence([seed, int.from_bytes(digest[:8], "little")])
    )


def subset_sums(columns: FloatArray, size: int, draws: int, rng: np.random.Generator) -> FloatArray:
    """Column sums over ``draws`` random subsets of ``size`` rows, drawn without replacement.

    A subset is the ``size`` smallest of iid uniform keys per draw: the rows whose key is at
    most the ``size``-th smallest (``np.partition``, cheaper than ``argpartition`` plus a
    scatter); the 0/1 masks then turn all sums into one matrix product. The masks depend only
    on the generator's state, n, size and draws, so they are kept (``_MASKS``) and reused when a
    generator in the same state draws again, e.g. for the same run at every η; ``rng`` is not
    advanced then.
    """
    n = columns.shape[0]
    mask = _subset_mask(n, size, draws, rng)
    sums = np.empty((draws, columns.shape[1]), dtype=np.float64)
    block = max(1, min(draws, MAX_DRAW_CELLS // max(n, 1)))
    for start in range(0, draws, block):
        sums[start : start + block] = mask[start : start + block].astype(np.float64) @ columns
    return sums


class _MaskCache:
    """A small LRU of boolean subset masks, bounded in bytes, shared by the drawing threads."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, npt.NDArray[np.bool_]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> npt.NDArray[np.bool_] | None:
        with self.lock:
            mask = self.entries.get(key)
            if mask is not None:
                self.entries.move_to_end(key)
            return mask

    def put(self, key: str, mask: npt.NDArray[np.bool_]) -> None:
        with self.lock:
            self.entries[key] = mask
            while sum(m.nbytes for m in self.entries.values()) > self.max_bytes:
                self.entries.popitem(last=False)


_MASKS = _MaskCache(max_bytes=96 * 1024 * 1024)


def _subset_mask(n: int, size: int, draws: int, rng: np.random.Generator) -> npt.NDArray[np.bool_]:
    generator = getattr(rng, "bit_generator", None)
    key = None if generator is None else repr((n, size, draws, sorted(generator.state.items())))
    cached = None if key is None else _MASKS.get(key)
    if cached is not None:
        return cached
    mask = np.empty((draws, n), dtype=np.bool_)
    block = max(1, min(draws, MAX_DRAW_CELLS // max(n, 1)))
    for start in range(0, draws, block):
        rows = min(block, draws - start)
        block_keys = rng.random((rows, n))
        cut = np.partition(block_keys, size - 1, axis=1)[:, size - 1 : size]
        chosen = block_keys <= cut
        # every row picks ≥ size keys, more only if keys tie at the cut (p ≈ n/2⁵³): exact path
        if np.count_nonzero(chosen) != rows * size:
            chosen = np.zeros((rows, n), dtype=np.bool_)
            picked = np.argpartition(block_keys, size - 1, axis=1)[:, :size]
            np.put_along_axis(chosen, picked, True, axis=1)
        mask[start : start + rows] = chosen
    if key is not None:
        _MASKS.put(key, mask)
    return mask


@dataclass(frozen=True, eq=False)
class _RunDraws:
    run_id: str
    raw: FloatArray
    rescaled: FloatArray
    reestimated: FloatArray | None
    full_value: float | None
    expected_raw: float | None


DrawMemo = Callable[[str, Callable[[], FloatArray]], FloatArray]
"""``memo(key, compute)``: ``compute()``, or what it returned for this key in an earlier build."""


@functools.cache
def _code_version() -> str:
    return hashlib.sha256(Path(__file__).read_bytes() + np.__version__.encode()).hexdigest()


def draw_key(
    matrix: FloatArray, size: int, draws: int, rng: np.random.Generator, full: float
) -> str:
    """What a run's draws depend on: its arrays, ΔH_true, subset size, draws, generator state,
    and the code computing them (this module and numpy)."""
    digest = hashlib.sha256(_code_version().encode())
    digest.update(repr((matrix.shape, size, draws, float(full))).encode())
    digest.update(repr(sorted(rng.bit_generator.state.items())).encode())
    digest.update(np.ascontiguousarray(matrix, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _draw_run(
    run_id: str,
    data: SequenceEta,
    size: int,
    draws: int,
    rng: np.random.Generator,
    memo: DrawMemo | None = None,
) -> _RunDraws | None:
    optional = (
        data.weighted_h_new,
        data.weighted_units,
        data.h_base,
        data.units,
        data.linear_units,
    )
    columns = [data.linear - data.true_contrib, data.linear]
    if data.can_reestimate:
        columns += [c for c in optional if c is not None]
    matrix = np.column_stack(columns)
    # a NaN in any column would poison every subset holding that sequence: drop the sequence
    matrix = matrix[np.all(np.isfinite(matrix), axis=1)]
    n = matrix.shape[0]
    full = data.delta_h_true
    if n < size or size < 1 or not full:
        return None
    reestimate = data.can_reestimate

    def compute() -> FloatArray:
        """err_rel per draw: raw, and re-estimated (NaN when the run cannot re-estimate)."""
        sums = subset_sums(matrix, size, draws, rng)
        values = np.full((2, draws), np.nan)
        values[0] = sums[:, 0] / full
        if reestimate:
            totals = matrix.sum(axis=0)
            whn, wu, hb, u, lu = (sums[:, k] for k in range(2, 7))
            with np.errstate(divide="ignore", invalid="ignore"):
                linear_s = sums[:, 1] * (totals[6] / lu)
                values[1] = (linear_s - (whn / wu - hb / u)) / full
        return values

    # the costly part of a batch comparison: unchanged runs may reuse an earlier build's draws
    values = compute() if memo is None else memo(draw_key(matrix, size, draws, rng, full), compute)
    raw = values[0]
    reestimated = values[1] if reestimate else None
    full_value = num(matrix[:, 0].sum() / full)
    return _RunDraws(
        run_id=run_id,
        raw=raw,
        rescaled=raw * (n / size),
        reestimated=reestimated,
        full_value=full_value,
        expected_raw=num(full_value * size / n) if full_value is not None else None,
    )


def batch_comparison(
    small: Sequence[RunPoints],
    large: Sequence[SampleSource],
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
    workers: int = 1,
    memo: DrawMemo | None = None,
) -> tuple[BatchComparison, ...]:
    """Compare runs of one smaller batch size with subsets of larger runs, per common η.

    Seeds derive from ``seed``, both sizes, η and the larger run's id, so adding a run or an η
    leaves the other comparisons' draws unchanged. Raises ``ValueError`` when the smaller runs
    do not share one batch size. ``workers`` threads draw for several larger runs at once (numpy
    releases the GIL there); ``memo`` may keep the subset sums between builds. Neither changes
    the result.
    """
    with _thread_map(workers) as map_fn:
        return _batch_rows(small, large, draws, seed, bins, map_fn, memo)


MapFn = Callable[[Callable[[Any], Any], Iterable[Any]], Iterable[Any]]


@contextmanager
def _thread_map(workers: int) -> Iterator[MapFn]:
    if workers <= 1:
        yield map
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="draws") as pool:
        yield pool.map


def _batch_rows(
    small: Sequence[RunPoints],
    large: Sequence[SampleSource],
    draws: int,
    seed: int,
    bins: int,
    map_fn: MapFn,
    memo: DrawMemo | None,
) -> tuple[BatchComparison, ...]:
    sizes = {p.batch_size for p in small}
    size = next(iter(sizes)) if len(sizes) == 1 else None
    if size is None:
        raise ValueError(f"smaller runs need one common batch size, got {sorted(map(str, sizes))}")
    rows = []
    for eta in eta_grid(e for sample in large for e in sample.eta_values):
        at_eta = [s for s in large if any(same_eta(e, eta) for e in s.eta_values)]
        small_at = [(p.run_id, p_eta) for p in small if (p_eta := summary_at(p.etas, eta))]
        if not at_eta or not small_at:
            continue
        row = _compare_at(eta, size, at_eta, small_at, draws, seed, bins, map_fn, memo)
        if row is not None:
            rows.append(row)
    return tuple(rows)


def _compare_at(
    eta: float,
    size: int,
    large: list[SampleSource],
    small: list[tuple[str, EtaSummary]],
    draws: int,
    seed: int,
    bins: int,
    map_fn: MapFn = map,
    memo: DrawMemo | None = None,
) -> BatchComparison | None:
    large_size = max(s.batch_size for s in large)

    def draw(sample: SampleSource) -> tuple[_RunDraws, float] | None:
        data = sample.at(eta)  # read here, dropped after: one run's arrays per thread at a time
        if data is None:
            return None
        # no η in the seed: each run's subsets are the same at every η (common random numbers,
        # so the η columns compare like with like, and the masks are drawn once per run)
        rng = derived_rng(seed, str(size), str(sample.batch_size), sample.run_id)
        drawn = _draw_run(sample.run_id, data, size, draws, rng, memo)
        return None if drawn is None else (drawn, data.delta_h_true)

    runs = [r for r in map_fn(draw, large) if r is not None]
    if not runs:
        return None
    raw = distribution(np.concatenate([r.raw for r, _ in runs]), bins)
    rescaled = distribution(np.concatenate([r.rescaled for r, _ in runs]), bins)
    if raw is None or rescaled is None:
        return None
    pieces = [r.reestimated for r, _ in runs if r.reestimated is not None]
    # only when every larger run can re-estimate, so the pool covers the same runs as `raw`
    reestimated = distribution(np.concatenate(pieces), bins) if len(pieces) == len(runs) else None
    large_true = num(np.mean([true for _, true in runs]))
    return BatchComparison(
        small_size=size,
        large_size=large_size,
        eta=eta,
        draws=draws,
        raw=raw,
        rescaled=rescaled,
        reestimated=reestimated,
        small_runs=tuple((run_id, _small_err(s, large_true)) for run_id, s in small),
        full_run_values=tuple((r.run_id, r.full_value) for r, _ in runs),
        expected_raw_mean=spread(r.expected_raw for r, _ in runs).mean,
        large_true_mean=large_true,
    )


def _small_err(summary: EtaSummary, large_true: float | None) -> float | None:
    lin, true = num(summary.delta_h_linear), num(summary.delta_h_true)
    if lin is None or true is None or not large_true:
        return None
    return num((lin - true) / large_true)


def compare_batch_sizes(
    points: Sequence[RunPoints],
    samples: Sequence[SampleSource],
    *,
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    bins: int = DEFAULT_BINS,
    workers: int = 1,
    memo: DrawMemo | None = None,
) -> tuple[BatchComparison, ...]:
    """Every (smaller, larger) pair of batch sizes among the runs, each via ``batch_comparison``."""
    sizes = sorted({p.batch_size for p in points if p.batch_size} | {s.batch_size for s in samples})
    rows: list[BatchComparison] = []
    with _thread_map(workers) as map_fn:
        for i, small_size in enumerate(sizes):
            small = [p for p in points if p.batch_size == small_size]
            for large_size in sizes[i + 1 :]:
                large = [s for s in samples if s.batch_size == large_size]
                if small and large:
                    rows += _batch_rows(small, large, draws, seed, bins, map_fn, memo)
    return tuple(rows)
