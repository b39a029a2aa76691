"""The batch-size comparison's distributions of err_rel over drawn subsets, with their SEs."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from reportgen.analysis.order_stats import quantiles
from reportgen.analysis.stats import Json, num
from reportgen.load.models import FloatArray

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
DEFAULT_BINS = 30
# Bump when the arithmetic of ``distribution`` changes: the memo keys of the distributions carry
# it, so those kept from an earlier build of other code are never reused.
DISTRIBUTIONS_FORMAT = 1

# Fewer values pooled than this over a comparison's η, and its distributions are made again
# rather than kept: a memo's file, its read and its check cost about what they do, and every
# kept file is linked into each new site (a tree of thousands of small comparisons would carry
# thousands)
MEMO_VALUES = 20_000

Memo = Callable[[str, Callable[[], FloatArray]], FloatArray]
Values = Sequence[FloatArray]
Pieces = Callable[[], tuple[Values, Values, Values | None]]
Three = tuple["Distribution | None", "Distribution | None", "Distribution | None"]


@dataclass(frozen=True)
class Row:
    """One η's pooled values, to be made into distributions: ``pieces()`` gives them, ``keys``
    name what they follow from (empty or with an empty key: nothing to keep them by), and
    ``pooled`` counts the raw ones."""

    pieces: Pieces
    keys: tuple[str, ...]
    pooled: int


@dataclass(frozen=True, eq=False)
class Distribution:
    """Summary of sampled err_rel values: moments, quantiles and a histogram for a chart.

    The mean is a result of the simulation: ``se_mean`` is its Monte-Carlo standard error (how
    far other draws of the same runs would move it; not the runs' own sampling error);
    ``se_between_runs`` the SE of the mean over the ``n_runs`` larger runs, std(m_j)/√k of each
    run's own mean m_j (``None`` with one run: no spread between runs to judge by). ``std``,
    the quantiles and the histogram describe the spread of the subsets' values.
    """

    n: int
    mean: float | None
    std: float | None
    quantiles: tuple[tuple[float, float | None], ...]
    hist_edges: tuple[float, ...]
    hist_counts: tuple[int, ...]
    se_mean: float | None = None
    se_between_runs: float | None = None
    n_runs: int = 0

    def to_json(self) -> Json:
        return {
            "n": self.n,
            "mean": self.mean,
            "se_mean": self.se_mean,
            "se_between_runs": self.se_between_runs,
            "n_runs": self.n_runs,
            "std": self.std,
            "quantiles": [{"q": q, "value": v} for q, v in self.quantiles],
            "hist_edges": list(self.hist_edges),
            "hist_counts": list(self.hist_counts),
        }


def distribution(pieces: Sequence[FloatArray], bins: int = DEFAULT_BINS) -> Distribution | None:
    """The values of every piece (one larger run's draws each) pooled."""
    moments = _Moments.of(pieces)
    finite = moments.values
    if finite.size == 0:
        return None
    counts, edges = np.histogram(finite, bins=bins, range=_hist_range(finite))
    at_quantiles = quantiles(finite, QUANTILES)
    return Distribution(
        n=int(finite.size),
        mean=num(finite.mean()),
        std=num(finite.std(ddof=1)) if finite.size >= 2 else None,
        quantiles=tuple((q, num(v)) for q, v in zip(QUANTILES, at_quantiles, strict=True)),
        hist_edges=tuple(float(e) for e in edges),
        hist_counts=tuple(int(c) for c in counts),
        se_mean=moments.monte_carlo_se(),
        se_between_runs=moments.between_run_se(),
        n_runs=len(pieces),
    )


def distributions(rows: Sequence[Row], bins: int, memo: Memo | None) -> list[Three]:
    """Per row (one η of a batch-size comparison), the distributions of the three kinds of values
    its ``pieces()`` gives: raw, rescaled and re-estimated (``None``: there are none of the
    last). A row's ``keys`` name each piece's draws (a run's draws memo at that η, what its
    values follow from): with a ``memo``, a key for every piece and ``MEMO_VALUES`` raw values
    or more in all, the rows' distributions are kept as one memo, and a build whose change
    leaves these draws alone takes them as they were."""

    def made() -> list[Three]:
        return [_three(row.pieces, bins) for row in rows]

    keys = [row.keys for row in rows]
    pooled = sum(row.pooled for row in rows)
    if memo is None or pooled < MEMO_VALUES or not all(k and all(k) for k in keys):
        return made()
    key = orjson.dumps([DISTRIBUTIONS_FORMAT, np.__version__, bins, keys])
    computed: list[list[Three]] = []

    def as_array() -> FloatArray:
        computed.append(made())
        return np.array([_as_row(d, bins) for three in computed[0] for d in three])

    stored = memo(f"dists:{hashlib.sha256(key).hexdigest()}", as_array)
    if computed:
        return computed[0]
    if stored.shape != (3 * len(rows), 2 * bins + 13):  # not a memo of this shape: made again
        return made()
    decoded = [_from_row(r, bins) for r in stored]
    return [(decoded[i], decoded[i + 1], decoded[i + 2]) for i in range(0, len(decoded), 3)]


def _three(pieces: Pieces, bins: int) -> Three:
    raw, rescaled, reestimated = pieces()
    return (
        distribution(raw, bins),
        distribution(rescaled, bins),
        None if reestimated is None else distribution(reestimated, bins),
    )


def _as_row(d: Distribution | None, bins: int) -> list[float]:
    """A distribution as floats (``None`` as NaN; the counts are exact below 2⁵³)."""
    if d is None:
        return [0.0] + [math.nan] * (2 * bins + 12)
    values = (d.mean, d.std, *(v for _, v in d.quantiles), *d.hist_edges, *d.hist_counts)
    tail = (d.se_mean, d.se_between_runs, d.n_runs)
    return [1.0, d.n, *(math.nan if v is None else v for v in (*values, *tail))]


def _from_row(row: FloatArray, bins: int) -> Distribution | None:
    if not row[0]:
        return None
    at = 4 + len(QUANTILES)
    return Distribution(
        n=int(row[1]),
        mean=num(row[2]),
        std=num(row[3]),
        quantiles=tuple((q, num(v)) for q, v in zip(QUANTILES, row[4:at], strict=True)),
        hist_edges=tuple(float(e) for e in row[at : at + bins + 1]),
        hist_counts=tuple(int(c) for c in row[at + bins + 1 : at + 2 * bins + 1]),
        se_mean=num(row[-3]),
        se_between_runs=num(row[-2]),
        n_runs=int(row[-1]),
    )


def between_run_se(pieces: Sequence[FloatArray]) -> float | None:
    """std(m_j, ddof 1)/√k over the k pieces' own means m_j: the larger runs differ as runs do,
    which no number of draws averages away (``None`` with fewer than two runs)."""
    return _Moments.of(pieces).between_run_se()


def monte_carlo_se(pieces: Sequence[FloatArray]) -> float | None:
    """The Monte-Carlo SE of the pooled mean of independent draws, √(Σ m_j·s_j²)/N over the
    pieces' m_j finite values of sample variance s_j² (N = Σ m_j): a piece's draws are
    independent given its run, and the spread between runs is the data's, not the simulation's
    (``None`` where a piece has a single value: no variance to judge by)."""
    return _Moments.of(pieces).monte_carlo_se()


@dataclass(frozen=True)
class _Moments:
    """The pieces' finite values pooled, and per piece with any: their count, mean and sample
    variance (NaN for a single value)."""

    values: FloatArray
    sizes: FloatArray
    means: FloatArray
    variances: FloatArray

    @classmethod
    def of(cls, pieces: Sequence[FloatArray]) -> _Moments:
        # pieces of one length and no NaN (the usual draws) as one matrix: a row's reductions
        # are the ones numpy makes of that row alone, so the numbers are the same
        if pieces and len({p.shape for p in pieces}) == 1 and pieces[0].ndim == 1:
            matrix = np.stack(pieces)
            if matrix.shape[1] >= 2 and np.isfinite(matrix).all():
                sizes = np.full(matrix.shape[0], float(matrix.shape[1]))
                variances = matrix.var(axis=1, ddof=1)
                return cls(matrix.ravel(), sizes, matrix.mean(axis=1), variances)
        finite = [f for p in pieces if (f := p[np.isfinite(p)]).size]
        if not finite:
            empty = np.empty(0)
            return cls(empty, empty, empty, empty)
        return cls(
            np.concatenate(finite),
            np.array([f.size for f in finite], dtype=np.float64),
            np.array([f.mean() for f in finite]),
            np.array([f.var(ddof=1) if f.size >= 2 else np.nan for f in finite]),
        )

    def monte_carlo_se(self) -> float | None:
        if not self.sizes.size or np.any(self.sizes < 2):
            return None
        total = int(self.sizes.sum())
        # summed run after run, as the runs come: np.sum would pair them in another order
        return num(math.sqrt(sum(self.sizes * self.variances)) / total)

    def between_run_se(self) -> float | None:
        if self.means.size < 2:
            return None
        return num(np.std(self.means, ddof=1) / math.sqrt(self.means.size))


def _hist_range(values: FloatArray) -> tuple[float, float]:
    """The data's range, widened when the values agree to rounding (numpy cannot bin that)."""
    low, high = float(values.min()), float(values.max())
    scale = max(abs(low), abs(high))
    if high - low > 1e-9 * scale:
        return low, high
    pad = 1e-6 * scale if scale > 0 else 0.5
    return low - pad, high + pad
