"""Per-sequence contributions to ΔH_true and its approximations, exactly as the guide defines."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeGuard, TypeVar

import numpy as np

from reportgen.load.models import FloatArray, Normalization, Run, TrueEntry

PER_TOKEN_FORMULA = "true_contrib_i = w_i·h_new_i / Σ_j w_j·T_j − (T_i / Σ_j T_j)·base_entropy"
PER_SEQUENCE_FORMULA = "true_contrib_i = w_i·h_new_i / Σ_j w_j − base_entropy / N"


@dataclass(frozen=True, eq=False)
class EtaContributions:
    """Per-sequence values at one η; arrays are aligned by sequence index."""

    eta: float
    true_contrib: FloatArray
    linear: FloatArray | None
    quad: FloatArray | None
    token_count: FloatArray
    weight: FloatArray
    # the centred decomposition (``centred_contributions``); None without per-sequence h_base
    centred: FloatArray | None = None

    @property
    def linquad(self) -> FloatArray | None:
        if self.linear is None or self.quad is None:
            return None
        return self.linear + self.quad


@dataclass(frozen=True, slots=True)
class EtaSummary:
    """The numbers a run publishes for one η (``None`` where the data has no such value)."""

    eta: float
    delta_h_true: float | None
    delta_h_linear: float | None
    delta_h_linquad: float | None
    sum_true_contrib: float | None
    sum_linear: float | None
    sum_linquad: float | None
    ess: float | None
    ess_fraction: float | None
    clip_fraction: float | None

    @property
    def rel_err_linear(self) -> float | None:
        return relative_error(self.delta_h_linear, self.delta_h_true)

    @property
    def rel_err_linquad(self) -> float | None:
        return relative_error(self.delta_h_linquad, self.delta_h_true)


def relative_error(approx: float | None, true: float | None) -> float | None:
    """(approx − true) / |true|, or ``None`` when undefined."""
    if approx is None or true is None or true == 0 or not math.isfinite(true):
        return None
    value = (approx - true) / abs(true)
    return value if math.isfinite(value) else None


def unnormalized_weights(normalized_weights: FloatArray, weights_sum: float) -> FloatArray:
    """SNIS weights before normalisation (guide, step 1)."""
    return normalized_weights * weights_sum


def true_contributions(
    weights: FloatArray,
    h_new: FloatArray,
    token_counts: FloatArray,
    base_entropy: float,
    per_token: bool = True,
) -> FloatArray:
    """Per-sequence contributions that sum to ΔH_true.

    Per-token (the guide): ΔH = (w·h_new)/(w·T) − H_base, split as in the guide's step 3.
    Per-sequence (the analogue with every T_i = 1): ΔH = (w·h_new)/Σw − H_base.
    """
    with np.errstate(all="ignore"):
        if per_token:
            denominator = float(np.dot(token_counts, weights))
            shares = token_counts / token_counts.sum()
        else:
            denominator = float(weights.sum())
            shares = np.full(weights.shape, 1.0 / max(weights.shape[0], 1))
        result: FloatArray = weights * h_new / denominator - shares * base_entropy
    return result


def centred_contributions(
    true_contrib: FloatArray, h_base: FloatArray, token_counts: FloatArray, per_token: bool = True
) -> FloatArray:
    """``true_contrib`` with each sequence's own base entropy in place of its token share of
    the mean: c_i = w_i·h_new_i/(w·T) − h_base_i/ΣT when base_entropy = Σh_base/ΣT.

    The guide's contributions carry each sequence's share of the base entropy, so their spread
    is mostly entropy heterogeneity; subtracting h_base_i instead leaves the per-sequence change.
    The correction (h_base_i − T_i·H̄)/ΣT sums to zero, so the sum is still ΔH_true exactly.
    """
    with np.errstate(all="ignore"):
        counts = token_counts if per_token else np.ones_like(h_base)
        total = float(counts.sum())
        mean = float(h_base.sum()) / total
        result: FloatArray = true_contrib - (h_base - counts * mean) / total
    return result


def linear_contributions(gdotv: FloatArray, eta: float) -> FloatArray:
    """Per-sequence linear term g·v·η (guide, step 4)."""
    return gdotv * eta


def quadratic_contributions(vhvv: FloatArray, eta: float) -> FloatArray:
    """Per-sequence quadratic correction ½·η²·vHv (guide, step 5)."""
    return 0.5 * (eta * eta) * vhvv  # float ** overflows with an exception, * with inf


def linear_aggregate(delta_h_per_lr: float | None, eta: float) -> float | None:
    return None if delta_h_per_lr is None else delta_h_per_lr * eta


def linquad_aggregate(gdotv: float | None, vhvv: float | None, eta: float) -> float | None:
    if gdotv is None or vhvv is None:
        return None
    return gdotv * eta + 0.5 * vhvv * (eta * eta)


def formula_for(normalization: Normalization) -> str:
    return PER_TOKEN_FORMULA if normalization.true_mode == "per_token" else PER_SEQUENCE_FORMULA


def entry_contributions(
    entry: TrueEntry,
    gdotv: FloatArray | None,
    vhvv: FloatArray | None,
    per_token: bool,
) -> EtaContributions | None:
    """Contributions at one η, or ``None`` when the arrays are missing or misaligned."""
    arrays = (entry.normalized_weights, entry.h_new, entry.token_counts)
    if entry.weights_sum is None or entry.base_entropy is None:
        return None
    weights_n, h_new, tokens = arrays
    if weights_n is None or h_new is None or tokens is None:
        return None
    n = weights_n.shape[0]
    if n == 0 or h_new.shape[0] != n or tokens.shape[0] != n:
        return None
    weights = unnormalized_weights(weights_n, entry.weights_sum)
    contrib = true_contributions(weights, h_new, tokens, entry.base_entropy, per_token)
    linear = linear_contributions(gdotv, entry.eta) if _aligned(gdotv, n) else None
    quad = quadratic_contributions(vhvv, entry.eta) if _aligned(vhvv, n) else None
    centred = (
        centred_contributions(contrib, entry.h_base, tokens, per_token)
        if _aligned(entry.h_base, n)
        else None
    )
    return EtaContributions(entry.eta, contrib, linear, quad, tokens, weights, centred)


def _aligned(values: FloatArray | None, n: int) -> TypeGuard[FloatArray]:
    return values is not None and values.shape[0] == n


def per_sequence_vhvv(run: Run) -> FloatArray | None:
    """Per-sequence curvature: the records' ``vhvv``, else ``quadratic.per_sequence_vhvv``."""
    if run.snis is None:
        return None
    approx = run.snis.approx
    if approx.per_sequence is not None and approx.per_sequence.vhvv is not None:
        return approx.per_sequence.vhvv
    return approx.quadratic.per_sequence_vhvv if approx.quadratic else None


T = TypeVar("T")
EntryBuilder = Callable[[TrueEntry, FloatArray | None, FloatArray | None, bool], T | None]


def per_entry(run: Run, build: EntryBuilder[T]) -> tuple[T, ...]:
    """``build(entry, gdotv, vhvv, per_token)`` for every η of an SNIS run, where it gives one."""
    if run.snis is None:
        return ()
    per_sequence = run.snis.approx.per_sequence
    gdotv = per_sequence.gdotv if per_sequence is not None else None
    vhvv = per_sequence_vhvv(run)
    per_token = run.normalization.true_mode == "per_token"
    found = (build(e, gdotv, vhvv, per_token) for e in run.snis.entries)
    return tuple(c for c in found if c is not None)


def run_contributions(run: Run) -> tuple[EtaContributions, ...]:
    """Contributions for every η of an SNIS run whose arrays line up."""
    return per_entry(run, entry_contributions)


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _recorded(value: float) -> float | None:
    """An η sweep's approximation: it writes exactly 0.0 where it did not compute one."""
    return None if value == 0.0 else _finite_or_none(value)


def _sum(values: FloatArray | None) -> float | None:
    return None if values is None else _finite_or_none(float(values.sum()))


def run_eta_summaries(
    run: Run, contributions: tuple[EtaContributions, ...]
) -> tuple[EtaSummary, ...]:
    """One summary row per η, for SNIS and η-sweep runs."""
    if run.sweep is not None:
        sweep = run.sweep
        return tuple(
            EtaSummary(
                eta=float(eta),
                delta_h_true=_finite_or_none(float(true)),
                delta_h_linear=_recorded(float(lin)),
                delta_h_linquad=_recorded(float(lq)),
                sum_true_contrib=None,
                sum_linear=None,
                sum_linquad=None,
                ess=None,
                ess_fraction=None,
                clip_fraction=None,
            )
            for eta, true, lin, lq in zip(
                sweep.etas,
                sweep.delta_h_true,
                sweep.delta_h_linear,
                sweep.delta_h_linquad,
                strict=True,
            )
        )
    if run.snis is None:
        return ()
    approx = run.snis.approx
    quadratic = approx.quadratic
    by_eta = {c.eta: c for c in contributions}
    rows = []
    for entry in run.snis.entries:
        contrib = by_eta.get(entry.eta)
        n = entry.normalized_weights.shape[0] if entry.normalized_weights is not None else 0
        rows.append(
            EtaSummary(
                eta=entry.eta,
                delta_h_true=_finite_or_none(entry.delta_h_true),
                delta_h_linear=_finite_or_none(linear_aggregate(approx.delta_h_per_lr, entry.eta)),
                delta_h_linquad=_finite_or_none(
                    linquad_aggregate(
                        quadratic.gdotv if quadratic else None,
                        quadratic.vhvv if quadratic else None,
                        entry.eta,
                    )
                ),
                sum_true_contrib=_sum(contrib.true_contrib) if contrib else None,
                sum_linear=_sum(contrib.linear) if contrib else None,
                sum_linquad=_sum(contrib.linquad) if contrib else None,
                ess=_finite_or_none(entry.ess),
                ess_fraction=_finite_or_none(entry.ess / n)
                if entry.ess is not None and n
                else None,
                clip_fraction=_finite_or_none(entry.clip_fraction),
            )
        )
    return tuple(rows)
