"""ΔH_true(2η)/ΔH_true(η): how the truth scales when η doubles, with its paired uncertainty."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.delta import PairedColumns, influence_se, true_influence
from reportgen.analysis.resample import Interval


def _num(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _pair(value: Sequence[float] | None) -> Interval | None:
    return None if value is None else (float(value[0]), float(value[1]))


def _interval(value: Interval | None) -> list[float] | None:
    return None if value is None else [value[0], value[1]]


@dataclass(frozen=True, slots=True)
class Doubling:
    """ΔH_true(2η)/ΔH_true(η) (2 in the linear regime, 4 where the quadratic term dominates).

    ``se`` is the delta-method SE over sequences, paired across the two η (influence
    ``(u_2η − r·u_η)/ΔH_true(η)``); ``ci95`` the percentile interval of the ratio over the run's
    bootstrap resamples (the same resamples at both η).
    """

    eta: float
    ratio: float | None
    se: float | None
    ci95: Interval | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "eta": self.eta,
            "eta2": 2.0 * self.eta,
            "ratio": self.ratio,
            "se": self.se,
            "ci95": _interval(self.ci95),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Doubling:
        def value(name: str) -> float | None:
            item = data.get(name)
            return None if item is None else float(item)

        return cls(float(data["eta"]), value("ratio"), value("se"), _pair(data.get("ci95")))


def _doubled(a: float, b: float) -> bool:
    return math.isclose(b, 2.0 * a, rel_tol=1e-9)


def doubling_pairs(summaries: Sequence[EtaSummary]) -> tuple[tuple[float, float], ...]:
    """(η, 2η) for every η of the run whose double is also measured."""
    pairs = []
    for low in summaries:
        high = next((s for s in summaries if _doubled(low.eta, s.eta)), None)
        if high is not None:
            pairs.append((low.eta, high.eta))
    return tuple(pairs)


def doublings(
    summaries: Sequence[EtaSummary],
    columns: Mapping[float, PairedColumns],
    intervals: Mapping[tuple[float, float], Interval | None],
) -> tuple[Doubling, ...]:
    """Every η of the run whose double 2η is also measured, with the bootstrap's ``intervals``
    of the ratio where it has one."""
    out = []
    for low in summaries:
        high = next((s for s in summaries if _doubled(low.eta, s.eta)), None)
        if high is None:
            continue
        t1, t2 = _num(low.delta_h_true), _num(high.delta_h_true)
        ratio = _num(t2 / t1) if t1 is not None and t2 is not None and t1 != 0 else None
        se = None
        c1, c2 = columns.get(low.eta), columns.get(high.eta)
        paired = c1 is not None and c2 is not None and c1.n == c2.n
        if ratio is not None and t1 is not None and paired and c1 is not None and c2 is not None:
            se = influence_se((true_influence(c2) - ratio * true_influence(c1)) / t1)
        interval = intervals.get((low.eta, high.eta)) if ratio is not None else None
        out.append(Doubling(low.eta, ratio, se, interval))
    return tuple(out)
