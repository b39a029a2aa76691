"""A group page's heading and listings: run counts (a byte-identical copy counted once), the
normalisation note, the subgroup links."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from reportgen.analysis.populations import DuplicateSet
from reportgen.analysis.record import RunRecord
from reportgen.discover import GroupRef
from reportgen.pages import paths
from reportgen.pages.render import relative_href


@dataclass(frozen=True)
class RunCount:
    """The runs of a group, each byte-identical results file once, and the copies left out."""

    runs: int = 0
    copies: int = 0


def run_count(run_ids: Sequence[str], duplicates: Sequence[DuplicateSet]) -> RunCount:
    """``run_ids`` counted as the statistics count them: of each set of byte-identical files
    among them, one (``duplicates`` may hold runs outside ``run_ids``: a parent's sets)."""
    ids = set(run_ids)
    copies = sum(max(len(ids.intersection(d.run_ids)) - 1, 0) for d in duplicates)
    return RunCount(len(ids) - copies, copies)


def copy_labels(
    duplicates: Sequence[DuplicateSet], label: Callable[[str], str]
) -> tuple[tuple[str, str], ...]:
    """(copy, the run it duplicates) of every copy, as the page names runs."""
    return tuple((label(c), label(d.canonical)) for d in duplicates for c in d.copies)


@dataclass(frozen=True)
class ChildLink:
    name: str
    href: str
    count: RunCount


def child_links(
    child_groups: Sequence[GroupRef], page_path: str, duplicates: Sequence[DuplicateSet]
) -> tuple[ChildLink, ...]:
    """The subgroups, each with its runs counted as its own page counts them."""
    return tuple(
        ChildLink(
            PurePosixPath(c.id).name,
            relative_href(page_path, paths.group_page(c.id)),
            run_count(c.run_ids, duplicates),
        )
        for c in child_groups
    )


def reports_true(record: RunRecord) -> bool:
    """The run was read and reports ΔH_true at some η (a control-variate run does not)."""
    return record.was_read and any(s.delta_h_true is not None for s in record.etas)


def norm_note(members: Sequence[RunRecord]) -> str:
    """How the runs that report ΔH_true normalise it (only those: a run without ΔH_true has a
    normalisation setting, but nothing it applies to)."""
    if not any(r.was_read for r in members):
        return "No run of this group could be read."
    measured = [r for r in members if reports_true(r)]
    modes = sorted({r.normalization.true for r in measured if r.normalization is not None})
    if not measured:
        return "No run of this group reports ΔH_true."
    if not modes:
        return "No run that reports ΔH_true states its normalisation."
    if len(modes) > 1:
        return f"Runs mix normalisations ({', '.join(modes)}): compare with care."
    mode = modes[0].replace("_", "-")
    if len(measured) == len(members):
        return f"All runs report ΔH_true {mode}."
    return f"Runs that report ΔH_true ({len(measured)} of {len(members)}) report it {mode}."
