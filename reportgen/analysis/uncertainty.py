"""Standard errors, bootstrap intervals and verdicts of ΔH_true, its approximations and ratios.

Pure numpy, no I/O, no Python loops over sequences. Two independent routes:

* the delta method (infinitesimal jackknife) over sequences, with ΔH_true treated as the ratio
  estimator it is: ``(w·h_new)/(w·T) − Σh_base/ΣT`` (T_i = 1 under per-sequence normalisation);
* a seeded paired bootstrap (``bootstrap.py``): one matrix of resampling counts per (seed,
  number of sequences, resamples), the same at every η and shared by the runs of that n.

Each approximation is then judged at every η (``verdicts.py``): agrees, disagrees or
inconclusive, with the smallest relative error the run could detect.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from reportgen.analysis.bootstrap import (
    BootstrapDraws,
    bootstrap_draws,
    paired_columns,
    slope_intervals,
)
from reportgen.analysis.bootstrap_stream import BootstrapIntervals, bootstrap_intervals
from reportgen.analysis.contributions import EtaSummary
from reportgen.analysis.counts import BootstrapCounts
from reportgen.analysis.delta import PairedColumns, delta_ses
from reportgen.analysis.doublings import Doubling, doubling_pairs, doublings
from reportgen.analysis.resample import CI_LEVEL, Interval
from reportgen.analysis.verdicts import (
    DEFAULT_MARGIN,
    RatioJudgement,
    Verdict,
    breakdown_eta,
    judge,
    paired_ratio_se,
    run_verdict,
)
from reportgen.codec import SHARED
from reportgen.load.models import Run

DEFAULT_BOOTSTRAP = 2000

DELTA = "delta-method"
SHARDS = "num_shards·se_shard·η"
SHARDS_SWEEP = "num_shards·se_gdotv·η"
UNPAIRED = "unpaired √(se_linear² + se_true²)"


# --- results ---------------------------------------------------------------------------------


def _num(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _pair(value: Sequence[float] | None) -> Interval | None:
    return None if value is None else (float(value[0]), float(value[1]))


def _interval(value: Interval | None) -> list[float] | None:
    return None if value is None else [value[0], value[1]]


def _z(approx: float | None, true: float | None, se: float | None) -> float | None:
    if approx is None or true is None or se is None or not se > 0:
        return None
    return _num((approx - true) / se)


@dataclass(frozen=True, slots=True)
class EtaUncertainty:
    """Standard errors, z, bootstrap intervals, ratios and verdicts at one η; ``se_method``
    names each SE's origin.

    ``notebook_se_linear`` (se_shard·η) and ``notebook_se_true`` (std(true_contrib)/√n) are the
    notebook's ``post_correction_analysis`` numbers, kept for comparison: both are too small.
    """

    eta: float
    se_true: float | None = None
    se_linear: float | None = None
    se_linquad: float | None = None
    se_diff_linear: float | None = None
    se_diff_linquad: float | None = None
    z_linear: float | None = None
    z_linquad: float | None = None
    ci95_true: Interval | None = None
    ci95_linear: Interval | None = None
    ci95_linquad: Interval | None = None
    ci95_diff_linear: Interval | None = None
    ci95_diff_linquad: Interval | None = None
    se_quad: float | None = None  # SE of the quadratic term (linquad − linear), delta method
    se_method: tuple[tuple[str, str], ...] = field(default=(), metadata={SHARED: True})
    notebook_se_linear: float | None = None
    notebook_se_true: float | None = None
    ratio_linear: float | None = None  # ΔH_linear/ΔH_true
    se_ratio_linear: float | None = None
    ci95_ratio_linear: Interval | None = None
    mde_linear: float | None = None  # smallest |rel. error| detected with 80 % power
    verdict_linear: Verdict | None = None
    ratio_linquad: float | None = None
    se_ratio_linquad: float | None = None
    ci95_ratio_linquad: Interval | None = None
    mde_linquad: float | None = None
    verdict_linquad: Verdict | None = None

    def method(self, name: str) -> str | None:
        return dict(self.se_method).get(name)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EtaUncertainty:
        """Inverse of ``to_json`` plus ``"eta"`` (the build's cache of a run)."""
        values: dict[str, Any] = {"eta": float(data["eta"])}
        for f in fields(cls):
            item = data.get(f.name)
            if f.name in ("eta", "se_method") or item is None:
                continue
            if f.name.startswith("ci95_"):
                values[f.name] = _pair(item)
            elif f.name.startswith("verdict_"):
                values[f.name] = str(item)
            else:
                values[f.name] = float(item)
        methods = data.get("se_method") or {}
        values["se_method"] = tuple(sorted((str(k), str(v)) for k, v in methods.items()))
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The per-η fields of a run's ``summary.json`` (``null`` where there is no value)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "eta":
                continue
            if f.name == "se_method":
                out[f.name] = dict(value)
            elif f.name.startswith("ci95_"):
                out[f.name] = _interval(value)
            else:
                out[f.name] = value
        return out

    def judgement(self, approx: str) -> RatioJudgement:
        """The ratio, its SE, MDE and verdict of ``"linear"`` or ``"linquad"``."""
        return RatioJudgement(
            getattr(self, f"ratio_{approx}"),
            getattr(self, f"se_ratio_{approx}"),
            self.method(f"se_ratio_{approx}"),
            getattr(self, f"mde_{approx}"),
            getattr(self, f"verdict_{approx}"),
        )


@dataclass(frozen=True, slots=True)
class RunUncertainty:
    """Per-η uncertainty of a run, bootstrap intervals of its ΔH_true(η) fit slopes, and the
    run-level verdicts (with the equivalence margin they used)."""

    etas: tuple[EtaUncertainty, ...] = ()
    bootstrap: int = 0
    seed: int = 0
    loglog_slope_ci95: Interval | None = None
    linear_slope_ci95: Interval | None = None
    slope_etas: tuple[float, ...] = ()
    baseline_reestimated: bool | None = None
    notes: tuple[str, ...] = field(default=())
    doublings: tuple[Doubling, ...] = ()
    equivalence_margin: float = DEFAULT_MARGIN
    verdict_linear: Verdict | None = None
    verdict_linquad: Verdict | None = None
    breakdown_eta_linear: float | None = None  # from here on every larger η disagrees
    breakdown_eta_linquad: float | None = None

    def at(self, eta: float) -> EtaUncertainty | None:
        return next((u for u in self.etas if u.eta == eta), None)

    def to_record(self) -> dict[str, Any]:
        """Everything, per-η rows included, for the build's cache (``from_record`` inverts it)."""
        return self.to_json() | {"etas": [{"eta": u.eta} | u.to_json() for u in self.etas]}

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> RunUncertainty:
        return cls(
            etas=tuple(EtaUncertainty.from_json(row) for row in data["etas"]),
            bootstrap=int(data["bootstrap"]),
            seed=int(data["seed"]),
            loglog_slope_ci95=_pair(data["loglog_slope_ci95"]),
            linear_slope_ci95=_pair(data["linear_slope_ci95"]),
            slope_etas=tuple(float(e) for e in data["slope_etas"]),
            baseline_reestimated=data["baseline_reestimated"],
            notes=tuple(str(n) for n in data["notes"]),
            doublings=tuple(Doubling.from_json(d) for d in data.get("doublings") or ()),
            equivalence_margin=float(data["equivalence_margin"]),
            verdict_linear=data["verdict_linear"],
            verdict_linquad=data["verdict_linquad"],
            breakdown_eta_linear=data["breakdown_eta_linear"],
            breakdown_eta_linquad=data["breakdown_eta_linquad"],
        )

    def to_json(self) -> dict[str, Any]:
        """The run-level ``uncertainty`` block of ``summary.json``."""
        return {
            "bootstrap": self.bootstrap,
            "seed": self.seed,
            "ci_level": CI_LEVEL,
            "loglog_slope_ci95": _interval(self.loglog_slope_ci95),
            "linear_slope_ci95": _interval(self.linear_slope_ci95),
            "slope_etas": list(self.slope_etas),
            "baseline_reestimated": self.baseline_reestimated,
            "notes": list(self.notes),
            "doublings": [d.to_json() for d in self.doublings],
            "equivalence_margin": self.equivalence_margin,
            "verdict_linear": self.verdict_linear,
            "verdict_linquad": self.verdict_linquad,
            "breakdown_eta_linear": self.breakdown_eta_linear,
            "breakdown_eta_linquad": self.breakdown_eta_linquad,
        }


# --- a run's uncertainty ---------------------------------------------------------------------


def _notebook_true_se(c: PairedColumns) -> float | None:
    """std(true_contrib, ddof=1)/√n, as the notebook computes it."""
    n = c.n
    with np.errstate(all="ignore"):
        denominator = np.float64(c.weight @ c.units)
        shares = c.units / c.units.sum()
        contrib = c.weight * c.h_new / denominator - shares * c.base_entropy
        value = float(contrib.std(ddof=1) / math.sqrt(n))
    return _num(value)


@dataclass(frozen=True)
class _Shards:
    """Aggregate-only SE of g·v per unit η: K·se and which block it came from."""

    se_total_per_lr: float
    se_mean_per_lr: float
    method: str


def _shards(run: Run) -> _Shards | None:
    if run.snis is not None:
        approx = run.snis.approx
        se, k, method = approx.se_shard, approx.num_shards, SHARDS
    elif run.sweep is not None and run.sweep.curvature is not None:
        curvature = run.sweep.curvature
        se, k, method = curvature.se_gdotv, curvature.num_shards, SHARDS_SWEEP
    else:
        return None
    if se is None or k is None or not math.isfinite(se) or k < 1:
        return None
    return _Shards(k * se, se, method)


_DELTA_NAMES = (
    "se_true",
    "se_linear",
    "se_linquad",
    "se_diff_linear",
    "se_diff_linquad",
    "se_quad",
)


def _standard_errors(
    eta: float, columns: PairedColumns | None, shards: _Shards | None
) -> tuple[dict[str, float | None], dict[str, str]]:
    """Every SE of one η by name, and the method that gave each."""
    ses: dict[str, float | None] = dict.fromkeys(_DELTA_NAMES)
    methods: dict[str, str] = {}
    if columns is not None:
        found = delta_ses(columns)
        for name in _DELTA_NAMES:
            ses[name] = getattr(found, name)
            if ses[name] is not None:
                methods[name] = DELTA
    if ses["se_linear"] is None and shards is not None:
        from_shards = _num(shards.se_total_per_lr * abs(eta))
        ses["se_linear"] = from_shards
        if from_shards is not None:
            methods["se_linear"] = shards.method
    se_linear, se_true = ses["se_linear"], ses["se_true"]
    if ses["se_diff_linear"] is None and se_linear is not None and se_true is not None:
        ses["se_diff_linear"] = _num(math.hypot(se_linear, se_true))
        methods["se_diff_linear"] = UNPAIRED
    return ses, methods


def _judge(
    approx: str,
    summary: EtaSummary,
    columns: PairedColumns | None,
    ses: Mapping[str, float | None],
    z: float | None,
    margin: float,
) -> RatioJudgement:
    """The ratio of ``approx`` ("linear" or "linquad") to ΔH_true, its SE and verdict."""
    value = getattr(summary, f"delta_h_{approx}")
    true = summary.delta_h_true
    column = getattr(columns, approx) if columns is not None else None
    paired = None
    if column is not None and columns is not None and value is not None and true:
        paired = paired_ratio_se(columns, column, value / true, true)
    se_diff = ses[f"se_diff_{approx}"]
    return judge(value, true, z, se_diff, paired, ses[f"se_{approx}"], ses["se_true"], margin)


def _eta_uncertainty(
    summary: EtaSummary,
    columns: PairedColumns | None,
    shards: _Shards | None,
    intervals: Mapping[str, Interval | None],
    margin: float,
) -> EtaUncertainty:
    eta = summary.eta
    ses, methods = _standard_errors(eta, columns, shards)
    z_linear = _z(summary.delta_h_linear, summary.delta_h_true, ses["se_diff_linear"])
    z_linquad = _z(summary.delta_h_linquad, summary.delta_h_true, ses["se_diff_linquad"])
    linear = _judge("linear", summary, columns, ses, z_linear, margin)
    linquad = _judge("linquad", summary, columns, ses, z_linquad, margin)
    for name, judgement in (("se_ratio_linear", linear), ("se_ratio_linquad", linquad)):
        if judgement.method is not None:
            methods[name] = judgement.method
    return EtaUncertainty(
        eta=eta,
        se_true=ses["se_true"],
        se_linear=ses["se_linear"],
        se_linquad=ses["se_linquad"],
        se_diff_linear=ses["se_diff_linear"],
        se_diff_linquad=ses["se_diff_linquad"],
        z_linear=z_linear,
        z_linquad=z_linquad,
        ci95_true=intervals.get("true"),
        ci95_linear=intervals.get("linear"),
        ci95_linquad=intervals.get("linquad"),
        ci95_diff_linear=intervals.get("diff_linear"),
        ci95_diff_linquad=intervals.get("diff_linquad"),
        se_quad=ses["se_quad"],
        se_method=tuple(sorted(methods.items())),
        notebook_se_linear=_num(shards.se_mean_per_lr * abs(eta)) if shards else None,
        notebook_se_true=_notebook_true_se(columns) if columns else None,
        ratio_linear=linear.ratio,
        se_ratio_linear=linear.se_ratio,
        ci95_ratio_linear=intervals.get("ratio_linear") if linear.ratio is not None else None,
        mde_linear=linear.mde,
        verdict_linear=linear.verdict,
        ratio_linquad=linquad.ratio,
        se_ratio_linquad=linquad.se_ratio,
        ci95_ratio_linquad=intervals.get("ratio_linquad") if linquad.ratio is not None else None,
        mde_linquad=linquad.mde,
        verdict_linquad=linquad.verdict,
    )


def _fit_etas(summaries: Sequence[EtaSummary]) -> tuple[float, ...]:
    """The η ``fit_run`` uses for the linear fit: finite η with a finite ΔH_true."""
    return tuple(
        s.eta for s in summaries if math.isfinite(s.eta) and _num(s.delta_h_true) is not None
    )


def _bootstrap(
    columns: Sequence[PairedColumns],
    summaries: Sequence[EtaSummary],
    bootstrap: int,
    seed: int,
    notes: list[str],
) -> BootstrapIntervals | None:
    """The run's bootstrap intervals (``None`` without resamples), with a note when the slope
    intervals lack resamples at some fitted η."""
    if not columns:
        return None
    fit_etas = _fit_etas(summaries)
    counts = BootstrapCounts(seed, columns[0].n, bootstrap)
    found = bootstrap_intervals(columns, counts, fit_etas, doubling_pairs(summaries))
    if found is not None and not (fit_etas and set(fit_etas) <= {c.eta for c in columns}):
        notes.append("slope intervals need resamples at every fitted η; some η lack arrays")
    return found


def run_uncertainty(
    run: Run,
    summaries: Sequence[EtaSummary],
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int = 0,
    margin: float = DEFAULT_MARGIN,
) -> RunUncertainty:
    """Delta-method SEs at every η, (``bootstrap`` ≥ 2) paired percentile intervals, and the
    verdicts under the equivalence ``margin``.

    The bootstrap's counts are drawn from (``seed``, number of sequences, ``bootstrap``) alone;
    one set of resamples serves every η, so the slope and ratio intervals come from the same
    draws.
    """
    columns = paired_columns(run)
    by_eta = {c.eta: c for c in columns}
    notes: list[str] = []
    found = _bootstrap(columns, summaries, bootstrap, seed, notes)
    intervals = found.per_eta if found is not None else {}
    shards = _shards(run)
    etas = tuple(
        _eta_uncertainty(s, by_eta.get(s.eta), shards, intervals.get(s.eta, {}), margin)
        for s in summaries
    )
    reestimated = {c.baseline_reestimated for c in columns}
    if False in reestimated:
        notes.append(
            "base_entropy is not Σh_base/ΣT at some η (or h_base is missing): there the "
            "baseline is treated as a constant (no variance), and the published ΔH_true is "
            "kept as it is"
        )
    return RunUncertainty(
        etas=etas,
        bootstrap=bootstrap if found is not None else 0,
        seed=seed,
        loglog_slope_ci95=found.loglog_slope if found is not None else None,
        linear_slope_ci95=found.linear_slope if found is not None else None,
        slope_etas=_fit_etas(summaries) if found is not None else (),
        baseline_reestimated=None if not columns else reestimated == {True},
        notes=tuple(notes),
        doublings=doublings(summaries, by_eta, found.doublings if found else {}),
        **run_verdicts(etas, margin),
    )


def run_verdicts(etas: Sequence[EtaUncertainty], margin: float) -> dict[str, Any]:
    """The run-level verdict and breakdown η of each approximation."""
    out: dict[str, Any] = {"equivalence_margin": margin}
    for approx in ("linear", "linquad"):
        # the η where the approximation is compared at all (a ratio, or a z to judge with)
        rows = [
            (u.eta, u.judgement(approx).verdict)
            for u in etas
            if u.judgement(approx).ratio is not None or u.judgement(approx).verdict is not None
        ]
        out[f"verdict_{approx}"] = run_verdict([v for _, v in rows])
        out[f"breakdown_eta_{approx}"] = breakdown_eta(rows)
    return out


__all__ = [
    "DEFAULT_BOOTSTRAP",
    "BootstrapDraws",
    "Doubling",
    "EtaUncertainty",
    "RunUncertainty",
    "bootstrap_draws",
    "doublings",
    "paired_columns",
    "run_uncertainty",
    "slope_intervals",
]
