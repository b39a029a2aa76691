"""Checks of measurement quality: SNIS weights, the approximations against noise, CVs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from reportgen.analysis.delta import shard_mean_se
from reportgen.analysis.diagnostics.registry import (
    CheckContext,
    Hit,
    at,
    check,
    fmt,
    fmt_eta,
    rel,
)
from reportgen.numfmt import format_with_se

# --- SNIS quality ----------------------------------------------------------------------------


@check("low-ess", "warning", "Low effective sample size", "snis")
def low_ess(ctx: CheckContext) -> Iterator[Hit]:
    """The SNIS effective sample size is below half the batch (ESS/N < 0.5).

    **Why it matters:** a few sequences carry most of the weight, so ΔH_true is noisy and
    dominated by them; its error bars are wider than the batch size suggests.

    **What to do:** use smaller η, or a larger evaluation batch.
    """
    limit = ctx.options.min_ess_fraction
    for row in ctx.summaries:
        if row.ess_fraction is not None and row.ess_fraction < limit:
            yield Hit(
                f"ESS/N = {fmt(row.ess_fraction, 3)} {at(row.eta)} (ESS = {fmt(row.ess, 4)}, "
                f"threshold {fmt(limit, 3)})",
                row.eta,
            )


@check("weights-clipped", "warning", "SNIS weights clipped", "snis")
def weights_clipped(ctx: CheckContext) -> Iterator[Hit]:
    """Some importance weights were clipped (`clip_fraction` > 0).

    **Why it matters:** clipping biases the SNIS estimate; ΔH_true is no longer the
    ground truth it claims to be at this η.

    **What to do:** use smaller η or raise `clip_c`; treat the affected η with caution.
    """
    for row in ctx.summaries:
        if row.clip_fraction is not None and row.clip_fraction > 0:
            yield Hit(f"clip_fraction = {fmt(row.clip_fraction, 3)} {at(row.eta)}", row.eta)


# --- approximation quality -------------------------------------------------------------------


def _eta_star(ctx: CheckContext) -> float | None:
    curvature = ctx.curvature
    star = curvature.eta_star if curvature else None
    if star is None and ctx.snis is not None:
        star = ctx.snis.approx.eta_star
    return star if star is not None and math.isfinite(star) and star > 0 else None


@check("eta-beyond-curvature", "warning", "η beyond the curvature's η*", "curvature")
def eta_beyond_curvature(ctx: CheckContext) -> Iterator[Hit]:
    """An η exceeds `eta_star` (SNIS: `approx.quadratic.eta_star` or `approx.eta_star`; sweep:
    `curvature.eta_star`). In the data η* = 2·|g·v / vHv|: the step size at which the quadratic
    term ½·vHv·η² grows as large as the linear term g·v·η.

    **Why it matters:** beyond η* the second-order term dominates, so the linear prediction is
    not expected to track ΔH_true and the lin+quad one is rough at best; large errors there
    are not a bug.

    **What to do:** judge the approximations on the η below η*.
    """
    star = _eta_star(ctx)
    if star is None:
        return
    for row in ctx.summaries:
        if row.eta > star:
            yield Hit(f"η = {fmt_eta(row.eta)} exceeds η* = {fmt_eta(star)}", row.eta)


@check("ratio-pred-degenerate", "info", "ratio_pred carries no prediction", "curvature")
def ratio_pred_degenerate(ctx: CheckContext) -> Iterator[Hit]:
    """Every `ratio_pred` value is below 10⁻²⁰ in magnitude.

    **Why it matters:** such values are numerically zero (probably a scale problem in the
    writer), so the predicted ratios carry no usable prediction; ignore the `ratio_pred` table.

    **What to do:** nothing; compute the ratio from `gdotv`, `vHvv` and η if needed.
    """
    curvature = ctx.curvature
    if curvature is None or not curvature.ratio_pred:
        return
    values = np.asarray([v for _, v in curvature.ratio_pred], dtype=np.float64)
    floor = ctx.options.ratio_pred_floor
    if np.all(np.abs(values) < floor):
        yield Hit(
            f"every ratio_pred value ({values.size}) is below {fmt_eta(floor)} in magnitude "
            f"(largest {fmt(float(np.max(np.abs(values))), 2)})"
        )


def _z_linear(ctx: CheckContext, eta: float) -> float | None:
    """The paired z of linear − true at η, or ``None`` when the run has no SE for it."""
    row = ctx.uncertainty.at(eta) if ctx.uncertainty is not None else None
    return row.z_linear if row is not None else None


@dataclass(frozen=True)
class _Noise:
    """How linear − true compares with noise at one η: z and where its SE came from.

    Only ``"se_diff"`` (the SE of the difference, ΔH_true's SE included) can show a difference;
    ``"se_linear"`` (the linear term's SE alone, where ΔH_true has none) is incomplete: ΔH_true's
    noise and its covariance with the linear term could move z either way.
    """

    z: float | None
    source: str  # "se_diff", "se_linear" (incomplete), or "" (no standard error)

    @property
    def complete(self) -> bool:
        """Whether z is over the SE of the difference itself."""
        return self.source == "se_diff"

    def significant(self, limit: float) -> bool | None:
        """Beyond noise (|z| > limit), within it, or ``None`` when unknown."""
        return None if self.z is None else abs(self.z) > limit

    def text(self) -> str:
        if self.z is None:
            return "no standard error: significance unknown"
        if self.source == "se_linear":
            return (
                f"(linear − true)/se_linear = {fmt(self.z, 3)}, from se_linear alone: "
                "ΔH_true has no SE here"
            )
        return f"z = {fmt(self.z, 3)}"


def _noise(ctx: CheckContext, eta: float, difference: float) -> _Noise:
    """The z over the SE of the difference where there is one, else the difference over the
    run's own se_linear (incomplete)."""
    z = _z_linear(ctx, eta)
    if z is not None:
        return _Noise(z, "se_diff")
    row = ctx.uncertainty.at(eta) if ctx.uncertainty is not None else None
    se = row.se_linear if row is not None else None
    if se is not None and se > 0 and math.isfinite(difference / se):
        return _Noise(difference / se, "se_linear")
    return _Noise(None, "")


@dataclass(frozen=True)
class _LinearError:
    eta: float
    values: str  # "η (relative error, linear …, true …" without the noise or the ")"
    noise: _Noise

    @property
    def text(self) -> str:
        return f"{self.values}, {self.noise.text()})"

    def unjudged_text(self) -> str:
        """The η without a z: the difference over se_linear alone, named as such."""
        if self.noise.z is None:
            return f"{self.values}, no standard error)"
        return f"{self.values}, (linear − true)/se_linear = {fmt(self.noise.z, 3)})"


def _large_linear_errors(ctx: CheckContext) -> Iterator[_LinearError]:
    """The η where |linear − true|/|true| exceeds ``max_linear_error`` (recorded values only)."""
    limit = ctx.options.max_linear_error
    for row in ctx.summaries:
        error = row.rel_err_linear
        if error is None or abs(error) <= limit:  # None: not recorded, or ΔH_true = 0
            continue
        assert row.delta_h_linear is not None and row.delta_h_true is not None
        noise = _noise(ctx, row.eta, row.delta_h_linear - row.delta_h_true)
        values = (
            f"{fmt_eta(row.eta)} ({_relative(ctx, row.eta, abs(error))}, linear "
            f"{fmt(row.delta_h_linear)}, true {fmt(row.delta_h_true)}"
        )
        yield _LinearError(row.eta, values, noise)


def _relative(ctx: CheckContext, eta: float, error: float) -> str:
    """|linear − true|/|true| with its SE (that of linear/true), or named as having none."""
    row = ctx.uncertainty.at(eta) if ctx.uncertainty is not None else None
    se = row.se_ratio_linear if row is not None else None
    if se is None or not math.isfinite(se) or se <= 0:
        return f"relative error {fmt(error, 3)}, no SE"
    return f"relative error {format_with_se(error, se)}"


@check("sign-disagreement", "warning", "Linear and true ΔH have opposite signs", "eta-table")
def sign_disagreement(ctx: CheckContext) -> Iterator[Hit]:
    """The linear prediction and ΔH_true have opposite signs, and their difference is beyond
    noise: |z| > 1.96 for z = (ΔH_linear − ΔH_true)/se_diff_linear, ΔH_true's SE included. A
    run whose ΔH_true has no SE (an η sweep) is not judged here: its relative error, above 1
    with opposite signs, is reported by `linear-error-se-incomplete`.

    **Why it matters:** the first-order model predicts the wrong direction of the entropy
    change: at this η it is not even qualitatively right.

    **What to do:** look at smaller η and at the SNIS noise (ESS). Opposite signs within
    noise are reported by `linear-error-within-noise` instead.
    """
    found: list[tuple[float, str]] = []
    for row in ctx.summaries:
        true, linear = row.delta_h_true, row.delta_h_linear
        if true is None or linear is None or not true * linear < 0:
            continue
        noise = _noise(ctx, row.eta, linear - true)
        # without ΔH_true's SE the difference is not shown (linear-error-se-incomplete says so)
        if noise.complete and noise.significant(ctx.options.significant_z):
            text = f"{fmt_eta(row.eta)} (linear {fmt(linear)}, true {fmt(true)}, {noise.text()})"
            found.append((row.eta, text))
    if found:
        yield Hit(
            "ΔH_linear and ΔH_true have opposite signs at η = " + "; ".join(t for _, t in found),
            etas=tuple(eta for eta, _ in found),
        )


@check("linear-disagrees", "warning", "Linear prediction disagrees with ΔH_true", "eta-table")
def linear_disagrees(ctx: CheckContext) -> Iterator[Hit]:
    """The run's verdict is **disagrees**: at some η the paired difference ΔH_linear − ΔH_true
    is beyond noise at the 5 % level (|z| > 1.96, z over the paired standard error), however
    small the relative error. One finding per run, listing those η with the ratio
    linear/true ± its SE.

    **Why it matters:** the linear prediction is off by more than the noise of this run can
    explain: at these η it misses ΔH_true systematically (e.g. it overshoots by a third), even
    when the relative error looks modest. A run that is merely noisy is *inconclusive*, never
    *disagrees*.

    **What to do:** compare with lin+quad and η*; pool the runs of the population on the
    group page to see whether the runs agree with each other about the size of the miss.
    """
    rows = ctx.uncertainty.etas if ctx.uncertainty is not None else ()
    found = [u for u in rows if u.verdict_linear == "disagrees"]
    if found:
        yield Hit(
            "linear disagrees with ΔH_true beyond noise (|z| > 1.96) at η = "
            + "; ".join(
                f"{fmt_eta(u.eta)} (linear/true = {fmt(u.ratio_linear, 3)} ± "
                f"{fmt(u.se_ratio_linear, 2)}, z = {fmt(u.z_linear, 3)})"
                for u in found
            ),
            etas=tuple(u.eta for u in found),
        )


@check("linear-error-large", "warning", "Linear prediction far off", "eta-table")
def linear_error_large(ctx: CheckContext) -> Iterator[Hit]:
    """|ΔH_linear − ΔH_true| / |ΔH_true| exceeds 0.5 **and** the difference is beyond noise:
    |z| > 1.96 with z over the standard error of the difference (`se_diff_linear`: paired, or
    the unpaired √(se_linear² + se_true²)), which includes ΔH_true's SE. One finding per run,
    listing the η. A run whose ΔH_true has no SE (an η sweep, aggregate-only records) is never
    reported here: see `linear-error-se-incomplete`.

    **Why it matters:** the linear model misses ΔH_true by more than half of it, by more than
    the noise of this run can explain: η is outside the linear regime.

    **What to do:** compare with the lin+quad column and with η*; check ESS.
    """
    limit = ctx.options.significant_z
    found = [
        e for e in _large_linear_errors(ctx) if e.noise.complete and e.noise.significant(limit)
    ]
    if found:
        yield Hit(
            f"|linear − true| / |true| > {fmt(ctx.options.max_linear_error, 3)} beyond noise "
            f"(|z| > {fmt(limit, 3)}) at η = " + "; ".join(e.text for e in found),
            etas=tuple(e.eta for e in found),
        )


@check("linear-error-within-noise", "info", "Linear error large but within noise", "eta-table")
def linear_error_within_noise(ctx: CheckContext) -> Iterator[Hit]:
    """|ΔH_linear − ΔH_true| / |ΔH_true| exceeds 0.5, but the difference is within noise:
    |z| ≤ 1.96 with z over the SE of the difference, or, where ΔH_true has no SE, within the
    linear term's own noise (|ΔH_linear − ΔH_true| ≤ 1.96·se_linear, which the message says).
    One finding per run, listing the η.

    **Why it matters:** the relative error looks large only because ΔH_true (or the linear
    term) is small against its standard error; the data do not contradict the linear model.

    **What to do:** nothing; a larger evaluation batch would resolve the difference.
    """
    limit = ctx.options.significant_z
    found = [e for e in _large_linear_errors(ctx) if e.noise.significant(limit) is False]
    if found:
        yield Hit(
            f"|linear − true| / |true| > {fmt(ctx.options.max_linear_error, 3)} but within "
            f"noise (|z| ≤ {fmt(limit, 3)}) at η = " + "; ".join(e.text for e in found),
            etas=tuple(e.eta for e in found),
        )


@check(
    "linear-error-se-incomplete",
    "info",
    "Linear error large, its standard error incomplete",
    "eta-table",
)
def linear_error_se_incomplete(ctx: CheckContext) -> Iterator[Hit]:
    """|ΔH_linear − ΔH_true| / |ΔH_true| exceeds 0.5 at η where the run has no standard error
    of the difference, because ΔH_true has none (an η sweep, aggregate-only records), and the
    difference is not within the linear term's own noise: |ΔH_linear − ΔH_true| > 1.96·se_linear,
    or there is no se_linear either. One finding per run, listing the η and
    (linear − true)/se_linear.

    **Why it matters:** that ratio is not a z: the SE of ΔH_true, and its covariance with the
    linear term, are missing from it, and an SE of ΔH_true the size the SNIS runs have can bring
    it below 1.96. No difference is shown, and no agreement either; the run's verdict is not
    judged (`null`). A difference within se_linear alone is reported by
    `linear-error-within-noise` instead.

    **What to do:** read the error as unjudged, not as a failure of the linear model; compare
    with the lin+quad column and with η*; a run with per-sequence SNIS records gives ΔH_true's SE.
    """
    limit = ctx.options.significant_z
    found = [
        e
        for e in _large_linear_errors(ctx)
        if not e.noise.complete and e.noise.significant(limit) is not False
    ]
    if found:
        yield Hit(
            f"|linear − true| / |true| > {fmt(ctx.options.max_linear_error, 3)} at η = "
            + "; ".join(e.unjudged_text() for e in found)
            + f"; {_missing_se(ctx, found)}: no difference is shown",
            etas=tuple(e.eta for e in found),
        )


def _missing_se(ctx: CheckContext, errors: list[_LinearError]) -> str:
    """Why linear − true has no standard error at these η."""
    rows = [ctx.uncertainty.at(e.eta) if ctx.uncertainty is not None else None for e in errors]
    if all(row is None or row.se_true is None for row in rows):
        return "ΔH_true has no standard error here, so the SE of linear − true is incomplete"
    return "linear − true has no standard error here"


@check("approx-not-recorded", "info", "Approximation not recorded", "eta-table")
def approx_not_recorded(ctx: CheckContext) -> Iterator[Hit]:
    """An η sweep has `deltaH_approx` (linear or lin+quad) of exactly 0.0 at some η.

    **Why it matters:** the sweep writes 0.0 where it did not compute the approximation; read
    as a value, it would be a 100 % error. Where the approximation is 0.0 at every η of the
    sweep it was not recorded at all: it is published as `null` in every table and twin, and
    the error checks skip these η.

    **What to do:** nothing; re-run the sweep with the approximation enabled if it is needed.
    """
    if ctx.run.sweep is None:
        return
    sweep = ctx.run.sweep
    rows = [
        float(eta)
        for eta, linear, linquad in zip(
            sweep.etas, sweep.delta_h_linear, sweep.delta_h_linquad, strict=True
        )
        if linear == 0.0 or linquad == 0.0
    ]
    if rows:
        yield Hit(
            "deltaH_approx is exactly 0.0 (not recorded) at η = "
            + ", ".join(fmt_eta(r) for r in rows),
            etas=tuple(rows),
        )


@check("se-shard-is-mean-se", "info", "se_shard is the SE of the mean shard", "eta-table")
def se_shard_is_mean_se(ctx: CheckContext) -> Iterator[Hit]:
    """`approx.variance.se_shard` equals std(contiguous shard sums of gdotv, ddof 1)/√K, with K
    = `num_shards` and shard k the sequences k·n/K … (k+1)·n/K − 1: it is the standard error of
    the *mean* shard. The SE of `delta_h_per_lr` (the sum of all shards) is K·se_shard.

    **Why it matters:** the notebook's `post_correction_analysis` uses se_shard·η as the SE of
    ΔH_linear, which is K times too small, so nearly every comparison looks significant.
    reportgen uses the delta-method SEs (or K·se_shard·η without per-sequence records).

    **What to do:** nothing; read se_shard as the SE of the mean shard.
    """
    approx = ctx.snis.approx if ctx.snis else None
    if approx is None or approx.per_sequence is None:
        return
    k, se = approx.num_shards, approx.se_shard
    if k is None or se is None or not se > 0:
        return
    recomputed = shard_mean_se(approx.per_sequence.gdotv, k)
    if recomputed is None or abs(recomputed - se) > ctx.options.shard_identity_rtol * se:
        return
    yield Hit(
        f"se_shard = {fmt(se)} = std(shard sums)/√{k} (rel. diff {fmt(rel(recomputed, se), 2)})"
        f": the SE of the mean shard; the SE of delta_h_per_lr is {k}·se_shard = {fmt(k * se)} "
        f"(factor {k})"
    )


@check("nonlinear-in-eta", "info", "ΔH_true does not scale linearly with η", "eta-table")
def nonlinear_in_eta(ctx: CheckContext) -> Iterator[Hit]:
    """The least-squares slope of log|ΔH_true| against log η differs from 1 by more than 0.15.

    Fitted over the η with a finite, non-zero ΔH_true (at least two distinct η). When the
    run's paired bootstrap gives a 95 % interval for the slope and that interval contains 1,
    the deviation is noise and nothing is reported.

    **Why it matters:** a linear model predicts ΔH ∝ η, a slope of 1; another slope means
    curvature or noise dominates over the measured range.

    **What to do:** compare with the lin+quad prediction and restrict to smaller η.
    """
    points = [
        (row.eta, abs(row.delta_h_true))
        for row in ctx.summaries
        if row.delta_h_true and row.eta > 0 and math.isfinite(row.eta)
    ]
    etas = np.log(np.asarray([p[0] for p in points], dtype=np.float64))
    if np.unique(etas).size < max(ctx.options.min_slope_points, 2):
        return
    values = np.log(np.asarray([p[1] for p in points], dtype=np.float64))
    x = etas - etas.mean()
    slope = float(np.dot(x, values - values.mean()) / np.dot(x, x))
    interval = ctx.uncertainty.loglog_slope_ci95 if ctx.uncertainty is not None else None
    if interval is not None and interval[0] <= 1.0 <= interval[1]:
        return
    if math.isfinite(slope) and abs(slope - 1) > ctx.options.slope_tolerance:
        ci = "" if interval is None else f" (95 % CI {fmt(interval[0], 3)} … {fmt(interval[1], 3)})"
        yield Hit(
            f"log-log slope of |ΔH_true| against η is {fmt(slope, 3)}{ci} over {len(points)} η "
            f"({fmt_eta(min(p[0] for p in points))} … {fmt_eta(max(p[0] for p in points))}); "
            "linear scaling would be 1"
        )


# --- control variates ------------------------------------------------------------------------


@check("cv-var-ratio-above-one", "info", "Control variate increases variance", "cv")
def cv_var_ratio_above_one(ctx: CheckContext) -> Iterator[Hit]:
    """A control variate's variance ratio after CV (`var_after_cv`, or the joint one) is
    above 1.

    **Why it matters:** an in-sample OLS control variate can only reduce the variance; a ratio
    above 1 means a fitting or cross-fitting problem, or a feature that should be dropped.

    **What to do:** drop the feature, or check the CV settings (ridge, folds).
    """
    cv = ctx.run.cv
    if cv is None:
        return
    above = [
        f"{f.name} ({fmt(f.var_after_cv, 4)})"
        for f in cv.features
        if f.var_after_cv is not None and f.var_after_cv > 1
    ]
    if cv.var_after_cv_joint is not None and cv.var_after_cv_joint > 1:
        above.append(f"joint ({fmt(cv.var_after_cv_joint, 4)})")
    if above:
        yield Hit(f"variance ratio after CV above 1 for {', '.join(above)}")
