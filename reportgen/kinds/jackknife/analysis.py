"""The jackknife study's arithmetic: intervals, the χ² test of one estimate across B, tails.

Pure numpy on loaded points. Points are grouped by their setting (split, temperature,
checkpoint, dataset, generation config) and never pooled across settings: each setting with
two or more points gets its own homogeneity test, and an equivalence test: every B's estimate
within a relative margin of the weighted mean, judged by the 90 % interval of its difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard

import numpy as np

from reportgen.analysis.order_stats import quantiles
from reportgen.analysis.verdicts import DEFAULT_MARGIN
from reportgen.kinds.jackknife.diagnostics import HETEROGENEITY_P
from reportgen.kinds.jackknife.model import (
    FloatArray,
    JackknifePoint,
    JackknifeStudy,
    Setting,
    setting_labels,
)
from reportgen.kinds.stats import Z95, chi2_log_sf, log10_p

if TYPE_CHECKING:
    from reportgen.kinds.interface import StudySettings

SKEWED = 1.0  # sample skewness beyond which the per-prompt values are drawn on a log axis
TAIL_QUANTILE = 0.99
Z90 = 1.6448536269514722  # the normal 95 % quantile: a 90 % interval, as equivalence tests use
PROMPT_SOURCE = "per-prompt means"
SEQUENCE_SOURCE = "per-sequence values (distribution_analysis)"


@dataclass(frozen=True)
class Tail:
    """q50, q99 and max of a point's values, and which values they are of."""

    source: str  # "per-sequence values (distribution_analysis)" or "per-prompt means"
    median: float | None
    q99: float | None
    maximum: float | None


@dataclass(frozen=True, eq=False)
class Box:
    """Tukey's box of the per-prompt means: quartiles, whiskers at the last values within
    1.5 IQR of the box, and every value beyond them."""

    low: float
    q1: float
    median: float
    q3: float
    high: float
    mean: float
    outliers: FloatArray


@dataclass(frozen=True, eq=False)
class PointStats:
    """One point with what the page derives from it."""

    point: JackknifePoint
    population: int  # index into JackknifeAnalysis.populations
    ci95: tuple[float, float] | None  # estimate ± Z95 · SE
    prompt_count: int  # len(per_prompt_means), 0 without them
    prompt_mean: float | None
    prompt_sd: float | None  # spread of the per-prompt means (ddof = 1)
    prompt_se: float | None  # prompt_sd / √count: the SE of their mean, recomputed
    skewness: float | None
    tail: Tail | None  # the per-sequence one where the file has it, else the per-prompt one
    prompt_tail: Tail | None  # of the per-prompt means: comparable across points
    box: Box | None
    tested: bool  # part of its setting's χ² test
    # distribution_analysis.mean − estimate where count = B·G, i.e. G sequences per prompt:
    # then the two are one number (the mean of the per-prompt means)
    distribution_gap: float | None = None


@dataclass(frozen=True)
class Homogeneity:
    """Do a setting's estimates agree across B? Inverse-variance weights w = 1/SE²."""

    setting: Setting
    label: str  # the fields in which the study's settings differ
    points: tuple[int, ...]  # indices into JackknifeAnalysis.points, by B
    weighted_mean: float | None = None  # the χ² test's centre
    weighted_mean_se: float | None = None
    chi2: float | None = None  # Σ w (x − x̄_w)², on df = k − 1
    df: int = 0
    p_value: float | None = None
    log10_p_value: float | None = None
    slope_per_doubling: float | None = None  # weighted LS slope of the estimate on log2 B
    slope_se: float | None = None  # scaled by √(residual_chi2/(k − 2)) when that exceeds 1
    residual_chi2: float | None = None  # Σ w (x − a − b·log2 B)²: about the fitted line
    residual_df: int = 0  # k − 2
    spread_bound: float | None = None  # max over B of (|x − x̄| + z₉₀·SE(x − x̄)) / |x̄|
    margin: float = DEFAULT_MARGIN  # relative: "agree" needs spread_bound ≤ margin

    @property
    def tested(self) -> bool:
        return self.chi2 is not None

    @property
    def differs(self) -> bool:
        """The χ² test rejects one quantity across B (p below HETEROGENEITY_P)."""
        return self.log10_p_value is not None and self.log10_p_value <= math.log10(HETEROGENEITY_P)

    @property
    def equivalent(self) -> bool:
        """Every B's estimate shown within ±margin of the weighted mean (90 % intervals)."""
        bound = self.spread_bound
        return not self.differs and bound is not None and bound <= self.margin


@dataclass(frozen=True, eq=False)
class JackknifeAnalysis:
    study: JackknifeStudy
    points: tuple[PointStats, ...]  # by setting, then B
    populations: tuple[Homogeneity, ...]
    main: int | None  # the setting with the most points
    log_scale: bool  # per-prompt values skewed (and positive): drawn on a log axis
    margin: float = DEFAULT_MARGIN  # relative, of the equivalence across B


def analyze(study: JackknifeStudy, settings: StudySettings | None = None) -> JackknifeAnalysis:
    """Group by setting, test each setting across B, describe every point; ``settings`` give
    the equivalence margin (the default's without them)."""
    margin = DEFAULT_MARGIN if settings is None else settings.equivalence_margin
    return _analyze(study, margin)


def _analyze(study: JackknifeStudy, margin: float) -> JackknifeAnalysis:
    settings = sorted({p.setting for p in study.points}, key=lambda s: _setting_key(study, s))
    ordered = sorted(
        study.points, key=lambda p: (settings.index(p.setting), p.batch, p.source, p.index)
    )
    populations = []
    for setting, label in zip(settings, setting_labels(tuple(settings)), strict=True):
        members = [i for i, p in enumerate(ordered) if p.setting == setting]
        members_points = [ordered[i] for i in members]
        populations.append(homogeneity(setting, label, members, members_points, margin))
    tested = {i for h in populations if h.tested for i in h.points}
    stats = tuple(
        _point_stats(p, settings.index(p.setting), i in tested) for i, p in enumerate(ordered)
    )
    counts = [len(h.points) for h in populations]
    return JackknifeAnalysis(
        study=study,
        points=stats,
        populations=tuple(populations),
        main=int(np.argmax(counts)) if counts else None,
        log_scale=_log_scale(stats),
        margin=margin,
    )


def _setting_key(study: JackknifeStudy, setting: Setting) -> tuple[int, str]:
    # the setting with the most points first, then a stable order by label
    count = sum(1 for p in study.points if p.setting == setting)
    return (-count, repr(setting))


def homogeneity(
    setting: Setting,
    label: str,
    indices: Sequence[int],
    points: Sequence[JackknifePoint],
    margin: float = DEFAULT_MARGIN,
) -> Homogeneity:
    """The χ² test that one quantity underlies every point of ``points`` (one setting), and
    the bound on their spread about the weighted mean that the equivalence test uses."""
    usable = [(i, p) for i, p in zip(indices, points, strict=True) if _usable_se(p.se)]
    if len(usable) < 2:
        return Homogeneity(setting, label, tuple(indices), margin=margin)
    x = np.array([p.estimate for _, p in usable])
    se2 = np.array([p.se for _, p in usable], dtype=np.float64) ** 2
    w = 1.0 / se2
    mean = float(np.sum(w * x) / np.sum(w))
    chi2 = float(np.sum(w * (x - mean) ** 2))
    df = len(usable) - 1
    log_p = chi2_log_sf(chi2, df)
    slope, slope_se, residual = _weighted_slope(np.log2([p.batch for _, p in usable]), x, w)
    return Homogeneity(
        setting=setting,
        label=label,
        points=tuple(indices),
        weighted_mean=mean,
        weighted_mean_se=float(1.0 / math.sqrt(np.sum(w))),
        chi2=chi2,
        df=df,
        p_value=math.exp(log_p),
        log10_p_value=log10_p(log_p),
        slope_per_doubling=slope,
        slope_se=slope_se,
        residual_chi2=residual,
        residual_df=len(usable) - 2 if residual is not None else 0,
        spread_bound=_spread_bound(x, se2, mean),
        margin=margin,
    )


def _spread_bound(x: np.ndarray, se2: np.ndarray, mean: float) -> float | None:
    """max over points of (|x − x̄| + z₉₀·SE(x − x̄)) / |x̄|: each point's 90 % interval of its
    difference from the weighted mean, relative to it. x̄ contains x, so
    Var(x − x̄) = SE² − 1/Σw (never negative)."""
    if mean == 0 or not math.isfinite(mean):
        return None
    spread = np.sqrt(np.maximum(se2 - 1.0 / np.sum(1.0 / se2), 0.0))
    with np.errstate(over="ignore"):  # a mean near 0: no relative bound (∞, never shown)
        return float(np.max(np.abs(x - mean) + Z90 * spread) / abs(mean))


def _usable_se(se: float | None) -> TypeGuard[float]:
    return se is not None and se > 0 and math.isfinite(se)


def _weighted_slope(
    x: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[float | None, float | None, float | None]:
    """Weighted least squares of y on x: the slope, its SE and the χ² about the line (k > 2);
    the SE is inflated by √(χ²_line/(k − 2)) when that is > 1."""
    xm = float(np.sum(w * x) / np.sum(w))
    sxx = float(np.sum(w * (x - xm) ** 2))
    if sxx <= 0:
        return None, None, None
    slope = float(np.sum(w * (x - xm) * y) / sxx)
    se = 1.0 / math.sqrt(sxx)
    if len(x) <= 2:
        return slope, se, None
    intercept = float(np.sum(w * y) / np.sum(w)) - slope * xm
    residual = float(np.sum(w * (y - intercept - slope * x) ** 2))
    return slope, se * math.sqrt(max(1.0, residual / (len(x) - 2))), residual


def _point_stats(point: JackknifePoint, population: int, tested: bool) -> PointStats:
    se = point.se
    ci = (point.estimate - Z95 * se, point.estimate + Z95 * se) if _usable_se(se) else None
    means = point.per_prompt_means
    count = 0 if means is None else int(means.size)
    sd = float(np.std(means, ddof=1)) if means is not None and count > 1 else None
    return PointStats(
        point=point,
        population=population,
        ci95=ci,
        prompt_count=count,
        prompt_mean=float(np.mean(means)) if means is not None and count else None,
        prompt_sd=sd,
        prompt_se=sd / math.sqrt(count) if sd is not None else None,
        skewness=skewness(means) if means is not None else None,
        tail=tail(point),
        prompt_tail=prompt_tail(point),
        box=box(means) if means is not None and count else None,
        tested=tested,
        distribution_gap=distribution_gap(point),
    )


def skewness(values: np.ndarray) -> float | None:
    """The sample skewness m₃ / m₂^{3/2} (None for fewer than 3 values or no spread)."""
    if values.size < 3:
        return None
    centred = values - values.mean()
    m2 = float(np.mean(centred**2))
    return float(np.mean(centred**3)) / m2**1.5 if m2 > 0 else None


def box(values: FloatArray) -> Box:
    q1, median, q3 = (float(q) for q in quantiles(values, [0.25, 0.5, 0.75]))
    fence = 1.5 * (q3 - q1)
    inside = values[(values >= q1 - fence) & (values <= q3 + fence)]
    outside = values[(values < q1 - fence) | (values > q3 + fence)]
    return Box(
        low=float(inside.min()),
        q1=q1,
        median=median,
        q3=q3,
        high=float(inside.max()),
        mean=float(values.mean()),
        outliers=np.sort(outside),
    )


def tail(point: JackknifePoint) -> Tail | None:
    """The per-sequence tail when the file gives it, else that of the per-prompt means."""
    dist = point.distribution
    if dist is not None and (dist.quantile(TAIL_QUANTILE) is not None or dist.maximum is not None):
        return Tail(SEQUENCE_SOURCE, dist.quantile(0.5), dist.quantile(TAIL_QUANTILE), dist.maximum)
    return prompt_tail(point)


def prompt_tail(point: JackknifePoint) -> Tail | None:
    """The tail of the per-prompt means: the one quantity every point with them shares."""
    means = point.per_prompt_means
    if means is None or means.size == 0:
        return None
    q50, q99 = quantiles(means, [0.5, TAIL_QUANTILE])
    return Tail(PROMPT_SOURCE, float(q50), float(q99), float(means.max()))


def distribution_gap(point: JackknifePoint) -> float | None:
    """distribution_analysis.mean − estimate, where the count is B·G: with G sequences for
    each prompt the per-sequence mean is the mean of the per-prompt means, the estimate."""
    dist, g = point.distribution, point.generations
    if dist is None or dist.mean is None or g is None or dist.count != point.batch * g:
        return None
    return dist.mean - point.estimate


def _log_scale(points: Sequence[PointStats]) -> bool:
    values = [p.point.per_prompt_means for p in points if p.point.per_prompt_means is not None]
    if not values:
        return False
    every = np.concatenate(values)
    skew = skewness(every)
    return bool(every.min() > 0 and skew is not None and skew > SKEWED)
