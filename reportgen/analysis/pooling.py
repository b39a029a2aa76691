"""Pooling independent runs' estimates: fixed and random effects, with heterogeneity.

For estimates y_i with standard errors s_i (one per run, independent runs):

* fixed effect (inverse variance): w_i = 1/s_i², ŷ = Σw_i·y_i / Σw_i, SE = 1/√Σw_i,
  z = (ŷ − null)/SE;
* Cochran's Q = Σw_i·(y_i − ŷ)² on k − 1 degrees of freedom; if every run measures the same
  quantity, Q follows χ²(k − 1), and its upper tail probability is the heterogeneity p-value;
  I² = max(0, (Q − df)/Q), the share of the spread not explained by the runs' own noise;
* DerSimonian–Laird: τ² = max(0, (Q − df)/(Σw − Σw²/Σw)), the between-run variance; the
  random-effects estimate weighs each run by 1/(s_i² + τ²).

Pure Python and numpy; the χ² tail is the regularised upper incomplete gamma function.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter
from typing import Any, Literal

import numpy as np

from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.stats import eta_grid, grid_matches
from reportgen.analysis.uncertainty import EtaUncertainty
from reportgen.analysis.verdicts import Z_95, Verdict, breakdown_eta, run_verdict, verdict
from reportgen.load.models import FloatArray

_EPS = 1e-15
_MAX_TERMS = 10_000


@dataclass(frozen=True)
class Estimate:
    """A pooled value with its standard error and z against the null value."""

    value: float
    se: float
    z: float

    def to_json(self) -> dict[str, float]:
        return {"value": self.value, "se": self.se, "z": self.z}


@dataclass(frozen=True)
class Pooled:
    """Fixed-effect and random-effects pooling of k runs' estimates, with Cochran's Q."""

    n: int
    fixed: Estimate
    q: float
    q_df: int
    q_p: float | None  # None with a single run (no heterogeneity to test)
    i2: float
    tau2: float
    random: Estimate

    @property
    def heterogeneous(self) -> bool:
        """Q's p-value is below 0.05: the runs' spread is more than their noise explains."""
        return self.q_p is not None and self.q_p < 0.05

    def to_json(self) -> dict[str, Any]:
        return {
            "n_runs": self.n,
            "estimate": self.fixed.value,
            "se": self.fixed.se,
            "z": self.fixed.z,
            "q": self.q,
            "q_df": self.q_df,
            "q_p": self.q_p,
            "i2": self.i2,
            "tau2": self.tau2,
            "random_effects": self.random.to_json() if self.heterogeneous else None,
        }


def pool(
    values: Sequence[float] | FloatArray, ses: Sequence[float] | FloatArray, null: float = 0.0
) -> Pooled | None:
    """Pool the finite estimates with a positive finite SE; ``None`` if there are none."""
    y = np.asarray(values, dtype=np.float64)
    s = np.asarray(ses, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError("one standard error per estimate")
    keep = np.isfinite(y) & np.isfinite(s) & (s > 0)
    y, s = y[keep], s[keep]
    if y.size == 0:
        return None
    with np.errstate(all="ignore"):
        w = 1.0 / (s * s)
        total = float(w.sum())
        if not (math.isfinite(total) and total > 0):
            return None
        fixed = float(w @ y) / total
        q = max(float(w @ (y - fixed) ** 2), 0.0)
        df = int(y.size - 1)
        spread = total - float(w @ w) / total
        tau2 = max((q - df) / spread, 0.0) if df > 0 and spread > 0 else 0.0
        if not (math.isfinite(q) and math.isfinite(tau2)):
            return None  # estimates so far apart that Q overflows: no pooled value means much
        w_random = 1.0 / (s * s + tau2)
        random = float(w_random @ y) / float(w_random.sum())
        se_random = 1.0 / math.sqrt(float(w_random.sum()))
    se_fixed = 1.0 / math.sqrt(total)
    return Pooled(
        n=int(y.size),
        fixed=Estimate(fixed, se_fixed, (fixed - null) / se_fixed),
        q=q,
        q_df=df,
        q_p=chi2_sf(q, df) if df > 0 else None,
        i2=max((q - df) / q, 0.0) if q > 0 and df > 0 else 0.0,
        tau2=tau2,
        random=Estimate(random, se_random, (random - null) / se_random),
    )


# --- χ² upper tail ---------------------------------------------------------------------------


def chi2_sf(x: float, df: int) -> float:
    """P(X ≥ x) for X ~ χ²(df): the regularised upper incomplete gamma Q(df/2, x/2)."""
    if df <= 0:
        raise ValueError("df must be positive")
    if math.isnan(x):
        return math.nan
    if x / 2.0 <= 0:  # also the smallest subnormal x, whose half is 0
        return 1.0
    if math.isinf(x):
        return 0.0
    return _gamma_q(df / 2.0, x / 2.0)


def _gamma_q(a: float, x: float) -> float:
    """Q(a, x) by the series for x < a + 1 and by Lentz's continued fraction otherwise."""
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        return max(1.0 - _lower_series(a, x, log_prefix), 0.0)
    return _upper_fraction(a, x, log_prefix)


def _lower_series(a: float, x: float, log_prefix: float) -> float:
    """P(a, x) = e^(−x) x^a / Γ(a+1) · Σ x^n / ((a+1)…(a+n))."""
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_TERMS):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(log_prefix)


def _upper_fraction(a: float, x: float, log_prefix: float) -> float:
    """Q(a, x) = e^(−x) x^a / Γ(a) · 1/(x + 1 − a − 1·(1 − a)/(x + 3 − a − …))."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(log_prefix) * h


# --- a population's runs, per η --------------------------------------------------------------

APPROXIMATIONS = ("linear", "linquad")
FURTHEST_SHOWN = 2
Method = Literal["fixed effect (inverse variance)", "random effects (DerSimonian–Laird)"]
FIXED: Method = "fixed effect (inverse variance)"
RANDOM: Method = "random effects (DerSimonian–Laird)"


@dataclass(frozen=True)
class RunEta:
    """One run's estimates of one approximation at one η, as pooling takes them."""

    run_id: str
    eta: float
    diff: float | None  # ΔH_approx − ΔH_true
    se_diff: float | None
    ratio: float | None  # ΔH_approx/ΔH_true (the run's own; the pooled ratio is not their mean)
    se_ratio: float | None
    true: float | None = None  # ΔH_true
    se_true: float | None = None
    cov_diff_true: float | None = None  # cov(ΔH_approx − ΔH_true, ΔH_true), paired


def cov_diff_true(
    se_approx: float | None, se_true: float | None, se_diff: float | None
) -> float | None:
    """cov(A − T, T) = cov(A, T) − var T from one run's paired SEs of A, T and A − T."""
    if se_approx is None or se_true is None or se_diff is None:
        return None
    return 0.5 * (se_approx * se_approx - se_true * se_true - se_diff * se_diff)


@dataclass(frozen=True)
class PooledRatio:
    """ΔH_approx/ΔH_true over a population's runs at one η: 1 + D̂/T̂, the pooled difference
    over the pooled ΔH_true, with its delta-method SE (the runs' paired covariance of
    difference and truth included) and z against 1.

    The runs' own ratios are not averaged: their SEs grow with the ratio, so weights 1/se²
    would pull the mean toward ratios nearer zero, even against the sign of the difference.
    """

    n: int
    fixed: Estimate
    random: Estimate  # from the random-effects D̂ and T̂ (each with its own τ²)


@dataclass(frozen=True)
class PooledApprox:
    """One approximation at one η over a population's runs: the difference pooled with weights
    1/se_diff² (its Q, I², τ² measure heterogeneity), and the ratio derived from it and the
    pooled ΔH_true (``PooledRatio``)."""

    diff: Pooled
    ratio: PooledRatio | None
    furthest: tuple[str, ...]  # runs furthest from the pooled difference, in SEs, furthest first

    @property
    def ci95_ratio(self) -> tuple[float, float] | None:
        if self.ratio is None:
            return None
        half = Z_95 * self.ratio.fixed.se
        return (self.ratio.fixed.value - half, self.ratio.fixed.value + half)

    @property
    def method(self) -> Method:
        """The estimate a verdict uses: random effects when Cochran's Q says the runs differ
        more than their noise explains (its wider SE then carries the spread), else fixed."""
        return RANDOM if self.diff.heterogeneous else FIXED

    def judged(self, margin: float) -> Verdict | None:
        """The verdict of the pooled estimate, by the run-level rule (|z| > 1.96 disagrees;
        agrees when the 90 % interval of the ratio lies within 1 ± ``margin``)."""
        random = self.method == RANDOM
        diff = self.diff.random if random else self.diff.fixed
        ratio = None if self.ratio is None else (self.ratio.random if random else self.ratio.fixed)
        return verdict(
            diff.z,
            None if ratio is None else ratio.value,
            None if ratio is None else ratio.se,
            margin,
        )

    def to_json(self, approx: str) -> dict[str, Any]:
        """The fields of one ``populations[].pooled`` row, ``_linquad`` names for lin+quad."""
        s = "" if approx == "linear" else "_linquad"
        d, r = self.diff, self.ratio
        random = None
        if d.heterogeneous:
            random = {
                f"diff_{approx}": d.random.value,
                f"se_diff_{approx}": d.random.se,
                f"z_{approx}": d.random.z,
                f"ratio_{approx}": r.random.value if r is not None else None,
                f"se_ratio_{approx}": r.random.se if r is not None else None,
            }
        interval = self.ci95_ratio
        return {
            f"diff_{approx}": d.fixed.value,
            f"se_diff_{approx}": d.fixed.se,
            f"z_{approx}": d.fixed.z,
            f"ratio_{approx}": r.fixed.value if r is not None else None,
            f"se_ratio_{approx}": r.fixed.se if r is not None else None,
            f"ci95_ratio_{approx}": list(interval) if interval is not None else None,
            f"q{s}": d.q,
            f"q_df{s}": d.q_df,
            f"q_p{s}": d.q_p,
            f"i2{s}": d.i2,
            f"tau2{s}": d.tau2,
            f"random_effects{s}": random,
            f"furthest{s}": list(self.furthest),
            f"method{s}": self.method,
        }


def pool_approx(rows: Sequence[RunEta]) -> PooledApprox | None:
    """Pool one approximation's rows (one η, one run each); ``None`` without a usable SE."""
    with_se = [r for r in rows if r.diff is not None and r.se_diff is not None]
    diff = pool([r.diff or 0.0 for r in with_se], [r.se_diff or 0.0 for r in with_se])
    if diff is None:
        return None
    ratio = pool_ratio(rows)
    residual = [
        (abs((r.diff or 0.0) - diff.fixed.value) / (r.se_diff or 1.0), r.run_id)
        for r in with_se
        if (r.se_diff or 0.0) > 0
    ]
    furthest = tuple(run for _, run in sorted(residual, key=lambda x: (-x[0], x[1])))
    return PooledApprox(diff, ratio, furthest[:FURTHEST_SHOWN] if diff.n > 1 else ())


def pool_ratio(rows: Sequence[RunEta]) -> PooledRatio | None:
    """The pooled ratio of the runs with a difference, a ΔH_true and the SEs of both (``None``
    without any, or where the pooled ΔH_true is 0)."""
    usable = [
        (r.diff, r.se_diff, r.true, r.se_true, r.cov_diff_true)
        for r in rows
        if None not in (r.diff, r.se_diff, r.true, r.se_true, r.cov_diff_true)
    ]
    table = np.asarray(usable, dtype=np.float64).reshape(-1, 5)
    keep = np.isfinite(table).all(axis=1) & (table[:, 1] > 0) & (table[:, 3] > 0)
    d, s_d, t, s_t, cov = table[keep].T
    pooled_d, pooled_t = pool(d, s_d), pool(t, s_t)
    if pooled_d is None or pooled_t is None:
        return None
    with np.errstate(over="ignore"):  # an SE whose square overflows leaves its run no weight
        var_d, var_t = s_d**2, s_t**2
    fixed = _ratio_estimate(d, var_d, t, var_t, cov)
    random = _ratio_estimate(d, var_d + pooled_d.tau2, t, var_t + pooled_t.tau2, cov)
    if fixed is None or random is None:
        return None
    return PooledRatio(int(d.size), fixed, random)


def _ratio_estimate(
    d: FloatArray, var_d: FloatArray, t: FloatArray, var_t: FloatArray, cov: FloatArray
) -> Estimate | None:
    """R = 1 + D̂/T̂ with D̂, T̂ inverse-variance means (weights 1/var_d, 1/var_t) and
    var R ≈ (var D̂ − 2ρ·cov(D̂, T̂) + ρ²·var T̂)/T̂², ρ = D̂/T̂."""
    with np.errstate(all="ignore"):
        w_d, w_t = 1.0 / var_d, 1.0 / var_t
        total_d, total_t = float(w_d.sum()), float(w_t.sum())
        if not (0 < total_d < math.inf and 0 < total_t < math.inf):
            return None
        mean_d, mean_t = float(w_d @ d) / total_d, float(w_t @ t) / total_t
        covariance = float(((w_d / total_d) * (w_t / total_t)) @ cov)
    squared = mean_t * mean_t
    if squared == 0 or not (math.isfinite(mean_d) and math.isfinite(squared)):
        return None  # squared == 0 also where |T̂| is so small that its square underflows
    rho = mean_d / mean_t
    var = (1.0 / total_d - 2.0 * rho * covariance + rho * rho / total_t) / squared
    if not (math.isfinite(var) and var > 0):
        return None
    se = math.sqrt(var)
    return Estimate(1.0 + rho, se, rho / se)


@dataclass(frozen=True)
class PooledEta:
    """A population's runs pooled at one η, for each approximation that has SEs."""

    eta: float
    n_runs: int
    linear: PooledApprox | None
    linquad: PooledApprox | None
    verdict_linear: Verdict | None = None  # of the estimate ``method`` names (``judge_pooled``)
    verdict_linquad: Verdict | None = None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"eta": self.eta, "n_runs": self.n_runs}
        for approx in APPROXIMATIONS:
            pooled = getattr(self, approx)
            if pooled is not None:
                row |= pooled.to_json(approx)
                row[f"verdict_{approx}"] = getattr(self, f"verdict_{approx}")
        return row


def judge_pooled(rows: Sequence[PooledEta], margin: float) -> tuple[PooledEta, ...]:
    """Each η's pooled estimates with their verdicts at equivalence ``margin``."""
    return tuple(
        replace(
            row,
            verdict_linear=row.linear.judged(margin) if row.linear is not None else None,
            verdict_linquad=row.linquad.judged(margin) if row.linquad is not None else None,
        )
        for row in rows
    )


def pooled_verdict(rows: Sequence[PooledEta], approx: str) -> Verdict | None:
    """A population's verdict from its pooled rows, by the run-level rule."""
    return run_verdict([getattr(r, f"verdict_{approx}") for r in rows])


def pooled_breakdown(rows: Sequence[PooledEta], approx: str) -> float | None:
    """The smallest η from which every larger pooled η disagrees (``None`` if none)."""
    return breakdown_eta([(r.eta, getattr(r, f"verdict_{approx}")) for r in rows])


# per approximation, its estimate of an η and the paired uncertainty's SE of the difference,
# ratio, SE of the ratio and SE of the estimate
_FIELDS = {
    approx: (
        attrgetter(f"delta_h_{approx}"),
        attrgetter(f"se_diff_{approx}", f"ratio_{approx}", f"se_ratio_{approx}", f"se_{approx}"),
    )
    for approx in APPROXIMATIONS
}


def run_eta_rows(
    run_id: str, summaries: Sequence[EtaSummary], errors: Sequence[EtaUncertainty | None]
) -> dict[str, list[RunEta]]:
    """A run's pooling rows per approximation (``errors`` aligned with ``summaries``)."""
    out: dict[str, list[RunEta]] = {a: [] for a in APPROXIMATIONS}
    for s, u in zip(summaries, errors, strict=True):
        true = s.delta_h_true
        if true is None or u is None:
            continue
        for approx, (estimate, uncertainty) in _FIELDS.items():
            if (value := estimate(s)) is None:
                continue
            se_diff, ratio, se_ratio, se = uncertainty(u)
            out[approx].append(
                RunEta(
                    run_id,
                    s.eta,
                    value - true,
                    se_diff,
                    ratio,
                    se_ratio,
                    true,
                    u.se_true,
                    cov_diff_true(se, u.se_true, se_diff),
                )
            )
    return out


def pool_by_eta(runs: Sequence[Mapping[str, Sequence[RunEta]]]) -> tuple[PooledEta, ...]:
    """Per η of the runs' grid (η matched within ``stats.ETA_REL_TOL``), the pooled estimates
    of each approximation; each run must appear once (drop byte-identical copies first)."""
    grid = eta_grid(r.eta for run in runs for approx in APPROXIMATIONS for r in run.get(approx, ()))
    cells: list[dict[str, list[RunEta]]] = [{a: [] for a in APPROXIMATIONS} for _ in grid]
    for run in runs:
        for approx in APPROXIMATIONS:
            for r in run.get(approx, ()):
                for index in grid_matches(grid, r.eta):
                    cells[index][approx].append(r)
    out = []
    for eta, at in zip(grid, cells, strict=True):
        linear, linquad = pool_approx(at["linear"]), pool_approx(at["linquad"])
        if linear is None and linquad is None:
            continue
        n_runs = len({r.run_id for approx in APPROXIMATIONS for r in at[approx]})
        out.append(PooledEta(eta, n_runs, linear, linquad))
    return tuple(out)


@dataclass(frozen=True)
class PooledPopulation:
    """A population's pooled rows, as the group checks read them."""

    label: str
    rows: tuple[PooledEta, ...]
