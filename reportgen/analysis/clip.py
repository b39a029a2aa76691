"""SNIS clip sweeps: ΔH_true, ESS and clip fraction against the clip threshold, per η.

The published ΔH_true of an η is one point of its sweep (at the config's ``clip_c``); the
runner's ``clip_overrides`` are the others. Sensitivity is judged around the published value:
it is *sensitive* when ΔH_true moves between the published threshold and its neighbours in
the sweep (the nearest below and above) by more than the η's standard error of ΔH_true, so a
nearby choice of the clip matters as much as the sampling noise. Thresholds further away may
clip far more weights than the published one (or none, where it clips): the span over the
whole sweep is kept as a description, not judged. Without the config's ``clip_c`` the
published threshold is unknown and nothing is judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson

from reportgen.analysis.uncertainty import RunUncertainty
from reportgen.codec import fields_of
from reportgen.load.models import Run, TrueEntry

CLIP_PARAMETER = "config.true_delta_h.clip_c"
SE_SOURCE = "se_true"
Sensitivity = Literal["sensitive", "stable", "inconclusive"]


@dataclass(frozen=True, slots=True)
class ClipPoint:
    """ΔH_true of one η at one clip threshold; ``published`` marks the entry's own value
    (``threshold`` ``None`` when the config does not state it)."""

    threshold: float | None
    delta_h_true: float | None
    ess: float | None
    ess_fraction: float | None
    clip_fraction: float | None
    logweight_max: float | None
    published: bool
    shift_in_se: float | None = None  # (ΔH_true − published ΔH_true) / SE of ΔH_true


@dataclass(frozen=True, slots=True)
class ClipSweep:
    """One η's sweep; ``span`` is max − min of ΔH_true over all its points (a description),
    ``local_span`` over the ``compared`` thresholds: the published one and its neighbours."""

    eta: float
    points: tuple[ClipPoint, ...]
    span: float | None
    se_true: float | None
    se_method: str | None
    span_in_se: float | None
    sensitivity: Sensitivity  # judged on local_span_in_se
    compared: tuple[float, ...] = ()
    local_span: float | None = None
    local_span_in_se: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "eta": self.eta,
            "points": [fields_of(p) for p in self.points],
            "span": self.span,
            "se_true": self.se_true,
            "se_method": self.se_method,
            "span_in_se": self.span_in_se,
            "sensitivity": self.sensitivity,
            "compared": list(self.compared),
            "local_span": self.local_span,
            "local_span_in_se": self.local_span_in_se,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClipSweep:
        return cls(
            eta=float(data["eta"]),
            points=tuple(ClipPoint(**p) for p in data["points"]),
            span=data["span"],
            se_true=data["se_true"],
            se_method=data["se_method"],
            span_in_se=data["span_in_se"],
            sensitivity=data["sensitivity"],
            compared=tuple(float(t) for t in data.get("compared") or ()),
            local_span=data.get("local_span"),
            local_span_in_se=data.get("local_span_in_se"),
        )


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def configured_clip(parameters: tuple[tuple[str, str], ...]) -> float | None:
    """The config's ``true_delta_h.clip_c`` (the published ΔH_true's threshold), if stated."""
    text = dict(parameters).get(CLIP_PARAMETER)
    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return _finite(float(value))


def _sequences(entry: TrueEntry, run: Run) -> int | None:
    for array in (entry.token_counts, entry.normalized_weights, entry.log_weights):
        if array is not None:
            return int(array.shape[0])
    return run.snis.approx.num_sequences if run.snis is not None else None


def _fraction(ess: float | None, n: int | None) -> float | None:
    return _finite(ess / n) if ess is not None and n else None


def _points(entry: TrueEntry, n: int | None, clip_c: float | None) -> list[ClipPoint]:
    published = ClipPoint(
        clip_c,
        _finite(entry.delta_h_true),
        entry.ess,
        _fraction(entry.ess, n),
        entry.clip_fraction,
        entry.logweight_max,
        published=True,
    )
    same = clip_c is not None and any(
        math.isclose(o.threshold, clip_c, rel_tol=1e-6) for o in entry.clip_overrides
    )
    others = [
        ClipPoint(
            o.threshold,
            _finite(o.delta_h_true),
            o.ess,
            _fraction(o.ess, n),
            o.clip_fraction,
            o.logweights.max if o.logweights else None,
            published=False,
        )
        for o in entry.clip_overrides
        if not (same and clip_c is not None and math.isclose(o.threshold, clip_c, rel_tol=1e-6))
    ]
    return sorted(
        [*others, published], key=lambda p: math.inf if p.threshold is None else p.threshold
    )


def _compared(points: list[ClipPoint], clip_c: float | None) -> list[ClipPoint]:
    """The published point and the nearest thresholds below and above it, where it has any."""
    usable = [p for p in points if p.threshold is not None and p.delta_h_true is not None]
    published = next((p for p in usable if p.published), None)
    if clip_c is None or published is None:
        return []
    below = [p for p in usable if p.threshold is not None and p.threshold < clip_c]
    above = [p for p in usable if p.threshold is not None and p.threshold > clip_c]
    return [*below[-1:], published, *above[:1]]  # points are in threshold order


def _spread(points: list[ClipPoint]) -> float | None:
    values = [p.delta_h_true for p in points if p.delta_h_true is not None]
    return _finite(max(values) - min(values)) if len(values) >= 2 else None


def _sweep(
    entry: TrueEntry, run: Run, clip_c: float | None, uncertainty: RunUncertainty | None
) -> ClipSweep:
    points = _points(entry, _sequences(entry, run), clip_c)
    row = uncertainty.at(entry.eta) if uncertainty is not None else None
    se = row.se_true if row is not None and row.se_true is not None and row.se_true > 0 else None
    base = _finite(entry.delta_h_true)
    if se is not None and base is not None:
        points = [
            replace(p, shift_in_se=_finite((p.delta_h_true - base) / se))
            if p.delta_h_true is not None
            else p
            for p in points
        ]
    compared = _compared(points, clip_c)
    span, local = _spread(points), _spread(compared)
    local_in_se = _finite(local / se) if local is not None and se is not None else None
    sensitivity: Sensitivity = (
        "inconclusive" if local_in_se is None else "sensitive" if local_in_se > 1.0 else "stable"
    )
    return ClipSweep(
        eta=entry.eta,
        points=tuple(points),
        span=span,
        se_true=se,
        se_method=row.method(SE_SOURCE) if row is not None and se is not None else None,
        span_in_se=_finite(span / se) if span is not None and se is not None else None,
        sensitivity=sensitivity,
        compared=tuple(p.threshold for p in compared if p.threshold is not None),
        local_span=local,
        local_span_in_se=local_in_se,
    )


def clip_sweeps(run: Run, uncertainty: RunUncertainty | None) -> tuple[ClipSweep, ...]:
    """Every η whose entry carries ``clip_overrides``, in η order."""
    if run.snis is None:
        return ()
    clip_c = configured_clip(run.parameters)
    return tuple(
        _sweep(entry, run, clip_c, uncertainty)
        for entry in run.snis.entries
        if entry.clip_overrides
    )


__all__ = ["ClipPoint", "ClipSweep", "clip_sweeps", "configured_clip"]
