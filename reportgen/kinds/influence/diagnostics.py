"""The influence checks; each docstring is its explanation in the guide."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from reportgen.findings import CheckInfo, Finding
from reportgen.kinds.common import NOT_IN_LAYOUT, CheckList, Hit
from reportgen.numfmt import format_eta, format_number, format_with_se, format_z

if TYPE_CHECKING:  # the checks' catalogue (the guide) needs no analysis code
    from reportgen.kinds.influence.analysis import EvaluationAnalysis, InfluenceAnalysis, SumRule

MIN_LINEARITY_POINTS = 3  # = curvature.MIN_POINTS (not imported: the guide needs no numpy)

_REGISTRY: CheckList[InfluenceAnalysis] = CheckList("influence")


def checks(analysis: InfluenceAnalysis) -> tuple[Finding, ...]:
    """Every influence check's findings: errors first, then in the order below."""
    return _REGISTRY.run(analysis)


def _label(evaluation: EvaluationAnalysis, analysis: InfluenceAnalysis) -> str:
    many = len(analysis.evaluations) > 1
    return f"evaluation {evaluation.evaluation.index}: " if many else ""


def _etas(rules: list[SumRule]) -> str:
    return ", ".join(format_eta(r.eta) for r in rules)


def percent(margin: float) -> str:
    """The margin as the page states it: ±20 %."""
    return f"±{format_number(100 * margin)} %"


SHARE_RESOLUTION = 1e-4  # shares are stated to 0.01 %: a smaller SE is stated as that bound


def share_text(value: float | None, se: float | None) -> str:
    """A share of δH_full (or a curvature share) ± SE, in per cent."""
    if value is None:
        return "—"
    if se is not None and se < SHARE_RESOLUTION:
        return f"{format_number(100 * value)} % (SE below 0.01 %)"
    return format_with_se(100 * value, None if se is None else 100 * se) + " %"


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
    arrays' means (to rounding), or δH_full − δH_baseline − the sum is shown to be
    −n·δH_baseline within the margin (the 90 % interval of their difference inside
    ±margin·|n·δH_baseline|; within 5 % when there is no SE).

    **What to do:** each direction's effect is δHᵢ = δH(v_baseline + vᵢ) − δH(v_baseline);
    the sum rule is δH_full ≈ δH_baseline + Σᵢ δHᵢ. The page recomputes the sum that way from
    the arrays and shows whether the rule then holds within the margin.
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
            f" ({format_with_se(first.ratio, first.ratio_se)} × δH_full)"
            if first.ratio is not None
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


@_REGISTRY.check(
    "influence-sum-rule", "warning", "The sum rule is violated beyond the margin", "sum-rule"
)  # fmt: skip
def sum_rule(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """δH_full − δH_baseline − Σᵢ δHᵢ is shown beyond ±margin·|δH_full| at some η (the
    equivalence margin, 20 % by default): it differs from 0 beyond noise (|z| > 1.96) and its
    size exceeds the margin.

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
                f"{format_with_se(r.residual, r.residual_se)} (z = {format_z(r.z)}; "
                f"{share_text(*_relative(r.residual, r.residual_se, r.full))} of |δH_full|) "
                f"at η = {format_eta(r.eta)}"
                for r in rules
            ]
            yield Hit(
                f"{_label(evaluation, analysis)}δH_full − δH_baseline − Σᵢ δHᵢ is "
                + "; ".join(parts)
                + f", beyond {percent(evaluation.margin)} of |δH_full|",
                tuple(r.eta for r in rules),
            )


def _relative(
    value: float | None, se: float | None, scale: float | None
) -> tuple[float | None, float | None]:
    """value / |scale| and its SE (the scale taken as known)."""
    if value is None or not scale:
        return None, None
    return value / abs(scale), None if se is None else se / abs(scale)


@_REGISTRY.check(
    "influence-sum-rule-untested", "info", "The sum rule is not shown to hold", "sum-rule"
)  # fmt: skip
def sum_rule_untested(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """At some η the sum rule's residual is neither shown within ±margin·|δH_full| (its 90 %
    interval inside) nor shown beyond it, or no standard error could be derived: the page
    shows the residual but claims neither agreement nor failure (inconclusive).

    **Why:** the SE comes from the per-sequence arrays (`full`, `baseline`,
    `baseline_plus_grad` for that η); without them, or when the reported sum matches no sum
    of the arrays, the spread of the residual over evaluation sequences is unknown. With an SE
    too wide for the margin the test has no power to show either.
    """
    for evaluation in analysis.evaluations:
        rules = [r for r in evaluation.sum_rules if r.verdict in ("inconclusive", "unavailable")]
        wide = [r for r in rules if r.residual_se is not None]
        bare = [r for r in rules if r.residual_se is None]
        parts = []
        if wide:
            parts.append(
                f"neither shown within {percent(evaluation.margin)} of |δH_full| nor beyond "
                f"it at η = {_etas(wide)}"
            )
        if bare:
            parts.append(f"no standard error for the residual at η = {_etas(bare)}")
        if parts:
            yield Hit(
                f"{_label(evaluation, analysis)}" + "; ".join(parts) + ": inconclusive there",
                tuple(r.eta for r in rules),
            )


@_REGISTRY.check(
    "influence-nonlinear", "warning", "Directions whose δHᵢ curves in η", "linearity"
)  # fmt: skip
def nonlinear(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """A direction's δHᵢ(η), fitted as δHᵢ = a·η + b·η² through the origin, curves beyond the
    equivalence margin (20 % by default): the curvature share κ = b·η_max / (|a| + |b|·η_max),
    the quadratic term's part at the largest η, differs from 0 (|z| > 1.96) and |κ| exceeds
    the margin. Judged with at least 3 η; κ's SE is the delta method's, from the spread of the
    evaluation sequences' own fits (else from the fit's residuals).

    **Why it matters:** per-direction influence read at one η, or scaled from one η to
    another, assumes δHᵢ ∝ η. A direction that curves or turns over within the range makes
    such a reading depend on the η chosen. A line through the origin fits a parabola with an
    R² above 0.9 on a doubling η grid, so R² cannot tell.
    """
    for evaluation in analysis.evaluations:
        judged = [d for d in evaluation.directions if d.curvature.verdict is not None]
        bad = sorted(
            (d for d in judged if d.curvature.verdict == "curved"),
            key=lambda d: -abs(d.curvature.share or 0.0),
        )
        if bad:
            names = ", ".join(
                f"{d.id} (κ = {share_text(d.curvature.share, d.curvature.share_se)})"
                for d in bad[:5]
            )
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            yield Hit(
                f"{_label(evaluation, analysis)}{len(bad)} of {len(judged)} directions curve "
                f"beyond {percent(evaluation.margin)}: {names}{more}"
            )


@_REGISTRY.check(
    "influence-proxies-differ", "info", "Grad-only and baseline-adjusted effects differ",
    "proxies",
)  # fmt: skip
def proxies_differ(analysis: InfluenceAnalysis) -> Iterator[Hit]:
    """Summed over the directions, the grad-only effects δH(vᵢ) and the baseline-adjusted
    ones δH(v_baseline + vᵢ) − δH(v_baseline) differ beyond ±margin·|δH_full| at some η
    (the equivalence margin, 20 % by default): the difference is beyond noise (|z| > 1.96)
    and larger than the margin.

    **Why it matters:** the two proxies agree when the entropy change is linear in the update;
    a difference means each direction's effect depends on the baseline step it is taken
    with, so the grad-only proxy cannot stand in for the adjusted one. SE: sd/√m over the
    evaluation sequences of the per-sequence summed difference.
    """
    for evaluation in analysis.evaluations:
        rows = [p for p in evaluation.proxies if p.verdict == "beyond"]
        if rows:
            parts = [
                f"{format_with_se(p.gap, p.gap_se)} "
                f"({share_text(*_relative(p.gap, p.gap_se, p.full))} of |δH_full|) at η = "
                f"{format_eta(p.eta)}"
                for p in rows
            ]
            yield Hit(
                f"{_label(evaluation, analysis)}Σᵢ (adjusted − grad-only) is "
                + "; ".join(parts)
                + f", beyond {percent(evaluation.margin)} of |δH_full|",
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
