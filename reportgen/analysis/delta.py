"""Delta-method (infinitesimal-jackknife) standard errors of ΔH_true and its approximations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from reportgen.load.models import FloatArray

# --- delta method ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PairedColumns:
    """One η's per-sequence arrays, aligned by sequence; ``units`` is T_i (ones per sequence)."""

    eta: float
    weight: FloatArray
    h_new: FloatArray
    h_base: FloatArray | None
    units: FloatArray
    base_entropy: float
    linear: FloatArray | None
    linquad: FloatArray | None

    @property
    def n(self) -> int:
        return int(self.weight.shape[0])

    @cached_property
    def baseline_reestimated(self) -> bool:
        """``base_entropy == Σh_base/ΣT`` to rounding: the baseline is estimated on this batch."""
        if self.h_base is None:
            return False
        with np.errstate(all="ignore"):
            mean = float(self.h_base.sum() / self.units.sum())
        scale = max(abs(mean), abs(self.base_entropy))
        return bool(abs(mean - self.base_entropy) <= 1e-9 * scale + 1e-15)


def true_influence(c: PairedColumns) -> FloatArray:
    """Influence of each sequence on ΔH_true (a ratio estimator minus a re-estimated baseline).

    ``u_i = w_i (h_new_i − R1 T_i)/(w·T) − (h_base_i − R0 T_i)/ΣT``, R1 = w·h_new/w·T and
    R0 = Σh_base/ΣT. When ``base_entropy`` is not Σh_base/ΣT it is a constant from elsewhere
    and contributes no variance (the ``base-entropy-mismatch`` finding reports that case).
    """
    with np.errstate(all="ignore"):
        # numpy scalars: a zero denominator gives inf/NaN (reported as no SE), not an exception
        wt = np.float64(c.weight @ c.units)
        r1 = np.float64(c.weight @ c.h_new) / wt
        u: FloatArray = c.weight * (c.h_new - r1 * c.units) / wt
        if c.baseline_reestimated and c.h_base is not None:
            total = np.float64(c.units.sum())
            u = u - (c.h_base - (c.h_base.sum() / total) * c.units) / total
    return u


def centred(values: FloatArray) -> FloatArray:
    """Influence of each sequence on a sum: its value minus the mean (a sum of n iid terms)."""
    result: FloatArray = values - values.mean()
    return result


def influence_se(influence: FloatArray) -> float | None:
    """``sqrt(n/(n−1) Σ u_i²)``: the delta-method SE from per-sequence influences."""
    n = influence.shape[0]
    if n < 2:
        return None
    with np.errstate(all="ignore"):
        value = math.sqrt(n / (n - 1) * float(influence @ influence))
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class DeltaSEs:
    """The delta-method SEs of one η (``None`` where an array is missing or not finite)."""

    se_true: float | None
    se_linear: float | None
    se_linquad: float | None
    se_diff_linear: float | None
    se_diff_linquad: float | None
    # SE of the quadratic term ½η²Σvhvv = (linquad − true) − (linear − true): with the two
    # paired SEs it gives their covariance, hence the SE of |linquad − true| − |linear − true|
    se_quad: float | None = None


def delta_ses(c: PairedColumns) -> DeltaSEs:
    """Paired delta-method SEs: the same sequences drive ΔH_true and the approximations."""
    u = true_influence(c)
    lc = centred(c.linear) if c.linear is not None else None
    qc = centred(c.linquad) if c.linquad is not None else None
    return DeltaSEs(
        se_true=influence_se(u),
        se_linear=influence_se(lc) if lc is not None else None,
        se_linquad=influence_se(qc) if qc is not None else None,
        se_diff_linear=influence_se(lc - u) if lc is not None else None,
        se_diff_linquad=influence_se(qc - u) if qc is not None else None,
        se_quad=influence_se(qc - lc) if qc is not None and lc is not None else None,
    )


def shard_mean_se(gdotv: FloatArray, num_shards: int) -> float | None:
    """``std(contiguous shard sums, ddof=1)/√K``: what ``approx.variance.se_shard`` is.

    Shard k holds consecutive sequences; with n not divisible by K the first n mod K shards get
    one more (``np.array_split``). This is the SE of the *mean* shard; the SE of the total
    g·v is K times it.
    """
    n = gdotv.shape[0]
    if num_shards < 2 or n < num_shards:
        return None
    sizes = np.full(num_shards, n // num_shards)
    sizes[: n % num_shards] += 1
    sums = np.add.reduceat(gdotv, np.concatenate([[0], np.cumsum(sizes)[:-1]]))
    value = float(sums.std(ddof=1) / math.sqrt(num_shards))
    return value if math.isfinite(value) else None
