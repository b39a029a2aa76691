"""What changed since the previous build: runs, numbers that moved, findings that came and went."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reportgen.analysis.record import RunRecord
from reportgen.pages import paths

NUMBERS = ("delta_h_true", "delta_h_linear", "delta_h_linquad")


@dataclass(frozen=True)
class Moved:
    eta: float
    field: str
    before: float | None
    after: float | None


@dataclass(frozen=True)
class FindingChange:
    id: str
    severity: str
    message: str
    eta: float | None


@dataclass(frozen=True)
class RunChange:
    id: str
    href: str
    moved: tuple[Moved, ...]
    appeared: tuple[FindingChange, ...]
    cleared: tuple[FindingChange, ...]
    status_before: str
    status_after: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status_before": self.status_before,
            "status_after": self.status_after,
            "moved": [m.__dict__ for m in self.moved],
            "findings_appeared": [f.__dict__ for f in self.appeared],
            "findings_cleared": [f.__dict__ for f in self.cleared],
        }


@dataclass(frozen=True)
class RunLink:
    id: str
    href: str | None


@dataclass(frozen=True)
class ChangesView:
    first_build: bool
    new: tuple[RunLink, ...]
    removed: tuple[RunLink, ...]
    changed: tuple[RunChange, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "first_build": self.first_build,
            "new": [r.id for r in self.new],
            "removed": [r.id for r in self.removed],
            "changed": [c.to_json() for c in self.changed],
        }


def _findings(record: RunRecord) -> dict[tuple[str, float | None], FindingChange]:
    return {
        (f.id, f.eta): FindingChange(f.id, f.severity, f.message, f.eta) for f in record.findings
    }


def _numbers(record: RunRecord) -> dict[tuple[float, str], float | None]:
    return {(row.eta, key): getattr(row, key) for row in record.etas for key in NUMBERS}


def run_change(run_id: str, before: RunRecord, after: RunRecord) -> RunChange:
    old, new = _numbers(before), _numbers(after)
    moved = tuple(
        Moved(eta, key, old.get((eta, key)), new.get((eta, key)))
        for eta, key in sorted(set(old) | set(new))
        if old.get((eta, key)) != new.get((eta, key))
    )
    old_f, new_f = _findings(before), _findings(after)
    return RunChange(
        id=run_id,
        href=paths.run_page(after.id),
        moved=moved,
        appeared=tuple(new_f[k] for k in sorted(set(new_f) - set(old_f), key=_finding_key)),
        cleared=tuple(old_f[k] for k in sorted(set(old_f) - set(new_f), key=_finding_key)),
        status_before=before.status,
        status_after=after.status,
    )


def _finding_key(key: tuple[str, float | None]) -> tuple[str, float]:
    return key[0], -1.0 if key[1] is None else key[1]


def changes_view(
    previous: Mapping[str, RunRecord], current: Mapping[str, RunRecord]
) -> ChangesView:
    new = tuple(RunLink(r, paths.run_page(r)) for r in sorted(set(current) - set(previous)))
    removed = tuple(RunLink(r, None) for r in sorted(set(previous) - set(current)))
    changed = tuple(
        run_change(r, previous[r], current[r])
        for r in sorted(set(previous) & set(current))
        if previous[r] != current[r]
    )
    return ChangesView(
        first_build=not previous, new=new if previous else (), removed=removed, changed=changed
    )
