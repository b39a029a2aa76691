"""The influence page's opening sentences: the sum rule first, then linearity, the proxies and
the features. "Holds", "linear" and "agree" are said only when shown within the stated
equivalence margin; a test that shows neither that nor a difference says "inconclusive"."""

from __future__ import annotations

from reportgen.kinds.influence.analysis import (
    DirectionFit,
    EvaluationAnalysis,
    InfluenceAnalysis,
    SumRule,
)
from reportgen.kinds.influence.diagnostics import percent, share_text
from reportgen.kinds.sample_stats import t_quantile
from reportgen.numfmt import format_eta, format_number, format_with_se
from reportgen.pages.verdict import Verdict

SIGNIFICANCE = 0.05


def _etas(rules: list[SumRule]) -> str:
    return ", ".join(format_eta(r.eta) for r in rules)


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
    if counted:
        first = min(counted, key=lambda r: r.eta)  # the linear regime
        ratio = "—" if first.ratio is None else format_with_se(first.ratio, first.ratio_se)
        return (
            f"The reported per-direction sum counts the baseline once per direction: at "
            f"η = {format_eta(first.eta)} it is {ratio} × δH_full, an excess of "
            f"(n − 1)·δH_baseline with n = {first.n}. {_recomputed(evaluation)}",
            True,
        )
    margin = percent(evaluation.margin)
    failing = [r for r in rules if r.verdict == "fails"]
    holding = [r for r in rules if r.verdict == "holds"]
    if failing:
        parts = "; ".join(
            f"{format_with_se(r.residual, r.residual_se)} at η = {format_eta(r.eta)}"
            for r in failing
        )
        held = f" It holds within {margin} at η = {_etas(holding)}." if holding else ""
        return (
            f"The sum rule is violated beyond {margin} of δH_full at η = {_etas(failing)}: "
            f"δH_full − δH_baseline − Σᵢ δHᵢ = {parts}.{held}",
            True,
        )
    if holding and len(holding) == len(rules):
        widest = _widest([(r.residual, r.residual_se, r.dof, r.full) for r in rules])
        return (
            f"The sum rule δH_full ≈ δH_baseline + Σᵢ δHᵢ holds within {margin} of δH_full at "
            f"every η: each residual's 90 % interval lies inside ±"
            f"{format_number(evaluation.margin)}·|δH_full| (the widest reaches {widest}).",
            True,
        )
    held = (
        f"The sum rule holds within {margin} of δH_full at η = {_etas(holding)}; it is"
        if (holding)
        else "The sum rule is"
    )
    return f"{held} {_untested(rules, margin)}.", False


def _untested(rules: list[SumRule], margin: str) -> str:
    """Where the sum rule is neither shown to hold nor to fail, in words."""
    wide = [r for r in rules if r.verdict == "inconclusive" and r.residual_se is not None]
    bare = [r for r in rules if r.verdict in ("inconclusive", "unavailable") and r not in wide]
    parts = []
    if wide:
        parts.append(
            f"inconclusive at η = {_etas(wide)} (neither shown within {margin} of δH_full nor "
            "beyond it)"
        )
    if bare:
        parts.append(f"not judged at η = {_etas(bare)}: no standard error can be derived there")
    return "; ".join(parts)


def _widest(rows: list[tuple[float | None, float | None, int | None, float | None]]) -> str:
    """The largest end of the residuals' 90 % intervals, as a share of |δH_full|."""
    ends = [
        (abs(value) + t_quantile(0.95, dof) * se) / abs(full)
        for value, se, dof, full in rows
        if value is not None and se is not None and full
    ]
    return f"{format_number(100 * max(ends))} % of |δH_full|" if ends else "—"


def _recomputed(evaluation: EvaluationAnalysis) -> str:
    rules = [r for r in evaluation.sum_rules if r.arrays_verdict is not None]
    if not rules:
        return "Without per-sequence arrays the sum cannot be recomputed."
    margin = percent(evaluation.margin)
    held = [r for r in rules if r.arrays_verdict == "holds"]
    if len(held) == len(rules):
        widest = _widest([(r.arrays_residual, r.arrays_residual_se, r.dof, r.full) for r in rules])
        return (
            "Recomputed with δHᵢ = δH(v_baseline + vᵢ) − δH(v_baseline) from the arrays, the "
            f"sum rule holds within {margin} of δH_full at every η (each residual's 90 % "
            f"interval inside ±{format_number(evaluation.margin)}·|δH_full|; the widest "
            f"reaches {widest})."
        )
    failed = [r for r in rules if r.arrays_verdict == "fails"]
    open_ = [r for r in rules if r.arrays_verdict == "inconclusive"]
    parts = [f"holds within {margin} of δH_full at {len(held)} of {len(rules)} η"]
    if failed:
        parts.append(f"is violated beyond it at η = {_etas(failed)}")
    if open_:
        parts.append(f"is inconclusive at η = {_etas(open_)}")
    return "Recomputed from the arrays, the sum rule " + "; ".join(parts) + "."


def _details(evaluation: EvaluationAnalysis) -> list[str]:
    sentences = [s for s in (_linearity(evaluation), _proxies(evaluation)) if s]
    significant = [
        f
        for f in evaluation.features
        if f.test.p_value is not None and f.test.p_value < SIGNIFICANCE
    ]
    if evaluation.features:
        names = ", ".join(
            f"{f.name} (ρ = {format_number(f.test.rho)}, 95 % interval "
            f"{format_number(f.interval[0])} to {format_number(f.interval[1])}, "
            f"p = {format_number(f.test.p_value)})"
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


def _names(directions: list[DirectionFit]) -> str:
    shown = ", ".join(
        f"{d.id} (κ = {share_text(d.curvature.share, d.curvature.share_se)})"
        for d in directions[:3]
    )
    return shown + (f" and {len(directions) - 3} more" if len(directions) > 3 else "")


def _linearity(evaluation: EvaluationAnalysis) -> str | None:
    judged = [d for d in evaluation.directions if d.curvature.verdict is not None]
    if not judged:
        return None
    margin = percent(evaluation.margin)
    linear = [d for d in judged if d.curvature.verdict == "linear"]
    curved = [d for d in judged if d.curvature.verdict == "curved"]
    open_ = [d for d in judged if d.curvature.verdict == "inconclusive"]
    text = (
        "Judged by the curvature share κ = b·η_max / (|a| + |b|·η_max) of a fit "
        f"δHᵢ = a·η + b·η² (linear when its 90 % interval lies inside {margin}), "
        f"{len(linear)} of {len(judged)} directions are linear in η within {margin}"
    )
    if curved:
        verb = "is" if len(curved) == 1 else "are"
        text += f"; {len(curved)} {verb} curved beyond {margin}: {_names(curved)}"
    if open_:
        text += f"; {len(open_)} inconclusive: {_names(open_)}"
    return text + "."


def _proxies(evaluation: EvaluationAnalysis) -> str | None:
    judged = [p for p in evaluation.proxies if p.verdict is not None]
    if not judged:
        return None
    margin = percent(evaluation.margin)
    within = [p.eta for p in judged if p.verdict == "within"]
    beyond = [p.eta for p in judged if p.verdict == "beyond"]
    open_ = [p.eta for p in judged if p.verdict == "inconclusive"]
    if len(within) == len(judged):
        return (
            f"Grad-only and baseline-adjusted effects agree in total within {margin} of "
            "δH_full at every η (the 90 % interval of Σᵢ (adjusted − grad-only) inside "
            f"±{format_number(evaluation.margin)}·|δH_full|)."
        )
    parts = []
    if beyond:
        parts.append(f"differ in total beyond {margin} of δH_full at η = {_eta_list(beyond)}")
    if within:
        parts.append(f"agree within {margin} at η = {_eta_list(within)}")
    if open_:
        parts.append(f"are inconclusive at η = {_eta_list(open_)} (neither shown)")
    return "Grad-only and baseline-adjusted effects " + "; ".join(parts) + "."


def _eta_list(etas: list[float]) -> str:
    return ", ".join(format_eta(eta) for eta in etas)
