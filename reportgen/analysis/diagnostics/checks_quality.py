"""Checks of measurement quality: SNIS weights, the approximations against noise, CVs."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from reportgen.analysis.delta import shard_mean_se
from reportgen.analysis.diagnostics.quality_evidence import (
    cause,
    eta_list,
    eta_star_of,
    large_linear_errors,
    missing_se,
    noise_at,
    signs,
    slope_of,
    slope_text,
    star_text,
)
from reportgen.analysis.diagnostics.registry import (
    CheckContext,
    Hit,
    at,
    check,
    fmt,
    fmt_eta,
    rel,
)

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


@check("eta-beyond-curvature", "warning", "η beyond the curvature's η*", "curvature")
def eta_beyond_curvature(ctx: CheckContext) -> Iterator[Hit]:
    """An η exceeds η* by more than 1.96 of its standard errors: η > η* + 1.96·SE. η* is
    `eta_star` (SNIS: `approx.quadratic.eta_star` or `approx.eta_star`; sweep:
    `curvature.eta_star`), in the data 2·|g·v / vHv|: the step size at which the quadratic
    term ½·vHv·η² grows as large as the linear term g·v·η. Its SE is first-order (delta
    method, the covariance of g·v and vHv ignored): relative SE² = (K·se_gdotv/g·v)² +
    (K·se_vHvv/vHv)², K = `num_shards` of the same `variance` block, whose SEs, like
    `se_shard`, are those of the mean shard (the total's is K·se). Without that SE, or with η
    beyond η* by less, see `eta-star-unresolved`.

    **Why it matters:** beyond η* the second-order term dominates, so the linear prediction is
    not expected to track ΔH_true and the lin+quad one is rough at best; large errors there
    are not a bug.

    **What to do:** judge the approximations on the η below η*.
    """
    star = eta_star_of(ctx)
    bound = star.bound(ctx.options.significant_z) if star is not None else None
    if star is None or bound is None:
        return
    beyond = [row.eta for row in ctx.summaries if row.eta > bound]
    if beyond:
        z = fmt(ctx.options.significant_z, 3)
        yield Hit(
            f"η = {eta_list(beyond)} beyond {star_text(star)} by more than {z}·SE "
            f"(η* + {z}·SE = {fmt(bound, 3)})",
            etas=tuple(beyond),
        )


@check("eta-star-unresolved", "info", "η beyond η*, not resolved", "curvature")
def eta_star_unresolved(ctx: CheckContext) -> Iterator[Hit]:
    """An η exceeds η* (see `eta-beyond-curvature`), but not by more than 1.96·SE, or η* has
    no standard error (no `variance` block with `num_shards`, `se_gdotv` and `se_vHvv`).

    **Why it matters:** η* is a ratio of two noisy estimates; where g·v or vHv is not large
    against its SE, η* is uncertain by a multiple of itself, and an η above it is not shown to
    be beyond it: the test is inconclusive.

    **What to do:** do not read large errors at these η as curvature on the strength of η*
    alone; compare the lin+quad column with ΔH_true instead.
    """
    star = eta_star_of(ctx)
    if star is None:
        return
    bound = star.bound(ctx.options.significant_z)
    within = [
        row.eta
        for row in ctx.summaries
        if row.eta > star.value and (bound is None or row.eta <= bound)
    ]
    if within:
        z = fmt(ctx.options.significant_z, 3)
        how = (
            "" if bound is None else f", but by no more than {z}·SE (η* + {z}·SE = {fmt(bound, 3)})"
        )
        yield Hit(
            f"η = {eta_list(within)} above {star_text(star)}{how}: inconclusive, not shown to be "
            "beyond η*",
            etas=tuple(within),
        )


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


@check("sign-disagreement", "warning", "Linear and true ΔH have opposite signs", "eta-table")
def sign_disagreement(ctx: CheckContext) -> Iterator[Hit]:
    """The linear prediction and ΔH_true have opposite signs, and their difference is beyond
    noise: |z| > 1.96 for z = (ΔH_linear − ΔH_true)/se_diff_linear, ΔH_true's SE included. A
    run whose ΔH_true has no SE (an η sweep) is not judged here: its relative error, above 1
    with opposite signs, is reported by `linear-error-se-incomplete`, which counts the η with
    opposite signs.

    **Why it matters:** the first-order model predicts the wrong direction of the entropy
    change: at this η it is not even qualitatively right.

    **What to do:** look at smaller η and at the SNIS noise (ESS). Opposite signs not shown to
    differ (|z| ≤ 1.96) are reported, and counted, by `linear-error-within-noise` instead.
    """
    found: list[tuple[float, str]] = []
    for row in ctx.summaries:
        true, linear = row.delta_h_true, row.delta_h_linear
        if true is None or linear is None or not true * linear < 0:
            continue
        noise = noise_at(ctx, row.eta, linear - true)
        # without ΔH_true's SE the difference is not shown (linear-error-se-incomplete says so)
        if noise.complete and noise.significant(ctx.options.significant_z):
            z = fmt(noise.z, 3)
            found.append(
                (row.eta, f"{fmt_eta(row.eta)} (linear {fmt(linear)}, true {fmt(true)}, z = {z})")
            )
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

    **What to do:** read the cause the finding names. The finding ends with what the log-log
    slope of |ΔH_true| on η says (95 % interval: the run's paired bootstrap, else slope ± t·SE
    from the fit's residuals, k − 2 df). As linear/true ∝ η^(1 − slope): an interval that
    excludes 1 means ΔH_true is not linear in η (curvature: compare with lin+quad and η*); one
    that contains 1, with linear/true changing by less than the equivalence margin (±0.2
    unless `--equivalence-margin` says otherwise) across the η range at either end of it,
    means the ratio is constant in η: a scale or normalisation mismatch, not curvature;
    otherwise which of the two is not resolved. Pool the runs of the population on the group
    page to see whether they agree about the miss.
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
            )
            + cause(ctx),
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
    the noise of this run can explain.

    **What to do:** read the cause the finding names, judged as for `linear-disagrees`: a
    log-log slope of |ΔH_true| whose 95 % interval excludes 1 means curvature (compare with
    the lin+quad column and with η*); a ratio linear/true constant in η within the equivalence
    margin across the range means a scale or normalisation mismatch, not curvature; check ESS.
    """
    limit = ctx.options.significant_z
    found = [e for e in large_linear_errors(ctx) if e.noise.complete and e.noise.significant(limit)]
    if found:
        yield Hit(
            f"|linear − true| / |true| > {fmt(ctx.options.max_linear_error, 3)} beyond noise "
            f"(|z| > {fmt(limit, 3)}) at η = " + "; ".join(e.text for e in found) + cause(ctx),
            etas=tuple(e.eta for e in found),
        )


@check(
    "linear-error-within-noise",
    "info",
    "Linear error large, not shown to differ (inconclusive)",
    "eta-table",
)
def linear_error_within_noise(ctx: CheckContext) -> Iterator[Hit]:
    """|ΔH_linear − ΔH_true| / |ΔH_true| exceeds 0.5, but the difference is not shown:
    |z| ≤ 1.96 with z over the SE of the difference, ΔH_true's SE included. One finding per
    run, listing per η |z| and the MDE = 2.8·se_diff/|ΔH_true|, the smallest relative error
    the run would detect with 80 % power at the 5 % level, and how many η have opposite signs.
    A run whose ΔH_true has no SE is never reported here: see `linear-error-se-incomplete`.

    **Why it matters:** no difference is shown, and no agreement either: the test is
    inconclusive. Where the MDE exceeds the relative error, the run had less than 80 % power
    to detect an error that large; it does not support the linear model.

    **What to do:** read these η as inconclusive; a larger evaluation batch lowers the MDE.
    """
    limit = ctx.options.significant_z
    found = [
        e
        for e in large_linear_errors(ctx)
        if e.noise.complete and e.noise.significant(limit) is False
    ]
    if found:
        yield Hit(
            f"|linear − true| / |true| > {fmt(ctx.options.max_linear_error, 3)} but not shown "
            f"to differ (inconclusive): |z| ≤ {fmt(limit, 3)} at η = "
            + "; ".join(e.inconclusive_text() for e in found)
            + "; MDE is the smallest relative error this run would detect with 80 % power"
            + signs(found),
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
    of the difference, because ΔH_true has none (an η sweep, aggregate-only records). One
    finding per run, listing the η and (linear − true)/se_linear (or that there is no
    se_linear either), and how many of these η have ΔH_linear and ΔH_true of opposite signs.

    **Why it matters:** that ratio is not a z: the SE of ΔH_true, and its covariance with the
    linear term, are missing from it, and could move it either way. No difference is shown,
    and no agreement either, whatever its size; the run's verdict is not judged (`null`).
    Opposite signs are counted here, not reported by `sign-disagreement`.

    **What to do:** read the error as unjudged, not as a failure of the linear model; compare
    with the lin+quad column and with η*; a run with per-sequence SNIS records gives ΔH_true's SE.
    """
    found = [e for e in large_linear_errors(ctx) if not e.noise.complete]
    if found:
        yield Hit(
            f"|linear − true| / |true| > {fmt(ctx.options.max_linear_error, 3)} at η = "
            + "; ".join(e.unjudged_text() for e in found)
            + f"; {missing_se(ctx, found)}: no difference is shown"
            + signs(found),
            etas=tuple(e.eta for e in found),
        )


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
    """The least-squares slope of log|ΔH_true| against log η differs from 1 by more than 0.15,
    and its 95 % interval excludes 1.

    Fitted over the η with a finite, non-zero ΔH_true. The interval is the run's paired
    bootstrap one where it has one; otherwise slope ± t(0.975, k − 2)·SE over k η, the SE from
    the fit's residuals r: √(Σr²/(k − 2) / Σ(log η − mean log η)²). The message names which.
    With two η and no bootstrap there is no interval, and nothing is reported.

    **Why it matters:** a linear model predicts ΔH ∝ η, a slope of 1; another slope means
    curvature dominates over the measured range.

    **What to do:** compare with the lin+quad prediction and restrict to smaller η.
    """
    slope = slope_of(ctx)
    if slope is None or not slope.excludes_one:
        return
    if abs(slope.value - 1) > ctx.options.slope_tolerance:
        yield Hit(f"{slope_text(slope)}; linear scaling would be 1")


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
