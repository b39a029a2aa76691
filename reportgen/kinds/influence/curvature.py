"""Whether each direction's δHᵢ(η) is linear: a fit δHᵢ = a·η + b·η² through the origin and
the quadratic term's share of it at the largest η, judged against the equivalence margin.

The share κ = b·η_max / (|a| + |b|·η_max) is 0 for a line, ±1 for a parabola through the origin
and ≈ b·η_max/|a| when small; unlike b·η_max/a it stays finite when the linear term vanishes.
Its SE is the delta method's, from the covariance of (a, b·η_max): over the evaluation
sequences' own fits when every η has the per-sequence arrays (sd/√m, m − 1 degrees of freedom),
else from the fit's residuals (k − 2 degrees of freedom for k values of η). Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from reportgen.kinds.common import FloatArray
from reportgen.kinds.sample_stats import Judgement, equivalence

MIN_POINTS = 3  # η values a direction needs to be judged (two coefficients and a spread)
Linearity = Literal["linear", "curved", "inconclusive"]
SeSource = Literal["sequences", "residuals"]
LINEARITY: dict[Judgement, Linearity] = {
    "within": "linear",
    "beyond": "curved",
    "inconclusive": "inconclusive",
}


@dataclass(frozen=True)
class Curvature:
    """δHᵢ ≈ a·η + b·η²; ``share`` is κ ± ``share_se``; ``verdict`` None: not judged."""

    linear: float | None  # a
    quadratic: float | None  # b
    share: float | None  # κ = b·η_max / (|a| + |b|·η_max)
    share_se: float | None
    source: SeSource | None
    dof: int | None
    verdict: Linearity | None


NOT_JUDGED = Curvature(None, None, None, None, None, None, None)


def _design(etas: FloatArray) -> FloatArray:
    """Columns η and η²/η_max: their coefficients are a and b·η_max."""
    return np.stack([etas, etas**2 / float(np.max(etas))], axis=1)


def curvatures(
    etas: FloatArray, deltas: FloatArray, per_sequence: FloatArray | None, margin: float
) -> tuple[Curvature, ...]:
    """Every direction's curvature: ``deltas`` is δHᵢ per direction and η (n × k),
    ``per_sequence`` the values they are means of (n × m × k, finite) or None."""
    if per_sequence is None:
        return tuple(_from_residuals(etas, row, margin) for row in deltas)
    n, m, k = (int(size) for size in per_sequence.shape)
    if k < MIN_POINTS or m < 2:
        return (NOT_JUDGED,) * n
    design = _design(etas)
    coefficients = per_sequence @ np.linalg.pinv(design).T  # n × m × 2: each sequence's fit
    mean = coefficients.mean(axis=1)
    centred = coefficients - mean[:, None, :]
    covariance = np.einsum("nmi,nmj->nij", centred, centred) / ((m - 1) * m)
    top = float(np.max(etas))
    return _judged(mean, covariance, top, margin, "sequences", m - 1)


def _from_residuals(etas: FloatArray, row: FloatArray, margin: float) -> Curvature:
    keep = np.isfinite(row) & np.isfinite(etas)
    k = int(keep.sum())
    if k < MIN_POINTS:
        return NOT_JUDGED
    design, values = _design(etas[keep]), row[keep]
    found, *_ = np.linalg.lstsq(design, values, rcond=None)
    coefficients = np.asarray(found, dtype=np.float64)
    dof = k - 2
    sigma2 = float(np.sum((values - design @ coefficients) ** 2)) / dof
    covariance = np.asarray(sigma2 * np.linalg.pinv(design.T @ design), dtype=np.float64)
    top = float(np.max(etas[keep]))
    return _judged(coefficients[None, :], covariance[None], top, margin, "residuals", dof)[0]


def _judged(
    mean: FloatArray, covariance: FloatArray, top: float, margin: float, source: SeSource, dof: int
) -> tuple[Curvature, ...]:
    """κ and its delta-method SE from the mean of (a, b·η_max) and its covariance."""
    a, b = mean[:, 0], mean[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.abs(a) + np.abs(b)
        share = b / d
        variance = (
            a * a * covariance[:, 1, 1] + b * b * covariance[:, 0, 0]
            - 2 * a * b * covariance[:, 0, 1]
        ) / d**4  # fmt: skip
    se = np.sqrt(np.maximum(variance, 0.0))
    found = []
    for i in range(a.size):
        value = float(share[i]) if np.isfinite(share[i]) else None
        error = float(se[i]) if np.isfinite(se[i]) else None
        judgement = equivalence(value, error, margin, dof)
        verdict = None if judgement is None else LINEARITY[judgement]
        found.append(Curvature(float(a[i]), float(b[i]) / top, value, error, source, dof, verdict))
    return tuple(found)
