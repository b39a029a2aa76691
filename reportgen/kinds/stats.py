"""Small statistics the estimator-variance kinds share: the χ² tail and the normal quantile."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the normal 97.5 % quantile: a 95 % interval is ± Z95 · SE
_EPS = 1e-15
_TINY = 1e-300
_ITERATIONS = 10_000


def chi2_log_sf(x: float, df: int) -> float:
    """log P(χ²_df ≥ x): the regularised upper incomplete gamma Q(df/2, x/2), in log space.

    The series for P below a + 1 and the continued fraction for Q above it (Lentz's method),
    as in Numerical Recipes' ``gammq``; logs keep p-values of 1e−400 instead of 0.
    """
    if df < 1 or not math.isfinite(x):
        raise ValueError(f"χ² needs df ≥ 1 and a finite statistic, got {x!r} on {df}")
    if x / 2.0 <= 0:  # also the smallest subnormal x, whose half is 0
        return 0.0
    a, y = df / 2.0, x / 2.0
    log_prefix = -y + a * math.log(y) - math.lgamma(a)
    if y < a + 1.0:
        term = total = 1.0 / a
        denominator = a
        for _ in range(_ITERATIONS):
            denominator += 1.0
            term *= y / denominator
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        lower = math.exp(log_prefix) * total
        return math.log1p(-min(lower, 1.0)) if lower < 1.0 else -math.inf
    return log_prefix + math.log(_continued_fraction(a, y))


def _continued_fraction(a: float, y: float) -> float:
    b = y + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            break
    return h


def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df ≥ x); 0.0 where it underflows (see :func:`chi2_log_sf` for the exponent)."""
    return math.exp(chi2_log_sf(x, df))


def log10_p(log_p: float) -> float:
    return log_p / math.log(10.0)
