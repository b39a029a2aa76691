"""The convergence study's checks: each an id, a severity and the explanation the guide shows."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from reportgen.findings import CheckInfo, Finding
from reportgen.kinds.rb_convergence.model import ESTIMATOR_NAMES, ESTIMATORS
from reportgen.kinds.study_checks import SHARED_CHECKS, input_findings
from reportgen.numfmt import format_number, format_with_se, format_z

if TYPE_CHECKING:  # the checks' catalogue (the guide) needs no analysis code
    from reportgen.kinds.rb_convergence.analysis import ConvergenceAnalysis, RunAnalysis

NO_FPC = "rb-expected-se-without-fpc"
SE_OFF = "rb-se-disagrees-with-fpc"
VR_MISMATCH = "rb-var-reduction-mismatch"
MEANS_DIFFER = "rb-means-differ"
VARIANCE_UP = "rb-variance-increase"
GRID = "rb-grid-hides-difference"

FPC_FRACTION = 0.1  # beyond this n/N the correction moves the SE by more than 5 %
Z_OFF = 4.0  # |z| beyond which a difference is not Monte-Carlo noise (many rows are tested)
VR_RTOL = 1e-6

DERIVATION = (
    "Target: the half-width of the 95 % interval is 1 % of the mean, z·SE(n) = 0.01·|μ| "
    "with z = 1.96. Fresh, independent samples have SE = σ/√n, so "
    "n₀ = (z·σ / (0.01·|μ|))². Drawing n of a pool of N without replacement, "
    "SE = σ/√n·√(1 − n/N); then z²σ²(1/n − 1/N) = (0.01·μ)², i.e. 1/n = 1/n₀ + 1/N and "
    "n = n₀ / (1 + n₀/N). n₀ answers “how many new samples”, with a normal-theory SE from "
    "σ and μ being estimated from the N pool values: SE(n₀)/n₀ ≈ 2·√(1/(2(N − 1)) + "
    "(σ/μ)²/N); n answers “how many of this pool” and is exact for it. The notebook instead "
    "took the first tried n (powers of two) whose observed interval was within ±1 %, "
    "which can only answer in steps of 2× and so can give both estimators the same number. "
    "The fraction of fresh samples RB saves, 1 − n₀_RB/n₀_basic = 1 − (σ_RB/σ_basic)²·"
    "(μ_basic/μ_RB)², carries a normal-theory SE by the delta method: (1 − saved)·"
    "√(4(1 − ρ²)/(N − 1) + 4·Var(log(μ_basic/μ_RB)))."
)

CHECKS = (
    CheckInfo(
        NO_FPC,
        "warning",
        "Expected SE without the finite-population correction",
        "Subsamples drawn without replacement from a pool of N vary less than independent "
        "draws: the SE of a subsample mean is σ/√n·√(1 − n/N), not σ/√n. When the sizes "
        "reach a sizeable fraction of the pool (here ≥ 10 %), observed/expected falls below "
        "1 as √(1 − n/N) predicts (0.707 at n = N/2) — the pool, not the estimator, makes "
        "the SE smaller. The page draws both expectations and tests the observed SEs against "
        "the corrected one.",
        "convergence",
    ),
    CheckInfo(
        SE_OFF,
        "warning",
        "Observed SE disagrees with σ/√n·√(1 − n/N)",
        "The SD of the m subsample means estimates the SE with relative Monte-Carlo error "
        "1/√(2(m − 1)). Beyond 4 such errors the subsamples were not simple random samples "
        "of the pool (drawn with replacement, overlapping, or from another pool), or σ is "
        "not the pool's.",
        "convergence",
    ),
    CheckInfo(
        VR_MISMATCH,
        "warning",
        "var_reduction is not 1 − (SE_RB / SE_basic)²",
        "The page recomputes the variance reduction from the two observed SEs of each row; "
        "a file value that differs is another quantity (a ratio, a percentage, or from "
        "other SEs) and is shown beside the recomputed one.",
        "variance",
    ),
    CheckInfo(
        MEANS_DIFFER,
        "warning",
        "The two estimators' means differ",
        "Rao-Blackwellisation replaces a value by its conditional expectation, which keeps "
        "the mean. The pool means are compared with the SE of their paired difference, "
        "√((σ_b² + σ_rb² − 2ρσ_bσ_rb)/N); beyond 4 SE the two do not estimate one quantity.",
        "variance",
    ),
    CheckInfo(
        VARIANCE_UP,
        "warning",
        "The Rao-Blackwellised estimator has the larger variance",
        "By the Rao-Blackwell theorem a conditional expectation never has the larger "
        "variance. A pool variance reduction 1 − σ_rb²/σ_b² below zero by more than 2 SE "
        "(normal theory: 2r·√((1 − ρ²)/(N − 1)), r = σ_rb²/σ_b²) means the “RB” values are "
        "not a conditional expectation of the basic ones.",
        "variance",
    ),
    CheckInfo(
        GRID,
        "info",
        "The tried sizes hide a difference in samples needed for ±1 %",
        DERIVATION,
        "needed",
    ),
    *SHARED_CHECKS,
)


def checks(analysis: ConvergenceAnalysis) -> tuple[Finding, ...]:
    study = analysis.study
    findings = input_findings(study.not_read, study.unrecognised)
    for run in analysis.runs:
        findings += _no_fpc(run)
        findings += _se_off(run)
        findings += _vr_mismatch(run)
        findings += _means_differ(run)
        findings += _variance_up(run)
        findings += _grid(run)
    return tuple(findings)


def _no_fpc(run: RunAnalysis) -> list[Finding]:
    last = run.rows[-1] if run.rows else None
    if run.file_expected_is != "clt" or last is None or last.fraction < FPC_FRACTION:
        return []
    point = last.basic
    return [
        Finding(
            NO_FPC,
            "warning",
            f"{run.run.label}: expected_se is σ/√n without the finite-population correction, "
            f"but subsamples reach n = {last.sample_size:,} of N = {run.population:,} "
            f"(drawn without replacement): there observed/expected is "
            f"{format_with_se(point.ratio, point.ratio_se)}, against √(1 − n/N) = "
            f"{format_number(math.sqrt(1 - last.fraction))} (z {format_z(point.z_fpc)})",
            section="convergence",
        )
    ]


def _se_off(run: RunAnalysis) -> list[Finding]:
    found = []
    for name in ESTIMATORS:
        off = [r for r in run.rows if (z := r.estimator(name).z_fpc) is not None and abs(z) > Z_OFF]
        if off:
            worst = max(off, key=lambda r: abs(r.estimator(name).z_fpc or 0.0))
            p = worst.estimator(name)
            found.append(
                Finding(
                    SE_OFF,
                    "warning",
                    f"{run.run.label}, {ESTIMATOR_NAMES[name]}: the observed SE is off "
                    f"σ/√n·√(1 − n/N) at {len(off)} size(s); worst n = {worst.sample_size:,}: "
                    f"observed/σ/√n {format_with_se(p.ratio, p.ratio_se)} against "
                    f"{format_number(math.sqrt(1 - worst.fraction))} (z {format_z(p.z_fpc)})",
                    section="convergence",
                )
            )
    return found


def _vr_mismatch(run: RunAnalysis) -> list[Finding]:
    off = [
        r
        for r in run.rows
        if r.file_var_reduction is not None
        and r.var_reduction is not None
        and not math.isclose(r.file_var_reduction, r.var_reduction, rel_tol=VR_RTOL, abs_tol=1e-12)
    ]
    if not off:
        return []
    first = off[0]
    return [
        Finding(
            VR_MISMATCH,
            "warning",
            f"{run.run.label}: var_reduction differs from 1 − (SE_RB/SE_basic)² at "
            f"{len(off)} size(s); at n = {first.sample_size:,} the file has "
            f"{format_number(first.file_var_reduction)}, the SEs give "
            f"{format_number(first.var_reduction)}",
            section="variance",
        )
    ]


def _means_differ(run: RunAnalysis) -> list[Finding]:
    se = run.mean_difference_se
    if se is None or se <= 0 or abs(run.mean_difference) <= Z_OFF * se:
        return []
    return [
        Finding(
            MEANS_DIFFER,
            "warning",
            f"{run.run.label}: RB mean − basic mean = "
            f"{format_with_se(run.mean_difference, se)} (z {format_z(run.mean_difference / se)})",
            section="variance",
        )
    ]


def _variance_up(run: RunAnalysis) -> list[Finding]:
    if run.var_reduction >= -2 * run.var_reduction_se:
        return []
    return [
        Finding(
            VARIANCE_UP,
            "warning",
            f"{run.run.label}: variance reduction "
            f"{format_with_se(run.var_reduction, run.var_reduction_se)} is below zero",
            section="variance",
        )
    ]


def _grid(run: RunAnalysis) -> list[Finding]:
    basic, rb = run.needed
    apart = abs(basic.fresh - rb.fresh) > 2 * math.hypot(basic.fresh_se, rb.fresh_se)
    if basic.grid is None or basic.grid != rb.grid or not apart:
        return []
    return [
        Finding(
            GRID,
            "info",
            f"{run.run.label}: the tried sizes answer {basic.grid:,} for both estimators, but "
            f"±1 % needs {count(basic.pool)} basic vs {count(rb.pool)} RB samples from this "
            f"pool of {run.population:,} ({count(basic.fresh)} vs {count(rb.fresh)} fresh "
            f"samples; RB needs {format_with_se(run.saved * 100, run.saved_se * 100)} % fewer "
            "fresh samples)",
            section="needed",
        )
    ]


def count(value: float) -> str:
    """A number of samples: the next whole sample up."""
    return f"{math.ceil(value):,}" if math.isfinite(value) else "∞"
