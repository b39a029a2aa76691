"""Planning a build: which runs and pages are unchanged since the previous one.

Pure of rendering: an up-to-date build decides here, from stat fingerprints, content hashes and
the status file, that there is nothing to do, without importing the analysis or page code.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from reportgen.build.status import (
    STATUS_PATH,
    BuildStatus,
    RunStatus,
    StatFingerprint,
    current_hash,
    json_hash,
)
from reportgen.build.status_file import status_pieces
from reportgen.discover import GroupRef, RunRef, Skipped, Tree
from reportgen.vetted import read_listed
from reportgen.write import write_file_atomic


@dataclass(frozen=True)
class RunPlan:
    ref: RunRef
    input_hash: str
    stats: StatFingerprint | None
    reusable: RunStatus | None  # the previous build's run, if its pages can be carried over
    last_good: RunStatus | None  # the previous build's run, if its pages can stand in as stale

    @property
    def unchanged(self) -> bool:
        """Same bytes as a good read: a run whose last read failed is always read again."""
        return (
            self.reusable is not None
            and not self.reusable.read_failed
            and self.reusable.input_hash == self.input_hash
        )


@dataclass(frozen=True)
class GroupInput:
    """A file of a group's own directory (a CV batch aggregate), read once when planning: the
    bytes hashed into the group's key are the bytes its analysis reads."""

    path: str
    content: bytes | None
    problem: str | None = None  # why it could not be read (``content`` is then ``None``)

    @property
    def digest(self) -> str:
        if self.content is None:
            return f"<unreadable: {self.problem}>"
        return hashlib.sha256(self.content).hexdigest()


GroupInputs = Mapping[str, tuple[GroupInput, ...]]  # by group id


def read_group_inputs(tree: Tree, root: Path, max_bytes: int) -> dict[str, tuple[GroupInput, ...]]:
    """Every group's own files, read within the runs' size limit with no link followed."""
    wanted = [g for g in tree.groups if g.aggregates]

    def read(rel: str) -> GroupInput:
        return GroupInput(rel, *read_listed(root, rel, max_bytes))

    return {g.id: tuple(read(rel) for rel in g.aggregates) for g in wanted}


def tree_fingerprint(tree: Tree, skipped: tuple[Skipped, ...]) -> str:
    """The tree's shape as the site-wide pages see it (never its absolute root)."""
    return json_hash(
        {
            "runs": [ref.roles() for ref in tree.runs],
            "groups": tree.groups,
            "incomplete": tree.incomplete,
            "skipped": skipped,
        }
    )


def group_input_digests(group_inputs: GroupInputs) -> dict[str, list[str]]:
    """The digests of the groups' own files, by group (a changed aggregate is a change)."""
    return {group: [i.digest for i in inputs] for group, inputs in group_inputs.items()}


def group_key(
    group: GroupRef,
    groups: Mapping[str, GroupRef],
    statuses: Mapping[str, RunStatus],
    own: tuple[GroupInput, ...] = (),
) -> str:
    """A group page is a pure function of this (given the settings hash)."""
    return json_hash(
        {
            "group": group,
            "children": [groups[c] for c in group.child_group_ids],
            "members": [statuses[r].record_hash for r in group.run_ids if r in statuses],
            "own": [[i.path, i.digest] for i in own],
        }
    )


def plan_run(
    ref: RunRef, root: Path, previous: BuildStatus | None, reuse: bool, max_bytes: int | None = None
) -> RunPlan:
    before = previous.runs.get(ref.id) if previous is not None else None
    # --force trusts nothing cached, not even a hash behind an unchanged stat
    digest, stats = current_hash(ref, root, before if reuse else None, max_bytes)
    return RunPlan(ref, digest, stats, before if reuse else None, before)


def up_to_date(plans: list[RunPlan], previous: BuildStatus, site_key: str, out: Path) -> bool:
    """Nothing to do: same runs, same bytes, same tree, and every file of the site still there."""
    if site_key != previous.site_key or {p.ref.id for p in plans} != set(previous.runs):
        return False
    if not all(p.unchanged for p in plans):
        return False
    root = os.fspath(out)  # os.path: this check is most of a no-op build on a large site
    return all(os.path.isfile(os.path.join(root, f)) for f in previous.files)


def unreadable_inputs(skipped: Iterable[Skipped], statuses: Mapping[str, RunStatus]) -> list[str]:
    """Directories and run inputs an OS error kept from being read ("path (reason)")."""
    found = [f"{s.path} ({s.reason})" for s in skipped if s.unreadable]
    for status in statuses.values():
        found += status.unreadable
    return list(dict.fromkeys(found))  # a sibling's config is borrowed by several runs


def refresh_stats(plans: list[RunPlan], previous: BuildStatus, out: Path) -> None:
    """Record new stat fingerprints (touched but identical inputs) so they are not re-hashed.

    Only the private status file changes, atomically and in place: the published site is not
    touched, and a build killed here leaves the old, still valid, status file.
    """
    runs = {p.ref.id: replace(p.reusable, stats=p.stats) for p in plans if p.reusable is not None}
    if all(previous.runs[rid].stats == s.stats for rid, s in runs.items()):
        return
    write_file_atomic(out / STATUS_PATH, b"".join(status_pieces(replace(previous, runs=runs))))
