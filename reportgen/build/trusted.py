"""What of the previous site is believed: only the private files whose digests its status holds
(a file that does not match is a cache miss, never an error and never published)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from reportgen.build.status import BuildStatus

if TYPE_CHECKING:
    from reportgen.analysis.record import RunRecord
    from reportgen.build.plan import RunPlan
    from reportgen.discover import GroupRef


def stored_record(site: Path | None, run_id: str, record_hash: str) -> RunRecord | None:
    """A run's record as a previous build stored it; ``None`` (a cache miss: the run is read
    again) if missing, unreadable, or not the bytes whose digest the status holds."""
    from reportgen.analysis.record import RunRecord
    from reportgen.pages import paths

    if site is None:
        return None
    try:
        stored = (site / paths.run_record(run_id)).read_bytes()
        if hashlib.sha256(stored).hexdigest() != record_hash:
            return None
        return RunRecord.from_bytes(stored)
    except (OSError, ValueError):
        return None


def previous_memo_digests(previous: BuildStatus | None) -> Mapping[str, str]:
    """The sha256 of every memo the previous build's groups used, by memo name."""
    if previous is None:
        return {}
    return {name: d for group in previous.groups.values() for name, d in group.memos.items()}


def runs_whose_samples_are_read(groups: Iterable[GroupRef], plans: Iterable[RunPlan]) -> set[str]:
    """The runs of every group a changed run belongs to: those groups are drawn again."""
    changed = {p.ref.id for p in plans if not p.unchanged}
    return {r for g in groups if not changed.isdisjoint(g.run_ids) for r in g.run_ids}


def sample_intact(site: Path | None, run_id: str, expected: str | None) -> bool:
    """The stored sample is the one the status vouches for (or the run stored none)."""
    from reportgen.pages import paths

    if expected is None or site is None:
        return expected is None
    try:
        with (site / paths.run_sample(run_id)).open("rb") as file:
            digest = hashlib.file_digest(file, "sha256")
    except OSError:
        return False
    digest.update(run_id.encode())  # as StoredSample.content_digest
    return digest.hexdigest() == expected
