"""Kernel quantities against sequence metrics: the file's Pearson correlations recomputed, with
Spearman's beside them, each with its 95 % interval, and fields named "entropy" that are minus
the log-probability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from reportgen.kinds.common import FloatArray
from reportgen.kinds.fisher.model import Correlation, FisherRun, Split
from reportgen.kinds.sample_stats import correlation_interval, pearson, spearman

# a magnitude disagreement must also be material: |r| and |ρ| at least this far apart (with a
# binary metric ρ cannot exceed about 0.87 while r can, so a narrow gap is no disagreement)
MAGNITUDE_GAP = 0.3
PEARSON_ATOL = 1e-4  # the file's Pearson r against ours (float32 kernels move r by ~1e-7)
SURPRISAL_RTOL = 1e-6
QUANTITIES = {
    "self_influence": "K_aa (the sequence's squared gradient norm)",
    "diag": "K_aa (the sequence's squared gradient norm)",
    "row_abs_sum": "Σ_b |K_ab|",
    "row_sum": "Σ_b K_ab",
    "influence": "the influence file's value (K · advantages)",
}
LOGPROB_NAMES = ("logprob", "log_prob", "logprob_sum", "sum_logprob", "log_probability")
Disagreement = Literal["sign", "magnitude"]


@dataclass(frozen=True)
class CorrelationRow:
    split: str
    quantity: str
    metric: str
    pearson_file: float | None
    pearson: float | None  # recomputed from the arrays (None: cannot be)
    spearman: float | None
    n: int
    disagreement: Disagreement | None  # Pearson against Spearman
    file_mismatch: bool  # the file's Pearson is not ours to PEARSON_ATOL
    note: str  # why a value could not be recomputed ("" otherwise)
    pearson_low: float | None = None  # 95 % interval (Fisher z)
    pearson_high: float | None = None
    spearman_low: float | None = None  # 95 % interval (Fisher z, Bonett & Wright's variance)
    spearman_high: float | None = None


def quantity_values(split: Split, name: str) -> FloatArray | None:
    kernel = split.kernel
    if name == "influence":
        return split.influence
    if kernel is None:
        return None
    if name in ("self_influence", "diag"):
        return np.diag(kernel).copy() if kernel.shape[0] == kernel.shape[1] else None
    sums: FloatArray | None = None
    if name == "row_abs_sum":
        sums = np.abs(kernel).sum(axis=1)
    elif name == "row_sum":
        sums = kernel.sum(axis=1)
    return sums


def metric_values(split: Split, name: str) -> FloatArray | None:
    columns = dict(split.metrics)
    if name in columns:
        return columns[name]
    if not split.sequences:
        return None
    if name in ("reward", "advantage", "logprob"):
        values = [getattr(s, name) for s in split.sequences]
    else:
        values = [dict(s.diagnostics).get(name) for s in split.sequences]
    if all(v is None for v in values):
        return None
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def intervals(
    r: float | None, rho: float | None, n: int
) -> tuple[tuple[float | None, float | None], tuple[float | None, float | None]]:
    """The 95 % intervals of Pearson's r and Spearman's ρ over n pairs (Fisher z; ρ's variance
    (1 + ρ²/2)/(n − 3), Bonett & Wright 2000)."""
    factor = 1.0 + (rho or 0.0) ** 2 / 2
    return correlation_interval(r, n), correlation_interval(rho, n, factor)


def disagreement(r: float | None, rho: float | None, n: int) -> Disagreement | None:
    """Sign: the 95 % intervals of r and ρ lie on opposite sides of 0; magnitude: they do not
    overlap and ||r| − |ρ|| ≥ 0.3. (Non-overlap is conservative: overlapping intervals may
    still differ, so no call is not agreement.)"""
    (r_low, r_high), (s_low, s_high) = intervals(r, rho, n)
    if None in (r, rho, r_low, r_high, s_low, s_high):
        return None
    assert r is not None and rho is not None and r_low is not None and r_high is not None
    assert s_low is not None and s_high is not None
    if (r_low > 0 > s_high) or (r_high < 0 < s_low):
        return "sign"
    apart = r_high < s_low or s_high < r_low
    return "magnitude" if apart and abs(abs(r) - abs(rho)) >= MAGNITUDE_GAP else None


def correlation_rows(run: FisherRun) -> tuple[CorrelationRow, ...]:
    return tuple(_row(split, c) for split in run.splits for c in split.correlations)


def _row(split: Split, c: Correlation) -> CorrelationRow:
    x = quantity_values(split, c.quantity)
    y = metric_values(split, c.metric)

    def unrecomputed(note: str) -> CorrelationRow:
        return CorrelationRow(
            split.name, c.quantity, c.metric, c.pearson, None, None, 0, None, False, note
        )

    if x is None:
        return unrecomputed(f"kernel quantity {c.quantity!r} is not one reportgen can recompute")
    if y is None:
        return unrecomputed(f"metric {c.metric!r} is in no metrics or sequences file")
    if x.shape != y.shape:
        return unrecomputed(f"{c.quantity} has {x.size} values, {c.metric} {y.size}")
    r, rho = pearson(x, y), spearman(x, y)
    mismatch = r is not None and c.pearson is not None and abs(r - c.pearson) > PEARSON_ATOL
    count = int(np.sum(np.isfinite(x) & np.isfinite(y)))
    (r_low, r_high), (s_low, s_high) = intervals(r, rho, count)
    return CorrelationRow(
        split.name, c.quantity, c.metric, c.pearson, r, rho, count,
        disagreement(r, rho, count), mismatch, "", r_low, r_high, s_low, s_high,
    )  # fmt: skip


@dataclass(frozen=True)
class SurprisalNote:
    """A field named like an entropy that equals minus the log-probability, sequence by sequence."""

    split: str
    entropy_field: str
    logprob_field: str
    count: int


def _candidates(split: Split) -> tuple[list[tuple[str, FloatArray]], list[tuple[str, FloatArray]]]:
    entropies = [(f"metrics.{k}", v) for k, v in split.metrics if "entropy" in k.lower()]
    logprobs = [(f"metrics.{k}", v) for k, v in split.metrics if k.lower() in LOGPROB_NAMES]
    keys = {k for s in split.sequences for k, _ in s.diagnostics if "entropy" in k.lower()}
    for key in sorted(keys):
        values = metric_values(split, key)
        if values is not None:
            entropies.append((f"extra.sequence_diagnostics.{key}", values))
    sequence_logprob = metric_values(split, "logprob") if split.sequences else None
    if sequence_logprob is not None and not any(k == "metrics.logprob" for k, _ in logprobs):
        logprobs.append(("sequences.logprob", sequence_logprob))
    return entropies, logprobs


def surprisal_notes(run: FisherRun) -> tuple[SurprisalNote, ...]:
    notes = []
    for split in run.splits:
        entropies, logprobs = _candidates(split)
        for e_name, e in entropies:
            for l_name, lp in logprobs:
                if e.shape != lp.shape:
                    continue
                both = np.isfinite(e) & np.isfinite(lp)
                scale = np.maximum(np.abs(e), np.abs(lp))
                if both.any() and np.all(
                    np.abs(e[both] + lp[both]) <= SURPRISAL_RTOL * scale[both] + 1e-12
                ):
                    notes.append(SurprisalNote(split.name, e_name, l_name, int(both.sum())))
                    break
    return tuple(notes)
