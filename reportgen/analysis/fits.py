"""Per-run fits of ΔH_true(η) and the agreement of the approximations with it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from reportgen.analysis.points import RunPoints
from reportgen.analysis.stats import Json, num
from reportgen.analysis.uncertainty import EtaUncertainty, RunUncertainty
from reportgen.load.models import FloatArray

Interval = tuple[float, float]


def _interval(value: Interval | None) -> list[float] | None:
    return None if value is None else [value[0], value[1]]


@dataclass(frozen=True, slots=True)
class Fit:
    """Least-squares lines through one run's ΔH_true(η); ``reason`` says why a fit is missing."""

    loglog_slope: float | None
    loglog_intercept: float | None
    loglog_r2: float | None
    linear_slope: float | None
    linear_intercept: float | None
    linear_r2: float | None
    n_loglog: int
    n_linear: int
    reason: str | None = None
    # paired-bootstrap 95 % intervals of the slopes (the same resamples at every η of the run)
    loglog_slope_ci95: Interval | None = None
    linear_slope_ci95: Interval | None = None

    @property
    def interval_note(self) -> str | None:
        """What to say when a slope lies outside its own bootstrap interval (the resampled
        fits are skewed: few η, or ΔH_true near 0 at some η)."""
        pairs = (
            ("log-log", self.loglog_slope, self.loglog_slope_ci95),
            ("linear", self.linear_slope, self.linear_slope_ci95),
        )
        outside = [
            name
            for name, value, ci in pairs
            if value is not None and ci is not None and not ci[0] <= value <= ci[1]
        ]
        if not outside:
            return None
        return (
            f"{' and '.join(outside)} slope outside its bootstrap 95 % interval: the fit moves "
            "a lot under resampling (few η, or ΔH_true near 0), so read the interval, not the slope"
        )

    def to_json(self) -> Json:
        return {
            "loglog_slope": self.loglog_slope,
            "loglog_intercept": self.loglog_intercept,
            "loglog_r2": self.loglog_r2,
            "linear_slope": self.linear_slope,
            "linear_intercept": self.linear_intercept,
            "linear_r2": self.linear_r2,
            "n_loglog": self.n_loglog,
            "n_linear": self.n_linear,
            "reason": self.reason,
            "loglog_slope_ci95": _interval(self.loglog_slope_ci95),
            "linear_slope_ci95": _interval(self.linear_slope_ci95),
        }


Line = tuple[float | None, float | None, float | None]


def least_squares(x: FloatArray, y: FloatArray) -> Line:
    """(slope, intercept, R²) of y = a·x + b; R² is ``None`` when y has no variance."""
    if x.size < 2:
        return None, None, None
    dx, dy = x - x.mean(), y - y.mean()
    sxx = float(dx @ dx)
    if not sxx > 0:
        return None, None, None
    slope = float(dx @ dy) / sxx
    intercept = float(y.mean()) - slope * float(x.mean())
    sst = float(dy @ dy)
    if not sst > 0:
        r2 = None
    elif x.size == 2:
        r2 = 1.0  # a line through two points is exact; avoid 1 − ε from rounding
    else:
        r2 = 1.0 - float(np.sum((dy - slope * dx) ** 2)) / sst
    return num(slope), num(intercept), num(r2)


def fit_run(points: RunPoints, uncertainty: RunUncertainty | None = None) -> Fit:
    """Fit log|ΔH_true| = k·log η + c and ΔH_true = a·η + b over the run's η values.

    The log-log fit uses |ΔH_true| so a run whose ΔH_true is negative still gets an exponent;
    it needs η > 0 and a nonzero ΔH_true, the linear fit only finite values. The slopes'
    intervals come from the run's bootstrap (``uncertainty``), which fits the same η.
    """
    pairs = [
        (s.eta, d)
        for s in points.etas
        if math.isfinite(s.eta) and (d := num(s.delta_h_true)) is not None
    ]
    lin = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    log = np.asarray([(math.log(e), math.log(abs(d))) for e, d in pairs if e > 0 and d != 0])
    log = log.reshape(-1, 2)
    linear = least_squares(lin[:, 0], lin[:, 1])
    loglog = least_squares(log[:, 0], log[:, 1])
    reason = None
    if linear[0] is None:
        reason = "fewer than 2 η values" if len(lin) < 2 else "η values do not vary"
    elif loglog[0] is None and len(log) < 2:
        reason = "fewer than 2 η values with nonzero ΔH_true (log-log fit)"
    elif loglog[0] is None:
        reason = "η values do not vary (log-log fit)"
    return Fit(
        *loglog,
        *linear,
        n_loglog=len(log),
        n_linear=len(lin),
        reason=reason,
        loglog_slope_ci95=uncertainty.loglog_slope_ci95 if uncertainty else None,
        linear_slope_ci95=uncertainty.linear_slope_ci95 if uncertainty else None,
    )


@dataclass(frozen=True, slots=True)
class Agreement:
    """ΔH_linear − ΔH_true at one η against its standard errors.

    ``paired_*`` judge the difference with the run's paired SE of linear − true
    (``EtaUncertainty.se_diff_linear``: the same sequences drive both, so their noise largely
    cancels). ``se_linear``/``se_true``/``combined_se``/``within_*sigma`` are the notebook's
    ``post_correction_analysis`` numbers (se_shard·η and std(true_contrib)/√n): SEs of a mean
    shard and of a mean contribution, not of the sums, hence far too small.
    """

    eta: float
    diff: float | None
    se_linear: float | None
    se_true: float | None
    combined_se: float | None
    within_1sigma: bool | None
    within_2sigma: bool | None
    paired_se: float | None = None
    paired_z: float | None = None
    paired_within_1se: bool | None = None
    paired_within_2se: bool | None = None
    paired_method: str | None = None  # how paired_se was computed (delta method or fallback)
    verdict_linear: str | None = None  # the run's verdict at this η (analysis.verdicts)

    @property
    def verdict(self) -> str | None:
        """``agrees``, ``disagrees`` or ``inconclusive`` (``analysis.verdicts``), or ``None``:
        a small |z| alone is never agreement."""
        return self.verdict_linear

    @property
    def z(self) -> float | None:
        if self.diff is None or not self.combined_se:
            return None
        return num(self.diff / self.combined_se)

    def to_json(self) -> Json:
        return {
            "eta": self.eta,
            "diff": self.diff,
            "se_linear": self.se_linear,
            "se_true": self.se_true,
            "combined_se": self.combined_se,
            "within_1sigma": self.within_1sigma,
            "within_2sigma": self.within_2sigma,
            "z": self.z,
            "paired_se": self.paired_se,
            "paired_z": self.paired_z,
            "paired_within_1se": self.paired_within_1se,
            "paired_within_2se": self.paired_within_2se,
            "paired_method": self.paired_method,
            "verdict_linear": self.verdict_linear,
            **self.notebook_json(),
        }

    def notebook_json(self) -> Json:
        """The notebook's numbers under names that say so (the unprefixed names above are
        their deprecated aliases: ``se_true`` means the delta-method SE everywhere else)."""
        return {
            "notebook_z": self.z,
            "notebook_se_true": self.se_true,
            "notebook_se_linear": self.se_linear,
            "notebook_combined_se": self.combined_se,
            "notebook_within_1sigma": self.within_1sigma,
            "notebook_within_2sigma": self.within_2sigma,
        }


def agreement(
    points: RunPoints, errors: Sequence[EtaUncertainty | None] = ()
) -> tuple[Agreement, ...]:
    """Per η the paired verdict from ``errors`` (aligned with ``points.etas``, as
    ``RunRecord.eta_errors``), and the notebook's: se_linear = se_shard·η, se_true from
    ``true_se``, combined = √(sum of squares)."""
    aligned = tuple(errors) if len(errors) == len(points.etas) else (None,) * len(points.etas)
    rows = []
    for s, error in zip(points.etas, aligned, strict=True):
        lin, true = num(s.delta_h_linear), num(s.delta_h_true)
        diff = num(lin - true) if lin is not None and true is not None else None
        se_linear = num(points.se_shard * abs(s.eta)) if points.se_shard is not None else None
        se_true = num(points.true_se_at(s.eta))
        combined = (
            num(math.hypot(se_linear, se_true))
            if se_linear is not None and se_true is not None
            else None
        )
        rows.append(
            Agreement(
                eta=s.eta,
                diff=diff,
                se_linear=se_linear,
                se_true=se_true,
                combined_se=combined,
                within_1sigma=_within(diff, combined, 1.0),
                within_2sigma=_within(diff, combined, 2.0),
            )
        )
        se = num(error.se_diff_linear) if error is not None else None
        if error is not None and se is not None and se > 0 and diff is not None:
            rows[-1] = replace(
                rows[-1],
                paired_se=se,
                paired_z=num(diff / se),
                paired_within_1se=_within(diff, se, 1.0),
                paired_within_2se=_within(diff, se, 2.0),
                paired_method=error.method("se_diff_linear"),
                verdict_linear=error.verdict_linear,
            )
        else:
            rows[-1] = replace(rows[-1], paired_se=se)
    return tuple(rows)


def _within(diff: float | None, se: float | None, sigmas: float) -> bool | None:
    if diff is None or se is None:
        return None
    return abs(diff) <= sigmas * se
