"""Statistics across the runs of a group: per-η spreads, relative errors, CV features, tallies."""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from reportgen.analysis.contributions import EtaSummary, relative_error
from reportgen.analysis.fits import Agreement
from reportgen.analysis.members import CvStatistics
from reportgen.analysis.per_run import PerRun
from reportgen.analysis.points import RunPoints
from reportgen.analysis.pooling import PooledEta, pooled_breakdown, pooled_verdict
from reportgen.analysis.populations import Population
from reportgen.analysis.stats import (
    Json,
    Spread,
    eta_grid,
    first_matches,
    num,
    same_eta,
    spread,
)
from reportgen.analysis.tails import TailGroupRow
from reportgen.analysis.uncertainty import EtaUncertainty


@dataclass(frozen=True)
class EtaStats:
    """ΔH across the runs that measured this η; ``n_runs`` counts runs with a finite ΔH_true."""

    eta: float
    true_mean: float | None
    true_std: float | None
    linear_mean: float | None
    linquad_mean: float | None
    n_runs: int

    def to_json(self) -> Json:
        return {
            "eta": self.eta,
            "true_mean": self.true_mean,
            "true_std": self.true_std,
            "linear_mean": self.linear_mean,
            "linquad_mean": self.linquad_mean,
            "n_runs": self.n_runs,
        }


def per_eta_stats(runs: Sequence[RunPoints]) -> tuple[EtaStats, ...]:
    """Per η of the runs' grid, ΔH across the runs (each run's first point at that η)."""
    grid = eta_grid(s.eta for run in runs for s in run.etas)
    # numbers only (NaN: none): ``runs`` may read each run anew, and a spread drops NaN
    found = [tuple(array("d") for _ in range(3)) for _ in grid]
    for run in runs:
        for index, position in first_matches(grid, tuple(s.eta for s in run.etas)):
            point = run.etas[position]
            values = (point.delta_h_true, point.delta_h_linear, point.delta_h_linquad)
            for column, value in zip(found[index], values, strict=True):
                column.append(math.nan if value is None else value)
    return tuple(_eta_stats(eta, *at) for eta, at in zip(grid, found, strict=True))


def _eta_stats(
    eta: float, true: array[float], linear: array[float], linquad: array[float]
) -> EtaStats:
    spread_true = spread(np.asarray(true))
    return EtaStats(
        eta=eta,
        true_mean=spread_true.mean,
        true_std=spread_true.std,
        linear_mean=spread(np.asarray(linear)).mean,
        linquad_mean=spread(np.asarray(linquad)).mean,
        n_runs=spread_true.n,
    )


ErrorsByRun = Mapping[str, Sequence[EtaUncertainty | None]]
"""Run id → its per-η uncertainty, aligned with ``RunPoints.etas`` (``RunRecord.eta_errors``)."""

RESOLVED_SIGMAS = 2.0


def resolved(true: float | None, se_true: float | None) -> bool | None:
    """ΔH_true is told apart from zero: |ΔH_true| > 2·se_true (``None``: no SE to judge by).

    Where it is not, 1 − linear/true divides by noise and can take any value.
    """
    if true is None or se_true is None or not math.isfinite(se_true):
        return None
    return abs(true) > RESOLVED_SIGMAS * se_true


def resolved_at(run: RunPoints, errors: ErrorsByRun, eta: float) -> bool | None:
    """``resolved`` for the run's first point at ``eta`` (``None``: no such point, or no SE)."""
    for s, e in zip(run.etas, aligned_errors(run, errors), strict=True):
        if same_eta(s.eta, eta):
            return resolved(s.delta_h_true, e.se_true if e is not None else None)
    return None


def covariance(se_a: float, se_b: float, se_diff: float) -> float:
    """cov(a, b) from SE(a), SE(b) and SE(a − b) of the same influences: var(a − b) =
    var a + var b − 2 cov(a, b) holds exactly for the delta-method SEs of one run."""
    return 0.5 * (se_a * se_a + se_b * se_b - se_diff * se_diff)


def rel_err_se(
    linear: float | None, true: float | None, error: EtaUncertainty | None
) -> float | None:
    """Delta-method SE of 1 − linear/true: var ≈ (s_L² − 2r·cov(L, T) + r²·s_T²)/T², r = L/T,
    with cov(L, T) from the paired SE of linear − true (0 when that SE is the unpaired one)."""
    if linear is None or true is None or true == 0 or error is None:
        return None
    s_l, s_t, s_d = error.se_linear, error.se_true, error.se_diff_linear
    if s_l is None or s_t is None or s_d is None:
        return None
    squared = true * true
    if squared == 0:  # |ΔH_true| below 1e-162: its square underflows
        return None
    r = linear / true
    var = (s_l * s_l - 2.0 * r * covariance(s_l, s_t, s_d) + r * r * s_t * s_t) / squared
    return num(math.sqrt(var)) if var >= 0 else None


@dataclass(frozen=True, slots=True)
class QuadHelp:
    """Does the quadratic term help at one η? gain = |linquad − true| − |linear − true|
    (negative: lin+quad is closer) with its paired delta-method SE and z.

    SE² = s_q² + s_l² − 2·sign(d_q)·sign(d_l)·cov(d_q, d_l), cov from the SE of the quadratic
    term d_q − d_l (``EtaUncertainty.se_quad``); the |·| linearisation holds while both
    differences are away from zero (|z| of each beyond ~1), so it is a guide near zero.
    """

    eta: float
    abs_linear: float | None
    abs_linquad: float | None
    gain: float | None
    se: float | None

    @property
    def z(self) -> float | None:
        if self.gain is None or self.se is None or not self.se > 0:
            return None
        return num(self.gain / self.se)

    def to_json(self) -> Json:
        return {
            "eta": self.eta,
            "abs_err_linear": self.abs_linear,
            "abs_err_linquad": self.abs_linquad,
            "gain": self.gain,
            "se": self.se,
            "z": self.z,
        }


def quad_help(summary: EtaSummary, error: EtaUncertainty | None) -> QuadHelp:
    lin, lq, true = summary.delta_h_linear, summary.delta_h_linquad, summary.delta_h_true
    if lin is None or lq is None or true is None:
        return QuadHelp(summary.eta, None, None, None, None)
    d_l, d_q = lin - true, lq - true
    se = None
    if error is not None:
        s_l, s_q, s_quad = error.se_diff_linear, error.se_diff_linquad, error.se_quad
        if s_l is not None and s_q is not None and s_quad is not None:
            sign = math.copysign(1.0, d_l) * math.copysign(1.0, d_q)
            var = s_q * s_q + s_l * s_l - 2.0 * sign * covariance(s_q, s_l, s_quad)
            se = num(math.sqrt(max(var, 0.0)))
    return QuadHelp(summary.eta, abs(d_l), abs(d_q), num(abs(d_q) - abs(d_l)), se)


@dataclass(frozen=True, slots=True)
class RunRelativeErrors:
    """One run's 1 − ΔH_linear/ΔH_true per η (``None`` where undefined).

    ``resolved`` (aligned with ``values``) says whether ΔH_true is resolved from zero there.
    """

    run_id: str
    values: tuple[tuple[float, float | None], ...]
    resolved: tuple[bool | None, ...] = ()
    ses: tuple[float | None, ...] = ()  # delta-method SE of each value (``rel_err_se``)
    # (linear − true)/|true| per η, the site's convention (same SE: it is ± the value above)
    site_values: tuple[float | None, ...] = ()

    def is_resolved(self, i: int) -> bool | None:
        return self.resolved[i] if i < len(self.resolved) else None

    def se(self, i: int) -> float | None:
        return self.ses[i] if i < len(self.ses) else None

    def site_value(self, i: int) -> float | None:
        return self.site_values[i] if i < len(self.site_values) else None

    def to_json(self) -> Json:
        return {
            "id": self.run_id,
            "values": [
                {"eta": e, "rel_err": v, "resolved": self.is_resolved(i), "se": self.se(i)}
                | {"notebook_one_minus_ratio": v, "rel_err_linear": self.site_value(i)}
                | {"se_rel_err_linear": self.se(i)}
                for i, (e, v) in enumerate(self.values)
            ],
        }


@dataclass(frozen=True)
class RelativeErrors:
    """Per run and η, and per η the spread across runs.

    ``per_eta`` spreads every value (0.1's field, kept as it was); ``per_eta_resolved`` only
    the values where ΔH_true is resolved from zero, with median and quartiles.
    """

    runs: tuple[RunRelativeErrors, ...]
    per_eta: tuple[tuple[float, Spread], ...]
    # (η, spread of resolved values, n not resolved, n without se_true to judge by)
    per_eta_resolved: tuple[tuple[float, Spread, int, int], ...] = ()

    def to_json(self, lazy: bool = False) -> Json:
        """``lazy``: the per-run list as an iterator, for a writer that makes it item by item
        (``serialize.iter_pieces``)."""
        runs = (r.to_json() for r in self.runs)
        return {
            "definition": "1 - linear / true",
            "runs": runs if lazy else list(runs),
            "per_eta": [{"eta": eta, **s.to_json(), "n_runs": s.n} for eta, s in self.per_eta],
            "resolved_rule": "|delta_h_true| > 2 se_true",
            "per_eta_resolved": [
                {"eta": eta, **s.to_json(), "iqr": s.iqr, "n_unresolved": u, "n_no_se": m}
                for eta, s, u, m in self.per_eta_resolved
            ],
        }


def one_minus_ratio(linear: float | None, true: float | None) -> float | None:
    """1 − linear/true: the issue's convention, positive when linear falls short of true.

    Note ``contributions.relative_error`` is (approx − true)/|true|, a different sign convention.
    """
    if linear is None or true is None or true == 0 or not math.isfinite(true):
        return None
    return num(1.0 - linear / true)


def aligned_errors(run: RunPoints, errors: ErrorsByRun) -> list[EtaUncertainty | None]:
    rows = list(errors.get(run.run_id, ()))
    return rows if len(rows) == len(run.etas) else [None] * len(run.etas)


def relative_errors(runs: Sequence[RunPoints], errors: ErrorsByRun | None = None) -> RelativeErrors:
    """1 − linear/true per run and η; spreads per η over all values and over resolved ones."""
    errors = errors or {}
    return relative_spreads(tuple(run_relative_errors(run, errors) for run in runs))


def run_relative_errors(run: RunPoints, errors: ErrorsByRun) -> RunRelativeErrors:
    values, judged, ses, site = [], [], [], []
    for s, e in zip(run.etas, aligned_errors(run, errors), strict=True):
        linear, true = s.delta_h_linear, s.delta_h_true
        values.append((s.eta, one_minus_ratio(linear, true)))
        judged.append(resolved(true, e.se_true if e is not None else None))
        ses.append(rel_err_se(linear, true, e))
        site.append(relative_error(linear, true))
    return RunRelativeErrors(run.run_id, tuple(values), tuple(judged), tuple(ses), tuple(site))


def relative_spreads(per_run: tuple[RunRelativeErrors, ...]) -> RelativeErrors:
    """The spreads per η of the runs' relative errors (each run's first value at that η)."""
    grid = eta_grid(e for run in per_run for e, _ in run.values)
    cells: list[list[tuple[float | None, bool | None]]] = [[] for _ in grid]
    for run in per_run:
        for index, i in first_matches(grid, tuple(e for e, _ in run.values)):
            cells[index].append((run.values[i][1], run.is_resolved(i)))
    at_eta = list(zip(grid, cells, strict=True))
    per_eta = tuple((eta, spread(value for value, _ in at)) for eta, at in at_eta)
    resolved_rows = tuple((eta, *_resolved_spread(at)) for eta, at in at_eta)
    return RelativeErrors(per_run, per_eta, resolved_rows)


def _resolved_spread(at: Sequence[tuple[float | None, bool | None]]) -> tuple[Spread, int, int]:
    """The spread of the resolved values, and how many are not resolved or have no SE."""
    kept, unresolved, no_se = [], 0, 0
    for value, judged in at:
        if judged:
            kept.append(value)
        elif value is not None and judged is None:
            no_se += 1
        elif value is not None:
            unresolved += 1
    return spread(kept), unresolved, no_se


JOINT_FEATURE = "joint"


@dataclass(frozen=True)
class CvFeatureStats:
    """One feature's correlation with g·v and variance ratio after CV, across the runs of one
    population; each mean has its SE across them (``Spread.se_mean``, std/√n, none below two).

    The row with ``joint=True`` (feature ``"joint"``) holds ``var_after_cv_joint``; its
    ``corr`` is empty.
    """

    feature: str
    corr: Spread
    var_ratio: Spread
    n_runs: int
    joint: bool = False

    def to_json(self) -> Json:
        return {
            "feature": self.feature,
            "joint": self.joint,
            "corr": self.corr.to_json() | {"se_mean": self.corr.se_mean},
            "var_ratio": self.var_ratio.to_json() | {"se_mean": self.var_ratio.se_mean},
            "n_runs": self.n_runs,
        }


def cv_group_stats(runs: Sequence[tuple[str, CvStatistics]]) -> tuple[CvFeatureStats, ...]:
    """Per feature (sorted by name), then the joint variance ratio as the last row: the runs
    given are pooled, so they must be of one population (``population_stats``)."""
    names = sorted({f.name for _, cv in runs for f in cv.features})
    rows = []
    for name in names:
        found = [f for _, cv in runs for f in cv.features if f.name == name]
        corr, ratio = spread(f.corr for f in found), spread(f.var_after_cv for f in found)
        rows.append(CvFeatureStats(name, corr, ratio, n_runs=len(found)))
    joint = spread(cv.var_after_cv_joint for _, cv in runs)
    rows.append(CvFeatureStats(JOINT_FEATURE, spread(()), joint, n_runs=joint.n, joint=True))
    return tuple(rows)


@dataclass(frozen=True)
class AgreementTally:
    """How many run×η pairs of a set of runs have |linear − true| within 1 and 2 paired SEs
    (bands that describe the noise, not a test of agreement: that is the verdict's)."""

    pairs: int  # pairs with a paired z
    within_1se: int
    within_2se: int

    @property
    def beyond_2se(self) -> int:
        return self.pairs - self.within_2se

    def to_json(self) -> Json:
        return {
            "pairs": self.pairs,
            "within_1se": self.within_1se,
            "within_2se": self.within_2se,
            "beyond_2se": self.beyond_2se,
        }


def tally(rows: Sequence[Agreement]) -> AgreementTally:
    judged = [a for a in rows if a.paired_z is not None]
    return AgreementTally(
        len(judged),
        sum(1 for a in judged if a.paired_within_1se),
        sum(1 for a in judged if a.paired_within_2se),
    )


@dataclass(frozen=True)
class PopulationStats:
    """The across-run statistics of one population: only its runs are pooled."""

    population: Population
    per_eta: tuple[EtaStats, ...]
    rel_errors: RelativeErrors
    agreement: AgreementTally
    tails: tuple[TailGroupRow, ...] = ()  # over this population's runs
    pooled: tuple[PooledEta, ...] = ()  # its runs' differences and ratios pooled per η
    cv: tuple[CvFeatureStats, ...] = ()  # its runs' control-variate features (``cv_group_stats``)

    def to_json(self, lazy: bool = False) -> Json:
        """``lazy``: the per-run parts as iterators (see ``RelativeErrors.to_json``)."""
        tails = (row.to_json() for row in self.tails)
        return {
            "cv": [row.to_json() for row in self.cv],
            "pooled": [row.to_json() for row in self.pooled],
            "verdict_linear": pooled_verdict(self.pooled, "linear"),
            "verdict_linquad": pooled_verdict(self.pooled, "linquad"),
            "breakdown_eta_linear": pooled_breakdown(self.pooled, "linear"),
            "breakdown_eta_linquad": pooled_breakdown(self.pooled, "linquad"),
            "key": self.population.key_json(),
            "label": self.population.label,
            "runs": list(self.population.run_ids),
            "per_eta": [row.to_json() for row in self.per_eta],
            "relative_errors": self.rel_errors.to_json(lazy),
            "agreement": self.agreement.to_json(),
            "tails": tails if lazy else list(tails),
        }


def population_stats(
    found: Sequence[Population],
    runs: Mapping[str, RunPoints],
    agreements: Mapping[str, Sequence[Agreement]],
    errors: ErrorsByRun,
    whole: tuple[tuple[EtaStats, ...], RelativeErrors] | None = None,
    cv: Mapping[str, CvStatistics] | None = None,
) -> tuple[PopulationStats, ...]:
    """Per population with a run that has ΔH(η) points or control-variate statistics (``cv``,
    by run id) its statistics, over its own runs only.

    ``runs``: the ΔH(η) points by run id. ``whole``: the per-η and relative-error statistics
    of all ``runs``, already computed; a
    population of every run (a uniform group) takes them instead of computing them again.
    """
    known = {r.run_id: r for r in whole[1].runs} if whole is not None else {}
    cv = cv or {}
    out = []
    for population in found:
        members = PerRun([r for r in population.run_ids if r in runs], runs.__getitem__).each()
        with_cv = [(r, cv[r]) for r in population.run_ids if r in cv]
        if not members and not with_cv:
            continue
        rows = [a for r in members for a in agreements.get(r.run_id, ())]
        if whole is not None and members and len(members) == len(runs):
            per_eta, relative = whole
        else:
            per_run = (known.get(r.run_id) or run_relative_errors(r, errors) for r in members)
            per_eta, relative = per_eta_stats(members), relative_spreads(tuple(per_run))
        features = cv_group_stats(with_cv) if with_cv else ()
        out.append(PopulationStats(population, per_eta, relative, tally(rows), cv=features))
    return tuple(out)
