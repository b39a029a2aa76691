"""The evidence the approximation checks weigh: linear − true against noise at each η,
η*'s standard error, and the log-log slope's interval."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from reportgen.analysis.diagnostics.registry import CheckContext, fmt, fmt_eta
from reportgen.analysis.order_stats import distinct_count
from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.kinds.sample_stats import t_quantile
from reportgen.load.models import Curvature
from reportgen.numfmt import format_with_se

Interval = tuple[float, float]

# --- η* -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EtaStar:
    """η* = 2|g·v/vHv| and the relative SEs of g·v and vHv (K·se/|value|; ``None`` if unknown).

    The files' ``se_gdotv`` and ``se_vHvv``, like ``se_shard``, are the SE of the mean shard,
    so the SE of the total is K·se.
    """

    value: float
    shards: int | None = None
    rel_gdotv: float | None = None
    rel_vhvv: float | None = None

    @property
    def rel_se(self) -> float | None:
        """First-order relative SE of η*: √(rel_gdotv² + rel_vhvv²), their covariance ignored."""
        if self.rel_gdotv is None or self.rel_vhvv is None:
            return None
        return math.hypot(self.rel_gdotv, self.rel_vhvv)

    @property
    def se(self) -> float | None:
        rel = self.rel_se
        return None if rel is None else self.value * rel

    def bound(self, z: float) -> float | None:
        """η* + z·SE(η*), or ``None`` without an SE."""
        se = self.se
        return None if se is None else self.value + z * se


def _relative(se: float | None, value: float | None, shards: int | None) -> float | None:
    if se is None or value is None or shards is None or shards < 1 or value == 0:
        return None
    rel = shards * se / abs(value)
    return rel if math.isfinite(rel) and rel >= 0 else None


def eta_star(curvature: Curvature | None, recorded: float | None) -> EtaStar | None:
    """The curvature block's η* (else ``recorded``, an SNIS run's ``approx.eta_star``), with the
    relative SEs of the block's g·v and vHv."""
    star = curvature.eta_star if curvature is not None else None
    star = recorded if star is None else star
    if star is None or not math.isfinite(star) or star <= 0:
        return None
    if curvature is None:
        return EtaStar(star)
    k = curvature.num_shards
    return EtaStar(
        star,
        k,
        _relative(curvature.se_gdotv, curvature.gdotv, k),
        _relative(curvature.se_vhvv, curvature.vhvv, k),
    )


def eta_star_of(ctx: CheckContext) -> EtaStar | None:
    return eta_star(ctx.curvature, ctx.snis.approx.eta_star if ctx.snis is not None else None)


def star_text(star: EtaStar) -> str:
    """η* ± SE with the formula and K, or named as having no SE."""
    if star.se is None:
        return f"η* = {fmt_eta(star.value)} (no standard error: g·v, vHvv, their SEs or K missing)"
    return (
        f"η* = {fmt_eta(star.value)} ± {fmt(star.se, 2)} (relative SE {fmt(star.rel_se, 2)} = "
        f"√((K·se_gdotv/g·v)² + (K·se_vHvv/vHv)²), K = {star.shards})"
    )


def eta_list(etas: list[float]) -> str:
    return ", ".join(fmt_eta(e) for e in etas)


# --- linear − true at each η ----------------------------------------------------------------


def _z_linear(ctx: CheckContext, eta: float) -> float | None:
    """The paired z of linear − true at η, or ``None`` when the run has no SE for it."""
    row = ctx.uncertainty.at(eta) if ctx.uncertainty is not None else None
    return row.z_linear if row is not None else None


@dataclass(frozen=True)
class Noise:
    """How linear − true compares with noise at one η: z and where its SE came from.

    Only ``"se_diff"`` (the SE of the difference, ΔH_true's SE included) can show a difference
    or its absence; ``"se_linear"`` (the linear term's SE alone, where ΔH_true has none) is
    incomplete: ΔH_true's noise and its covariance with the linear term could move z either way.
    """

    z: float | None
    source: str  # "se_diff", "se_linear" (incomplete), or "" (no standard error)

    @property
    def complete(self) -> bool:
        """Whether z is over the SE of the difference itself."""
        return self.source == "se_diff"

    def significant(self, limit: float) -> bool | None:
        """Beyond noise (|z| > limit), not shown to differ, or ``None`` when unknown."""
        return None if self.z is None else abs(self.z) > limit


def noise_at(ctx: CheckContext, eta: float, difference: float) -> Noise:
    """The z over the SE of the difference where there is one, else the difference over the
    run's own se_linear (incomplete)."""
    z = _z_linear(ctx, eta)
    if z is not None:
        return Noise(z, "se_diff")
    row = ctx.uncertainty.at(eta) if ctx.uncertainty is not None else None
    se = row.se_linear if row is not None else None
    if se is not None and se > 0 and math.isfinite(difference / se):
        return Noise(difference / se, "se_linear")
    return Noise(None, "")


@dataclass(frozen=True)
class LinearError:
    eta: float
    values: str  # "η (relative error, linear …, true …" without the noise or the ")"
    noise: Noise
    opposite: bool  # ΔH_linear and ΔH_true of opposite signs
    mde: float | None  # smallest relative error detected with 80 % power (complete SE only)

    @property
    def text(self) -> str:
        return f"{self.values}, z = {fmt(self.noise.z, 3)})"

    def inconclusive_text(self) -> str:
        """|z| and the MDE: what a test that shows no difference could have detected."""
        mde = "no MDE" if self.mde is None else f"MDE = {fmt(self.mde, 2)}"
        return f"{self.values}, |z| = {fmt(abs(self.noise.z or 0.0), 3)}, {mde})"

    def unjudged_text(self) -> str:
        """The η without a z: the difference over se_linear alone, named as such."""
        if self.noise.z is None:
            return f"{self.values}, no standard error)"
        return f"{self.values}, (linear − true)/se_linear = {fmt(self.noise.z, 3)})"


def large_linear_errors(ctx: CheckContext) -> Iterator[LinearError]:
    """The η where |linear − true|/|true| exceeds ``max_linear_error`` (recorded values only)."""
    limit = ctx.options.max_linear_error
    for row in ctx.summaries:
        error = row.rel_err_linear
        if error is None or abs(error) <= limit:  # None: not recorded, or ΔH_true = 0
            continue
        assert row.delta_h_linear is not None and row.delta_h_true is not None
        noise = noise_at(ctx, row.eta, row.delta_h_linear - row.delta_h_true)
        values = (
            f"{fmt_eta(row.eta)} ({_relative_error(ctx, row.eta, abs(error))}, linear "
            f"{fmt(row.delta_h_linear)}, true {fmt(row.delta_h_true)}"
        )
        opposite = row.delta_h_linear * row.delta_h_true < 0
        uncertainty = ctx.uncertainty.at(row.eta) if ctx.uncertainty is not None else None
        mde = uncertainty.mde_linear if uncertainty is not None and noise.complete else None
        yield LinearError(row.eta, values, noise, opposite, mde)


def _relative_error(ctx: CheckContext, eta: float, error: float) -> str:
    """|linear − true|/|true| with its SE (that of linear/true), or named as having none."""
    row = ctx.uncertainty.at(eta) if ctx.uncertainty is not None else None
    se = row.se_ratio_linear if row is not None else None
    if se is None or not math.isfinite(se) or se <= 0:
        return f"relative error {fmt(error, 3)}, no SE"
    return f"relative error {format_with_se(error, se)}"


def signs(errors: list[LinearError]) -> str:
    """How many of these η have linear and true of opposite signs (nothing if none)."""
    n = sum(e.opposite for e in errors)
    return f"; ΔH_linear and ΔH_true have opposite signs at {n} of the {len(errors)} η" if n else ""


def missing_se(ctx: CheckContext, errors: list[LinearError]) -> str:
    """Why linear − true has no standard error at these η."""
    rows = [ctx.uncertainty.at(e.eta) if ctx.uncertainty is not None else None for e in errors]
    if all(row is None or row.se_true is None for row in rows):
        return "ΔH_true has no standard error here, so the SE of linear − true is incomplete"
    return "linear − true has no standard error here"


# --- why linear misses: the log-log slope -----------------------------------------------------


@dataclass(frozen=True)
class Slope:
    """The least-squares slope of log|ΔH_true| on log η, and its 95 % interval: the paired
    bootstrap's (``se`` None), or slope ± t(0.975, dof)·se with se from the fit's residuals."""

    value: float
    etas: tuple[float, ...]
    interval: Interval | None = None
    se: float | None = None
    dof: int | None = None

    @property
    def excludes_one(self) -> bool:
        return self.interval is not None and not self.interval[0] <= 1.0 <= self.interval[1]

    def ratio_change(self) -> Interval | None:
        """The factor by which linear/true (∝ η^(1 − slope)) changes from the smallest to the
        largest fitted η, at either end of the slope's interval."""
        if self.interval is None:
            return None
        span = max(self.etas) / min(self.etas)
        return span ** (1.0 - self.interval[1]), span ** (1.0 - self.interval[0])


def loglog_slope(
    points: Sequence[tuple[float, float]], bootstrap: Interval | None, min_points: int = 2
) -> Slope | None:
    """The slope through ``(η, |ΔH_true|)`` (positive, finite); ``None`` with fewer than
    ``min_points`` distinct η. Without a ``bootstrap`` interval the residuals give the SE
    (k − 2 degrees of freedom; none with two η)."""
    etas = tuple(p[0] for p in points)
    x = np.log(np.asarray(etas, dtype=np.float64))
    if distinct_count(x) < max(min_points, 2):
        return None
    y = np.log(np.asarray([p[1] for p in points], dtype=np.float64))
    xc = x - x.mean()
    sxx = float(xc @ xc)
    value = float(xc @ (y - y.mean()) / sxx)
    if not math.isfinite(value):
        return None
    if bootstrap is not None:
        return Slope(value, etas, bootstrap)
    dof = len(points) - 2
    if dof < 1:
        return Slope(value, etas)
    residuals = y - y.mean() - value * xc
    se = math.sqrt(float(residuals @ residuals) / dof / sxx)
    half = t_quantile(0.975, dof) * se
    return Slope(value, etas, (value - half, value + half), se, dof)


def slope_of(ctx: CheckContext) -> Slope | None:
    """The log-log slope of |ΔH_true| over the η with a finite, non-zero ΔH_true."""
    points = [
        (row.eta, abs(row.delta_h_true))
        for row in ctx.summaries
        if row.delta_h_true and row.eta > 0 and math.isfinite(row.eta)
    ]
    interval = ctx.uncertainty.loglog_slope_ci95 if ctx.uncertainty is not None else None
    return loglog_slope(points, interval, ctx.options.min_slope_points)


def slope_text(slope: Slope) -> str:
    """The slope, its 95 % interval and where the interval came from."""
    assert slope.interval is not None
    low, high = slope.interval
    how = "paired bootstrap"
    if slope.se is not None:
        how = f"SE {fmt(slope.se, 2)} from the fit's residuals, t with k − 2 = {slope.dof} df"
    return (
        f"log-log slope of |ΔH_true| against η is {fmt(slope.value, 3)} (95 % interval "
        f"{fmt(low, 3)} … {fmt(high, 3)}, {how}) over {len(slope.etas)} η "
        f"({fmt_eta(min(slope.etas))} … {fmt_eta(max(slope.etas))})"
    )


def cause(ctx: CheckContext) -> str:
    """What the log-log slope says about a miss: curvature, a constant ratio, or not resolved."""
    slope = slope_of(ctx)
    change = slope.ratio_change() if slope is not None else None
    if slope is None or change is None:
        return "; the log-log slope of |ΔH_true| has no interval: compare with lin+quad and η*"
    if slope.excludes_one:
        return f"; ΔH_true is not linear in η ({slope_text(slope)}): compare with lin+quad and η*"
    margin = ctx.uncertainty.equivalence_margin if ctx.uncertainty else DEFAULT_MARGIN
    factor = f"linear/true changes by a factor {fmt(change[0], 3)} … {fmt(change[1], 3)}"
    if 1 - margin <= change[0] and change[1] <= 1 + margin:
        return (
            f"; the ratio is constant in η ({_ratios(ctx)}{slope_text(slope)}, so {factor} "
            f"across the range, within ±{fmt(margin, 2)}): a scale or normalisation mismatch, "
            "not curvature"
        )
    return (
        f"; whether the ratio changes with η is not resolved ({slope_text(slope)}, so {factor} "
        "across the range): curvature and a scale mismatch cannot be told apart"
    )


def _ratios(ctx: CheckContext) -> str:
    """The range of linear/true over the run's η, with the range of their SEs."""
    rows = ctx.uncertainty.etas if ctx.uncertainty is not None else ()
    ratios = [u.ratio_linear for u in rows if u.ratio_linear is not None]
    ses = [u.se_ratio_linear for u in rows if u.se_ratio_linear is not None]
    if not ratios:
        return ""
    text = f"linear/true {fmt(min(ratios), 3)} … {fmt(max(ratios), 3)}"
    low, high = (fmt(min(ses), 2), fmt(max(ses), 2)) if ses else ("", "")
    if ses:
        text += f", SE {low}" if low == high else f", SE {low} … {high}"
    return text + "; "
