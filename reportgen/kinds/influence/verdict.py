"""The influence page's opening sentences: the sum rule first, then linearity, the proxies and
the features, each claim backed by a standard error or marked as not judged."""

from __future__ import annotations

from reportgen.kinds.influence.analysis import EvaluationAnalysis, InfluenceAnalysis, SumRule
from reportgen.kinds.influence.diagnostics import MIN_LINEARITY_POINTS, MIN_R2
from reportgen.numfmt import format_eta, format_number, format_with_se, format_z
from reportgen.pages.verdict import Verdict

SIGNIFICANCE = 0.05


def _etas(rules: list[SumRule]) -> str:
    return ", ".join(format_eta(r.eta) for r in rules)


def _largest_z(rules: list[SumRule]) -> str:
    zs = [abs(r.z) for r in rules if r.z is not None]
    return f"largest |z| = {format_z(max(zs)).lstrip('+')}" if zs else "no SE"


def influence_verdict(analysis: InfluenceAnalysis) -> Verdict:
    if not analysis.evaluations:
        return Verdict("The summary lists no evaluation, so there is nothing to judge.")
    headlines, details, judged = [], [], True
    for evaluation in analysis.evaluations:
        prefix = (
            f"Evaluation {evaluation.evaluation.index}: " if len(analysis.evaluations) > 1 else ""
        )
        headline, ok = _sum_rule_sentence(evaluation)
        headlines.append(prefix + headline)
        judged = judged and ok
        details += [prefix + d for d in _details(evaluation)]
    return Verdict(" ".join(headlines), tuple(details), judged)


def _sum_rule_sentence(evaluation: EvaluationAnalysis) -> tuple[str, bool]:
    rules = list(evaluation.sum_rules)
    counted = [r for r in rules if r.verdict == "baseline-per-sequence"]
    failing = [r for r in rules if r.verdict == "fails"]
    holding = [r for r in rules if r.verdict == "holds"]
    if counted:
        first = min(counted, key=lambda r: r.eta)  # the linear regime
        ratio = (
            format_number(first.reported_sum / first.full)
            if first.reported_sum is not None and first.full
            else "—"
        )
        recomputed = _recomputed(evaluation)
        return (
            f"The reported per-direction sum counts the baseline once per direction: at "
            f"η = {format_eta(first.eta)} it is {ratio} × δH_full, an excess of "
            f"(n − 1)·δH_baseline with n = {first.n}. {recomputed}",
            True,
        )
    if failing:
        parts = "; ".join(
            f"{format_with_se(r.residual, r.residual_se)} at η = {format_eta(r.eta)}"
            for r in failing
        )
        return (
            "The sum rule fails beyond 2 standard errors: δH_full − δH_baseline − Σᵢ δHᵢ = "
            f"{parts}.",
            True,
        )
    if holding and len(holding) == len(rules):
        return (
            f"The sum rule δH_full ≈ δH_baseline + Σᵢ δHᵢ holds within 2 standard errors at "
            f"every η ({_largest_z(holding)}).",
            True,
        )
    untested = [r for r in rules if r.verdict in ("inconclusive", "unavailable")]
    held = f" It holds within 2 SE at η = {_etas(holding)}." if holding else ""
    return (
        f"The sum rule cannot be judged at η = {_etas(untested)}: no standard error can be "
        f"derived there (inconclusive).{held}",
        False,
    )


def _recomputed(evaluation: EvaluationAnalysis) -> str:
    rules = [r for r in evaluation.sum_rules if r.arrays_residual_se]
    if not rules:
        return "Without per-sequence arrays the sum cannot be recomputed."
    held = [
        r
        for r in rules
        if r.arrays_residual is not None
        and r.arrays_residual_se is not None
        and abs(r.arrays_residual) <= 2 * r.arrays_residual_se
    ]
    if len(held) == len(rules):
        zs = max(abs(r.arrays_residual or 0.0) / (r.arrays_residual_se or 1.0) for r in rules)
        return (
            "Recomputed with δHᵢ = δH(v_baseline + vᵢ) − δH(v_baseline) from the arrays, the "
            f"sum rule holds within 2 standard errors at every η (largest |z| = "
            f"{format_number(zs)})."
        )
    return (
        "Recomputed from the arrays, the sum rule holds within 2 standard errors at "
        f"{len(held)} of {len(rules)} η."
    )


def _details(evaluation: EvaluationAnalysis) -> list[str]:
    sentences = []
    judged = [d for d in evaluation.directions if d.fit.points >= MIN_LINEARITY_POINTS]
    if judged:
        linear = [d for d in judged if d.fit.r2 is not None and d.fit.r2 >= MIN_R2]
        worst = min(judged, key=lambda d: d.fit.r2 if d.fit.r2 is not None else 2.0)
        sentences.append(
            f"{len(linear)} of {len(judged)} directions are linear in η (a line through the "
            f"origin with R² ≥ {MIN_R2}); the worst is {worst.id} (R² "
            f"{format_number(worst.fit.r2)})."
        )
    gaps = [p for p in evaluation.proxies if p.gap is not None and p.gap_se]
    if gaps:
        apart = [p for p in gaps if abs(p.gap or 0.0) > 2 * (p.gap_se or 0.0)]
        sentences.append(
            "Grad-only and baseline-adjusted effects agree in total within 2 standard errors "
            "at every η."
            if not apart
            else f"Grad-only and baseline-adjusted effects differ in total beyond 2 standard "
            f"errors at η = {', '.join(format_eta(p.eta) for p in apart)}."
        )
    significant = [
        f
        for f in evaluation.features
        if f.test.p_value is not None and f.test.p_value < SIGNIFICANCE
    ]
    if evaluation.features:
        names = ", ".join(
            f"{f.name} (ρ = {format_number(f.test.rho)}, p = {format_number(f.test.p_value)})"
            for f in significant
        )
        sentences.append(
            f"δHᵢ at η = {format_eta(evaluation.feature_eta)} follows {names} (permutation "
            f"test, p < {SIGNIFICANCE})."
            if significant
            else f"No feature's rank correlation with δHᵢ is significant at p < {SIGNIFICANCE} "
            f"with {evaluation.n} directions (inconclusive, not evidence of no relation)."
        )
    return sentences
