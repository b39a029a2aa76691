"""Small statistics the kinds share: ranks, Pearson and Spearman correlations, a permutation
test, and least squares through the origin. Pure numpy."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from reportgen.kinds.common import FloatArray

EXACT_PERMUTATION_MAX_N = 8  # 8! = 40,320 orderings: every one is enumerated
PERMUTATIONS = 9_999  # above that, this many seeded random orderings
PERMUTATION_SEED = 20_240_101


def ranks(values: FloatArray) -> FloatArray:
    """1-based ranks; tied values share the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    mean_rank = (starts + ends + 1) / 2.0  # mean of ranks start+1 … end
    result = np.empty(values.size, dtype=np.float64)
    result[order] = np.repeat(mean_rank, ends - starts)
    return result


def pearson(x: FloatArray, y: FloatArray) -> float | None:
    """Pearson's r over the pairs where both are finite; None when either is constant."""
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return None
    dx, dy = x[keep] - x[keep].mean(), y[keep] - y[keep].mean()
    denominator = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return None if denominator == 0 else float(np.clip(dx @ dy / denominator, -1.0, 1.0))


def spearman(x: FloatArray, y: FloatArray) -> float | None:
    """Spearman's ρ: Pearson's r of the ranks (ties get mean ranks)."""
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return None
    return pearson(ranks(x[keep]), ranks(y[keep]))


@dataclass(frozen=True)
class RankTest:
    rho: float | None
    p_value: float | None  # two-sided, from permutations of y
    permutations: int
    exact: bool


def spearman_test(x: FloatArray, y: FloatArray) -> RankTest:
    """ρ and its two-sided permutation p-value: every ordering of y up to n = 8, else 9,999
    seeded random ones (p = (1 + #{|ρ*| ≥ |ρ|}) / (1 + 9,999))."""
    keep = np.isfinite(x) & np.isfinite(y)
    rx, ry = ranks(x[keep]), ranks(y[keep])
    rho = pearson(rx, ry)
    n = rx.size
    if rho is None:
        return RankTest(None, None, 0, False)
    exact = n <= EXACT_PERMUTATION_MAX_N
    if exact:
        orders = np.array(list(itertools.permutations(range(n))), dtype=np.intp)
    else:
        rng = np.random.default_rng(PERMUTATION_SEED)
        orders = np.argsort(rng.random((PERMUTATIONS, n)), axis=1)
    shuffled = ry[orders]
    cx = rx - rx.mean()
    cy = shuffled - shuffled.mean(axis=1, keepdims=True)
    denominator = math.sqrt(float(cx @ cx)) * np.sqrt(np.einsum("ij,ij->i", cy, cy))
    rhos = (cy @ cx) / denominator
    extreme = int(np.count_nonzero(np.abs(rhos) >= abs(rho) - 1e-12))
    p = extreme / len(orders) if exact else (1 + extreme) / (1 + PERMUTATIONS)
    return RankTest(rho, min(p, 1.0), len(orders), exact)


@dataclass(frozen=True)
class OriginFit:
    """y ≈ slope · x by least squares through the origin."""

    slope: float | None
    slope_se: float | None  # from the residual variance with k − 1 degrees of freedom
    r2: float | None  # uncentred: 1 − Σ(y − slope·x)² / Σy²
    points: int


def origin_fit(x: FloatArray, y: FloatArray) -> OriginFit:
    keep = np.isfinite(x) & np.isfinite(y)
    xs, ys = x[keep], y[keep]
    k = int(xs.size)
    sxx = float(xs @ xs)
    if k == 0 or sxx == 0:
        return OriginFit(None, None, None, k)
    slope = float(xs @ ys) / sxx
    # the residual sums in units of the largest |y|: squares of tiny values do not underflow
    unit = float(np.max(np.abs(ys)))
    scaled = ys / unit if unit > 0 else ys
    residual = scaled - (float(xs @ scaled) / sxx) * xs
    ss_res = float(residual @ residual)
    syy = float(scaled @ scaled)
    r2 = None if syy == 0 else 1.0 - ss_res / syy
    se = unit * math.sqrt(ss_res / (k - 1) / sxx) if k >= 2 else None
    return OriginFit(slope, se, r2, k)


def mean_se(values: FloatArray) -> tuple[float | None, float | None]:
    """Mean and its standard error sd/√k (k ≥ 2 finite values), treating values as iid."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return None, None
    mean = float(finite.mean())
    if finite.size < 2:
        return mean, None
    return mean, float(finite.std(ddof=1) / math.sqrt(finite.size))
