"""The convergence study's arithmetic: expected SEs with the finite-population correction,
variance reduction with its Monte-Carlo error, and the samples a ±1 % interval needs.

Subsamples of n are drawn without replacement from a pool of N, so the SE of their mean is
σ/√n · √(1 − n/N) (σ² with divisor N − 1; with divisor N the exact factor is
√((N − n)/(N − 1)), within 1/(2N) of it). The SD of m subsample means estimates that SE with
relative Monte-Carlo error 1/√(2(m − 1)) (normal approximation, as the means are); it agrees
with that SE within a relative margin when its 90 % interval lies inside 1 ± margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.kinds.rb_convergence.model import (
    ConvergenceRow,
    ConvergenceStudy,
    PopulationStats,
    TemperatureRun,
)
from reportgen.kinds.stats import Z95

if TYPE_CHECKING:
    from reportgen.kinds.interface import StudySettings

TARGET = 0.01  # the ±1 % target: half-width of the 95 % interval = 1 % of |mean|
EXPECTED_RTOL = 1e-3  # the file's expected_se against σ/√n (with or without the correction)
Z90 = 1.6448536269514722  # the normal 95 % quantile: a 90 % interval, as equivalence tests use
ExpectedKind = Literal["clt", "fpc", "other"]


@dataclass(frozen=True)
class EstimatorPoint:
    """One estimator at one n: observed SE against σ/√n and σ/√n·√(1 − n/N)."""

    observed: float | None  # std_est
    observed_se: float | None  # its Monte-Carlo error
    clt: float  # σ/√n
    fpc: float  # σ/√n · √(1 − n/N)
    ratio: float | None  # observed / clt
    ratio_se: float | None
    z_fpc: float | None  # (ratio − √(1 − n/N)) / ratio_se
    fpc_ratio: float | None  # observed / (σ/√n · √(1 − n/N))
    fpc_ratio_se: float | None
    fpc_within: bool | None  # its 90 % interval inside 1 ± the margin
    file_expected: float | None
    file_expected_is: ExpectedKind | None
    bias: float | None
    mc_se: float | None


@dataclass(frozen=True)
class RowAnalysis:
    sample_size: int
    fraction: float  # n/N
    n_bootstrap: int | None
    basic: EstimatorPoint
    rb: EstimatorPoint
    var_reduction: float | None  # 1 − (rb std_est / basic std_est)²
    var_reduction_se: float | None  # 2r·√((1 − ρ²)/(m − 1))
    file_var_reduction: float | None

    def estimator(self, name: str) -> EstimatorPoint:
        return self.basic if name == "basic" else self.rb


@dataclass(frozen=True)
class SamplesNeeded:
    """Samples for ±1 %: fresh ones (no correction) and from this pool (with it)."""

    estimator: str
    cv: float  # σ/|μ|
    fresh: float  # n₀ = (Z95 · cv / 0.01)²
    fresh_se: float  # normal-theory SE of n₀ (σ and μ estimated from the N pool values)
    pool: float  # n₀ / (1 + n₀/N): exact for this pool
    grid: int | None  # the smallest tried n whose observed interval is within ±1 %


@dataclass(frozen=True, eq=False)
class RunAnalysis:
    run: TemperatureRun
    population: int  # N
    rows: tuple[RowAnalysis, ...]
    var_reduction: float  # of the pool: 1 − σ_rb²/σ_basic²
    var_reduction_se: float  # normal theory, as an estimate of the model's (N draws)
    pooled_var_reduction: float | None  # the rows' Monte-Carlo ones, weighted by m − 1
    pooled_var_reduction_se: float | None
    pooled_minus_pool: float | None  # what every row estimates is the pool's own value
    pooled_minus_pool_se: float | None  # the rows' Monte-Carlo error (the pool is given)
    mean_difference: float  # rb_mean − basic_mean
    mean_difference_se: float | None
    needed: tuple[SamplesNeeded, SamplesNeeded]  # basic, rb
    saved: float  # 1 − n₀_rb / n₀_basic: the fraction of fresh samples RB saves
    saved_se: float
    file_expected_is: ExpectedKind | None  # what every row's expected_se is, when one thing


@dataclass(frozen=True, eq=False)
class ConvergenceAnalysis:
    study: ConvergenceStudy
    runs: tuple[RunAnalysis, ...]
    margin: float = DEFAULT_MARGIN  # relative: an observed SE agrees within 1 ± margin


def analyze(study: ConvergenceStudy, settings: StudySettings | None = None) -> ConvergenceAnalysis:
    """Every temperature apart; ``settings`` give the equivalence margin (the default's else)."""
    margin = DEFAULT_MARGIN if settings is None else settings.equivalence_margin
    return ConvergenceAnalysis(study, tuple(analyze_run(run, margin) for run in study.runs), margin)


def analyze_run(run: TemperatureRun, margin: float = DEFAULT_MARGIN) -> RunAnalysis:
    pop = run.population
    rho = pop.correlation if pop.correlation is not None else 0.0
    rows = tuple(_row(row, run, rho, margin) for row in run.rows)
    ratio = (pop.rb_std / pop.basic_std) ** 2
    pooled, pooled_se = _pooled(rows, rho)
    n = pop.n_samples
    diff_var = pop.basic_std**2 + pop.rb_std**2 - 2 * rho * pop.basic_std * pop.rb_std
    saved, saved_se = samples_saved(pop)
    return RunAnalysis(
        run=run,
        population=n,
        rows=rows,
        var_reduction=1.0 - ratio,
        var_reduction_se=2 * ratio * math.sqrt((1 - rho**2) / (n - 1)),
        pooled_var_reduction=pooled,
        pooled_var_reduction_se=pooled_se,
        pooled_minus_pool=None if pooled is None else pooled - (1.0 - ratio),
        pooled_minus_pool_se=pooled_se,
        mean_difference=pop.rb_mean - pop.basic_mean,
        mean_difference_se=math.sqrt(max(diff_var, 0.0) / n)
        if pop.correlation is not None
        else None,
        needed=(_needed(run, "basic"), _needed(run, "rb")),
        saved=saved,
        saved_se=saved_se,
        file_expected_is=_file_expected(rows),
    )


def _row(row: ConvergenceRow, run: TemperatureRun, rho: float, margin: float) -> RowAnalysis:
    n, big_n, m = row.sample_size, run.population.n_samples, row.n_bootstrap
    fraction = n / big_n
    basic = _point(row, "basic", run.population.basic_std, fraction, m, margin)
    rb = _point(row, "rb", run.population.rb_std, fraction, m, margin)
    vr = vr_se = None
    if basic.observed and rb.observed is not None:
        r = (rb.observed / basic.observed) ** 2
        vr = 1.0 - r
        vr_se = 2 * r * math.sqrt((1 - rho**2) / (m - 1)) if m is not None and m > 1 else None
    return RowAnalysis(n, fraction, m, basic, rb, vr, vr_se, row.var_reduction)


def _point(
    row: ConvergenceRow, name: str, sigma: float, fraction: float, m: int | None, margin: float
) -> EstimatorPoint:
    given = row.estimator(name)
    clt = sigma / math.sqrt(row.sample_size)
    correction = math.sqrt(max(1.0 - fraction, 0.0))
    fpc = clt * correction
    observed = given.std_est
    relative = 1.0 / math.sqrt(2 * (m - 1)) if m is not None and m > 1 else None
    ratio = observed / clt if observed is not None and clt > 0 else None
    ratio_se = ratio * relative if ratio is not None and relative is not None else None
    fpc_ratio = ratio / correction if ratio is not None and correction > 0 else None
    fpc_ratio_se = ratio_se / correction if ratio_se is not None and correction > 0 else None
    within = (
        abs(fpc_ratio - 1.0) + Z90 * fpc_ratio_se <= margin
        if fpc_ratio is not None and fpc_ratio_se is not None
        else None
    )
    return EstimatorPoint(
        observed=observed,
        observed_se=observed * relative if observed is not None and relative is not None else None,
        clt=clt,
        fpc=fpc,
        ratio=ratio,
        ratio_se=ratio_se,
        z_fpc=(ratio - correction) / ratio_se if ratio is not None and ratio_se else None,
        fpc_ratio=fpc_ratio,
        fpc_ratio_se=fpc_ratio_se,
        fpc_within=within,
        file_expected=given.expected_se,
        file_expected_is=_expected_kind(given.expected_se, clt, fpc),
        bias=given.bias,
        mc_se=given.mc_se,
    )


def _expected_kind(value: float | None, clt: float, fpc: float) -> ExpectedKind | None:
    """Which formula the file's expected SE follows: the nearer one, if within tolerance."""
    if value is None:
        return None
    nearer: ExpectedKind = "clt" if abs(value - clt) <= abs(value - fpc) else "fpc"
    target = clt if nearer == "clt" else fpc
    return nearer if math.isclose(value, target, rel_tol=EXPECTED_RTOL) else "other"


def _file_expected(rows: tuple[RowAnalysis, ...]) -> ExpectedKind | None:
    """One formula for every row where the two formulas differ beyond the tolerance."""
    kinds = {
        p.file_expected_is
        for r in rows
        if 1 - math.sqrt(max(1 - r.fraction, 0.0)) > 2 * EXPECTED_RTOL
        for p in (r.basic, r.rb)
    }
    return kinds.pop() if len(kinds) == 1 else None


def _pooled(rows: tuple[RowAnalysis, ...], rho: float) -> tuple[float | None, float | None]:
    usable = [r for r in rows if r.var_reduction is not None and (r.n_bootstrap or 0) > 1]
    if not usable:
        return None, None
    values = np.array([r.var_reduction for r in usable], dtype=np.float64)
    return pooled_reduction(values, np.array([r.n_bootstrap for r in usable]), rho)


def pooled_reduction(values: np.ndarray, m: np.ndarray, rho: float) -> tuple[float, float]:
    """The rows' variance reductions pooled over n, and the SE of that mean.

    Every row estimates the same r = σ_rb²/σ_basic² with variance 4r²(1 − ρ²)/(m − 1), so the
    inverse-variance weights are m − 1: taking r from each row's own estimate instead would
    weight rows by their result and favour the larger reductions."""
    weights = m.astype(np.float64) - 1.0
    mean = float(np.sum(weights * values) / np.sum(weights))
    return mean, 2.0 * (1.0 - mean) * math.sqrt((1.0 - rho**2) / float(weights.sum()))


def samples_saved(pop: PopulationStats) -> tuple[float, float]:
    """1 − n₀_rb/n₀_basic = 1 − (σ_rb/σ_b)²(μ_b/μ_rb)² and its normal-theory SE (delta
    method: log of the variance ratio and log of the mean ratio, uncorrelated for normal data)."""
    rho = pop.correlation if pop.correlation is not None else 0.0
    sb, sr, mb, mr, n = pop.basic_std, pop.rb_std, pop.basic_mean, pop.rb_mean, pop.n_samples
    if not (mb and mr):
        return math.nan, math.nan
    kept = (sr / sb) ** 2 * (mb / mr) ** 2
    log_means = (sb**2 / mb**2 + sr**2 / mr**2 - 2 * rho * sb * sr / (mb * mr)) / n
    log_var = 4 * (1 - rho**2) / (n - 1) + 4 * max(log_means, 0.0)
    return 1.0 - kept, kept * math.sqrt(log_var)


def samples_for_target(cv: float, population: int) -> tuple[float, float]:
    """(fresh n₀, pool n): Z95·σ/√n = 0.01·|μ| without, and with, the correction."""
    fresh = (Z95 * cv / TARGET) ** 2
    return fresh, fresh / (1.0 + fresh / population)


def _needed(run: TemperatureRun, name: str) -> SamplesNeeded:
    pop = run.population
    mean, sigma = (pop.basic_mean, pop.basic_std) if name == "basic" else (pop.rb_mean, pop.rb_std)
    cv = sigma / abs(mean) if mean else math.inf
    fresh, pool = samples_for_target(cv, pop.n_samples)
    big_n = pop.n_samples
    fresh_se = 2 * fresh * math.sqrt(1 / (2 * (big_n - 1)) + cv**2 / big_n)
    return SamplesNeeded(name, cv, fresh, fresh_se, pool, grid_answer(run, name))


def grid_answer(run: TemperatureRun, name: str) -> int | None:
    """The notebook's rule: the first tried n whose observed 95 % half-width is ≤ 1 %."""
    for row in run.rows:
        given = row.estimator(name)
        if given.std_est is None or given.mean_est is None:
            continue
        if Z95 * given.std_est <= TARGET * abs(given.mean_est):
            return row.sample_size
    return None
