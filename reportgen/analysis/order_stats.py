"""Order statistics exactly as numpy computes them, without importing ``numpy.ma``.

``np.quantile`` and ``np.unique`` (without indices or counts) ask ``np.ma.is_masked`` about
their input, which imports the masked-array module on first use; a build has no other use for
it, and a build that changed one run pays for it in full.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from reportgen.load.models import FloatArray


def quantiles(values: FloatArray, qs: npt.ArrayLike) -> FloatArray:
    """``np.quantile(values, qs, axis=0)`` bit for bit: the default (linear) method, NaN in a
    column giving NaN."""
    at = (values.shape[0] - 1) * np.asarray(qs, dtype=np.float64)
    lower = np.floor(at)
    upper = lower + 1
    last = (at >= values.shape[0] - 1) | np.isnan(at)
    lower[last] = upper[last] = -1
    lower[at < 0] = upper[at < 0] = 0
    below, above = lower.astype(np.intp), upper.astype(np.intp)
    ordered = values.copy()
    ordered.partition(sorted({0, -1, *below.tolist(), *above.tolist()}), axis=0)
    low, high = ordered[below], ordered[above]
    gamma = (at - below).reshape(at.shape + (1,) * (values.ndim - 1))
    difference = high - low
    result: FloatArray = low + difference * gamma
    np.subtract(high, difference * (1 - gamma), out=result, where=gamma >= 0.5)
    np.copyto(result, ordered[-1, ...], where=np.isnan(ordered[-1, ...]))
    return result


def distinct_count(values: FloatArray) -> int:
    """``np.unique(values).size`` for a 1-d array: NaNs count as one value, as do 0.0 and -0.0."""
    nan = np.isnan(values)
    ordered = np.sort(values[~nan])
    steps = np.count_nonzero(ordered[1:] != ordered[:-1])
    return int(ordered.size > 0) + int(steps) + int(nan.any())
