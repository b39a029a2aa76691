"""What a run's optional blocks say: clip sweeps, the symmetric finite difference, the update's
gradient clipping, every control-variate feature ranked, and the fields nobody reads.

``RunSupplement.to_json`` is published in the run's ``summary.json`` as it is (its keys are
top-level fields there) and kept in the run's record; ``from_json`` inverts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reportgen.analysis.clip import ClipSweep, clip_sweeps
from reportgen.analysis.cv_features import CvRanking, rank_features
from reportgen.analysis.fd import FdRow, fd_rows
from reportgen.analysis.uncertainty import RunUncertainty
from reportgen.codec import fields_of
from reportgen.load.models import FieldInventory, GradientClip, Run, UpdateStats


@dataclass(frozen=True, slots=True)
class RunSupplement:
    """The analyses of a run's optional blocks (empty where the run has none)."""

    clip_sweeps: tuple[ClipSweep, ...] = ()
    symmetric_fd: tuple[FdRow, ...] = ()
    update: UpdateStats | None = None
    cv: CvRanking | None = None
    fields: FieldInventory = field(default_factory=FieldInventory)

    def to_json(self) -> dict[str, Any]:
        fields = self.fields
        return {
            "unrecognised_fields": list(fields.unrecognised),
            "unrecognised_fields_total": fields.unrecognised_total,
            "known_unused_fields": [{"path": p, "reason": r} for p, r in fields.unused],
            "clip_sweeps": [s.to_json() for s in self.clip_sweeps],
            "symmetric_fd": [r.to_json() for r in self.symmetric_fd],
            "update": _update_json(self.update),
            "cv_features": None if self.cv is None else self.cv.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSupplement:
        cv = data["cv_features"]
        return cls(
            clip_sweeps=tuple(ClipSweep.from_json(s) for s in data["clip_sweeps"]),
            symmetric_fd=tuple(FdRow.from_json(r) for r in data["symmetric_fd"]),
            update=_update_from_json(data["update"]),
            cv=None if cv is None else CvRanking.from_json(cv),
            fields=FieldInventory(
                unrecognised=tuple(data["unrecognised_fields"]),
                unrecognised_total=int(data["unrecognised_fields_total"]),
                unused=tuple((u["path"], u["reason"]) for u in data["known_unused_fields"]),
            ),
        )


def _update_json(update: UpdateStats | None) -> dict[str, Any] | None:
    if update is None:
        return None
    clip = update.gradient_clip
    return {
        "source": update.source,
        "baseline_norm": update.baseline_norm,
        "per_sequence_count": update.per_sequence_count,
        "gradient_clip": None if clip is None else dict(fields_of(clip), applied=clip.applied),
    }


def _update_from_json(data: Mapping[str, Any] | None) -> UpdateStats | None:
    if data is None:
        return None
    clip = data["gradient_clip"]
    return UpdateStats(
        source=data["source"],
        baseline_norm=data["baseline_norm"],
        per_sequence_count=data["per_sequence_count"],
        gradient_clip=None
        if clip is None
        else GradientClip(clip["max_norm"], clip["applied_scale"], clip["preclip_norm"]),
    )


def run_supplement(run: Run, uncertainty: RunUncertainty | None) -> RunSupplement:
    """Everything the run's optional blocks say, with ``uncertainty``'s standard errors."""
    return RunSupplement(
        clip_sweeps=clip_sweeps(run, uncertainty),
        symmetric_fd=fd_rows(run, uncertainty),
        update=run.snis.update if run.snis is not None else None,
        cv=rank_features(run.cv) if run.cv is not None else None,
        fields=run.field_inventory,
    )


__all__ = ["RunSupplement", "run_supplement"]
