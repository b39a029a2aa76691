"""How much ΔH totals depend on the sequences with the largest linear contributions."""

from __future__ import annotations

import math
from array import array
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from reportgen.analysis import order_stats
from reportgen.analysis.contributions import EtaContributions
from reportgen.analysis.stats import Spread, eta_grid, grid_matches, num, spread
from reportgen.load.models import FloatArray, IntArray

TAIL_QUANTILES = (1.0, 0.999, 0.99, 0.95, 0.9)

Mode = Literal["truncated", "clipped"]
MODES: tuple[Mode, ...] = ("truncated", "clipped")


@dataclass(frozen=True, slots=True)
class TailRow:
    """Totals after treating the sequences beyond one quantile of |linear|.

    ``kept`` counts sequences with |linear| ≤ ``threshold`` (the q-quantile of |linear|): the
    ones kept by truncation, or left unchanged by clipping. ``linquad_threshold`` is the
    q-quantile of |lin+quad| used to clip lin+quad (``None`` for truncation).
    """

    quantile: float
    kept: int
    threshold: float | None
    true_total: float | None
    linear_total: float | None
    linquad_total: float | None
    linquad_threshold: float | None = None

    @property
    def ratio(self) -> float | None:
        return _ratio(self.linear_total, self.true_total)

    @property
    def linquad_ratio(self) -> float | None:
        return _ratio(self.linquad_total, self.true_total)

    def to_json(self) -> dict[str, Any]:
        return {
            "quantile": self.quantile,
            "kept": self.kept,
            "threshold": self.threshold,
            "true_total": self.true_total,
            "linear_total": self.linear_total,
            "linquad_total": self.linquad_total,
            "linquad_threshold": self.linquad_threshold,
            "ratio": self.ratio,
            "linquad_ratio": self.linquad_ratio,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TailRow:
        return cls(
            quantile=float(data["quantile"]),
            kept=int(data["kept"]),
            threshold=num(data.get("threshold")),
            true_total=num(data.get("true_total")),
            linear_total=num(data.get("linear_total")),
            linquad_total=num(data.get("linquad_total")),
            linquad_threshold=num(data.get("linquad_threshold")),
        )


def _ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or not bottom:
        return None
    return num(top / bottom)


@dataclass(frozen=True, slots=True)
class TailSensitivity:
    """Truncated and clipped totals at one η, one row per quantile; ``reason`` when impossible.

    Truncation drops the sequences with |linear| above the threshold from all three totals.
    Clipping winsorises the approximations only: linear to ±(q-quantile of |linear|), lin+quad
    to ±(q-quantile of |lin+quad|), while the true total stays as measured. The guide's
    true_contrib carries each sequence's T_i/T·H_base share, so its values live on a scale of
    their own; clipping them at the linear threshold would report the clipping, not the tails.
    """

    eta: float
    n: int
    truncated: tuple[TailRow, ...]
    clipped: tuple[TailRow, ...]
    reason: str | None = None
    # truncated Σ true sums the centred contributions (each sequence's own change): comparable
    # with Σ linear; else the guide's true_contrib, whose base-entropy shares a subset's sum
    # keeps or drops with its sequences, so a truncated ratio (q < 1) compares nothing
    centred: bool = False

    def rows(self, mode: Mode) -> tuple[TailRow, ...]:
        return self.truncated if mode == "truncated" else self.clipped

    def to_json(self) -> dict[str, Any]:
        return {
            "eta": self.eta,
            "n": self.n,
            "truncated": [r.to_json() for r in self.truncated],
            "clipped": [r.to_json() for r in self.clipped],
            "reason": self.reason,
            "centred": self.centred,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TailSensitivity:
        """Rebuild from ``to_json`` (cached run summaries feed the group pages)."""
        return cls(
            eta=float(data["eta"]),
            n=int(data["n"]),
            truncated=tuple(TailRow.from_json(r) for r in data.get("truncated") or ()),
            clipped=tuple(TailRow.from_json(r) for r in data.get("clipped") or ()),
            reason=data.get("reason"),
            centred=bool(data.get("centred", False)),
        )


def tail_sensitivity(
    contrib: EtaContributions, quantiles: Sequence[float] = TAIL_QUANTILES
) -> TailSensitivity:
    """Totals when the largest |linear| contributions are truncated or clipped, per quantile."""
    if contrib.linear is None:
        n = int(contrib.true_contrib.shape[0])
        return TailSensitivity(contrib.eta, n, (), (), reason="no linear contributions")
    # sequences with a non-finite linear or true value cannot be ranked or summed
    change = contrib.centred if contrib.centred is not None else contrib.true_contrib
    finite = np.isfinite(contrib.linear) & np.isfinite(contrib.true_contrib) & np.isfinite(change)
    linear, true = contrib.linear[finite], contrib.true_contrib[finite]
    linquad = contrib.linquad[finite] if contrib.linquad is not None else None
    if linear.size == 0:
        return TailSensitivity(contrib.eta, 0, (), (), reason="no finite contributions")
    qs = np.asarray(quantiles, dtype=np.float64)
    thresholds = order_stats.quantiles(np.abs(linear), qs)
    keep = (np.abs(linear)[None, :] <= thresholds[:, None]).astype(np.float64)
    kept = keep.sum(axis=1).astype(np.int64)
    lq_totals = keep @ linquad if linquad is not None else None
    truncated = _rows(qs, kept, thresholds, keep @ change[finite], keep @ linear, lq_totals, None)
    true_totals = np.full(qs.shape, true.sum())
    clipped_linear = _clipped_totals(linear, thresholds)
    lq_thresholds = lq_clipped = None
    if linquad is not None:
        lq_thresholds = order_stats.quantiles(np.abs(linquad), qs)
        lq_clipped = _clipped_totals(linquad, lq_thresholds)
    clipped = _rows(qs, kept, thresholds, true_totals, clipped_linear, lq_clipped, lq_thresholds)
    centred = contrib.centred is not None
    return TailSensitivity(contrib.eta, int(linear.size), truncated, clipped, centred=centred)


def _clipped_totals(values: FloatArray, thresholds: FloatArray) -> FloatArray:
    limits = thresholds[:, None]
    clipped: FloatArray = np.clip(values[None, :], -limits, limits).sum(axis=1)
    return clipped


def _rows(
    qs: FloatArray,
    kept: IntArray,
    thresholds: FloatArray,
    true: FloatArray,
    linear: FloatArray,
    linquad: FloatArray | None,
    linquad_thresholds: FloatArray | None,
) -> tuple[TailRow, ...]:
    return tuple(
        TailRow(
            quantile=float(qs[i]),
            kept=int(kept[i]),
            threshold=num(thresholds[i]),
            true_total=num(true[i]),
            linear_total=num(linear[i]),
            linquad_total=num(linquad[i]) if linquad is not None else None,
            linquad_threshold=num(linquad_thresholds[i])
            if linquad_thresholds is not None
            else None,
        )
        for i in range(qs.shape[0])
    )


def run_tail_sensitivities(
    contributions: Sequence[EtaContributions], quantiles: Sequence[float] = TAIL_QUANTILES
) -> tuple[TailSensitivity, ...]:
    return tuple(tail_sensitivity(c, quantiles) for c in contributions)


@dataclass(frozen=True)
class TailGroupRow:
    """The ratio linear/true (and lin+quad/true) at one mode, η and quantile, across runs.

    ``ratio`` and ``linquad_ratio`` spread every run's ratio (0.1's fields, kept as they were);
    the ``resolved_*`` spreads only the runs whose ΔH_true is resolved from zero at that η
    (|ΔH_true| > 2·se_true): elsewhere the ratio divides by noise. ``n_unresolved`` counts the
    runs left out as not resolved, ``n_no_se`` those without se_true to judge by.
    """

    mode: Mode
    eta: float
    quantile: float
    ratio: Spread
    linquad_ratio: Spread
    run_ids: tuple[str, ...]
    resolved_ratio: Spread
    resolved_linquad_ratio: Spread
    resolved_run_ids: tuple[str, ...]
    n_unresolved: int
    n_no_se: int
    n_not_comparable: int = 0  # truncated without centred contributions (``TailSensitivity``)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "eta": self.eta,
            "quantile": self.quantile,
            "ratio_mean": self.ratio.mean,
            "ratio_min": self.ratio.min,
            "ratio_max": self.ratio.max,
            "ratio_std": self.ratio.std,
            "ratio_median": self.ratio.median,
            "linquad_ratio_mean": self.linquad_ratio.mean,
            "linquad_ratio_min": self.linquad_ratio.min,
            "linquad_ratio_max": self.linquad_ratio.max,
            "n_runs": self.ratio.n,
            "run_ids": list(self.run_ids),
            **_resolved_json("resolved_ratio", self.resolved_ratio),
            **_resolved_json("resolved_linquad_ratio", self.resolved_linquad_ratio),
            "n_resolved": self.resolved_ratio.n,
            "n_unresolved": self.n_unresolved,
            "n_no_se": self.n_no_se,
            "n_not_comparable": self.n_not_comparable,
            "resolved_run_ids": list(self.resolved_run_ids),
        }


def _resolved_json(prefix: str, s: Spread) -> dict[str, Any]:
    """A resolved spread's fields: the mean with its SE across runs, then the descriptive ones."""
    values = (s.mean, s.se_mean, s.std, s.median, s.min, s.max)
    names = ("mean", "se_mean", "std", "median", "min", "max")
    return {f"{prefix}_{name}": value for name, value in zip(names, values, strict=True)}


Resolution = Mapping[str, bool | None]
"""Run id → whether its ΔH_true is resolved from zero at the η of its tails (``None``: no SE)."""


def group_tail_summary(
    runs: Collection[tuple[str, TailSensitivity]], resolution: Resolution | None = None
) -> tuple[TailGroupRow, ...]:
    """Per mode, η and quantile: the ratio's spread over the runs (one entry per run·η), and over
    those whose ΔH_true is resolved there (``resolution``; a run it lacks has no SE to judge)."""
    return TailTable(runs).rows(resolution or {})


@dataclass
class _Ratios:
    """The runs' ratios at one mode, η and quantile, in the runs' order (NaN: no ratio)."""

    run_ids: list[str] = field(default_factory=list)
    linear: array[float] = field(default_factory=lambda: array("d"))
    linquad: array[float] = field(default_factory=lambda: array("d"))


# one run's tails as numbers: its η, the quantiles of its truncated rows, whether its
# contributions are centred, and per row with a quantile (mode, quantile, linear, linquad ratios)
_RunRatios = tuple[float, tuple[float, ...], bool, tuple[tuple[Mode, float, float, float], ...]]


class TailTable:
    """Every run's tail ratios, as numbers: a group's rows, and those of any set of its runs,
    without reading the runs again."""

    def __init__(self, runs: Collection[tuple[str, TailSensitivity]]) -> None:
        # ``runs`` may read each run anew: a pass keeps numbers only (a run may have several η)
        self._runs = [(run_id, _run_ratios(t)) for run_id, t in runs]

    def rows(
        self, resolution: Resolution, run_ids: Collection[str] | None = None
    ) -> tuple[TailGroupRow, ...]:
        """The rows of ``run_ids`` (every run's when ``None``), as ``group_tail_summary``."""
        wanted = None if run_ids is None else set(run_ids)
        runs = [(r, ratios) for r, ratios in self._runs if wanted is None or r in wanted]
        grid = eta_grid(eta for _, (eta, *_) in runs)
        found = _ratios_by_row(runs, grid)
        ordered = sorted({q for _, (_, qs, *_) in runs for q in qs}, reverse=True)
        uncentred = frozenset(r for r, (_, _, centred, _) in runs if not centred)
        none: frozenset[str] = frozenset()
        result = []
        for mode in MODES:
            for index, eta in enumerate(grid):
                for q in ordered:
                    if bucket := found.get((mode, index, q)):
                        # a truncated subset of a run without centred contributions compares
                        # nothing
                        apart = uncentred if mode == "truncated" and q < 1 else none
                        result.append(_group_row(mode, eta, q, bucket, resolution, apart))
        return tuple(result)


def _run_ratios(t: TailSensitivity) -> _RunRatios:
    rows = tuple(
        (mode, row.quantile, _nan_for_none(row.ratio), _nan_for_none(row.linquad_ratio))
        for mode in MODES
        for row in t.rows(mode)
        if row.quantile == row.quantile  # no NaN quantile: it equals nothing, not even itself
    )
    return t.eta, tuple(r.quantile for r in t.truncated), t.centred, rows


def _nan_for_none(value: float | None) -> float:
    return math.nan if value is None else value


def _ratios_by_row(
    runs: Sequence[tuple[str, _RunRatios]], grid: tuple[float, ...]
) -> dict[tuple[Mode, int, float], _Ratios]:
    """Every run's ratios by mode, η (index into ``grid``) and quantile."""
    found: dict[tuple[Mode, int, float], _Ratios] = {}
    for run_id, (eta, _, _, rows) in runs:
        for index in grid_matches(grid, eta):
            for mode, quantile, linear, linquad in rows:
                key = (mode, index, quantile)
                if (ratios := found.get(key)) is None:
                    ratios = found[key] = _Ratios()
                ratios.run_ids.append(run_id)
                ratios.linear.append(linear)
                ratios.linquad.append(linquad)
    return found


def _group_row(
    mode: Mode,
    eta: float,
    quantile: float,
    found: _Ratios,
    resolution: Resolution,
    not_comparable: frozenset[str] = frozenset(),
) -> TailGroupRow:
    ids = found.run_ids
    linear, linquad = np.asarray(found.linear), np.asarray(found.linquad)
    with_ratio = ~np.isnan(linear)
    comparable = with_ratio & np.array([r not in not_comparable for r in ids], dtype=bool)
    judged = [resolution.get(ids[i]) for i in np.flatnonzero(comparable)]
    kept = comparable.copy()
    kept[comparable] = [bool(r) for r in judged]
    return TailGroupRow(
        mode=mode,
        eta=eta,
        quantile=quantile,
        ratio=spread(linear),
        linquad_ratio=spread(linquad),
        run_ids=tuple(sorted(ids)),
        resolved_ratio=spread(linear[kept]),
        resolved_linquad_ratio=spread(linquad[kept]),
        resolved_run_ids=tuple(sorted(ids[i] for i in np.flatnonzero(kept))),
        n_unresolved=sum(1 for r in judged if r is False),
        n_no_se=sum(1 for r in judged if r is None),
        n_not_comparable=int(with_ratio.sum() - comparable.sum()),
    )
