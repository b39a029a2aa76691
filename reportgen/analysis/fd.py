"""The symmetric finite difference beside the linear term g·v and the curvature vHvv.

``symmetric_fd`` measures ΔH_true at +η and −η on the same sequences. Their odd part
(Δ₊ − Δ₋)/(2η) estimates g·v without the quadratic term (its bias is the third-order term,
∝ η²); the even part (Δ₊ + Δ₋)/(2η²) estimates the η² coefficient, ½·vHvv.

Standard errors, each named where it is used:

* g·v: the run's SE of ΔH_linear divided by η (delta method over sequences, or
  num_shards·se_shard without per-sequence records);
* the FD: se_true(η)/η, which bounds SE((Δ₊ − Δ₋)/(2η)) for any correlation of Δ₊ and Δ₋ when
  Δ₋ is as noisy as Δ₊ (ΔH_true at −η has no arrays of its own); only where the FD's η has a
  ground-truth entry with an SE;
* FD − g·v: se_diff_linear(η)/η, the same bound for the paired difference (linear − true at
  ±η), or the unpaired combination where the run has no per-sequence records.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from reportgen.analysis.stats import same_eta
from reportgen.analysis.uncertainty import EtaUncertainty, RunUncertainty
from reportgen.codec import fields_of
from reportgen.load.models import Run, SymmetricFd

Z_95 = 1.959963984540054  # two-sided 5 %
Z_90 = 1.6448536269514722  # one-sided 5 %: the equivalence test's 90 % interval
EQUIVALENCE_MARGIN = 0.2  # |FD − g·v| within 20 % of |g·v| counts as agreement
FD_SE_METHOD = "se_true(η)/η: bound for any correlation of Δ₊ and Δ₋ (se of Δ₋ taken as se_true)"
Verdict = Literal["agrees", "disagrees", "inconclusive", "not measured"]


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


def _half_vhvv(run: Run) -> tuple[float | None, float | None]:
    """½·vHvv and ½·se_vHvv of the run's curvature block."""
    curvature = run.snis.approx.quadratic if run.snis is not None else None
    if curvature is None:
        return None, None
    vhvv, se = curvature.vhvv, curvature.se_vhvv
    return (
        _finite(0.5 * vhvv) if vhvv is not None else None,
        _finite(0.5 * se) if se is not None else None,
    )


def _not_measured(entry_eta: float, gdotv: float | None, run: Run) -> FdRow:
    half, se_half = _half_vhvv(run)
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
        **nothing,
    )


def fd_row(
    run: Run, entry_eta: float, fd: SymmetricFd, uncertainty: RunUncertainty | None
) -> FdRow:
    gdotv = _finite(run.snis.approx.delta_h_per_lr) if run.snis is not None else None
    if not fd.measured:
        return _not_measured(entry_eta, gdotv, run)
    eta = fd.eta
    plus, minus = _finite(fd.delta_plus), _finite(fd.delta_minus)
    even = plus + minus if plus is not None and minus is not None else None
    value = _finite(fd.finite_difference)
    if value is None and plus is not None and minus is not None:
        value = _finite((plus - minus) / (2.0 * eta))
    se_g, se_g_method = gdotv_se(uncertainty, eta)
    row = _row_at(uncertainty, eta)
    se_true = row.se_true if row is not None else None
    se_diff = _ratio(row.se_diff_linear, eta) if row is not None else None
    difference = _finite(value - gdotv) if value is not None and gdotv is not None else None
    half, se_half = _half_vhvv(run)
    return FdRow(
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
        se_difference_method=row.method("se_diff_linear") if row and se_diff else None,
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


__all__ = ["EQUIVALENCE_MARGIN", "FdRow", "fd_row", "fd_rows", "gdotv_se"]
