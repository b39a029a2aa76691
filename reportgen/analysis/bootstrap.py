"""The paired bootstrap of a run: its per-sequence columns, resampled jointly at every η.

One matrix of resampling weights per run (``counts.BootstrapCounts``, shared by the runs of one
n), the same at every η, times the per-sequence columns in memory-bounded chunks
(``resample.weighted_sums``): every statistic of a resample (ΔH_true with its re-estimated
baseline, the approximations, their ratios) comes from the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

import numpy as np

from reportgen.analysis.contributions import (
    linear_contributions,
    per_entry,
    quadratic_contributions,
    unnormalized_weights,
)
from reportgen.analysis.counts import BootstrapCounts
from reportgen.analysis.delta import PairedColumns
from reportgen.analysis.order_stats import distinct_count
from reportgen.analysis.resample import CI_LEVEL, Interval, percentile_interval, weighted_sums
from reportgen.load.models import FloatArray, Run, TrueEntry

# --- columns of a run ------------------------------------------------------------------------


def _finite(values: FloatArray | None, n: int) -> TypeGuard[FloatArray]:
    return values is not None and values.shape[0] == n and bool(np.isfinite(values).all())


def paired_columns(run: Run) -> tuple[PairedColumns, ...]:
    """Every SNIS η whose ground-truth arrays are present, finite and aligned."""
    return per_entry(run, _entry_columns)


def _entry_columns(
    entry: TrueEntry, gdotv: FloatArray | None, vhvv: FloatArray | None, per_token: bool
) -> PairedColumns | None:
    weights_n, h_new, tokens = entry.normalized_weights, entry.h_new, entry.token_counts
    if weights_n is None or entry.weights_sum is None or entry.base_entropy is None:
        return None
    n = weights_n.shape[0]
    if n < 2 or not (_finite(weights_n, n) and _finite(h_new, n)) or not math.isfinite(entry.eta):
        return None
    assert h_new is not None
    if per_token and not _finite(tokens, n):
        return None
    units = tokens if per_token and tokens is not None else np.ones(n, dtype=np.float64)
    h_base = entry.h_base if _finite(entry.h_base, n) else None
    linear = linear_contributions(gdotv, entry.eta) if _finite(gdotv, n) else None
    linquad = None
    if linear is not None and vhvv is not None and _finite(vhvv, n):
        linquad = linear + quadratic_contributions(vhvv, entry.eta)
    weights = unnormalized_weights(weights_n, entry.weights_sum)
    return PairedColumns(
        entry.eta, weights, h_new, h_base, units, entry.base_entropy, linear, linquad
    )


# --- bootstrap -------------------------------------------------------------------------------

# per η, the columns whose resampled sums give every statistic
_SUMS = ("w_h_new", "w_units", "h_base", "units", "linear", "linquad")


def _stack(columns: Sequence[PairedColumns]) -> FloatArray:
    """(n, 6·E) matrix of the sums' columns; an absent array is a column of zeros (unused)."""
    n = columns[0].n
    zeros = np.zeros(n, dtype=np.float64)
    parts = []
    for c in columns:
        parts += [
            c.weight * c.h_new,
            c.weight * c.units,
            c.h_base if c.h_base is not None else zeros,
            c.units,
            c.linear if c.linear is not None else zeros,
            c.linquad if c.linquad is not None else zeros,
        ]
    return np.column_stack(parts)


def _distinct_columns(matrix: FloatArray) -> tuple[FloatArray, list[int]]:
    """The bit-identical columns of ``matrix`` once each, and where each column went.

    Keyed by bytes: ``np.unique(axis=1)`` sorts whole columns, which cost more than the bootstrap's
    matrix product.
    """
    position: dict[bytes, int] = {}
    first: list[int] = []
    inverse: list[int] = []
    for j, column in enumerate(matrix.T):  # 6 columns per η, not sequences
        p = position.setdefault(column.tobytes(), len(position))
        if p == len(first):
            first.append(j)
        inverse.append(p)
    return matrix[:, first], inverse


def _true_draws(sums: FloatArray, columns: Sequence[PairedColumns]) -> FloatArray:
    """(draws, E) resampled ΔH_true, with the baseline re-estimated where the run does so."""
    k = len(_SUMS)
    out = np.empty((sums.shape[0], len(columns)), dtype=np.float64)
    with np.errstate(all="ignore"):
        for j, c in enumerate(columns):  # per η, not per sequence
            s = sums[:, j * k : (j + 1) * k]
            baseline = s[:, 2] / s[:, 3] if c.baseline_reestimated else c.base_entropy
            out[:, j] = s[:, 0] / s[:, 1] - baseline
    return out


# η per product: the products' shapes (and so the sums' last bits) depend on the run alone
ETA_GROUP = 8


@dataclass(frozen=True, eq=False)
class BootstrapDraws:
    """A run's resampled statistics: rows are resamples, columns the run's η (same rows at all)."""

    etas: tuple[float, ...]
    true: FloatArray
    linear: FloatArray | None
    linquad: FloatArray | None


def usable(columns: Sequence[PairedColumns], counts: BootstrapCounts) -> bool:
    """Whether ``counts`` can resample ``columns``: some η, one n (the counts'), 2+ resamples."""
    return bool(columns) and counts.draws >= 2 and {c.n for c in columns} == {counts.n}


def eta_groups(columns: Sequence[PairedColumns]) -> list[list[PairedColumns]]:
    """The columns by increasing η, ``ETA_GROUP`` at a time: one product each."""
    ordered = sorted(columns, key=lambda c: c.eta)
    return [ordered[i : i + ETA_GROUP] for i in range(0, len(ordered), ETA_GROUP)]


def group_draws(columns: Sequence[PairedColumns], counts: BootstrapCounts) -> BootstrapDraws:
    """The resampled statistics of one group of η, from one product per block of counts."""
    # columns repeated across η (h_base, T, absent arrays) are resampled once
    distinct, inverse = _distinct_columns(_stack(columns))
    sums = weighted_sums(distinct, counts.blocks(), counts.draws)[:, inverse]
    k = len(_SUMS)
    has_linear = all(c.linear is not None for c in columns)
    has_linquad = all(c.linquad is not None for c in columns)
    return BootstrapDraws(
        etas=tuple(c.eta for c in columns),
        true=_true_draws(sums, columns),
        linear=sums[:, 4::k] if has_linear else None,
        linquad=sums[:, 5::k] if has_linquad else None,
    )


def bootstrap_draws(
    columns: Sequence[PairedColumns], counts: BootstrapCounts
) -> BootstrapDraws | None:
    """Every η's resamples at once, η by increasing η (draws × η of each statistic in memory;
    ``bootstrap_stream`` holds one group at a time and gives the same numbers)."""
    if not usable(columns, counts):
        return None
    groups = [group_draws(group, counts) for group in eta_groups(columns)]

    def joined(parts: list[FloatArray | None]) -> FloatArray | None:
        return None if any(p is None for p in parts) else np.hstack(parts)  # type: ignore[arg-type]

    return BootstrapDraws(
        etas=tuple(e for g in groups for e in g.etas),
        true=np.hstack([g.true for g in groups]),
        linear=joined([g.linear for g in groups]),
        linquad=joined([g.linquad for g in groups]),
    )


class SlopeSums:
    """Per resample, the least-squares slopes of ΔH_true on η and of log|ΔH_true| on log η,
    summed η by η in increasing η (the same bits however the η are grouped)."""

    def __init__(self, etas: Sequence[float], draws: int) -> None:
        x = np.asarray(sorted(etas), dtype=np.float64)
        self.dx = dict(zip(x.tolist(), (x - x.mean()).tolist(), strict=True))
        self.sxx = float((x - x.mean()) @ (x - x.mean()))
        self.positive = bool(np.all(x > 0))
        logx = np.log(x) if self.positive else x
        self.dlog = dict(zip(x.tolist(), (logx - logx.mean()).tolist(), strict=True))
        self.slog = float((logx - logx.mean()) @ (logx - logx.mean()))
        self.linear = np.zeros(draws, dtype=np.float64)
        self.loglog = np.zeros(draws, dtype=np.float64)
        self.ok = np.ones(draws, dtype=np.bool_)

    def add(self, eta: float, true: FloatArray) -> None:
        """Add one η's resampled ΔH_true (η in increasing order, each once)."""
        if eta not in self.dx:
            return
        self.linear += true * self.dx[eta]
        if self.positive:
            with np.errstate(all="ignore"):
                logs = np.log(np.abs(true))
            self.ok &= np.isfinite(logs)
            self.loglog += logs * self.dlog[eta]

    def intervals(self, level: float = CI_LEVEL) -> tuple[Interval | None, Interval | None]:
        """(log-log, linear) percentile intervals; log-log ``None`` if over 1 % of resamples
        have a zero ΔH_true at some η (they have no log-log slope and are left out)."""
        if len(self.dx) < 2:
            return None, None
        with np.errstate(all="ignore"):
            linear = percentile_interval((self.linear / self.sxx)[:, None], level)[0]
            loglog = None
            if self.positive and self.ok.mean() >= 0.99:
                slopes = self.loglog[self.ok] / self.slog
                loglog = percentile_interval(slopes[:, None], level)[0]
        return loglog, linear


def slope_intervals(
    etas: FloatArray, true_draws: FloatArray, level: float = CI_LEVEL
) -> tuple[Interval | None, Interval | None]:
    """Bootstrap intervals of the log-log slope (log|ΔH_true| on log η) and of the linear slope
    (ΔH_true on η), as ``fits.fit_run`` fits them, from the same resamples at every η.

    A resample with a zero ΔH_true at some η has no log-log slope and is left out of that
    interval (the log-log interval is ``None`` if more than 1 % of resamples are left out).
    """
    if etas.shape[0] < 2 or distinct_count(etas) < 2:
        return None, None
    sums = SlopeSums(etas.tolist(), true_draws.shape[0])
    for j in np.argsort(etas, kind="stable").tolist():
        sums.add(float(etas[j]), true_draws[:, j])
    return sums.intervals(level)


def eta_intervals(draws: BootstrapDraws | None) -> dict[float, dict[str, Interval | None]]:
    """η → {statistic: percentile interval} from the run's resamples."""
    if draws is None:
        return {}
    stats: dict[str, FloatArray] = {"true": draws.true}
    if draws.linear is not None:
        stats["linear"] = draws.linear
        stats["diff_linear"] = draws.linear - draws.true
    if draws.linquad is not None:
        stats["linquad"] = draws.linquad
        stats["diff_linquad"] = draws.linquad - draws.true
    names = list(stats)
    bounds = percentile_interval(np.hstack([stats[name] for name in names]))  # one partition
    count = len(draws.etas)
    return {
        eta: {name: bounds[i * count + j] for i, name in enumerate(names)}
        for j, eta in enumerate(draws.etas)
    }


def ratio_intervals(draws: BootstrapDraws | None) -> dict[float, dict[str, Interval | None]]:
    """η → {"ratio_linear", "ratio_linquad": percentile interval of approx/true} over the same
    resamples (a resample with ΔH_true = 0 has an infinite ratio and lies in a tail)."""
    if draws is None:
        return {}
    stats: dict[str, FloatArray] = {}
    with np.errstate(all="ignore"):
        if draws.linear is not None:
            stats["ratio_linear"] = draws.linear / draws.true
        if draws.linquad is not None:
            stats["ratio_linquad"] = draws.linquad / draws.true
    if not stats:
        return {}
    names = list(stats)
    bounds = percentile_interval(np.hstack([stats[name] for name in names]))
    count = len(draws.etas)
    return {
        eta: {name: bounds[i * count + j] for i, name in enumerate(names)}
        for j, eta in enumerate(draws.etas)
    }
