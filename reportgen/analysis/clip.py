"""SNIS clip sweeps: ΔH_true, ESS and clip fraction against the clip threshold, per η.

The published ΔH_true of an η is one point of its sweep (at the config's ``clip_c``); the
runner's ``clip_overrides`` are the others. The sweep is *sensitive* when ΔH_true moves across
it (max − min) by more than the η's standard error of ΔH_true: the clip choice then matters
as much as the sampling noise does.
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
    """One η's sweep; ``span`` is max − min of ΔH_true over its points."""

    eta: float
    points: tuple[ClipPoint, ...]
    span: float | None
    se_true: float | None
    se_method: str | None
    span_in_se: float | None
    sensitivity: Sensitivity

    def to_json(self) -> dict[str, Any]:
        return {
            "eta": self.eta,
            "points": [fields_of(p) for p in self.points],
            "span": self.span,
            "se_true": self.se_true,
            "se_method": self.se_method,
            "span_in_se": self.span_in_se,
            "sensitivity": self.sensitivity,
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


def _sweep(
    entry: TrueEntry, run: Run, clip_c: float | None, uncertainty: RunUncertainty | None
) -> ClipSweep:
    points = _points(entry, _sequences(entry, run), clip_c)
    values = [p.delta_h_true for p in points if p.delta_h_true is not None]
    span = _finite(max(values) - min(values)) if len(values) >= 2 else None
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
    span_in_se = _finite(span / se) if span is not None and se is not None else None
    sensitivity: Sensitivity = (
        "inconclusive" if span_in_se is None else "sensitive" if span_in_se > 1.0 else "stable"
    )
    return ClipSweep(
        eta=entry.eta,
        points=tuple(points),
        span=span,
        se_true=se,
        se_method=row.method(SE_SOURCE) if row is not None and se is not None else None,
        span_in_se=span_in_se,
        sensitivity=sensitivity,
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
