"""What templates/kind_influence.html shows: plain rows built from the analysis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from markupsafe import Markup

from reportgen.charts import Chart
from reportgen.findings import Finding
from reportgen.kinds.influence.analysis import DirectionFit, EvaluationAnalysis, SumRule
from reportgen.kinds.influence.verdict import SIGNIFICANCE
from reportgen.kinds.reading import NotRead
from reportgen.numfmt import format_eta
from reportgen.pages.verdict import Verdict

VERDICT_LABELS = {  # the sum rule's verdict: its word on the page and its status
    "holds": ("holds", "ok"),
    "fails": ("violated", "bad"),
    "baseline-per-sequence": ("baseline per direction", "bad"),
    "inconclusive": ("inconclusive", "muted"),
    "unavailable": ("—", "muted"),
}
JUDGEMENT_LABELS = {  # a difference against its margin (the proxies)
    "within": ("within", "ok"),
    "beyond": ("beyond", "bad"),
    "inconclusive": ("inconclusive", "muted"),
    None: ("no SE", "muted"),
}
LINEARITY_LABELS = {
    "linear": ("linear", "ok"),
    "curved": ("curved", "bad"),
    "inconclusive": ("inconclusive", "muted"),
    None: ("not judged", "muted"),
}
LINEARITY_ORDER = {"curved": 0, "inconclusive": 1, "linear": 2, None: 3}
MATCH_LABELS = {  # what the reported sum reproduces, in the table
    "adjusted": "Σᵢ δHᵢ",
    "unadjusted": "Σᵢ δH(v_b + vᵢ)",
    "neither": "neither",
    None: "—",
}
MATCH_WORDS = {  # the same, in sentences
    "adjusted": "Σᵢ [δH(v_b + vᵢ) − δH(v_b)] (baseline-adjusted)",
    "unadjusted": "Σᵢ δH(v_b + vᵢ) (baseline counted per direction)",
    "neither": "neither sum of the arrays",
}


@dataclass(frozen=True)
class Section:
    id: str
    title: str


@dataclass(frozen=True)
class RuleRow:
    eta: float
    full: float | None
    baseline: float | None
    reported: float | None
    adjusted: float | None
    unadjusted: float | None
    residual: float | None
    residual_se: float | None
    z: float | None
    arrays_residual: float | None
    arrays_residual_se: float | None
    matches: str
    verdict: str
    status: str  # ok / bad / muted
    bound: float | None  # margin·|δH_full|
    arrays_verdict: str


@dataclass(frozen=True)
class DirectionRow:
    id: str
    slope: float | None
    slope_se: float | None
    share: float | None  # the curvature share κ, in per cent
    share_se: float | None
    se_source: str
    points: int
    values: tuple[float | None, ...]
    verdict: str
    status: str  # ok / bad / muted


@dataclass(frozen=True)
class ProxyLine:
    eta: float
    gap: float | None
    gap_se: float | None
    z_max: float | None
    slope: float | None
    slope_se: float | None
    bound: float | None  # margin·|δH_full|
    verdict: str
    status: str


@dataclass(frozen=True)
class FeatureRow:
    name: str
    rho: float | None
    low: float | None  # ρ's 95 % interval
    high: float | None
    p_value: float | None
    method: str
    significant: bool


@dataclass(frozen=True, eq=False)
class EvaluationView:
    key: str  # suffix that keeps element ids unique on the page
    title: str
    n: int
    m: int | None
    etas: tuple[float, ...]
    rules: tuple[RuleRow, ...]
    directions: tuple[DirectionRow, ...]
    proxies: tuple[ProxyLine, ...]
    features: tuple[FeatureRow, ...]
    feature_eta: float | None
    reading: tuple[str, ...]
    disagreements: tuple[str, ...]
    diagnostics: tuple[tuple[str, float], ...]
    charts: Mapping[str, tuple[Chart, ...]]
    margin: float  # the equivalence margin, relative


@dataclass(frozen=True, eq=False)
class InfluenceView:
    directory: str
    verdict: Verdict
    findings: tuple[Finding, ...]
    counts: Mapping[str, int]
    sections: tuple[Section, ...]
    facts: tuple[tuple[str, str], ...]
    evaluations: tuple[EvaluationView, ...]
    etas: tuple[float, ...]  # the η menu's options (every evaluation's)
    initial_eta: float | None
    inputs: tuple[str, ...]
    not_read: tuple[NotRead, ...]
    page_data: Markup


def rule_row(r: SumRule) -> RuleRow:
    label, status = VERDICT_LABELS[r.verdict]
    if r.verdict == "inconclusive" and r.residual_se is None:
        label = "no SE"
    arrays = {"holds": "holds", "fails": "violated", "inconclusive": "inconclusive"}
    return RuleRow(
        r.eta, r.full, r.baseline, r.reported_sum, r.adjusted_sum, r.unadjusted_sum,
        r.residual, r.residual_se, r.z, r.arrays_residual, r.arrays_residual_se,
        MATCH_LABELS[r.reported_matches], label, status, r.bound,
        arrays.get(r.arrays_verdict or "", "no SE"),
    )  # fmt: skip


def least_linear_first(directions: tuple[DirectionFit, ...]) -> list[DirectionFit]:
    """Curved, then inconclusive, then linear directions, each by |κ| (largest first)."""
    return sorted(
        directions,
        key=lambda d: (
            LINEARITY_ORDER[d.curvature.verdict],
            -abs(d.curvature.share or 0.0),
            d.index,
        ),
    )


def direction_rows(e: EvaluationAnalysis) -> tuple[DirectionRow, ...]:
    """Directions, the least linear first (a direction not judged last)."""
    rows = []
    for d in least_linear_first(e.directions):
        c = d.curvature
        label, status = LINEARITY_LABELS[c.verdict]
        rows.append(
            DirectionRow(
                d.id, d.fit.slope, d.fit.slope_se,
                None if c.share is None else 100 * c.share,
                None if c.share_se is None else 100 * c.share_se,
                SE_SOURCES.get(c.source, "—"), d.fit.points,
                tuple(float(v) if v == v else None for v in d.values.tolist()), label, status,
            )
        )  # fmt: skip
    return tuple(rows)


SE_SOURCES = {"sequences": "sequences", "residuals": "fit residuals", None: "—"}


def proxy_lines(e: EvaluationAnalysis) -> tuple[ProxyLine, ...]:
    lines = []
    for p in e.proxies:
        label, status = JUDGEMENT_LABELS[p.verdict]
        bound = None if p.full is None else e.margin * abs(p.full)
        lines.append(
            ProxyLine(
                p.eta, p.gap, p.gap_se, p.gap_z_max, p.parity.slope, p.parity.slope_se, bound,
                label, status,
            )
        )  # fmt: skip
    return tuple(lines)


def feature_rows(e: EvaluationAnalysis) -> tuple[FeatureRow, ...]:
    rows = []
    for f in e.features:
        t = f.test
        method = (
            f"exact, all {t.permutations:,} orderings"
            if t.exact
            else f"{t.permutations:,} seeded random orderings"
        )
        significant = t.p_value is not None and t.p_value < SIGNIFICANCE
        rows.append(FeatureRow(f.name, t.rho, *f.interval, t.p_value, method, significant))
    return tuple(rows)


def reading(e: EvaluationAnalysis) -> tuple[str, ...]:
    """How this page read the files, in words: every choice the layout leaves open."""
    ev = e.evaluation
    m = "an unknown number of" if e.m is None else f"m = {e.m}"
    lines = [
        f"Directions i are the n = {e.n} workspace (update) sequences "
        "(workspace.num_sequences; sequence_ids names them); every δH is a mean over the "
        f"{m} evaluation sequences j.",
        f"Each direction's effect δHᵢ = δH(v_baseline + vᵢ) − δH(v_baseline), from: "
        f"{e.delta_source}.",
        "Standard errors treat the evaluation sequences as independent draws: each is the "
        "sd/√m of a per-sequence series (the residual's: full − baseline − Σᵢ "
        "(baseline_plus_grad − baseline)).",
    ]
    matches = {r.reported_matches for r in e.sum_rules if r.reported_matches is not None}
    if matches:
        lines.append(
            "per_sequence_delta_sum is read as the runner's Σᵢ over directions; it reproduces "
            + "; ".join(MATCH_WORDS[m] for m in sorted(matches))
            + "."
        )
    if ev.direction_etas is not None:
        lines.append(
            "eta_per_sequence is a flat list: read as the η each direction was applied with."
        )
    elif ev.eta_per_sequence:
        lines.append("eta_per_sequence is read as: per η, each direction's δH (n values).")
    lines.append(_matrix_sentence(e))
    return tuple(lines)


def _matrix_sentence(e: EvaluationAnalysis) -> str:
    matrix = e.evaluation.matrix
    if matrix is None:
        return "There is no delta matrix for this evaluation."
    rows, columns = matrix.values.shape
    at = format_eta(matrix.eta_reference) if matrix.eta_reference is not None else "an η not given"
    what = {
        None: "there are no arrays at that η to compare it with",
        "none": "it reproduces none of the per-sequence arrays there",
    }.get(e.matrix_reading, f"at that η it reproduces the {e.matrix_reading} array")
    square = " It is square, so the orientation rests on row_sums." if rows == columns else ""
    return (
        f"The delta matrix ({matrix.path}, {rows} × {columns}) is read as rows = directions "
        f"(row_sums), columns = evaluation sequences (column_sums), at η_ref = {at} "
        f"(eta_reference): {what}.{square}"
    )
