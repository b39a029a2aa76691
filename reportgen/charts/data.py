"""Vectorised dataset builders: pre-binned histograms, downsampling and the per-sequence table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from reportgen import numfmt
from reportgen.analysis.order_stats import quantiles
from reportgen.charts.core import ColumnValues, as_float, downsample_note

ColumnDict = dict[str, Any]
MaybeArray = ColumnValues | None

PER_SEQ = "per-seq"
PER_SEQ_COLUMNS = ("eta", "index", "true", "linear", "quad", "linquad", "token_count", "error")
_VALUE_COLUMNS = ("true", "linear", "quad", "linquad", "error")
# linquad = linear + quad, so its extremes are close to theirs; keeping them adds little.
_EXTREME_COLUMNS = ("true", "linear", "quad", "error")
# ``mid`` is where a step outline puts its point: written here, so a figure's CSV has every
# value the figure plots.
HISTOGRAM_COLUMNS = ("eta", "series", "bin_start", "bin_end", "mid", "count")


def _finite(values: ColumnValues) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array[np.isfinite(array)]


def _widen(lo: float, hi: float) -> tuple[float, float]:
    """A non-empty range: one repeated value gets a bin of width max(|v|, 1)."""
    if hi > lo:
        return lo, hi
    pad = 0.5 * max(abs(lo), 1.0) if lo != 0 else 0.5
    return lo - pad, hi + pad


def shared_ranges(*series: Sequence[MaybeArray]) -> list[tuple[float, float] | None]:
    """Per η, the finite range over all series, so their histograms share bins."""
    ranges: list[tuple[float, float] | None] = []
    for arrays in zip(*series, strict=True):
        finite = [_finite(a) for a in arrays if a is not None]
        values = np.concatenate(finite) if finite else np.zeros(0)
        ranges.append((float(values.min()), float(values.max())) if values.size else None)
    return ranges


def histogram_rows(
    eta_values: Sequence[float],
    series_name: str,
    arrays_per_eta: Sequence[MaybeArray],
    bins: int = 40,
    ranges: Sequence[tuple[float, float] | None] | None = None,
) -> ColumnDict:
    """Columns (eta, series, bin_start, bin_end, mid, count) of one series' histogram per η.

    Non-finite values are dropped; η values without finite data get no rows.
    """
    etas: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for i, (eta, values) in enumerate(zip(eta_values, arrays_per_eta, strict=True)):
        finite = _finite(values) if values is not None else np.zeros(0)
        given = ranges[i] if ranges is not None else None
        if finite.size == 0:
            continue
        lo, hi = _widen(*(given or (float(finite.min()), float(finite.max()))))
        count, edges = equal_bins(finite, bins, lo, hi)
        etas.append(np.full(bins, float(eta)))
        starts.append(edges[:-1])
        ends.append(edges[1:])
        counts.append(count.astype(np.int64))
    total = sum(len(c) for c in counts)
    return {
        "eta": _concat(etas, np.float64),
        "series": [series_name] * total,
        "bin_start": _concat(starts, np.float64),
        "bin_end": _concat(ends, np.float64),
        "mid": (_concat(starts, np.float64) + _concat(ends, np.float64)) / 2,
        "count": _concat(counts, np.int64),
    }


def equal_bins(
    values: np.ndarray, bins: int, lo: float, hi: float
) -> tuple[np.ndarray, np.ndarray]:
    """``np.histogram(values, bins, (lo, hi))``: the same edges and counts, by one binary search
    per value instead of numpy's general path (whose set-up costs more than a chart's values).

    A bin holds edges[i] ≤ v < edges[i + 1], the last one also v = hi; values outside are left
    out. Edges too close to be distinct go to numpy, which refuses them as it always did.
    """
    edges = np.linspace(lo, hi, bins + 1)
    if bins < 1 or np.any(edges[:-1] >= edges[1:]):
        return np.histogram(values, bins=bins, range=(lo, hi))
    inside = values[(values >= lo) & (values <= hi)]
    index = np.searchsorted(edges, inside, side="right") - 1
    index[index == bins] = bins - 1  # v = hi: the last bin is closed
    return np.bincount(index, minlength=bins), edges


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)


def concat_columns(*parts: Mapping[str, Any]) -> ColumnDict:
    """Row-wise concatenation of column dicts with the same keys (arrays or lists)."""
    if not parts:
        return {}
    result: ColumnDict = {}
    for name in parts[0]:
        values = [part[name] for part in parts]
        if all(isinstance(v, np.ndarray) for v in values):
            result[name] = np.concatenate(values)
        else:
            result[name] = [item for v in values for item in v]
    return result


def downsample_indices(
    values: Mapping[str, ColumnValues],
    max_points: int = 5000,
    keep_extremes_of: Sequence[str] | None = None,
) -> np.ndarray:
    """Sorted row indices, at most ``max_points``, that keep what a scatter must not lose.

    For each column in ``keep_extremes_of`` (default: all) the argmin, argmax and the
    ``max_points // 100`` largest-|value| rows are kept; an even stride fills the rest.
    Deterministic: the same input always gives the same rows.
    """
    lengths = {len(v) for v in values.values()}
    if len(lengths) > 1:
        raise ValueError("columns must have equal lengths")
    n = lengths.pop() if lengths else 0
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    names = list(values) if keep_extremes_of is None else list(keep_extremes_of)
    priority = np.concatenate(
        [_extremes(values[name], max(1, max_points // 100)) for name in names]
    )
    _, first = np.unique(priority, return_index=True)
    keep = priority[np.sort(first)][:max_points]
    rest = np.setdiff1d(np.arange(n, dtype=np.int64), keep, assume_unique=True)
    fill = max_points - keep.size
    stride = rest[np.linspace(0, rest.size - 1, fill).astype(np.int64)] if fill > 0 else rest[:0]
    return np.sort(np.concatenate([keep, stride]).astype(np.int64))


def _extremes(column: ColumnValues, k: int) -> np.ndarray:
    """argmin, argmax, then the k largest |value| rows, most extreme first."""
    array = np.asarray(column, dtype=np.float64)
    finite = np.isfinite(array)
    if not finite.any():
        return np.zeros(0, dtype=np.int64)
    magnitude = np.where(finite, np.abs(array), -np.inf)
    k = min(k, int(finite.sum()))
    top = np.argpartition(magnitude, array.size - k)[array.size - k :]
    top = top[np.argsort(-magnitude[top], kind="stable")]
    low = np.argmin(np.where(finite, array, np.inf))
    high = np.argmax(np.where(finite, array, -np.inf))
    return np.concatenate([[low, high], top]).astype(np.int64)


@dataclass(frozen=True, eq=False)
class PerSeqTable:
    """The shared ``per-seq`` dataset, downsampled per η; ``shown``/``total`` are per η."""

    columns: dict[str, Any]
    shown: int
    total: int

    @property
    def note(self) -> str | None:
        return downsample_note(self.shown, self.total, " per η")


def per_seq_table(
    etas: Sequence[float],
    true: Sequence[ColumnValues],
    linear: Sequence[MaybeArray],
    quad: Sequence[MaybeArray],
    token_count: Sequence[ColumnValues],
    max_points: int = 5000,
) -> PerSeqTable:
    """Per-sequence contributions of every η as one long table (see ``PER_SEQ_COLUMNS``).

    Value columns are stored as float32: seven significant digits are plenty for a scatter and
    halve the page size. ``eta`` stays float64 because the η filter compares it exactly.
    """
    parts: list[ColumnDict] = []
    shown = total = 0
    for eta, t, lin, q, tokens in zip(etas, true, linear, quad, token_count, strict=True):
        n = len(t)
        values = {"true": as_float(t, n), "linear": as_float(lin, n), "quad": as_float(q, n)}
        values["linquad"] = values["linear"] + values["quad"]
        values["error"] = values["true"] - values["linear"]
        keep = downsample_indices(values, max_points, _EXTREME_COLUMNS)
        parts.append(
            {
                "eta": np.full(keep.size, float(eta)),
                "index": keep,
                **{name: values[name][keep].astype(np.float32) for name in _VALUE_COLUMNS},
                "token_count": whole_numbers(as_float(tokens, n)[keep]),
            }
        )
        if n >= total:
            shown, total = keep.size, n
    columns = concat_columns(*parts) if parts else {c: np.zeros(0) for c in PER_SEQ_COLUMNS}
    return PerSeqTable({c: columns[c] for c in PER_SEQ_COLUMNS}, shown, total)


def whole_numbers(values: np.ndarray) -> np.ndarray:
    """Counts as integers when they are whole numbers (shorter JSON), else float32."""
    if np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values.astype(np.float32)


OUTLIER_IQR = 3.0  # Tukey's "far out" fence


def outlier_fences(values: np.ndarray) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Values beyond Tukey's far-out fences (quartiles ∓ 3 IQR, widened to include 0): the
    ones that would flatten the rest on a linear axis; returns (outside, fences or None)."""
    finite = values[np.isfinite(values)]
    if finite.size < 4:
        return np.zeros(values.shape, dtype=bool), None
    q1, q3 = quantiles(finite, [0.25, 0.75])
    spread = max(q3 - q1, 1e-12 * max(abs(q1), abs(q3), 1.0))
    lo, hi = min(q1 - OUTLIER_IQR * spread, 0.0), max(q3 + OUTLIER_IQR * spread, 0.0)
    outside = np.isfinite(values) & ((values < lo) | (values > hi))
    if not outside.any():
        return outside, None
    return outside, (float(lo), float(hi))


def symlog_constant(fences: tuple[float, float]) -> float:
    """The symlog axis' linear half-width: the larger fence rounded up to one significant digit
    (the bulk stays in the linear part; charts of similar data share one cached spec)."""
    bound = max(abs(fences[0]), abs(fences[1]), 1e-300)
    unit = 10.0 ** math.floor(math.log10(bound))
    return float(f"{math.ceil(bound / unit - 1e-9) * unit:.1g}")


def symlog_note(outside: np.ndarray, constant: float, what: str) -> str:
    count = int(outside.sum())
    return (
        f"{count} of the {what} lie far outside the rest: the y axis is symmetric-log (linear "
        f"within ±{numfmt.format_number(constant)}, logarithmic beyond), every point at its value"
    )
