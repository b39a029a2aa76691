"""Small statistics the kinds share: ranks, Pearson and Spearman correlations with Fisher-z
intervals, a permutation test, least squares through the origin, Student-t quantiles and the
equivalence judgement of an estimate against a margin. Pure numpy."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

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


# Student-t quantiles t(p, ν) for p = 0.95 (the one-sided bound of a 90 % interval) and 0.975;
# a ν between the listed ones takes the next smaller listed ν (a wider, conservative interval),
# a ν beyond 120 the normal quantile (within 1 % of t there).
_T_DOF = (*range(1, 31), 40, 60, 120)
_T_QUANTILES = {
    0.95: (
        6.313752, 2.919986, 2.353363, 2.131847, 2.015048, 1.943180, 1.894579, 1.859548,
        1.833113, 1.812461, 1.795885, 1.782288, 1.770933, 1.761310, 1.753050, 1.745884,
        1.739607, 1.734064, 1.729133, 1.724718, 1.720743, 1.717144, 1.713872, 1.710882,
        1.708141, 1.705618, 1.703288, 1.701131, 1.699127, 1.697261, 1.683851, 1.670649,
        1.657651,
    ),
    0.975: (
        12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004,
        2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905,
        2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899,
        2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272, 2.021075, 2.000298,
        1.979930,
    ),
}  # fmt: skip
_NORMAL_QUANTILES = {0.95: 1.6448536269514722, 0.975: 1.959963984540054}
Judgement = Literal["within", "beyond", "inconclusive"]


def t_quantile(probability: float, dof: int | None) -> float:
    """The Student-t quantile for ``probability`` 0.95 or 0.975 (``dof`` None: the normal's)."""
    if dof is None or dof > _T_DOF[-1]:
        return _NORMAL_QUANTILES[probability]
    if dof < 1:
        return math.inf
    listed = max(k for k, d in enumerate(_T_DOF) if d <= dof)
    return _T_QUANTILES[probability][listed]


def equivalence(
    value: float | None, se: float | None, margin: float, dof: int | None = None
) -> Judgement | None:
    """Where ``value`` ± ``se`` lies against ±``margin`` (same units): ``within`` when its
    90 % interval lies inside (two one-sided tests at 5 %), ``beyond`` when it differs from 0
    (|value| > t₀.₉₇₅·SE) and lies outside the margin, else ``inconclusive``; None without an
    SE."""
    if value is None or se is None or not math.isfinite(value) or not math.isfinite(se):
        return None
    if abs(value) + t_quantile(0.95, dof) * se <= margin:
        return "within"
    if abs(value) > t_quantile(0.975, dof) * se and abs(value) > margin:
        return "beyond"
    return "inconclusive"


def correlation_interval(
    r: float | None, n: int, variance_factor: float = 1.0
) -> tuple[float | None, float | None]:
    """The 95 % interval of a correlation by Fisher's z: tanh(atanh r ± 1.96·√(f/(n − 3))),
    f = 1 for Pearson's r (Fisher), 1 + ρ²/2 for Spearman's ρ (Bonett & Wright 2000)."""
    if r is None or n <= 3 or not math.isfinite(r):
        return None, None
    if abs(r) >= 1.0:  # a perfect correlation: z is infinite, the interval a point
        return r, r
    half = _NORMAL_QUANTILES[0.975] * math.sqrt(variance_factor / (n - 3))
    centre = math.atanh(r)
    return math.tanh(centre - half), math.tanh(centre + half)
