"""Statistics across the runs of a group: per-η spreads, relative errors, CV features, JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reportgen.analysis.batch import BatchComparison
from reportgen.analysis.fits import Agreement, Fit
from reportgen.analysis.points import RunPoints
from reportgen.analysis.stats import Json, Spread, eta_grid, num, spread, summary_at
from reportgen.models import CvFeature


class CvStatistics(Protocol):
    """A run's control-variate results as the group statistics need them."""

    @property
    def var_after_cv_joint(self) -> float | None: ...

    @property
    def features(self) -> tuple[CvFeature, ...]: ...


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
    rows = []
    for eta in eta_grid(s.eta for run in runs for s in run.etas):
        found = [s for run in runs if (s := summary_at(run.etas, eta)) is not None]
        true = spread(s.delta_h_true for s in found)
        rows.append(
            EtaStats(
                eta=eta,
                true_mean=true.mean,
                true_std=true.std,
                linear_mean=spread(s.delta_h_linear for s in found).mean,
                linquad_mean=spread(s.delta_h_linquad for s in found).mean,
                n_runs=true.n,
            )
        )
    return tuple(rows)


@dataclass(frozen=True)
class RunRelativeErrors:
    """One run's 1 − ΔH_linear/ΔH_true per η (``None`` where undefined)."""

    run_id: str
    values: tuple[tuple[float, float | None], ...]

    def to_json(self) -> Json:
        return {"id": self.run_id, "values": [{"eta": e, "rel_err": v} for e, v in self.values]}


@dataclass(frozen=True)
class RelativeErrors:
    """Per run and η, and per η the spread across runs."""

    runs: tuple[RunRelativeErrors, ...]
    per_eta: tuple[tuple[float, Spread], ...]

    def to_json(self) -> Json:
        return {
            "definition": "1 - linear / true",
            "runs": [r.to_json() for r in self.runs],
            "per_eta": [{"eta": eta, **s.to_json(), "n_runs": s.n} for eta, s in self.per_eta],
        }


def one_minus_ratio(linear: float | None, true: float | None) -> float | None:
    """1 − linear/true: the issue's convention, positive when linear falls short of true.

    Note ``contributions.relative_error`` is (approx − true)/|true|, a different sign convention.
    """
    if linear is None or true is None or true == 0 or not math.isfinite(true):
        return None
    return num(1.0 - linear / true)


def relative_errors(runs: Sequence[RunPoints]) -> RelativeErrors:
    per_run = tuple(
        RunRelativeErrors(
            run.run_id,
            tuple((s.eta, one_minus_ratio(s.delta_h_linear, s.delta_h_true)) for s in run.etas),
        )
        for run in runs
    )
    per_eta = []
    for eta in eta_grid(s.eta for run in runs for s in run.etas):
        found = (summary_at(run.etas, eta) for run in runs)
        values = [one_minus_ratio(s.delta_h_linear, s.delta_h_true) for s in found if s]
        per_eta.append((eta, spread(values)))
    return RelativeErrors(per_run, tuple(per_eta))


JOINT_FEATURE = "joint"


@dataclass(frozen=True)
class CvFeatureStats:
    """One feature's correlation with g·v and variance ratio after CV, across runs.

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
            "corr": self.corr.to_json(),
            "var_ratio": self.var_ratio.to_json(),
            "n_runs": self.n_runs,
        }


def cv_group_stats(runs: Sequence[tuple[str, CvStatistics]]) -> tuple[CvFeatureStats, ...]:
    """Per feature (sorted by name), then the joint variance ratio as the last row."""
    names = sorted({f.name for _, cv in runs for f in cv.features})
    rows = []
    for name in names:
        found = [f for _, cv in runs for f in cv.features if f.name == name]
        corr, ratio = spread(f.corr for f in found), spread(f.var_after_cv for f in found)
        rows.append(CvFeatureStats(name, corr, ratio, n_runs=len(found)))
    joint = spread(cv.var_after_cv_joint for _, cv in runs)
    rows.append(CvFeatureStats(JOINT_FEATURE, spread(()), joint, n_runs=joint.n, joint=True))
    return tuple(rows)


def group_summary_json(
    group_id: str,
    runs: Sequence[RunPoints],
    fits: Sequence[Fit],
    agreements: Sequence[Sequence[Agreement]],
    per_eta: Sequence[EtaStats],
    batch_comparisons: Sequence[BatchComparison],
    *,
    rel_errors: RelativeErrors | None = None,
    tails: Sequence[Any] = (),
    cv: Sequence[CvFeatureStats] = (),
) -> Json:
    """The group's numbers as plain JSON; ``fits`` and ``agreements`` align with ``runs``.

    ``tails`` takes objects with ``to_json`` (``tails.TailGroupRow``).
    """
    if not len(runs) == len(fits) == len(agreements):
        raise ValueError("runs, fits and agreements must have one entry per run")
    return {
        "group": group_id,
        "runs": [
            {
                "id": run.run_id,
                "batch_size": run.batch_size,
                "fit": fit.to_json(),
                "agreement": [a.to_json() for a in rows],
            }
            for run, fit, rows in zip(runs, fits, agreements, strict=True)
        ],
        "per_eta": [row.to_json() for row in per_eta],
        "batch_comparison": [row.to_json() for row in batch_comparisons],
        "relative_errors": rel_errors.to_json() if rel_errors is not None else None,
        "tails": [row.to_json() for row in tails],
        "cv": [row.to_json() for row in cv],
    }
