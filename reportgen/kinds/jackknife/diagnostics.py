"""The jackknife study's checks: each an id, a severity and the explanation the guide shows."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from reportgen.findings import CheckInfo, Finding
from reportgen.kinds.jackknife.model import SETTING_FIELDS, Setting
from reportgen.kinds.study_checks import SHARED_CHECKS, format_p, input_findings
from reportgen.numfmt import SE_DIGITS, format_number, format_with_se, minus

if TYPE_CHECKING:  # the checks' catalogue (the guide) needs no analysis code
    from reportgen.kinds.jackknife.analysis import Homogeneity, JackknifeAnalysis, PointStats

DEPENDS_ON_B = "jackknife-estimate-depends-on-b"
STD_IS_SE = "jackknife-std-is-se"
SETTINGS_APART = "jackknife-settings-apart"
SE_VARIANCE = "jackknife-se-not-sqrt-variance"
PROMPT_COUNT = "jackknife-prompt-count"
DISTRIBUTION_MEAN = "jackknife-distribution-mean-differs"

HETEROGENEITY_P = 1e-3  # below: the estimates differ by more than sampling noise allows
SE_RTOL = 1e-6  # std_dev_estimate against √variance_estimate: float rounding only
SPREAD_FACTOR = 2.0  # an "std" this much below the per-prompt spread is a standard error
# distribution_analysis.mean against the estimate, which it equals with G sequences per prompt:
# summing 16k float32 values moves a mean by ~1e-5 of itself, a standard error by ~1e-2
DISTRIBUTION_RTOL = 1e-4

CHECKS = (
    CheckInfo(
        DEPENDS_ON_B,
        "warning",
        "The estimate changes with B beyond its standard errors",
        "The mean per-sequence entropy does not depend on how many prompts B are averaged: "
        "every B estimates the same quantity, with an SE that shrinks as B grows. The test "
        "weights each estimate by w = 1/SE², takes the weighted mean x̄ = Σwx/Σw and "
        "χ² = Σw(x − x̄)² on k − 1 degrees of freedom (k points of one setting). A p-value "
        "below 0.001 means the points are not one quantity measured with more or fewer "
        "prompts: the prompts at different B are not samples of one pool (taken in dataset "
        "order, say), the generation changed with B, or the SEs are far too small; no weighted "
        "mean across B is then given, as no one value summarises the points. The slope per "
        "doubling of B is a weighted least-squares fit on log₂ B; its SE is inflated by "
        "√(χ²_line/(k − 2)) when that exceeds 1, χ²_line = Σw(x − a − b·log₂B)² being the χ² "
        "about the fitted line on k − 2 df (not the χ² about the mean above).",
        "estimates",
    ),
    CheckInfo(
        STD_IS_SE,
        "info",
        "std_dev_estimate is the standard error of the estimate",
        "`std_dev_estimate` is √`variance_estimate`, the jackknife variance of the *estimate*: "
        "it is a standard error, not the spread of the per-sequence or per-prompt entropies "
        "(that spread is √B times larger). Plots labelled “± std” showed ± 1 SE; the intervals "
        "here are 95 % intervals, estimate ± 1.96 SE.",
        "estimates",
    ),
    CheckInfo(
        SETTINGS_APART,
        "info",
        "Points of different settings are shown apart",
        "Points measured on another split, temperature, checkpoint, dataset or generation "
        "configuration estimate a different quantity. They are drawn in their own colour, "
        "listed with their setting, and never pooled: each setting gets its own χ² test, and "
        "a setting with a single point gets none.",
        "estimates",
    ),
    CheckInfo(
        SE_VARIANCE,
        "warning",
        "std_dev_estimate is not √variance_estimate",
        "The file's standard error and variance should be one number in two forms; when "
        "they differ beyond rounding, the page uses `std_dev_estimate` and the two "
        "cannot both be right.",
        "estimates",
    ),
    CheckInfo(
        PROMPT_COUNT,
        "warning",
        "per_prompt_means does not hold B values",
        "Each experiment averages B prompts, so `per_prompt_means` should list B numbers. "
        "When it does not, the per-prompt distribution and the recomputed SE describe "
        "something other than the estimate.",
        "prompts",
    ),
    CheckInfo(
        DISTRIBUTION_MEAN,
        "warning",
        "distribution_analysis.mean is not the estimate",
        "With G generations for each of the B prompts (count = B·G), the mean of the B·G "
        "per-sequence values is the mean of the B per-prompt means, which is the estimate. "
        "When the two differ beyond rounding, the distribution describes other values than "
        "the estimate (other sequences, another weighting, another run): its tails are not "
        "those of the estimate's values. The difference is shown in SEs of the estimate.",
        "estimates",
    ),
    *SHARED_CHECKS,
)


def checks(analysis: JackknifeAnalysis) -> tuple[Finding, ...]:
    study = analysis.study
    findings = input_findings(study.not_read, study.unrecognised)
    for population in analysis.populations:
        finding = _depends_on_b(analysis, population)
        if finding is not None:
            findings.append(finding)
    findings += _std_is_se(analysis.points)
    findings += _settings_apart(analysis)
    findings += _se_variance(analysis.points)
    findings += _prompt_count(analysis.points)
    findings += _distribution_mean(analysis.points)
    return tuple(findings)


def at_b(stats: PointStats) -> str:
    return f"{format_with_se(stats.point.estimate, stats.point.se)} at B = {stats.point.batch:,}"


def chi2_test(test: Homogeneity) -> str:
    return (
        f"χ² = {format_number(test.chi2)} on {test.df} df, "
        f"p = {format_p(test.p_value, test.log10_p_value)}"
    )


def withheld_reason(test: Homogeneity) -> str | None:
    """Why a setting's weighted mean across B is not given (None: it is)."""
    if not test.differs:
        return None
    return f"the estimates differ across B ({chi2_test(test)}): no one value summarises them"


def slope_text(test: Homogeneity) -> str:
    """The slope per doubling ± SE, and the χ² about the line when it scaled the SE."""
    text = f"{format_with_se(test.slope_per_doubling, test.slope_se)} per doubling of B"
    residual, df = test.residual_chi2, test.residual_df
    if residual is not None and df > 0 and residual > df:
        text += f" (SE × √(χ²_line/{df}), χ² about the line = {format_number(residual)})"
    return text


def _depends_on_b(analysis: JackknifeAnalysis, test: Homogeneity) -> Finding | None:
    if not test.differs:
        return None
    first, last = analysis.points[test.points[0]], analysis.points[test.points[-1]]
    slope = f"; {slope_text(test)}" if test.slope_per_doubling is not None else ""
    return Finding(
        DEPENDS_ON_B,
        "warning",
        f"{test.label}: the estimate moves from {at_b(first)} to {at_b(last)}; "
        f"χ² = {format_number(test.chi2)} on {test.df} df (p = "
        f"{format_p(test.p_value, test.log10_p_value)}): not sampling noise{slope}",
        section="estimates",
    )


def _std_is_se(points: tuple[PointStats, ...]) -> list[Finding]:
    """One finding when the file's "std" is clearly the SE of the estimate."""
    for stats in points:
        se, variance, spread = stats.point.se, stats.point.variance, stats.prompt_sd
        if se is None or se <= 0:
            continue
        is_root = variance is not None and math.isclose(se**2, variance, rel_tol=2 * SE_RTOL)
        if is_root and (spread is None or se * SPREAD_FACTOR < spread):
            seen = (
                f", where the per-prompt means spread by {format_number(spread)}"
                if spread is not None
                else ""
            )
            return [
                Finding(
                    STD_IS_SE,
                    "info",
                    f"std_dev_estimate is the SE of the estimate ({format_number(se)} at "
                    f"B = {stats.point.batch:,}{seen}): intervals here are ± 1.96 SE, and "
                    "plots labelled “± std” showed ± 1 SE",
                    section="estimates",
                )
            ]
    return []


def _differences(a: Setting, b: Setting) -> str:
    return ", ".join(
        f"{b.part(name) or f'no {name}'} (not {a.part(name) or 'none'})"
        for name in SETTING_FIELDS
        if getattr(a, name) != getattr(b, name)
    )


def _settings_apart(analysis: JackknifeAnalysis) -> list[Finding]:
    if analysis.main is None or len(analysis.populations) < 2:
        return []
    main = analysis.populations[analysis.main]
    findings = []
    for index, other in enumerate(analysis.populations):
        if index == analysis.main:
            continue
        batches = ", ".join(f"{analysis.points[i].point.batch:,}" for i in other.points)
        findings.append(
            Finding(
                SETTINGS_APART,
                "info",
                f"B = {batches} differ(s) in {_differences(main.setting, other.setting)} from "
                f"the {len(main.points)} point(s) of {main.label}: shown apart and "
                "left out of their χ² test",
                section="estimates",
            )
        )
    return findings


def _se_variance(points: tuple[PointStats, ...]) -> list[Finding]:
    return [
        Finding(
            SE_VARIANCE,
            "warning",
            f"B = {s.point.batch:,} ({s.point.source}): std_dev_estimate "
            f"{format_number(s.point.se)} but √variance_estimate "
            f"{format_number(math.sqrt(s.point.variance))}",
            section="estimates",
        )
        for s in points
        if s.point.se is not None
        and s.point.variance is not None
        and s.point.variance >= 0
        and not math.isclose(s.point.se, math.sqrt(s.point.variance), rel_tol=SE_RTOL)
    ]


def _prompt_count(points: tuple[PointStats, ...]) -> list[Finding]:
    return [
        Finding(
            PROMPT_COUNT,
            "warning",
            f"B = {s.point.batch:,} ({s.point.source}): per_prompt_means holds "
            f"{s.prompt_count:,} values",
            section="prompts",
        )
        for s in points
        if s.point.per_prompt_means is not None and s.prompt_count != s.point.batch
    ]


def _distribution_mean(points: tuple[PointStats, ...]) -> list[Finding]:
    return [
        _distribution_finding(s, s.point.distribution.mean, s.distribution_gap)
        for s in points
        if s.point.distribution is not None
        and s.point.distribution.mean is not None
        and s.distribution_gap is not None
        and abs(s.distribution_gap) > DISTRIBUTION_RTOL * abs(s.point.estimate)
    ]


def _at_se(value: float, se: float | None) -> str:
    """A value to the place of its SE's second significant digit (as ``value ± SE`` shows)."""
    if se is None or not se > 0 or not math.isfinite(se):
        return format_number(value)
    decimals = max(SE_DIGITS - 1 - math.floor(math.log10(se)), 0)
    return minus(f"{value:.{decimals}f}")


def _distribution_finding(stats: PointStats, mean: float, gap: float) -> Finding:
    point = stats.point
    count = point.batch * (point.generations or 0)
    prompts = (
        f" (the mean of its {stats.prompt_count:,} per-prompt means "
        f"{_at_se(stats.prompt_mean, point.se)})"
        if stats.prompt_mean is not None
        else ""
    )
    apart = minus(f", {gap / point.se:.1f} SE") if point.se else " (no SE)"
    return Finding(
        DISTRIBUTION_MEAN,
        "warning",
        f"B = {point.batch:,} ({point.source}): distribution_analysis.mean is "
        f"{_at_se(mean, point.se)} over {count:,} = {point.batch:,} × G = {point.generations} "
        f"sequences, but the estimate is {format_with_se(point.estimate, point.se)}{prompts}: "
        f"with G sequences per prompt these are one number; they differ by "
        f"{_at_se(gap, point.se)}{apart}",
        section="estimates",
    )
