"""The symmetric finite difference beside the linear term g·v and the curvature vHvv.

``symmetric_fd`` measures ΔH_true at +η and −η on the same sequences. Their odd part
(Δ₊ − Δ₋)/(2η) estimates g·v without the quadratic term (its bias is the third-order term,
∝ η²); the even part (Δ₊ + Δ₋)/(2η²) estimates the η² coefficient, ½·vHvv.

When the FD and g·v differ, each side is set against the lin+quad prediction there: Δ₊/η
against g·v + ½·vHvv·η and −Δ₋/η against g·v − ½·vHvv·η. The two deviations average to
FD − g·v exactly, and differ by −2η·((Δ₊ + Δ₋)/(2η²) − ½·vHvv): a wrong g·v moves both
alike, a wrong truth on one side moves that side and the even part. A smooth ΔH(η) makes
Δ₊ + Δ₋ grow as η² at small η; an error ∝ η on one side makes it grow as η.

Standard errors, each named where it is used:

* g·v: the run's SE of ΔH_linear divided by η (delta method over sequences, or
  num_shards·se_shard without per-sequence records);
* ½·vHvv: ½ of a sum over sequences, so se_quad(η)/η² = ½·√n·sd(vhvv_i) (delta method), or
  ½·K·se_vHvv without per-sequence records (se_vHvv is the SE of the mean of K shards);
* the FD: se_true(η)/η, which bounds SE((Δ₊ − Δ₋)/(2η)) for any correlation of Δ₊ and Δ₋ when
  Δ₋ is as noisy as Δ₊ (ΔH_true at −η has no arrays of its own); only where the FD's η has a
  ground-truth entry with an SE;
* FD − g·v: se_diff_linear(η)/η, the same bound for the paired difference (linear − true at
  ±η), or the unpaired combination where the run has no per-sequence records;
* each side's deviation: se_diff_linquad(η)/η (the paired lin+quad difference at +η), the −η
  side's taken as the +η side's;
* the exponent of Δ₊ + Δ₋: first order in SE(Δ₊ + Δ₋) ≤ 2·se_true(η) at its two ends, summed
  (a bound for any correlation between the two η).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from reportgen.analysis.stats import same_eta
from reportgen.analysis.uncertainty import EtaUncertainty, RunUncertainty
from reportgen.codec import fields_of
from reportgen.load.models import Run, SymmetricFd

Z_95 = 1.959963984540054  # two-sided 5 %
Z_90 = 1.6448536269514722  # one-sided 5 %: the equivalence test's 90 % interval
EQUIVALENCE_MARGIN = 0.2  # |FD − g·v| within 20 % of |g·v| counts as agreement
FD_SE_METHOD = "se_true(η)/η: bound for any correlation of Δ₊ and Δ₋ (se of Δ₋ taken as se_true)"
SIDE_SE_METHOD = "se_diff_linquad(η)/η ({}), the −η side's taken as the +η side's"
SIDE_SE_UNPAIRED = "√((se_diff_linear(η)/η)² + (SE of ½·vHvv·η)²) ({}), both sides"
SIDE_SE_LINEAR = "se_diff_linear(η)/η ({}), both sides; no vHvv: the prediction is g·v"
SMOOTH_EXPONENT = 2.0  # Δ₊ + Δ₋ of a smooth ΔH(η) at small η: ΔH''(0)·η²
Verdict = Literal["agrees", "disagrees", "inconclusive", "not measured"]
# which side's truth the data point at: one side alone ("plus", "minus"), both alike ("linear":
# g·v itself), or none resolved
Implicated = Literal["plus", "minus", "linear", "unresolved"]


@dataclass(frozen=True, slots=True)
class FdRow:
    """One ground-truth entry's symmetric finite difference, its comparison with g·v and the
    curvature it implies; ``verdict`` "not measured" when the symmetric η was 0."""

    entry_eta: float
    eta: float | None
    delta_plus: float | None
    delta_minus: float | None
    finite_difference: float | None
    gdotv: float | None
    se_gdotv: float | None
    se_gdotv_method: str | None
    se_fd: float | None
    se_fd_method: str | None
    difference: float | None  # FD − g·v
    se_difference: float | None
    se_difference_method: str | None
    z: float | None
    verdict: Verdict
    curvature_coefficient: float | None  # (Δ₊ + Δ₋)/(2η²)
    se_curvature_coefficient: float | None  # se_true(η)/η², the same bound
    half_vhvv: float | None  # ½·vHvv, the approximation's η² coefficient
    se_half_vhvv: float | None
    ess_plus: float | None = None
    ess_minus: float | None = None
    clip_fraction_plus: float | None = None
    clip_fraction_minus: float | None = None
    se_half_vhvv_method: str | None = None
    deviation_plus: float | None = None  # Δ₊/η − (g·v + ½·vHvv·η)
    deviation_minus: float | None = None  # −Δ₋/η − (g·v − ½·vHvv·η)
    se_deviation_plus: float | None = None
    se_deviation_minus: float | None = None
    se_deviation_method: str | None = None
    z_plus: float | None = None
    z_minus: float | None = None
    z_even: float | None = None  # (even part − ½·vHvv) / √(SE² + SE²)
    implicated: Implicated | None = None  # None where not measured

    def to_json(self) -> dict[str, Any]:
        return fields_of(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FdRow:
        return cls(**data)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _ratio(value: float | None, scale: float | None) -> float | None:
    if value is None or scale is None or scale == 0:
        return None
    return _finite(value / scale)


def _row_at(uncertainty: RunUncertainty | None, eta: float) -> EtaUncertainty | None:
    if uncertainty is None:
        return None
    return next((u for u in uncertainty.etas if same_eta(u.eta, eta)), None)


def gdotv_se(uncertainty: RunUncertainty | None, eta: float) -> tuple[float | None, str | None]:
    """SE of g·v per unit η: se_linear/η at ``eta`` (else at any η), with its method."""
    rows = [] if uncertainty is None else list(uncertainty.etas)
    here = _row_at(uncertainty, eta)
    for row in ([here] if here is not None else []) + rows:
        if row.se_linear is not None and row.eta > 0:
            return _finite(row.se_linear / row.eta), row.method("se_linear")
    return None, None


def _verdict(difference: float | None, se: float | None, gdotv: float | None) -> Verdict:
    if difference is None or se is None or not se > 0:
        return "inconclusive"
    if abs(difference) > Z_95 * se:
        return "disagrees"
    if gdotv is not None and abs(difference) + Z_90 * se <= EQUIVALENCE_MARGIN * abs(gdotv):
        return "agrees"
    return "inconclusive"


def _half_vhvv(
    run: Run, uncertainty: RunUncertainty | None, eta: float | None
) -> tuple[float | None, float | None, str | None]:
    """½·vHvv, the SE of that total and how it was computed."""
    curvature = run.snis.approx.quadratic if run.snis is not None else None
    if curvature is None or curvature.vhvv is None:
        return None, None, None
    half = _finite(0.5 * curvature.vhvv)
    here = _row_at(uncertainty, eta) if eta is not None else None
    rows = ([here] if here is not None else []) + list(uncertainty.etas if uncertainty else ())
    for row in rows:
        if row.se_quad is not None and row.eta > 0:
            method = f"{row.method('se_quad')}: se_quad(η)/η² = ½·√n·sd(vhvv_i)"
            return half, _finite(row.se_quad / (row.eta * row.eta)), method
    k, se = curvature.num_shards, curvature.se_vhvv
    if k is None or k < 1 or se is None:
        return half, None, None
    method = f"shards: ½·{k}·se_vHvv (se_vHvv is the SE of the mean of {k} shards)"
    return half, _finite(0.5 * k * se), method


def _not_measured(
    entry_eta: float, gdotv: float | None, run: Run, uncertainty: RunUncertainty | None
) -> FdRow:
    half, se_half, method = _half_vhvv(run, uncertainty, None)
    nothing = dict.fromkeys(
        ("eta", "delta_plus", "delta_minus", "finite_difference", "se_gdotv", "se_gdotv_method",
         "se_fd", "se_fd_method", "difference", "se_difference", "se_difference_method", "z",
         "curvature_coefficient", "se_curvature_coefficient"),
    )  # fmt: skip
    return FdRow(
        entry_eta=entry_eta,
        gdotv=gdotv,
        verdict="not measured",
        half_vhvv=half,
        se_half_vhvv=se_half,
        se_half_vhvv_method=method,
        **nothing,
    )


@dataclass(frozen=True, slots=True)
class _Sides:
    """Each side's deviation from the lin+quad prediction there, with its SE and the verdict."""

    plus: float | None = None
    minus: float | None = None
    se: float | None = None
    method: str | None = None
    z_plus: float | None = None
    z_minus: float | None = None
    z_even: float | None = None
    implicated: Implicated = "unresolved"


def _side_se(
    row: EtaUncertainty, eta: float, half: float | None, se_half: float | None
) -> tuple[float | None, str | None]:
    """The SE of each side's deviation: the paired lin+quad one, else built from linear's."""
    if half is not None and row.se_diff_linquad is not None:
        method = SIDE_SE_METHOD.format(row.method("se_diff_linquad"))
        return _ratio(row.se_diff_linquad, eta), method
    linear = _ratio(row.se_diff_linear, eta)
    if linear is None:
        return None, None
    if half is None:
        return linear, SIDE_SE_LINEAR.format(row.method("se_diff_linear"))
    if se_half is None:
        return None, None
    method = SIDE_SE_UNPAIRED.format(row.method("se_diff_linear"))
    return _finite(math.hypot(linear, se_half * eta)), method


def _implicated(z_plus: float, z_minus: float, z_even: float | None) -> Implicated:
    """A side alone when it departs, the other does not and the even part says they differ;
    g·v when both depart the same way."""
    plus, minus = abs(z_plus) > Z_95, abs(z_minus) > Z_95
    if plus and minus:
        return "linear" if (z_plus > 0) == (z_minus > 0) else "unresolved"
    if (plus or minus) and z_even is not None and abs(z_even) > Z_95:
        return "plus" if plus else "minus"
    return "unresolved"


def _even_z(row: FdRow) -> float | None:
    """(Δ₊ + Δ₋)/(2η²) − ½·vHvv in units of their SEs combined (the even part's is a bound)."""
    even, half, se_even = row.curvature_coefficient, row.half_vhvv, row.se_curvature_coefficient
    if even is None or half is None or se_even is None:
        return None
    return _ratio(even - half, math.hypot(se_even, row.se_half_vhvv or 0.0))


def _sides(row: FdRow, here: EtaUncertainty | None) -> _Sides:
    """Δ₊/η against g·v + ½·vHvv·η and −Δ₋/η against g·v − ½·vHvv·η, at the FD's η."""
    eta, plus, minus, gdotv = row.eta, row.delta_plus, row.delta_minus, row.gdotv
    if here is None or eta is None or plus is None or minus is None or gdotv is None:
        return _Sides()
    se, method = _side_se(here, eta, row.half_vhvv, row.se_half_vhvv)
    bend = (row.half_vhvv or 0.0) * eta
    deviation_plus = _finite(plus / eta - (gdotv + bend))
    deviation_minus = _finite(-minus / eta - (gdotv - bend))
    z_plus, z_minus, z_even = _ratio(deviation_plus, se), _ratio(deviation_minus, se), _even_z(row)
    implicated: Implicated = "unresolved"
    if z_plus is not None and z_minus is not None:
        implicated = _implicated(z_plus, z_minus, z_even)
    return _Sides(deviation_plus, deviation_minus, se, method, z_plus, z_minus, z_even, implicated)


def fd_row(
    run: Run, entry_eta: float, fd: SymmetricFd, uncertainty: RunUncertainty | None
) -> FdRow:
    gdotv = _finite(run.snis.approx.delta_h_per_lr) if run.snis is not None else None
    if not fd.measured:
        return _not_measured(entry_eta, gdotv, run, uncertainty)
    eta = fd.eta
    plus, minus = _finite(fd.delta_plus), _finite(fd.delta_minus)
    even = plus + minus if plus is not None and minus is not None else None
    value = _finite(fd.finite_difference)
    if value is None and plus is not None and minus is not None:
        value = _finite((plus - minus) / (2.0 * eta))
    se_g, se_g_method = gdotv_se(uncertainty, eta)
    here = _row_at(uncertainty, eta)
    se_true = here.se_true if here is not None else None
    se_diff = _ratio(here.se_diff_linear, eta) if here is not None else None
    difference = _finite(value - gdotv) if value is not None and gdotv is not None else None
    half, se_half, se_half_method = _half_vhvv(run, uncertainty, eta)
    row = FdRow(
        entry_eta=entry_eta,
        eta=eta,
        delta_plus=plus,
        delta_minus=minus,
        finite_difference=value,
        gdotv=gdotv,
        se_gdotv=se_g,
        se_gdotv_method=se_g_method,
        se_fd=_ratio(se_true, eta),
        se_fd_method=FD_SE_METHOD if _ratio(se_true, eta) is not None else None,
        difference=difference,
        se_difference=se_diff,
        se_difference_method=here.method("se_diff_linear") if here and se_diff else None,
        z=_ratio(difference, se_diff),
        verdict=_verdict(difference, se_diff, gdotv),
        curvature_coefficient=_ratio(even, 2.0 * eta * eta),
        se_curvature_coefficient=_ratio(se_true, eta * eta),
        half_vhvv=half,
        se_half_vhvv=se_half,
        ess_plus=fd.ess_plus,
        ess_minus=fd.ess_minus,
        clip_fraction_plus=fd.clip_fraction_plus,
        clip_fraction_minus=fd.clip_fraction_minus,
        se_half_vhvv_method=se_half_method,
    )
    return _with_sides(row, _sides(row, here))


def _with_sides(row: FdRow, sides: _Sides) -> FdRow:
    return replace(
        row,
        deviation_plus=sides.plus,
        deviation_minus=sides.minus,
        se_deviation_plus=sides.se,
        se_deviation_minus=sides.se,
        se_deviation_method=sides.method,
        z_plus=sides.z_plus,
        z_minus=sides.z_minus,
        z_even=sides.z_even,
        implicated=sides.implicated,
    )


def fd_rows(run: Run, uncertainty: RunUncertainty | None) -> tuple[FdRow, ...]:
    """Every ground-truth entry carrying ``symmetric_fd``, in η order."""
    if run.snis is None:
        return ()
    return tuple(
        fd_row(run, e.eta, e.symmetric_fd, uncertainty)
        for e in run.snis.entries
        if e.symmetric_fd is not None
    )


@dataclass(frozen=True, slots=True)
class EvenScaling:
    """Δ₊ + Δ₋ ∝ η^exponent between the smallest and largest η where Δ₊ + Δ₋ is resolved."""

    eta_low: float
    eta_high: float
    exponent: float
    se_exponent: float

    @property
    def z_smooth(self) -> float | None:
        """The exponent's distance from a smooth ΔH(η)'s 2, in its SEs."""
        return _ratio(self.exponent - SMOOTH_EXPONENT, self.se_exponent)


def even_scaling(rows: Sequence[FdRow]) -> EvenScaling | None:
    """How Δ₊ + Δ₋ grows with η, from the two outermost η where |Δ₊ + Δ₋| exceeds 1.96 times
    its SE bound 2·se_true(η); ``None`` with fewer than two, or when their signs differ."""
    points = []
    for row in rows:
        eta, se_even = row.eta, row.se_curvature_coefficient
        if eta is None or row.delta_plus is None or row.delta_minus is None or se_even is None:
            continue
        total, se = row.delta_plus + row.delta_minus, 2.0 * se_even * eta * eta
        if se > 0 and abs(total) > Z_95 * se:
            points.append((eta, total, se))
    points.sort()
    if len(points) < 2:
        return None
    (eta_low, low, se_low), (eta_high, high, se_high) = points[0], points[-1]
    if eta_high <= eta_low or (low > 0) != (high > 0):
        return None
    span = math.log(eta_high / eta_low)
    exponent = math.log(high / low) / span
    return EvenScaling(
        eta_low, eta_high, exponent, (se_low / abs(low) + se_high / abs(high)) / span
    )


__all__ = [
    "EQUIVALENCE_MARGIN",
    "EvenScaling",
    "FdRow",
    "even_scaling",
    "fd_row",
    "fd_rows",
    "gdotv_se",
]
