"""The influence checks; each docstring is its explanation in the guide."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from reportgen.findings import CheckInfo, Finding
from reportgen.kinds.common import NOT_IN_LAYOUT, CheckList, Hit
from reportgen.numfmt import format_eta, format_number, format_with_se, format_z

if TYPE_CHECKING:  # the checks' catalogue (the guide) needs no analysis code
    from reportgen.kinds.influence.analysis import EvaluationAnalysis, InfluenceAnalysis, SumRule

MIN_R2 = 0.9  # a direction whose δHᵢ(η) fits a line through the origin worse is non-linear
MIN_LINEARITY_POINTS = 3

_REGISTRY: CheckList[InfluenceAnalysis] = CheckList("influence")


def checks(analysis: InfluenceAnalysis) -> tuple[Finding, ...]:
    """Every influence check's findings: errors first, then in the order below."""
    return _REGISTRY.run(analysis)


def _label(evaluation: EvaluationAnalysis, analysis: InfluenceAnalysis) -> str:
    many = len(analysis.evaluations) > 1
    return f"evaluation {evaluation.evaluation.index}: " if many else ""


def _etas(rules: list[SumRule]) -> str:
    return ", ".join(format_eta(r.eta) for r in rules)


@_REGISTRY.check(
    "influence-baseline-per-sequence", "error", "The baseline is counted once per direction",
    "sum-rule",
)  # fmt: skip
def baseline_per_sequence(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """The summary's `per_sequence_delta_sum` adds up δH(v_baseline + vᵢ) over the n
    directions, so it holds δH_baseline n times instead of once: it exceeds δH_full by about
    (n − 1)·δH_baseline (with 8 directions and a dominant baseline, a sum about 8 times the
    truth).

    **How it is recognised:** the reported sum equals the sum of the `baseline_plus_grad`
    arrays' means (to rounding), or, without arrays, δH_full − δH_baseline − the sum is
    −n·δH_baseline within 2 standard errors (within 5 % when there is no SE).

    **What to do:** each direction's effect is δHᵢ = δH(v_baseline + vᵢ) − δH(v_baseline);
    the sum rule is δH_full ≈ δH_baseline + Σᵢ δHᵢ. The page recomputes the sum that way from
    the arrays and shows whether the rule then holds.
    """
    for evaluation in analysis.evaluations:
        rules = [r for r in evaluation.sum_rules if r.verdict == "baseline-per-sequence"]
        if not rules:
            continue
        first = min(rules, key=lambda r: r.eta)  # the linear regime
        how = (
            "equals Σᵢ δH(v_baseline + vᵢ) from the arrays"
            if first.reported_matches == "unadjusted"
            else "matches the pattern"
        )
        ratio = (
            f" ({format_number(first.reported_sum / first.full)} × δH_full)"
            if first.reported_sum is not None and first.full
            else ""
        )
        yield Hit(
            f"{_label(evaluation, analysis)}per_sequence_delta_sum {how} at η = {_etas(rules)}: "
            f"at η = {format_eta(first.eta)} it is {format_number(first.reported_sum)}, "
            f"δH_full is {format_number(first.full)}, an excess of "
            f"{format_number(first.excess)} ≈ (n − 1)·δH_baseline = "
            f"{format_number(first.expected_excess)} with n = {first.n}{ratio}: the baseline "
            "was counted once per direction; subtract δH_baseline from every per-direction term",
            tuple(r.eta for r in rules),
        )


@_REGISTRY.check("influence-sum-rule", "warning", "The sum rule fails beyond noise", "sum-rule")
def sum_rule(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """δH_full − δH_baseline − Σᵢ δHᵢ is further than 2 standard errors from 0 at some η.

    **Why it matters:** the decomposition v = v_baseline + Σᵢ vᵢ is additive in the update,
    but the entropy change is additive only to first order in η: interactions between the
    directions (and with the baseline) make the residual grow like η². A residual beyond
    noise at the smallest η points to a bookkeeping error instead.

    **The SE:** the residual is a mean over the m evaluation sequences of a per-sequence
    residual (full − baseline − Σᵢ (baseline_plus_grad − baseline)); its SE is that series'
    sd/√m, treating the evaluation sequences as independent draws.
    """
    for evaluation in analysis.evaluations:
        rules = [r for r in evaluation.sum_rules if r.verdict == "fails"]
        if rules:
            parts = [
                f"{format_with_se(r.residual, r.residual_se)} (z = {format_z(r.z)}) at η = "
                f"{format_eta(r.eta)}"
                for r in rules
            ]
            yield Hit(
                f"{_label(evaluation, analysis)}δH_full − δH_baseline − Σᵢ δHᵢ is "
                + "; ".join(parts),
                tuple(r.eta for r in rules),
            )


@_REGISTRY.check(
    "influence-sum-rule-untested", "info", "The sum rule cannot be judged", "sum-rule"
)  # fmt: skip
def sum_rule_untested(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """No standard error could be derived for the sum rule's residual at some η, so the page
    shows the residual but claims neither agreement nor failure.

    **Why:** the SE comes from the per-sequence arrays (`full`, `baseline`,
    `baseline_plus_grad` for that η); without them, or when the reported sum matches no sum
    of the arrays, the spread of the residual over evaluation sequences is unknown.
    """
    for evaluation in analysis.evaluations:
        rules = [r for r in evaluation.sum_rules if r.verdict in ("inconclusive", "unavailable")]
        if rules:
            yield Hit(
                f"{_label(evaluation, analysis)}no standard error for the residual at η = "
                f"{_etas(rules)}: inconclusive there",
                tuple(r.eta for r in rules),
            )


@_REGISTRY.check(
    "influence-nonlinear", "warning", "Directions whose δHᵢ is not linear in η", "linearity"
)  # fmt: skip
def nonlinear(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """A direction's δHᵢ(η), fitted by a line through the origin over the η of the run, has
    R² below 0.9 (uncentred: R² = 1 − Σ(δHᵢ − sᵢη)² / Σ δHᵢ², the usual R² of a regression
    without intercept). Judged with at least 3 η.

    **Why it matters:** per-direction influence read at one η, or scaled from one η to
    another, assumes δHᵢ ∝ η. A direction that curves or turns over within the range makes
    such a reading depend on the η chosen.
    """
    for evaluation in analysis.evaluations:
        judged = [d for d in evaluation.directions if d.fit.points >= MIN_LINEARITY_POINTS]
        bad = sorted(
            (d for d in judged if d.fit.r2 is not None and d.fit.r2 < MIN_R2),
            key=lambda d: d.fit.r2 or 0.0,
        )
        if bad:
            names = ", ".join(f"{d.id} (R² {format_number(d.fit.r2)})" for d in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            yield Hit(
                f"{_label(evaluation, analysis)}{len(bad)} of {len(judged)} directions fit a "
                f"line through the origin with R² < {MIN_R2}: {names}{more}"
            )


@_REGISTRY.check(
    "influence-proxies-differ", "info", "Grad-only and baseline-adjusted effects differ",
    "proxies",
)  # fmt: skip
def proxies_differ(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """Summed over the directions, the grad-only effects δH(vᵢ) and the baseline-adjusted
    ones δH(v_baseline + vᵢ) − δH(v_baseline) differ by more than 2 standard errors at some η.

    **Why it matters:** the two proxies agree when the entropy change is linear in the update;
    a difference means each direction's effect depends on the baseline step it is taken
    with, so the grad-only proxy cannot stand in for the adjusted one. SE: sd/√m over the
    evaluation sequences of the per-sequence summed difference.
    """
    for evaluation in analysis.evaluations:
        rows = [
            p
            for p in evaluation.proxies
            if p.gap is not None and p.gap_se and abs(p.gap) > 2 * p.gap_se
        ]
        if rows:
            parts = [f"{format_with_se(p.gap, p.gap_se)} at η = {format_eta(p.eta)}" for p in rows]
            yield Hit(
                f"{_label(evaluation, analysis)}Σᵢ (adjusted − grad-only) is " + "; ".join(parts),
                tuple(p.eta for p in rows),
            )


@_REGISTRY.check(
    "influence-files-disagree", "warning", "The summary disagrees with its own arrays",
    "sum-rule",
)  # fmt: skip
def files_disagree(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """A number of `summary.json` (δH_full, δH_baseline, the delta matrix's row and column
    sums or max_abs) or a grad-only file differs from what its own arrays give, beyond the
    rounding of the arrays' stored precision ((k + 2)·ε·Σ|terms| for a sum of k terms).

    **Why it matters:** the page computes from the arrays; when the summary disagrees, one of
    them was written from different data (another η, another run, a stale file).
    """
    for evaluation in analysis.evaluations:
        if evaluation.disagreements:
            yield Hit(_label(evaluation, analysis) + "; ".join(evaluation.disagreements))


@_REGISTRY.check("influence-incomplete", "warning", "Files missing or not usable", "inputs")
def incomplete(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """Some η of the summary have no usable per-sequence arrays, or some files of the
    directory could not be used (unreadable, not an array, the wrong shape, an η or an
    evaluation the summary does not list). The page lists each file with the reason.

    **Why it matters:** without the arrays at an η the sum rule has no standard error there
    and the per-direction effects come from the summary alone.
    """
    run = analysis.run
    problems = list(run.problems)
    for evaluation in analysis.evaluations:
        label = _label(evaluation, analysis)
        problems += [label + p for p in evaluation.evaluation.problems]
        if evaluation.missing_arrays:
            etas = ", ".join(format_eta(e) for e in evaluation.missing_arrays)
            problems.append(f"{label}no usable per-sequence arrays at η = {etas}")
    refused = [s for s in run.not_read if s.reason != NOT_IN_LAYOUT]
    if refused:
        problems.append(
            f"{len(refused)} files not used: "
            + "; ".join(f"{s.path}: {s.reason}" for s in refused[:3])
            + (" …" if len(refused) > 3 else "")
        )
    if problems:
        yield Hit("; ".join(problems))


CHECKS: tuple[CheckInfo, ...] = _REGISTRY.infos  # every check, in guide order
