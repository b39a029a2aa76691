"""The run page's sections on the optional blocks: clip sweeps, the symmetric finite
difference, every control-variate feature, and the fields no loader reads."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import PurePosixPath

from reportgen.analysis import RunAnalysis
from reportgen.analysis.clip import ClipSweep
from reportgen.analysis.cv_features import CvRanking, RankedFeature
from reportgen.analysis.fd import EQUIVALENCE_MARGIN, EvenScaling, FdRow, even_scaling
from reportgen.charts import Chart, Datasets
from reportgen.charts.sensitivity import clip_sweep_chart
from reportgen.load.models import CvFeature, FieldInventory, Schema
from reportgen.numfmt import format_eta
from reportgen.pages.judged import Judged

ChartResult = tuple[Chart, Datasets]
IMPLICATED_WORDS = {
    "plus": "the +η truth Δ₊",
    "minus": "the −η truth Δ₋",
    "linear": "g·v (both sides alike)",
    "unresolved": "no side resolved",
}


@dataclass(frozen=True)
class CvRow:
    """A feature of the run's joint regression: ρ ± SE, its OLS β and the variance ratio after
    CV (the feature alone) ± SE, or "—" where the run's ratio is not 1 − ρ² of its ρ."""

    name: str
    corr: float | None
    corr_se: float | None
    ols_beta: float | None
    var_ratio: Judged


def cv_rows(features: tuple[CvFeature, ...], ranking: CvRanking | None) -> tuple[CvRow, ...]:
    """The regression's features with the SEs of the ranking (analysis.cv_features)
    where the ranking's feature of that name has the same ρ and the ratio is its 1 − ρ²."""
    ranked = {f.name: f for f in ranking.features} if ranking is not None else {}
    return tuple(_cv_row(f, ranked.get(f.name)) for f in features)


def _cv_row(f: CvFeature, ranked: RankedFeature | None) -> CvRow:
    if ranked is not None and not _same(ranked.corr, f.corr):
        ranked = None  # another ρ: the ranking's SEs are not this feature's
    ratio = Judged(None)
    if f.var_after_cv is not None and math.isfinite(f.var_after_cv):
        own = f.corr is not None and _same(f.var_after_cv, 1.0 - f.corr * f.corr)
        se = ranked.var_ratio_se if ranked is not None else None
        if not own or ranked is None:
            ratio = Judged(None, why="not 1 − ρ²")
        else:
            ratio = Judged(f.var_after_cv, se) if se is not None else Judged(None, why="no SE")
    return CvRow(f.name, f.corr, ranked.corr_se if ranked is not None else None, f.ols_beta, ratio)


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@dataclass(frozen=True)
class SupplementView:
    """What the partials ``_clip_sweep``, ``_fd``, ``_cv_features`` and ``_unrecognised`` show."""

    clip_sweeps: tuple[ClipSweep, ...]
    fd: tuple[FdRow, ...]
    fd_measured: bool
    equivalence_margin: float
    fd_scaling: EvenScaling | None  # how Δ₊ + Δ₋ grows with η
    implicated_words: dict[str, str]  # FdRow.implicated in words
    cv: CvRanking | None
    cv_rows: tuple[CvRow, ...]  # the run's joint regression features, with SEs
    invalid_scatters: tuple[str, ...]  # the run's own plots of features that are not valid
    fields: FieldInventory
    more_unrecognised: int  # unrecognised paths beyond those listed
    show_fields: bool

    @property
    def clip_rows(self) -> int:
        return sum(len(s.points) for s in self.clip_sweeps)


def supplement_view(analysis: RunAnalysis) -> SupplementView:
    supplement = analysis.supplement
    cv = supplement.cv
    # the page says an excluded feature's scatter correlates by construction: not for summands
    # the run's own per-sequence file does not bear out
    established = [f for f in cv.excluded if f.summand_check != "not reproduced"] if cv else []
    invalid = {f"scatter_{f.name}.png" for f in established}
    fields = supplement.fields
    return SupplementView(
        clip_sweeps=supplement.clip_sweeps,
        fd=supplement.symmetric_fd,
        fd_measured=any(r.verdict != "not measured" for r in supplement.symmetric_fd),
        equivalence_margin=EQUIVALENCE_MARGIN,
        fd_scaling=even_scaling(supplement.symmetric_fd),
        implicated_words=IMPLICATED_WORDS,
        cv=cv,
        cv_rows=cv_rows(analysis.run.cv.features, cv) if analysis.run.cv is not None else (),
        invalid_scatters=tuple(
            sorted(
                f.path for f in analysis.run.inputs.images if PurePosixPath(f.path).name in invalid
            )
        ),
        fields=fields,
        more_unrecognised=fields.unrecognised_total - len(fields.unrecognised),
        show_fields=analysis.run.schema is not Schema.GENERIC,
    )


def section_parts(view: SupplementView) -> dict[str, bool]:
    """Which of this module's sections the page shows."""
    return {"clip": bool(view.clip_sweeps), "fd": bool(view.fd), "unrecognised": view.show_fields}


def clip_charts(analysis: RunAnalysis, max_points: int) -> list[ChartResult]:
    """ΔH_true's shift and the ESS against the clip threshold, every η with a sweep."""
    points = [
        (sweep.eta, point)
        for sweep in analysis.supplement.clip_sweeps
        for point in sweep.points
        if point.threshold is not None
    ]
    if not points:
        return []
    columns = (
        [eta for eta, _ in points],
        [format_eta(eta) for eta, _ in points],
        [p.threshold for _, p in points],
        [p.shift_in_se for _, p in points],
        [p.ess_fraction for _, p in points],
        [p.published for _, p in points],
    )
    return [
        clip_sweep_chart(*columns, metric="shift"),
        clip_sweep_chart(*columns, metric="ess"),
    ]


__all__ = ["SupplementView", "clip_charts", "section_parts", "supplement_view"]
