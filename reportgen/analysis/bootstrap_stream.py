"""A run's bootstrap intervals, one group of η at a time, in memory bounded by the group.

The resampled sums of ``ETA_GROUP`` η are reduced to their intervals before the next group is
drawn; across groups only the slopes' per-resample sums and, for ΔH_true(2η)/ΔH_true(η), the
resampled ΔH_true of an η still waiting for its partner are kept. The numbers are those of
``bootstrap_draws`` (same products, same slope summation order).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from reportgen.analysis.bootstrap import (
    BootstrapDraws,
    SlopeSums,
    eta_groups,
    eta_intervals,
    group_draws,
    ratio_intervals,
    usable,
)
from reportgen.analysis.counts import BootstrapCounts
from reportgen.analysis.delta import PairedColumns
from reportgen.analysis.resample import Interval, percentile_interval
from reportgen.load.models import FloatArray

Pair = tuple[float, float]  # (η, 2η)


@dataclass(frozen=True)
class BootstrapIntervals:
    """Every percentile interval of a run's bootstrap."""

    per_eta: Mapping[float, Mapping[str, Interval | None]]
    loglog_slope: Interval | None
    linear_slope: Interval | None
    doublings: Mapping[Pair, Interval | None]


def doubling_interval(low: FloatArray, high: FloatArray) -> Interval | None:
    """Percentile interval of ΔH_true(2η)/ΔH_true(η) over the same resamples."""
    with np.errstate(all="ignore"):
        return percentile_interval((high / low)[:, None])[0]


class _Doublings:
    """Resampled ΔH_true of the η in a wanted pair, kept until the pair's interval is taken."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        self.wanted = list(dict.fromkeys(pairs))
        self.held: dict[float, FloatArray] = {}
        self.found: dict[Pair, Interval | None] = {}

    def add(self, draws: BootstrapDraws) -> None:
        needed = {eta for pair in self.wanted for eta in pair}
        for j, eta in enumerate(draws.etas):
            if eta in needed:
                self.held[eta] = draws.true[:, j].copy()  # not a view of the group's sums
        for pair in [p for p in self.wanted if p[0] in self.held and p[1] in self.held]:
            self.found[pair] = doubling_interval(self.held[pair[0]], self.held[pair[1]])
            self.wanted.remove(pair)
        still = {eta for pair in self.wanted for eta in pair}
        self.held = {eta: v for eta, v in self.held.items() if eta in still}


def bootstrap_intervals(
    columns: Sequence[PairedColumns],
    counts: BootstrapCounts,
    fit_etas: Sequence[float] = (),
    pairs: Sequence[Pair] = (),
) -> BootstrapIntervals | None:
    """Per-η intervals of every statistic, the slopes' over ``fit_etas`` (when every one of
    them has columns) and the doubling ratios' of ``pairs``."""
    if not usable(columns, counts):
        return None
    etas = {c.eta for c in columns}
    slopes = SlopeSums(fit_etas, counts.draws) if fit_etas and set(fit_etas) <= etas else None
    doubling = _Doublings([p for p in pairs if p[0] in etas and p[1] in etas])
    per_eta: dict[float, dict[str, Interval | None]] = {}
    for group in eta_groups(columns):
        draws = group_draws(group, counts)
        per_eta.update(eta_intervals(draws))
        for eta, ratios in ratio_intervals(draws).items():
            per_eta.setdefault(eta, {}).update(ratios)
        if slopes is not None:
            for j, eta in enumerate(draws.etas):
                slopes.add(eta, draws.true[:, j])
        doubling.add(draws)
    loglog, linear = slopes.intervals() if slopes is not None else (None, None)
    return BootstrapIntervals(per_eta, loglog, linear, doubling.found)
