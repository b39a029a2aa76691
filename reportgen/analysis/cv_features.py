"""Every candidate control variate of a CV run, ranked, with the invalid ones set apart.

A control variate must not be part of the quantity it corrects: a summand of the target y_i
(by the run's own definition, y_i = scale·(wjlogp_sum + jH_sum)) correlates with y_i because it
*is* y_i in part, and regressing it out removes signal, not noise. Such features are marked
"not a valid control variate" by name; any other feature with |ρ| > 0.99 is marked too (it is
nearly a function of the target). The headline names the best valid one.

Standard errors of ρ and of the single-feature variance ratio 1 − ρ² are normal-theory ones,
(1 − ρ²)/√(n − 3) (from Fisher's z) and 2|ρ|·SE(ρ).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from reportgen.codec import fields_of
from reportgen.load.models import CvData, CvFeatureStat, CvTarget
from reportgen.numfmt import format_number, format_with_se

NEAR_TARGET_CORR = 0.99
REGRESSION_ONLY = "summary.corr (the regression features only)"
Validity = Literal["valid", "target-summand", "near-target"]


@dataclass(frozen=True, slots=True)
class RankedFeature:
    """One feature alone as a control variate; ``rank`` counts valid features only."""

    name: str
    rank: int | None
    corr: float | None
    corr_se: float | None
    var_ratio: float | None
    var_ratio_se: float | None
    se_after: float | None  # SE of the mean g·v after using it alone
    selected: bool  # in the run's joint regression
    beta_joint: float | None
    validity: Validity

    @property
    def valid(self) -> bool:
        return self.validity == "valid"


@dataclass(frozen=True, slots=True)
class CvRanking:
    """A CV run's features: valid ones by variance ratio (best first), then the invalid ones."""

    features: tuple[RankedFeature, ...]
    source: str | None
    target: CvTarget | None
    n: int | None
    se_batch: float | None
    var_after_cv_joint: float | None

    @property
    def best(self) -> RankedFeature | None:
        return next((f for f in self.features if f.valid), None)

    @property
    def excluded(self) -> tuple[RankedFeature, ...]:
        return tuple(f for f in self.features if not f.valid)

    def to_json(self) -> dict[str, Any]:
        target = None
        if self.target is not None:
            target = dict(fields_of(self.target), summands=list(self.target.summands))
        return {
            "features": [fields_of(f) for f in self.features],
            "source": self.source,
            "target": target,
            "n": self.n,
            "se_batch": self.se_batch,
            "var_after_cv_joint": self.var_after_cv_joint,
            "best_valid": self.best.name if self.best is not None else None,
            "excluded": [f.name for f in self.excluded],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CvRanking:
        target = data["target"]
        return cls(
            features=tuple(RankedFeature(**f) for f in data["features"]),
            source=data["source"],
            target=None
            if target is None
            else CvTarget(**dict(target, summands=tuple(target["summands"]))),
            n=data["n"],
            se_batch=data["se_batch"],
            var_after_cv_joint=data["var_after_cv_joint"],
        )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def corr_se(corr: float | None, n: int | None) -> float | None:
    """(1 − ρ²)/√(n − 3): the normal-theory SE of a sample correlation (Fisher's z)."""
    if corr is None or n is None or n <= 3 or abs(corr) > 1:
        return None
    return _finite((1.0 - corr * corr) / math.sqrt(n - 3))


def _validity(feature: CvFeatureStat, target: CvTarget | None) -> Validity:
    if target is not None and feature.name in target.summands:
        return "target-summand"
    if feature.corr is not None and abs(feature.corr) > NEAR_TARGET_CORR:
        return "near-target"
    return "valid"


def _stats(cv: CvData) -> tuple[tuple[CvFeatureStat, ...], str | None]:
    if cv.all_features:
        return cv.all_features, cv.all_features_source
    regression = tuple(
        CvFeatureStat(f.name, f.corr, f.var_after_cv, None, f.selected, f.ols_beta)
        for f in cv.features
    )
    return regression, REGRESSION_ONLY if regression else None


def _ranked(feature: CvFeatureStat, n: int | None, target: CvTarget | None) -> RankedFeature:
    corr = _finite(feature.corr)
    ratio = _finite(feature.var_ratio_single)
    if ratio is None and corr is not None:
        ratio = 1.0 - corr * corr
    se = corr_se(corr, n)
    return RankedFeature(
        name=feature.name,
        rank=None,
        corr=corr,
        corr_se=se,
        var_ratio=ratio,
        var_ratio_se=_finite(2.0 * abs(corr) * se) if corr is not None and se is not None else None,
        se_after=_finite(feature.se_after_single),
        selected=feature.selected,
        beta_joint=_finite(feature.beta_joint),
        validity=_validity(feature, target),
    )


def rank_features(cv: CvData) -> CvRanking:
    """Valid features by single-feature variance ratio (lowest first), then the invalid ones."""
    stats, source = _stats(cv)
    features = [_ranked(f, cv.n_seqs, cv.target) for f in stats]

    def order(f: RankedFeature) -> tuple[float, str]:
        return (f.var_ratio if f.var_ratio is not None else math.inf, f.name)

    valid = sorted((f for f in features if f.valid), key=order)
    invalid = sorted((f for f in features if not f.valid), key=order)
    ranked = [replace(f, rank=i + 1) for i, f in enumerate(valid)] + invalid
    return CvRanking(
        tuple(ranked), source, cv.target, cv.n_seqs, cv.se_batch, cv.var_after_cv_joint
    )


_WHY = {
    "target-summand": ("a summand of the target", "summands of the target"),
    "near-target": (
        f"|ρ| > {NEAR_TARGET_CORR:g}, nearly a function of the target",
        f"|ρ| > {NEAR_TARGET_CORR:g}, nearly functions of the target",
    ),
}


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _excluded_sentence(excluded: Sequence[RankedFeature], target: CvTarget | None) -> str:
    named = [
        f"{f.name} (ρ = {format_with_se(f.corr, f.corr_se)}, variance ratio "
        f"{format_with_se(f.var_ratio, f.var_ratio_se)})"
        for f in excluded
    ]
    plural = len(named) > 1
    kinds = sorted({f.validity for f in excluded})
    reasons = [_WHY[k][plural and sum(f.validity == k for f in excluded) > 1] for k in kinds]
    text = f"{_listed(named)} {'are' if plural else 'is'} excluded: {'; '.join(reasons)}"
    if target is not None and "target-summand" in kinds:
        text += f" ({target.formula}, {target.note})"
    tail = "not valid control variates" if plural else "not a valid control variate"
    return f"{text}, so {tail}."


def cv_headline(ranking: CvRanking) -> tuple[str, tuple[str, ...]]:
    """The run's best valid control variate, and what was excluded and why."""
    best = ranking.best
    if best is None:
        headline = "This control-variate run reports no valid control variate."
    else:
        corr = (
            "ρ not reported"
            if best.corr is None
            else f"ρ = {format_with_se(best.corr, best.corr_se)}"
        )
        headline = (
            f"Best valid control variate: {best.name} ({corr}; used alone it leaves a variance "
            f"ratio of {format_with_se(best.var_ratio, best.var_ratio_se)}"
        )
        if best.se_after is not None and ranking.se_batch is not None:
            headline += (
                f", SE of the mean g·v {format_number(ranking.se_batch)} → "
                f"{format_number(best.se_after)}"
            )
        headline += ")."
    details = []
    if ranking.excluded:
        details.append(_excluded_sentence(ranking.excluded, ranking.target))
    if ranking.var_after_cv_joint is not None:
        details.append(
            "The joint regression's features together leave the run's own variance ratio of "
            f"{format_number(ranking.var_after_cv_joint)}, which has no standard error: "
            "not judged."
        )
    return headline, tuple(details)


__all__ = ["CvRanking", "RankedFeature", "corr_se", "cv_headline", "rank_features"]
