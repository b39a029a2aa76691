"""The influence analysis: the sum rule per η, linearity per direction, the two per-direction
proxies and the directions' relation to sequence features. Pure numpy, no I/O.

δHᵢ, the effect of direction i, is baseline-adjusted: δH(v_baseline + vᵢ) − δH(v_baseline),
taken as the mean over the m evaluation sequences of baseline_plus_grad − baseline. Standard
errors treat the evaluation sequences as independent draws: every quantity is a mean over j of
a per-sequence series, and its SE is that series' sd/√m. The sum rule and the proxies' total
difference are judged against ±margin·|δH_full| (``sample_stats.equivalence``), linearity
against ±margin on the curvature share (``curvature``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.kinds.common import FloatArray
from reportgen.kinds.influence.consistency import (
    adjusted,
    close,
    disagreements,
    has_grad,
    matrix_reading,
    usable,
)
from reportgen.kinds.influence.curvature import Curvature, curvatures
from reportgen.kinds.influence.model import EtaArrays, Evaluation, InfluenceRun
from reportgen.kinds.sample_stats import (
    Judgement,
    OriginFit,
    RankTest,
    correlation_interval,
    equivalence,
    mean_se,
    origin_fit,
    spearman_test,
)
from reportgen.numfmt import format_eta

if TYPE_CHECKING:
    from reportgen.kinds.interface import StudySettings

PATTERN_RTOL = 0.05  # without an SE, the double count is recognised to within 5 %
SumVerdict = Literal["holds", "fails", "baseline-per-sequence", "inconclusive", "unavailable"]
RuleJudgement = Literal["holds", "fails", "inconclusive"]
RULE: dict[Judgement, RuleJudgement] = {
    "within": "holds",
    "beyond": "fails",
    "inconclusive": "inconclusive",
}
Match = Literal["adjusted", "unadjusted", "neither"]


@dataclass(frozen=True)
class SumRule:
    """δH_full ≈ δH_baseline + Σᵢ δHᵢ at one η; ``residual`` = full − baseline − the sum."""

    eta: float
    n: int
    full: float | None
    baseline: float | None
    reported_sum: float | None  # the summary's per_sequence_delta_sum
    adjusted_sum: float | None  # Σᵢ δHᵢ from the arrays
    unadjusted_sum: float | None  # Σᵢ δH(v_baseline + vᵢ) from the arrays
    reported_matches: Match | None  # which array sum the reported one reproduces
    source: Literal["reported", "arrays"] | None  # the sum the residual uses
    residual: float | None
    residual_se: float | None
    arrays_residual: float | None  # with the sum from the arrays, whatever was reported
    arrays_residual_se: float | None
    verdict: SumVerdict
    margin: float = DEFAULT_MARGIN  # relative to |δH_full|: "holds" within ±margin·|δH_full|
    dof: int | None = None  # of the residual's SE (m − 1)
    arrays_verdict: RuleJudgement | None = None  # the rule with the sum from the arrays
    ratio_se: float | None = None  # of ``ratio``, paired over the evaluation sequences

    @property
    def ratio(self) -> float | None:
        """The reported sum over δH_full."""
        if self.reported_sum is None or not self.full:
            return None
        return self.reported_sum / self.full

    @property
    def bound(self) -> float | None:
        """margin·|δH_full|, the residual's equivalence bound."""
        return None if self.full is None else self.margin * abs(self.full)

    @property
    def z(self) -> float | None:
        if self.residual is None or not self.residual_se:
            return None
        return self.residual / self.residual_se

    @property
    def excess(self) -> float | None:
        """The reported sum minus δH_full: ≈ (n − 1)·δH_baseline when each direction's term is
        δH(v_baseline + vᵢ), i.e. the baseline is counted once per direction."""
        if self.reported_sum is None or self.full is None:
            return None
        return self.reported_sum - self.full

    @property
    def expected_excess(self) -> float | None:
        """(n − 1)·δH_baseline."""
        return None if self.baseline is None else (self.n - 1) * self.baseline


@dataclass(frozen=True, eq=False)
class DirectionFit:
    index: int
    id: str
    values: FloatArray  # δHᵢ per η (NaN where missing)
    fit: OriginFit
    curvature: Curvature


@dataclass(frozen=True, eq=False)
class ProxyRow:
    """Grad-only δH(vᵢ) against baseline-adjusted δHᵢ at one η."""

    eta: float
    grad: FloatArray
    adjusted: FloatArray
    gap: float | None  # Σᵢ (adjusted − grad)
    gap_se: float | None
    gap_z_max: float | None  # the largest per-direction |z| of adjusted − grad
    parity: OriginFit  # adjusted ≈ slope · grad
    full: float | None = None  # δH_full at this η, the scale of the margin
    verdict: Judgement | None = None  # gap against ±margin·|δH_full| (None: no SE)


@dataclass(frozen=True, eq=False)
class FeatureTest:
    name: str
    values: FloatArray
    test: RankTest
    interval: tuple[float | None, float | None] = (None, None)  # ρ's 95 % (Fisher z)


@dataclass(frozen=True, eq=False)
class EvaluationAnalysis:
    evaluation: Evaluation
    n: int
    m: int | None
    etas: tuple[float, ...]
    sum_rules: tuple[SumRule, ...]
    delta_source: str  # where δHᵢ came from, in words
    directions: tuple[DirectionFit, ...]
    proxies: tuple[ProxyRow, ...]
    feature_eta: float | None
    features: tuple[FeatureTest, ...]
    disagreements: tuple[str, ...]
    matrix_reading: str | None  # which array the delta matrix reproduces at η_ref
    missing_arrays: tuple[float, ...]  # η without the four per-sequence arrays
    margin: float = DEFAULT_MARGIN  # the equivalence margin every judgement used


@dataclass(frozen=True, eq=False)
class InfluenceAnalysis:
    run: InfluenceRun
    evaluations: tuple[EvaluationAnalysis, ...]


def analyze(run: InfluenceRun, settings: StudySettings | None = None) -> InfluenceAnalysis:
    """Every evaluation's analysis; ``settings`` give the relative equivalence margin (the
    default's without them)."""
    margin = DEFAULT_MARGIN if settings is None else settings.equivalence_margin
    with np.errstate(all="ignore"):
        evaluations = tuple(_evaluation(run, e, margin) for e in run.evaluations)
        return InfluenceAnalysis(run, evaluations)


def _direction_count(run: InfluenceRun, evaluation: Evaluation) -> int:
    if evaluation.num_directions is not None:
        return evaluation.num_directions
    shapes = [
        a.baseline_plus_grad.shape[0] for a in evaluation.arrays if a.baseline_plus_grad is not None
    ]
    return shapes[0] if shapes else len(evaluation.sequence_ids)


def _evaluation(run: InfluenceRun, evaluation: Evaluation, margin: float) -> EvaluationAnalysis:
    n = _direction_count(run, evaluation)
    arrays = {a.eta: a for a in evaluation.arrays}
    rules = tuple(
        _sum_rule(evaluation, row.eta, n, arrays.get(row.eta), margin)
        for row in evaluation.aggregate
    )
    deltas, source = _direction_deltas(evaluation, rules, n)
    etas = tuple(r.eta for r in rules)
    feature_eta, features = _features(evaluation, etas, deltas)
    proxies = tuple(p for eta in etas if (p := _proxy(arrays.get(eta), n, margin)) is not None)
    missing = tuple(eta for eta in etas if not usable(arrays.get(eta), n, evaluation.num_sequences))
    return EvaluationAnalysis(
        evaluation=evaluation,
        n=n,
        m=evaluation.num_sequences,
        etas=etas,
        sum_rules=rules,
        delta_source=source,
        directions=_directions(evaluation, etas, deltas, n, margin),
        proxies=proxies,
        feature_eta=feature_eta,
        features=features,
        disagreements=(*disagreements(evaluation, n), *_unmatched(rules)),
        matrix_reading=matrix_reading(evaluation, n),
        missing_arrays=missing,
        margin=margin,
    )


def _directions(
    evaluation: Evaluation, etas: tuple[float, ...], deltas: FloatArray, n: int, margin: float
) -> tuple[DirectionFit, ...]:
    ids = evaluation.sequence_ids if len(evaluation.sequence_ids) == n else ()
    grid = np.array(etas, dtype=np.float64)
    bends = curvatures(grid, deltas, _sequence_deltas(evaluation, etas, n), margin)
    return tuple(
        DirectionFit(
            i, ids[i] if ids else f"direction {i}", deltas[i], origin_fit(grid, deltas[i]), bends[i]
        )
        for i in range(n)
    )


def _sequence_deltas(evaluation: Evaluation, etas: tuple[float, ...], n: int) -> FloatArray | None:
    """baseline_plus_grad − baseline per direction, evaluation sequence and η (n × m × k) when
    every η has usable arrays of one m, else None."""
    arrays = {a.eta: a for a in evaluation.arrays}
    found = [arrays.get(eta) for eta in etas]
    usable_all = [a for a in found if a is not None and usable(a, n, evaluation.num_sequences)]
    if not etas or len(usable_all) != len(etas):
        return None
    per_eta = [adjusted(a) for a in usable_all]
    if len({values.shape for values in per_eta}) != 1:
        return None
    stacked = np.stack(per_eta, axis=-1)
    return stacked if np.isfinite(stacked).all() else None


def _unmatched(rules: tuple[SumRule, ...]) -> tuple[str, ...]:
    return tuple(
        f"per_sequence_delta_sum at η = {format_eta(r.eta)} is neither Σᵢ δHᵢ nor "
        "Σᵢ δH(v_baseline + vᵢ) of the arrays (so its residual has no SE)"
        for r in rules
        if r.reported_matches == "neither"
    )


# --- the sum rule ----------------------------------------------------------------------------


def _sum_rule(
    evaluation: Evaluation, eta: float, n: int, arrays: EtaArrays | None, margin: float
) -> SumRule:
    row = next(r for r in evaluation.aggregate if r.eta == eta)
    ok = usable(arrays, n, evaluation.num_sequences)
    full, baseline = row.delta_h, dict(evaluation.baseline_eta_delta).get(eta)
    if ok and arrays is not None:
        assert arrays.full is not None and arrays.baseline is not None
        full = float(arrays.full.mean()) if full is None else full
        baseline = float(arrays.baseline.mean()) if baseline is None else baseline
    reported = row.per_sequence_delta_sum
    empty = SumRule(
        eta, n, full, baseline, reported, None, None, None, None, None, None, None, None,
        "unavailable", margin,
    )  # fmt: skip
    if full is None or baseline is None:
        return empty
    if not ok or arrays is None:
        if reported is None:
            return empty
        residual = full - baseline - reported
        verdict = _verdict(residual, None, None, empty)
        return replace(empty, source="reported", residual=residual, verdict=verdict)
    return _rule_from_arrays(empty, arrays, full, baseline)


def _rule_from_arrays(empty: SumRule, arrays: EtaArrays, full: float, baseline: float) -> SumRule:
    assert arrays.full is not None and arrays.baseline is not None
    n = empty.n
    per_direction = adjusted(arrays)
    adjusted_j = per_direction.sum(axis=0)
    residual_j = arrays.full - arrays.baseline - adjusted_j
    adjusted_sum = float(adjusted_j.mean())
    unadjusted_j = adjusted_j + n * arrays.baseline
    unadjusted_sum = float(unadjusted_j.mean())
    arrays_residual = full - baseline - adjusted_sum
    _, arrays_se = mean_se(residual_j)
    reported = empty.reported_sum
    match: Match | None = None
    source: Literal["reported", "arrays"]
    if reported is None:
        source, residual, se = "arrays", arrays_residual, arrays_se
    else:
        match = _match(reported, arrays, adjusted_sum, unadjusted_sum)
        source, residual = "reported", full - baseline - reported
        se = {
            "adjusted": arrays_se,
            "unadjusted": mean_se(residual_j - n * arrays.baseline)[1],
        }.get(match)
    dof = residual_j.size - 1
    rule = replace(empty, baseline=baseline, full=full, dof=dof)
    series = {"adjusted": adjusted_j, "unadjusted": unadjusted_j}.get(match or "")
    judged = equivalence(arrays_residual, arrays_se, rule.bound or 0.0, dof)
    return SumRule(
        eta=empty.eta,
        n=n,
        full=full,
        baseline=baseline,
        reported_sum=reported,
        adjusted_sum=adjusted_sum,
        unadjusted_sum=unadjusted_sum,
        reported_matches=match,
        source=source,
        residual=residual,
        residual_se=se,
        arrays_residual=arrays_residual,
        arrays_residual_se=arrays_se,
        verdict=_verdict(residual, se, match, rule),
        margin=rule.margin,
        dof=dof,
        arrays_verdict=None if judged is None else RULE[judged],
        ratio_se=None if series is None else _ratio_se(series, arrays.full, rule),
    )


def _ratio_se(reported_j: FloatArray, full_j: FloatArray, rule: SumRule) -> float | None:
    """The delta method's SE of reported/δH_full from the paired per-sequence series:
    sd(reported_j − ratio·full_j)/√m / |δH_full|."""
    ratio = rule.ratio
    if ratio is None or not rule.full:
        return None
    _, se = mean_se(reported_j - ratio * full_j)
    return None if se is None else se / abs(rule.full)


def _match(reported: float, arrays: EtaArrays, adjusted_sum: float, unadjusted_sum: float) -> Match:
    assert arrays.baseline_plus_grad is not None and arrays.baseline is not None
    n, m = arrays.baseline_plus_grad.shape
    scale = float(
        np.abs(arrays.baseline_plus_grad).sum(axis=0).mean() + n * np.abs(arrays.baseline).mean()
    )
    candidates: tuple[tuple[Match, float], ...] = (
        ("adjusted", adjusted_sum),
        ("unadjusted", unadjusted_sum),
    )
    for name, value in candidates:
        if close(reported, value, scale, arrays.eps, n * m):
            return name
    return "neither"


def _verdict(residual: float, se: float | None, match: Match | None, rule: SumRule) -> SumVerdict:
    """The residual against ±margin·|δH_full| (``equivalence``): holds within, fails beyond,
    else inconclusive. baseline-per-sequence: the reported sum is the unadjusted one, or (the
    baseline counted n times) residual + n·δH_baseline is shown within ±margin·|n·δH_baseline|
    (within 5 % without an SE)."""
    n, extra = rule.n, rule.n * (rule.baseline or 0.0)
    if match == "unadjusted" and n > 1:
        return "baseline-per-sequence"
    judged = equivalence(residual, se, rule.bound or 0.0, rule.dof)
    if judged is not None:
        counted = equivalence(residual + extra, se, rule.margin * abs(extra), rule.dof)
        if judged != "within" and n > 1 and extra != 0 and counted == "within":
            return "baseline-per-sequence"
        return RULE[judged]
    if n > 1 and extra != 0 and abs(residual + extra) <= PATTERN_RTOL * abs(extra):
        return "baseline-per-sequence"
    return "inconclusive"


# --- per-direction deltas, linearity, proxies, features --------------------------------------


def _direction_deltas(
    evaluation: Evaluation, rules: tuple[SumRule, ...], n: int
) -> tuple[FloatArray, str]:
    """δHᵢ per direction (rows) and η (columns), and where they came from, in words."""
    deltas = np.full((n, len(rules)), np.nan)
    listed = {v.eta: v.values for v in evaluation.eta_per_sequence}
    sources: set[str] = set()
    arrays = {a.eta: a for a in evaluation.arrays}
    for k, rule in enumerate(rules):
        a = arrays.get(rule.eta)
        if usable(a, n, evaluation.num_sequences) and a is not None:
            deltas[:, k] = adjusted(a).mean(axis=1)
            sources.add("baseline_plus_grad − baseline from the arrays, averaged over j")
        elif (values := listed.get(rule.eta)) is not None and values.shape == (n,):
            counted = rule.verdict == "baseline-per-sequence" and rule.baseline is not None
            deltas[:, k] = values - (rule.baseline or 0.0) if counted else values
            sources.add(
                "eta_per_sequence with δH_baseline subtracted (it counts the baseline)"
                if counted
                else "eta_per_sequence as listed"
            )
    text = "; ".join(sorted(sources)) if sources else "not available"
    return deltas, text


def _proxy(arrays: EtaArrays | None, n: int, margin: float) -> ProxyRow | None:
    if arrays is None or not usable(arrays, n, None):
        return None
    adjusted_ij = adjusted(arrays)
    adjusted_i = adjusted_ij.mean(axis=1)
    if has_grad(arrays, n):
        assert arrays.grad is not None
        gap_ij = adjusted_ij - arrays.grad
        grad_i = arrays.grad.mean(axis=1)
        gap, gap_se = mean_se(gap_ij.sum(axis=0))
        m = gap_ij.shape[1]
        spread = gap_ij.std(axis=1, ddof=1) / math.sqrt(m) if m > 1 else np.full(n, np.nan)
        z = np.abs(gap_ij.mean(axis=1)) / spread
        z_max = float(np.nanmax(z)) if np.isfinite(z).any() else None
    elif arrays.grad_eta is not None and arrays.grad_eta.shape == (n,):
        grad_i = arrays.grad_eta
        gap, gap_se, z_max = float((adjusted_i - grad_i).sum()), None, None
    else:
        return None
    assert arrays.full is not None
    full = float(arrays.full.mean())
    verdict = equivalence(gap, gap_se, margin * abs(full), arrays.full.size - 1)
    return ProxyRow(
        arrays.eta, grad_i, adjusted_i, gap, gap_se, z_max, origin_fit(grad_i, adjusted_i), full,
        verdict,
    )  # fmt: skip


def _features(
    evaluation: Evaluation, etas: tuple[float, ...], deltas: FloatArray
) -> tuple[float | None, tuple[FeatureTest, ...]]:
    """Each per-direction feature against δHᵢ at η_ref (else the largest η with every δHᵢ)."""
    complete = [k for k in range(len(etas)) if np.isfinite(deltas[:, k]).all()]
    if not complete or not evaluation.features:
        return None, ()
    reference = evaluation.matrix.eta_reference if evaluation.matrix is not None else None
    k = next((k for k in complete if reference is not None and etas[k] == reference), complete[-1])
    column = deltas[:, k]
    tests = tuple(
        _feature_test(name, values, column)
        for name, values in evaluation.features
        if values.shape == column.shape
    )
    return etas[k], tests


def _feature_test(name: str, values: FloatArray, column: FloatArray) -> FeatureTest:
    test = spearman_test(values, column)
    n = int(np.sum(np.isfinite(values) & np.isfinite(column)))
    factor = 1.0 + (test.rho or 0.0) ** 2 / 2  # Bonett & Wright's variance for Spearman's ρ
    return FeatureTest(name, values, test, correlation_interval(test.rho, n, factor))
