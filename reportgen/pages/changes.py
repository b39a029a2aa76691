"""What changed since the previous build: verdicts first, then runs, numbers that moved, and
findings that came and went."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reportgen.analysis.record import RunRecord
from reportgen.pages import paths

NUMBERS = ("delta_h_true", "delta_h_linear", "delta_h_linquad")
STANDARD_ERRORS = {
    "delta_h_true": "se_true",
    "delta_h_linear": "se_linear",
    "delta_h_linquad": "se_linquad",
}
APPROXIMATIONS = ("linear", "linquad")


@dataclass(frozen=True)
class VerdictChange:
    """A verdict that flipped: of the whole run (``eta`` None) or at one η."""

    approx: str  # "linear" or "linquad"
    eta: float | None
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Moved:
    """A published ΔH that moved, each build's value with its own SE (``None``: none)."""

    eta: float
    field: str
    before: float | None
    after: float | None
    se_before: float | None = None
    se_after: float | None = None


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
    verdicts: tuple[VerdictChange, ...] = ()  # run-level changes first, then per η

    @property
    def run_verdict(self) -> VerdictChange | None:
        """The linear approximation's run-level verdict change, if it changed."""
        return next((v for v in self.verdicts if v.eta is None and v.approx == "linear"), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status_before": self.status_before,
            "status_after": self.status_after,
            "verdict_changes": [v.__dict__ for v in self.verdicts],
            "moved": [m.__dict__ for m in self.moved],
            "findings_appeared": [f.__dict__ for f in self.appeared],
            "findings_cleared": [f.__dict__ for f in self.cleared],
        }


@dataclass(frozen=True)
class PopulationChange:
    """A population whose pooled linear verdict flipped (``None``: not judged)."""

    group: str
    href: str
    population: str
    before: str | None
    after: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "population": self.population,
            "before": self.before,
            "after": self.after,
        }


PopulationVerdicts = Mapping[str, Sequence[tuple[str, str | None]]]
"""Group id → (population label, pooled linear verdict) of each of its populations."""


def population_changes(
    before: PopulationVerdicts, after: PopulationVerdicts
) -> tuple[PopulationChange, ...]:
    """The populations, in both builds, whose pooled verdict flipped, by group."""
    changes = []
    for group in sorted(before.keys() & after.keys()):
        old = dict(before[group])
        for population, verdict in after[group]:
            if population in old and old[population] != verdict:
                href = paths.group_page(group)
                changes.append(PopulationChange(group, href, population, old[population], verdict))
    return tuple(changes)


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
    populations: tuple[PopulationChange, ...] = ()  # pooled verdicts that flipped

    @property
    def verdicts(self) -> tuple[RunChange, ...]:
        """The changed runs whose run-level linear verdict flipped."""
        return tuple(c for c in self.changed if c.run_verdict is not None)

    def to_json(self) -> dict[str, Any]:
        return {
            "first_build": self.first_build,
            "verdicts": [
                {"id": c.id, "before": v.before, "after": v.after}
                for c in self.verdicts
                if (v := c.run_verdict) is not None
            ],
            "population_verdicts": [p.to_json() for p in self.populations],
            "new": [r.id for r in self.new],
            "removed": [r.id for r in self.removed],
            "changed": [c.to_json() for c in self.changed],
        }


def _findings(record: RunRecord) -> dict[tuple[str, float | None], FindingChange]:
    return {
        (f.id, f.eta): FindingChange(f.id, f.severity, f.message, f.eta) for f in record.findings
    }


def _numbers(record: RunRecord) -> dict[tuple[float, str], tuple[float | None, float | None]]:
    """(η, field) → (the value, its SE)."""
    return {
        (row.eta, key): (getattr(row, key), getattr(error, STANDARD_ERRORS[key], None))
        for row, error in zip(record.etas, record.eta_errors, strict=True)
        for key in NUMBERS
    }


def verdict_changes(before: RunRecord, after: RunRecord) -> tuple[VerdictChange, ...]:
    """Run-level verdicts that flipped, then per-η ones (η present in both builds)."""
    old, new = before.uncertainty, after.uncertainty
    out = []
    for approx in APPROXIMATIONS:
        was = getattr(old, f"verdict_{approx}") if old is not None else None
        now = getattr(new, f"verdict_{approx}") if new is not None else None
        if was != now:
            out.append(VerdictChange(approx, None, was, now))
    rows_before = {u.eta: u for u in (old.etas if old is not None else ())}
    for row in new.etas if new is not None else ():
        if (prior := rows_before.get(row.eta)) is None:
            continue
        for approx in APPROXIMATIONS:
            was, now = getattr(prior, f"verdict_{approx}"), getattr(row, f"verdict_{approx}")
            if was != now:
                out.append(VerdictChange(approx, row.eta, was, now))
    return tuple(out)


def run_change(run_id: str, before: RunRecord, after: RunRecord) -> RunChange:
    old, new = _numbers(before), _numbers(after)
    none = (None, None)
    moved = tuple(
        Moved(eta, key, was[0], now[0], was[1], now[1])
        for eta, key in sorted(set(old) | set(new))
        if (was := old.get((eta, key), none))[0] != (now := new.get((eta, key), none))[0]
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
        verdicts=verdict_changes(before, after),
    )


def _finding_key(key: tuple[str, float | None]) -> tuple[str, float]:
    return key[0], -1.0 if key[1] is None else key[1]


def changes_view(
    previous: Mapping[str, RunRecord],
    current: Mapping[str, RunRecord],
    unchanged: frozenset[str] = frozenset(),
) -> ChangesView:
    """What changed since the previous build (``unchanged``: runs known to have the same
    record in both, not compared)."""
    new = tuple(RunLink(r, paths.run_page(r)) for r in sorted(set(current) - set(previous)))
    removed = tuple(RunLink(r, None) for r in sorted(set(previous) - set(current)))
    changed = tuple(
        run_change(r, before, now)
        for r in sorted((set(previous) & set(current)) - unchanged)
        if (before := previous[r]) != (now := current[r])
    )
    return ChangesView(
        first_build=not previous, new=new if previous else (), removed=removed, changed=changed
    )
