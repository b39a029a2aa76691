"""Every candidate control variate of a CV run, ranked, with the invalid ones set apart.

A control variate must not be part of the quantity it corrects: a summand of the target y_i
(by the run's own definition, y_i = scale·(wjlogp_sum + jH_sum)) correlates with y_i because it
*is* y_i in part, and regressing it out removes signal, not noise. Such features are marked
"not a valid control variate" by name; any other feature with |ρ| > 0.99 is marked too (it is
nearly a function of the target). Where the run's cv_per_seq.csv does not reproduce the
definition, the summands stay excluded as a precaution but are named as summands by the
runner's definition only. The headline names the best valid one.

The standard error of ρ comes from its influence function over the run's sequences where its
per-sequence file has the feature's column and reproduces ρ: ψ_i = x̃_i·ỹ_i − ρ/2·(x̃_i² + ỹ_i²)
(x̃, ỹ standardised), SE = sd(ψ)/√n, which assumes no normality (g·v is heavy-tailed, and the
normal-theory SE can be several times too small). Elsewhere it is the normal-theory
(1 − ρ²)/√(n − 3) (Fisher's z). The single-feature variance ratio 1 − ρ² has the SE of ρ̂² for
a normal ρ̂, √(4ρ²·SE(ρ)² + 2·SE(ρ)⁴).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from reportgen.codec import fields_of
from reportgen.load.cv import TARGET_COLUMN
from reportgen.load.models import CvData, CvFeatureStat, CvSequences, CvTarget, FloatArray
from reportgen.numfmt import format_number, format_with_se

NEAR_TARGET_CORR = 0.99
# a per-sequence column whose ρ differs more is not the column the file's ρ was computed on
# (the columns are float32 text: the same data reproduce ρ to ~1e-6)
SAME_CORR_ATOL = 1e-4
SE_METHODS = {
    "influence": "influence function over the run's sequences (no normality assumed)",
    "normal-theory": "normal theory, (1 − ρ²)/√(n − 3)",
}
REGRESSION_ONLY = "summary.corr (the regression features only)"
Validity = Literal["valid", "target-summand", "near-target"]
# whether the run's cv_per_seq.csv reproduces the target's definition (summands only)
SummandCheck = Literal["reproduced", "not reproduced", "not checked"]


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
    se_method: str | None = None  # how corr_se was computed (``SE_METHODS``)
    summand_check: SummandCheck | None = None  # for "target-summand": is the definition borne out

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
    # var_after_cv_joint × (n − 1)/(n − k − 1) for an in-sample OLS fit of k features
    joint_df_adjusted: float | None = None
    joint_features: int | None = None  # k

    @property
    def best(self) -> RankedFeature | None:
        return next((f for f in self.features if f.valid), None)

    @property
    def excluded(self) -> tuple[RankedFeature, ...]:
        return tuple(f for f in self.features if not f.valid)

    @property
    def se_methods(self) -> tuple[str, ...]:
        """How the features' SEs of ρ were computed, each method once (``SE_METHODS``' text)."""
        used = {f.se_method for f in self.features}
        return tuple(text for key, text in SE_METHODS.items() if key in used)

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
            "var_after_cv_joint_df_adjusted": self.joint_df_adjusted,
            "joint_features": self.joint_features,
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
            joint_df_adjusted=data.get("var_after_cv_joint_df_adjusted"),
            joint_features=data.get("joint_features"),
        )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def corr_se(corr: float | None, n: int | None) -> float | None:
    """(1 − ρ²)/√(n − 3): the normal-theory SE of a sample correlation (Fisher's z)."""
    if corr is None or n is None or n <= 3 or abs(corr) > 1:
        return None
    return _finite((1.0 - corr * corr) / math.sqrt(n - 3))


def influence_corr_se(x: FloatArray, y: FloatArray) -> tuple[float, float] | None:
    """(r, SE of r) from the influence function of Pearson's correlation over the rows, or
    ``None`` when a value is not finite or a column is constant."""
    n = x.shape[0]
    if n < 4 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        return None
    sx, sy = float(np.std(x)), float(np.std(y))
    if sx == 0.0 or sy == 0.0:
        return None
    zx, zy = (x - x.mean()) / sx, (y - y.mean()) / sy
    r = float(np.mean(zx * zy))
    psi = zx * zy - 0.5 * r * (zx * zx + zy * zy)
    return r, float(np.std(psi, ddof=1)) / math.sqrt(n)


def _corr_se(
    name: str, corr: float | None, n: int | None, sequences: CvSequences | None
) -> tuple[float | None, str | None]:
    """The SE of the feature's ρ and how it was computed (a key of ``SE_METHODS``)."""
    columns = sequences.columns if sequences is not None else {}
    if corr is not None and name in columns and TARGET_COLUMN in columns:
        found = influence_corr_se(columns[name], columns[TARGET_COLUMN])
        if found is not None and abs(found[0] - corr) <= SAME_CORR_ATOL:
            return _finite(found[1]), "influence"
    se = corr_se(corr, n)
    return se, "normal-theory" if se is not None else None


def var_ratio_se(corr: float | None, se: float | None) -> float | None:
    """SE of 1 − ρ̂² for ρ̂ ~ N(ρ, se²): √(4ρ²·se² + 2·se⁴). The first-order 2|ρ|·se alone
    vanishes as ρ → 0, where ρ̂² still varies by ~√2·se²."""
    if corr is None or se is None:
        return None
    return _finite(math.sqrt(4.0 * corr * corr * se * se + 2.0 * se**4))


def _validity(
    feature: CvFeatureStat, target: CvTarget | None
) -> tuple[Validity, SummandCheck | None]:
    """A summand by the runner's definition stays excluded even where cv_per_seq.csv does not
    reproduce the definition: a sum that misses y_i does not show a feature is no part of it,
    and using a part of the target removes signal. The check says which case it is."""
    if target is not None and feature.name in target.summands:
        return "target-summand", summand_check(target)
    if feature.corr is not None and abs(feature.corr) > NEAR_TARGET_CORR:
        return "near-target", None
    return "valid", None


def summand_check(target: CvTarget) -> SummandCheck:
    """Whether the run's per-sequence file reproduces the target's definition."""
    if target.verified_on is not None:
        return "reproduced"
    return "not checked" if target.max_deviation is None else "not reproduced"


def target_mismatch(target: CvTarget) -> str:
    """How far the per-sequence file's y_i is from the definition: ``max |y_i − …| = 8.0 % …``."""
    lhs, _, rhs = target.formula.partition(" = ")
    share = "not stated" if target.max_deviation is None else f"{100 * target.max_deviation:.1f} %"
    return f"max |{lhs} − {rhs}| = {share} of max |{lhs}|" if rhs else f"max deviation {share}"


def precaution(summands: Sequence[RankedFeature]) -> str:
    """Why summands the per-sequence file does not bear out are still kept out."""
    anyway = [f.name for f in summands if f.corr is not None and abs(f.corr) > NEAR_TARGET_CORR]
    text = (
        "they are kept out as a precaution: were they parts of the target they would remove "
        "signal, not noise, and a sum that misses y_i does not show that they are not"
    )
    if anyway:
        text += f" ({_listed(anyway)} would be excluded anyway: |ρ| > {NEAR_TARGET_CORR:g})"
    return text


def _stats(cv: CvData) -> tuple[tuple[CvFeatureStat, ...], str | None]:
    if cv.all_features:
        return cv.all_features, cv.all_features_source
    regression = tuple(
        CvFeatureStat(f.name, f.corr, f.var_after_cv, None, f.selected, f.ols_beta)
        for f in cv.features
    )
    return regression, REGRESSION_ONLY if regression else None


def _ranked(feature: CvFeatureStat, cv: CvData) -> RankedFeature:
    corr = _finite(feature.corr)
    ratio = _finite(feature.var_ratio_single)
    if ratio is None and corr is not None:
        ratio = 1.0 - corr * corr
    se, method = _corr_se(feature.name, corr, cv.n_seqs, cv.sequences)
    validity, check = _validity(feature, cv.target)
    return RankedFeature(
        name=feature.name,
        rank=None,
        corr=corr,
        corr_se=se,
        var_ratio=ratio,
        var_ratio_se=var_ratio_se(corr, se),
        se_after=_finite(feature.se_after_single),
        selected=feature.selected,
        beta_joint=_finite(feature.beta_joint),
        validity=validity,
        se_method=method,
        summand_check=check,
    )


def rank_features(cv: CvData) -> CvRanking:
    """Valid features by single-feature variance ratio (lowest first), then the invalid ones."""
    stats, source = _stats(cv)
    features = [_ranked(f, cv) for f in stats]

    def order(f: RankedFeature) -> tuple[float, str]:
        return (f.var_ratio if f.var_ratio is not None else math.inf, f.name)

    valid = sorted((f for f in features if f.valid), key=order)
    invalid = sorted((f for f in features if not f.valid), key=order)
    ranked = [replace(f, rank=i + 1) for i, f in enumerate(valid)] + invalid
    k = sum(1 for f in cv.features if f.selected) or None
    return CvRanking(
        tuple(ranked),
        source,
        cv.target,
        cv.n_seqs,
        cv.se_batch,
        cv.var_after_cv_joint,
        joint_df_adjusted(cv.var_after_cv_joint, cv.n_seqs, k, cv.crossfit_folds),
        k,
    )


def joint_df_adjusted(
    ratio: float | None, n: int | None, k: int | None, folds: int | None
) -> float | None:
    """The joint variance ratio of an in-sample fit of k coefficients scaled by (n − 1)/(n − k − 1),
    as residual variance is estimated without the fit's optimism; ``None`` when cross-fitted or
    unknown. A ridge penalty spends fewer degrees of freedom: then this over-corrects a little."""
    if ratio is None or n is None or k is None or folds != 0 or n - k - 1 <= 0:
        return None
    return _finite(ratio * (n - 1) / (n - k - 1))


REFUTED_SUMMANDS = (
    "summands of the target by the runner's definition (not reproduced by cv_per_seq.csv)"
)
_WHY = {
    "target-summand": ("a summand of the target", "summands of the target"),
    "near-target": (
        f"|ρ| > {NEAR_TARGET_CORR:g}, nearly a function of the target",
        f"|ρ| > {NEAR_TARGET_CORR:g}, nearly functions of the target",
    ),
    "refuted": (REFUTED_SUMMANDS.replace("summands", "a summand", 1), REFUTED_SUMMANDS),
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
    summands = [f for f in excluded if f.validity == "target-summand"]
    refuted = any(f.summand_check == "not reproduced" for f in summands)
    reasons = [
        _WHY["refuted" if k == "target-summand" and refuted else k][
            plural and sum(f.validity == k for f in excluded) > 1
        ]
        for k in kinds
    ]
    text = f"{_listed(named)} {'are' if plural else 'is'} excluded: {'; '.join(reasons)}"
    if target is not None and refuted:
        mismatch = f"{target.formula}, with {target_mismatch(target)} there"
        return f"{text}: {mismatch}; {precaution(summands)}."
    if target is not None and summands:
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
